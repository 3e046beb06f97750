"""Matcher quality against the simulator's ground truth, through the real wire path.

Why: the acceptance figures (precision ≥ 99.5 %, recall ≥ 99 %) must measure what production
does — simulator HTTP → Gamma / Odds API clients → normalizers → `match_markets` — not a
hand-built frame. Each snapshot is matched on its own, as the hourly `market_mappings` asset
does, and every (snapshot, token) verdict is scored with `evaluate` against
`World.ground_truth_pairs`.

What counts as truth at a snapshot: an in-scope token whose true counterpart outcome (event,
market_key, outcome name) is quoted in that snapshot's Odds API response at any line; the
expected `point` stays the token's own (Polymarket's) line. Why any line: the mapping identifies
the contract, and a spread or total is the same contract whatever line the books happen to hang
that hour; features_latest prices Polymarket's line from the books' nearest ones
(`retarget_lines`), so an alternate Polymarket line is a usable mapping, not a miss. A true pair
whose outcome no book quotes then (a game already live, a book without spreads) cannot be priced,
so the matcher must leave it unmapped; those tokens are counted apart as `in_scope_unquoted` and
appear in no precision/recall figure. Out-of-scope tokens
(team/half/F5 totals, NRFI, props, futures, the "No" side of soccer Yes/No) must never map.

Pure module: no Dagster. Not imported by `edge_assets.mapping` itself (it pulls in the simulator).
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from edge_assets.mapping.aliases import AliasResolver
from edge_assets.mapping.leagues import sport_key_expr
from edge_assets.mapping.matcher import MATCHED_METHODS, evaluate, match_markets
from edge_assets.simulator import SimulatorApp
from edge_assets.simulator.world import World
from edge_assets.sources.normalize import gamma_events_to_frame, odds_to_frame
from edge_assets.sources.oddsapi import OddsApiClient
from edge_assets.sources.polymarket import GammaClient

SIM_SPORTS: tuple[str, ...] = (
    "basketball_nba",
    "americanfootball_nfl",
    "icehockey_nhl",
    "baseball_mlb",
    "soccer_epl",
)
# Nine days ending here hold > 1,000 scored markets in all five leagues, two MLB doubleheaders
# (Nov 23/24 in World(7)), All-Star and KBO negatives, start-time delays and every naming style.
DEFAULT_END = datetime(2026, 11, 24, tzinfo=UTC)
DEFAULT_DAYS = 9.0
DEFAULT_STEP = timedelta(hours=8)
TRUTH_COLS = ("pm_token_id", "odds_event_id", "market_key", "odds_outcome_name", "point")


@dataclass(frozen=True)
class SimulatorEvaluation:
    """Figures of one run. `misses` has one row per wrong (snapshot, token) verdict."""

    precision: float
    recall: float
    snapshots: list[datetime]
    per_league: pl.DataFrame  # sport_key, markets, in_scope_markets, tokens, truth, mapped, correct, ...
    misses: pl.DataFrame  # snapshot, pm_token_id, sport_key, pm_kind, question, expected/produced, reason
    mappings: pl.DataFrame  # every verdict, pm_token_id = "<snapshot>|<token>"
    truth: pl.DataFrame  # TRUTH_COLS rows (same composite key)
    labels: pl.DataFrame  # every listed (snapshot, token) with in_scope / quoted labels
    pm_markets: pl.DataFrame  # every PM_MARKETS snapshot as normalized
    match_seconds: float  # total time spent in match_markets
    fetch_seconds: float  # total time spent fetching + normalizing

    @property
    def in_scope_markets(self) -> int:
        """Distinct markets the simulator calls in scope (mapped to an Odds API outcome)."""
        return int(self.per_league["in_scope_markets"].sum())

    @property
    def scored_markets(self) -> int:
        """Distinct in-scope markets with at least one token in the scored truth."""
        return int(self.per_league["scored_markets"].sum())


def snapshot_times(end: datetime, days: float, step: timedelta) -> list[datetime]:
    """Evenly spaced poll instants in (end - days, end], oldest first."""
    n = int(timedelta(days=days) / step)
    return [end - step * i for i in range(n - 1, -1, -1)]


def fetch_snapshot(
    gamma: GammaClient, odds_client: OddsApiClient, at: datetime, sports: Sequence[str] = SIM_SPORTS
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One poll of both APIs: open sports events (PM_MARKETS) and live odds (ODDS_QUOTES)."""
    pm = gamma_events_to_frame(gamma.events(closed=False, tag_id=1), at)
    odds = pl.concat(
        [
            odds_to_frame(odds_client.odds(sport, regions="us,eu", markets="h2h,spreads,totals"), at)
            for sport in sports
        ],
        how="vertical_relaxed",
    )
    return pm, odds


def snapshot_truth(pairs: pl.DataFrame, pm: pl.DataFrame, odds: pl.DataFrame) -> pl.DataFrame:
    """Ground-truth labels for every token of one PM snapshot.

    `pairs` is `World.ground_truth_pairs`. Output: one row per listed token with the truth
    columns, `in_scope` (the simulator's verdict; False for tokens it does not know) and `quoted`
    (in scope and its counterpart is in `odds`, i.e. the token belongs to the scored truth).
    """
    listed = (
        pm.select(
            "market_id",
            "question",
            token=pl.col("token_ids"),
            outcome=pl.col("outcomes"),
            pm_sport_key=sport_key_expr(pl.col("league")),
        )
        .explode("token", "outcome")
        .drop_nulls("token")
    )
    # the outcome quoted at any line (module doc): the expected point is still the PM line
    quoted = odds.select("event_id", "market_key", "outcome_name").unique().with_columns(quoted=pl.lit(True))
    return (
        listed.join(pairs, left_on="token", right_on="pm_token_id", how="left")
        .with_columns(
            pm_market_id=pl.coalesce("pm_market_id", "market_id"),
            pm_outcome=pl.coalesce("pm_outcome", "outcome"),
            sport_key=pl.coalesce("sport_key", "pm_sport_key", pl.lit("<other>")),
            pm_kind=pl.col("pm_kind").fill_null("unknown_to_simulator"),
            in_scope=pl.col("in_scope").fill_null(False),
        )
        .join(
            quoted,
            left_on=["odds_event_id", "market_key", "odds_outcome_name"],
            right_on=["event_id", "market_key", "outcome_name"],
            how="left",
        )
        .with_columns(quoted=pl.col("quoted").fill_null(False) & pl.col("in_scope"))
        .drop("outcome", "pm_sport_key")
    )


def _keyed(df: pl.DataFrame, snap: datetime, col: str) -> pl.DataFrame:
    return df.with_columns(pl.concat_str(pl.lit(snap.strftime("%Y-%m-%dT%H:%MZ|")), pl.col(col)).alias(col))


def evaluate_simulator(
    *,
    seed: int = 7,
    end: datetime = DEFAULT_END,
    days: float = DEFAULT_DAYS,
    step: timedelta = DEFAULT_STEP,
    resolver: AliasResolver | None = None,
    sports: Sequence[str] = SIM_SPORTS,
) -> SimulatorEvaluation:
    """Poll the in-process simulator at every snapshot, match each poll, score all verdicts."""
    resolver = resolver or AliasResolver.from_csv()
    snaps = snapshot_times(end, days, step)
    clock = {"now": snaps[0]}
    world = World(seed)
    app = SimulatorApp(world, clock=lambda: clock["now"], rate_limit_per_s=None)
    transport = app.transport()
    gamma = GammaClient("http://sim/gamma", transport=transport, rate_per_s=None)
    oddsc = OddsApiClient("http://sim", api_key="sim-key", transport=transport, rate_per_s=None)
    pairs = world.ground_truth_pairs(snaps[0], snaps[-1])

    maps_all: list[pl.DataFrame] = []
    truth_all: list[pl.DataFrame] = []
    pm_all: list[pl.DataFrame] = []
    fetch_s = match_s = 0.0
    for snap in snaps:
        clock["now"] = snap
        t0 = time.perf_counter()
        pm, odds = fetch_snapshot(gamma, oddsc, snap, sports)
        t1 = time.perf_counter()
        maps = match_markets(pm, odds, resolver, observed_at=snap)
        t2 = time.perf_counter()
        fetch_s += t1 - t0
        match_s += t2 - t1
        pm_all.append(pm)
        maps_all.append(_keyed(maps, snap, "pm_token_id"))
        truth_all.append(
            _keyed(snapshot_truth(pairs, pm, odds), snap, "token").with_columns(snapshot=pl.lit(snap))
        )
    mappings = pl.concat(maps_all)
    labelled = pl.concat(truth_all, how="vertical_relaxed")
    truth = labelled.filter(pl.col("quoted")).select(pl.col("token").alias("pm_token_id"), *TRUTH_COLS[1:])
    precision, recall, misses = evaluate(mappings, truth)
    return SimulatorEvaluation(
        precision=precision,
        recall=recall,
        snapshots=snaps,
        per_league=_per_league(mappings, labelled),
        misses=_explain(misses, labelled),
        mappings=mappings,
        truth=truth,
        labels=labelled,
        pm_markets=pl.concat(pm_all),
        match_seconds=match_s,
        fetch_seconds=fetch_s,
    )


def _verdicts(mappings: pl.DataFrame, labelled: pl.DataFrame) -> pl.DataFrame:
    """One row per (snapshot, token): truth labels beside the matcher's verdict and correctness."""
    got = mappings.select(
        pl.col("pm_token_id").alias("token"),
        mapped=pl.col("method").is_in(MATCHED_METHODS),
        ev_got=pl.col("odds_event_id"),
        mk_got=pl.col("market_key"),
        out_got=pl.col("odds_outcome_name"),
        pt_got=pl.col("point").round(2),
    )
    v = labelled.join(got, on="token", how="left").with_columns(
        pl.col("mapped").fill_null(False),
        correct=(
            pl.col("quoted")
            & pl.col("mapped")
            & (pl.col("ev_got") == pl.col("odds_event_id"))
            & (pl.col("mk_got") == pl.col("market_key"))
            & (pl.col("out_got") == pl.col("odds_outcome_name"))
            & pl.col("pt_got").eq_missing(pl.col("point").round(2))
        ).fill_null(False),
    )
    return v


def _per_league(mappings: pl.DataFrame, labelled: pl.DataFrame) -> pl.DataFrame:
    v = _verdicts(mappings, labelled)
    return (
        v.group_by("sport_key")
        .agg(
            markets=pl.col("pm_market_id").n_unique(),
            in_scope_markets=pl.col("pm_market_id").filter(pl.col("in_scope")).n_unique(),
            scored_markets=pl.col("pm_market_id").filter(pl.col("quoted")).n_unique(),
            token_verdicts=pl.len(),
            in_scope_unquoted=(pl.col("in_scope") & ~pl.col("quoted")).sum(),
            truth=pl.col("quoted").sum(),
            mapped=pl.col("mapped").sum(),
            correct=pl.col("correct").sum(),
        )
        .with_columns(
            false_pos=pl.col("mapped") - pl.col("correct"),
            false_neg=pl.col("truth") - pl.col("correct"),
            precision=pl.when(pl.col("mapped") > 0).then(pl.col("correct") / pl.col("mapped")).otherwise(1.0),
            recall=pl.when(pl.col("truth") > 0).then(pl.col("correct") / pl.col("truth")).otherwise(1.0),
        )
        .sort("sport_key")
    )


def _explain(misses: pl.DataFrame, labelled: pl.DataFrame) -> pl.DataFrame:
    """Attach league, market kind and question to `evaluate`'s misses; split the snapshot out."""
    info = labelled.select(
        pl.col("token").alias("pm_token_id"), "sport_key", "pm_kind", "question", "pm_outcome", "in_scope"
    )
    return (
        misses.join(info, on="pm_token_id", how="left")
        .with_columns(
            snapshot=pl.col("pm_token_id").str.split("|").list.first(),
            pm_token_id=pl.col("pm_token_id").str.split("|").list.last(),
            kind=pl.when(pl.col("odds_event_id").is_null() & pl.col("market_key").is_null())
            .then(pl.lit("false_positive"))
            .when(pl.col("odds_event_id_got").is_null() & pl.col("market_key_got").is_null())
            .then(pl.lit("false_negative"))
            .otherwise(pl.lit("wrong_target")),
        )
        .select(
            "snapshot",
            "sport_key",
            "kind",
            "pm_kind",
            "question",
            "pm_outcome",
            "pm_token_id",
            "odds_event_id",
            "market_key",
            "odds_outcome_name",
            "point",
            "odds_event_id_got",
            "market_key_got",
            "odds_outcome_name_got",
            "point_got",
            "method",
            "reason",
        )
        .sort("snapshot", "sport_key", "pm_token_id")
    )
