"""Alias resolver: any team spelling → The Odds API's canonical name, scoped to one league.

Exact lookup of the normalised name within the league comes first; only names with no exact
alias go to fuzzy matching (rapidfuzz `process.cdist`, one matrix per league). A name is never
guessed: an alias shared by several teams of the league ("LA", "New York", "Man") is
`ambiguous`, and a fuzzy best match below the threshold or too close to the runner-up is
`unresolved`; both report the closest candidates.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from polars._typing import PolarsDataType  # polars' alias for a dtype class or instance
from rapidfuzz import fuzz, process

from edge_assets.mapping.normalize import normalize_expr
from edge_assets.schemas import TEAM_ALIASES

DEFAULT_ALIASES_CSV = Path(__file__).resolve().parents[2] / "data" / "team_aliases.csv"

# Methods a resolution can carry; only the first two give a canonical name.
RESOLVED_METHODS = ("exact", "fuzzy")

RESOLUTION_SCHEMA: dict[str, PolarsDataType] = {
    "name": pl.String,
    "league": pl.String,
    "canonical": pl.String,
    "confidence": pl.Float64,
    "method": pl.String,  # exact | fuzzy | ambiguous | unresolved | unknown_league
    "candidates": pl.List(pl.String),
    "reason": pl.String,  # null when resolved
}


@dataclass(frozen=True)
class Resolution:
    canonical: str | None
    confidence: float
    method: str
    candidates: tuple[str, ...] = field(default_factory=tuple)
    reason: str | None = None

    @property
    def resolved(self) -> bool:
        return self.canonical is not None


@dataclass(frozen=True)
class _LeagueChoices:
    """Fuzzy search space of one league: aliases sorted by canonical, for per-team max via reduceat."""

    aliases: list[str]
    canon_starts: np.ndarray  # start index of each canonical's block in `aliases`
    canonicals: list[str]


class AliasResolver:
    """League-scoped team-name resolver over the `team_aliases` seed table."""

    def __init__(
        self,
        table: pl.DataFrame,
        *,
        threshold: float = 85.0,
        margin: float = 5.0,
        min_fuzzy_len: int = 4,
        max_candidates: int = 3,
    ) -> None:
        missing = [c for c in TEAM_ALIASES if c not in table.columns]
        if missing:
            raise ValueError(f"team alias table is missing columns {missing}")
        base = table.select(list(TEAM_ALIASES)).cast(TEAM_ALIASES)  # type: ignore[arg-type]
        if base.select(pl.any_horizontal(pl.all().is_null()).any()).item():
            raise ValueError("team alias table has null cells")
        # Every canonical name is an alias of itself, whether or not the CSV says so.
        selfs = base.select(
            "league", "canonical_name", alias=pl.col("canonical_name"), source=pl.lit("oddsapi")
        )
        full = pl.concat([base, selfs]).with_columns(alias_norm=normalize_expr(pl.col("alias")))
        self.table = base
        self.threshold = threshold
        self.margin = margin
        self.min_fuzzy_len = min_fuzzy_len
        self.max_candidates = max_candidates
        self.leagues: frozenset[str] = frozenset(base["league"].unique().to_list())
        self._exact = (
            full.filter(pl.col("alias_norm") != "")
            .group_by("league", "alias_norm")
            .agg(exact_candidates=pl.col("canonical_name").unique().sort())
        )
        # Fuzzy space: longer aliases only (3-letter codes carry no spelling to be near to).
        fuzzy_src = (
            full.filter(pl.col("alias_norm").str.len_chars() >= min_fuzzy_len)
            .select("league", "canonical_name", "alias_norm")
            .unique()
            .sort("league", "canonical_name", "alias_norm")
        )
        self._choices: dict[str, _LeagueChoices] = {}
        for (league,), part in fuzzy_src.group_by("league", maintain_order=True):
            canon = part["canonical_name"]
            starts = np.flatnonzero(np.r_[True, (canon[1:] != canon[:-1]).to_numpy()])
            self._choices[str(league)] = _LeagueChoices(
                aliases=part["alias_norm"].to_list(),
                canon_starts=starts,
                canonicals=[canon[int(i)] for i in starts],
            )

    @classmethod
    def from_csv(cls, path: str | Path | None = None, **kwargs: float) -> "AliasResolver":
        """Load the seed table (default data/team_aliases.csv)."""
        p = Path(path) if path is not None else DEFAULT_ALIASES_CSV
        table = pl.read_csv(p, schema=TEAM_ALIASES)
        return cls(table, **kwargs)  # type: ignore[arg-type]

    def canonical_names(self, league: str) -> list[str]:
        return sorted(self.table.filter(pl.col("league") == league)["canonical_name"].unique().to_list())

    def resolve(self, name: str | None, league: str) -> Resolution:
        row = self.resolve_many(pl.Series([name], dtype=pl.String), pl.Series([league])).row(0, named=True)
        return Resolution(
            canonical=row["canonical"],
            confidence=row["confidence"],
            method=row["method"],
            candidates=tuple(row["candidates"] or ()),
            reason=row["reason"],
        )

    def resolve_many(self, names: pl.Series, leagues: pl.Series) -> pl.DataFrame:
        """Resolve a batch; one output row per input row, in order (RESOLUTION_SCHEMA)."""
        if len(names) != len(leagues):
            raise ValueError(f"names ({len(names)}) and leagues ({len(leagues)}) differ in length")
        inp = pl.DataFrame({"name": names.cast(pl.String), "league": leagues.cast(pl.String)})
        uniq = (
            inp.unique(maintain_order=True)
            .with_columns(alias_norm=normalize_expr(pl.col("name")))
            .join(self._exact, on=["league", "alias_norm"], how="left", nulls_equal=False)
            .with_columns(n_exact=pl.col("exact_candidates").list.len().fill_null(0))
        )
        known = pl.col("league").is_in(list(self.leagues))
        empty = pl.col("alias_norm").is_null() | (pl.col("alias_norm") == "")
        decided = uniq.with_columns(
            method=pl.when(~known | pl.col("league").is_null())
            .then(pl.lit("unknown_league"))
            .when(empty)
            .then(pl.lit("unresolved"))
            .when(pl.col("n_exact") == 1)
            .then(pl.lit("exact"))
            .when(pl.col("n_exact") > 1)
            .then(pl.lit("ambiguous"))
            .otherwise(pl.lit(None, pl.String))
        ).with_columns(
            canonical=pl.when(pl.col("method") == "exact").then(pl.col("exact_candidates").list.first()),
            confidence=pl.when(pl.col("method") == "exact").then(1.0).otherwise(0.0),
            candidates=pl.col("exact_candidates").fill_null(pl.lit([], pl.List(pl.String))),
            reason=pl.when(pl.col("method") == "unknown_league")
            .then(pl.format("league '{}' has no alias table", pl.col("league").fill_null("<null>")))
            .when(pl.col("method") == "unresolved")
            .then(pl.lit("empty team name"))
            .when(pl.col("method") == "ambiguous")
            .then(
                pl.format(
                    '"{}" is ambiguous in {}: {}',
                    pl.col("name"),
                    pl.col("league"),
                    pl.col("exact_candidates").list.join(" | "),
                )
            ),
        )
        todo = decided.filter(pl.col("method").is_null())
        if todo.height:
            fuzzy = self._fuzzy(todo.select("name", "league", "alias_norm"))
            decided = (
                decided.filter(pl.col("method").is_not_null())
                .select(list(RESOLUTION_SCHEMA))
                .vstack(fuzzy.select(list(RESOLUTION_SCHEMA)))
            )
        else:
            decided = decided.select(list(RESOLUTION_SCHEMA))
        out = inp.join(decided, on=["name", "league"], how="left", nulls_equal=True, maintain_order="left")
        return out.select(list(RESOLUTION_SCHEMA)).cast(RESOLUTION_SCHEMA)  # type: ignore[arg-type]

    def _fuzzy(self, todo: pl.DataFrame) -> pl.DataFrame:
        """cdist each league's unresolved names against its aliases; reduce to per-team best scores."""
        parts: list[pl.DataFrame] = []
        k = self.max_candidates
        for (league,), part in todo.group_by("league", maintain_order=True):
            ch = self._choices.get(str(league))
            queries = part["alias_norm"].to_list()
            if ch is None or not ch.aliases:
                parts.append(
                    part.with_columns(
                        canonical=pl.lit(None, pl.String),
                        confidence=pl.lit(0.0),
                        method=pl.lit("unresolved"),
                        candidates=pl.lit([], pl.List(pl.String)),
                        reason=pl.lit("no fuzzy candidates in league"),
                    )
                )
                continue
            scores = process.cdist(queries, ch.aliases, scorer=fuzz.token_sort_ratio, dtype=np.float32)
            per_team = np.maximum.reduceat(scores, ch.canon_starts, axis=1)  # (queries, teams)
            order = np.argsort(-per_team, axis=1, kind="stable")[:, : max(k, 2)]
            top = np.take_along_axis(per_team, order, axis=1)
            best = top[:, 0]
            second = top[:, 1] if top.shape[1] > 1 else np.zeros_like(best)
            long_enough = np.array([len(q) >= self.min_fuzzy_len for q in queries], dtype=bool)
            ok = (best >= self.threshold) & (best - second >= self.margin) & long_enough
            canon_arr = np.array(ch.canonicals, dtype=object)
            cand_names = canon_arr[order[:, :k]]
            listing = [
                ", ".join(f"{n} ({s:.0f})" for n, s in zip(names_row, scores_row, strict=True))
                for names_row, scores_row in zip(cand_names, top[:, :k], strict=True)
            ]
            why = np.where(
                ~long_enough,
                "too short to fuzzy-match",
                np.where(
                    best < self.threshold,
                    f"no alias scores >= {self.threshold:.0f}",
                    f"runner-up within {self.margin:.0f} points",
                ),
            )
            # numpy's stubs reject None as the fill, though an object array takes it
            canonical = np.where(ok, canon_arr[order[:, 0]], None)  # type: ignore[call-overload]
            parts.append(
                part.with_columns(
                    canonical=pl.Series(canonical.tolist(), dtype=pl.String),
                    confidence=pl.Series(np.where(ok, np.round(best.astype(np.float64) / 100.0, 4), 0.0)),
                    method=pl.Series(np.where(ok, "fuzzy", "unresolved"), dtype=pl.String),
                    candidates=pl.Series([list(r) for r in cand_names], dtype=pl.List(pl.String)),
                    reason=pl.Series(
                        [
                            None if good else f'"{name}" not resolved in {league} ({w}); closest: {lst}'
                            for good, name, w, lst in zip(ok, part["name"], why, listing, strict=True)
                        ],
                        dtype=pl.String,
                    ),
                )
            )
        return pl.concat(parts, how="vertical_relaxed")
