"""Consensus fair probability across sportsbooks at a snapshot time.

Each book's quote is first de-vigged on its own (``devig.devig_frame``), so books with
different margins become comparable; the consensus is then a weighted mean of the per-book
fair probabilities. Sharp books (the ones that take big limits and move first: Pinnacle,
Circa, the Betfair exchange, Matchbook, BookMaker) get higher weights and also form a
separate sharp-only estimate. ``lowvig`` (reduced-juice retail) is weighted up for its
tight prices but is not counted as sharp: it follows the market rather than making it.

Freshness: a quote's time is ``last_update`` (the book's own change time) or
``observed_at`` when that is null. Quotes older than ``max_age`` at ``snapshot_at`` are
excluded, and so are quotes from after the snapshot (no look-ahead in backfills). Only the
latest quote of each book per outcome counts.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import polars as pl

DEFAULT_WEIGHT = 1.0

DEFAULT_BOOK_WEIGHTS: dict[str, float] = {
    "pinnacle": 3.0,
    "circasports": 2.5,
    "circa": 2.5,
    "betfair_ex_eu": 2.5,
    "betfair_ex_uk": 2.5,
    "betfair_ex_au": 2.5,
    "betfair": 2.5,
    "matchbook": 2.0,
    "smarkets": 2.0,
    "bookmaker": 2.0,
    "lowvig": 1.5,
    "betonlineag": 1.2,
    "novig": 1.5,
    "prophetx": 1.2,
    # everything else (draftkings, fanduel, betmgm, ...) weighs DEFAULT_WEIGHT
}

SHARP_BOOKS: frozenset[str] = frozenset(
    {
        "pinnacle",
        "circasports",
        "circa",
        "betfair_ex_eu",
        "betfair_ex_uk",
        "betfair_ex_au",
        "betfair",
        "matchbook",
        "smarkets",
        "bookmaker",
    }
)

CONSENSUS_COLUMNS: tuple[str, ...] = (
    "consensus_prob",
    "sharp_prob",
    "n_books",
    "n_sharp",
    "fair_std",
    "fair_min",
    "fair_max",
    "min_age_s",
    "max_age_s",
    "latest_quote_at",
)

__all__ = ["CONSENSUS_COLUMNS", "DEFAULT_BOOK_WEIGHTS", "SHARP_BOOKS", "consensus", "fresh_latest_quotes"]


def _utc_lit(at: datetime | pl.Expr) -> pl.Expr:
    """A snapshot time as an expression; an expression (a per-row snapshot column) passes through."""
    if isinstance(at, pl.Expr):
        return at
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return pl.lit(at, dtype=pl.Datetime("us", "UTC"))


def fresh_latest_quotes(
    quotes: pl.DataFrame,
    *,
    snapshot_at: datetime | pl.Expr,
    max_age: timedelta,
    key_cols: Sequence[str] = ("event_id", "market_key", "point", "outcome_name"),
    book_col: str = "bookmaker",
) -> pl.DataFrame:
    """Latest quote per (key, book) that is fresh at ``snapshot_at``; adds ``quote_at`` and ``age_s``.

    Only each book's newest poll of a market counts: a spread or total line it has since moved
    from is withdrawn, not a quote (its old price would feed the consensus and the best price).
    ``snapshot_at`` may be an expression (a column holding each row's snapshot time) when one frame
    holds several snapshots; ``key_cols`` must then tell the snapshots apart.
    """
    snap = _utc_lit(snapshot_at)
    quote_at = pl.coalesce(pl.col("last_update"), pl.col("observed_at")).dt.convert_time_zone("UTC")
    observed = pl.col("observed_at").dt.convert_time_zone("UTC")
    market = [c for c in key_cols if c not in ("point", "outcome_name")]
    return (
        quotes.with_columns(quote_at=quote_at)
        .with_columns(age_s=(snap - pl.col("quote_at")).dt.total_microseconds() / 1e6)
        .filter((pl.col("quote_at") <= snap) & (observed <= snap))
        .filter(pl.col("observed_at") == pl.col("observed_at").max().over([*market, book_col]))
        .filter(pl.col("age_s") <= max_age.total_seconds())
        .sort([*key_cols, book_col, "observed_at", "quote_at"], nulls_last=True)
        .unique(subset=[*key_cols, book_col], keep="last", maintain_order=True)
    )


def consensus(
    fair: pl.DataFrame,
    *,
    snapshot_at: datetime | pl.Expr,
    max_age: timedelta,
    weights: Mapping[str, float] | None = None,
    key_cols: Sequence[str] = ("event_id", "market_key", "point", "outcome_name"),
    sharp_books: frozenset[str] | set[str] | None = None,
    fair_col: str = "fair_prob",
) -> pl.DataFrame:
    """Weighted consensus fair probability per outcome key, plus a sharp-only estimate.

    ``fair`` has ODDS_QUOTES columns plus ``fair_col`` (per-book de-vigged probability).
    ``weights`` maps bookmaker -> weight (default DEFAULT_BOOK_WEIGHTS; unknown books weigh
    1.0; weight 0 drops a book). Returns one row per key with ``key_cols`` and
    CONSENSUS_COLUMNS: consensus_prob (weighted mean), sharp_prob (weighted mean over
    sharp books, null without a fresh sharp quote), n_books, n_sharp, fair_std (population
    std of per-book fair probs: book disagreement), fair_min/fair_max, min/max quote age in
    seconds and the newest quote time. Keys with no fresh quote are absent.
    Null keys (``point`` of h2h) group together as one value.
    """
    w = dict(DEFAULT_BOOK_WEIGHTS if weights is None else weights)
    sharp = SHARP_BOOKS if sharp_books is None else frozenset(sharp_books)
    keys = list(key_cols)
    fresh = fresh_latest_quotes(fair, snapshot_at=snapshot_at, max_age=max_age, key_cols=keys).filter(
        pl.col(fair_col).is_not_null() & pl.col(fair_col).is_not_nan()
    )
    fresh = fresh.with_columns(
        _w=pl.col("bookmaker").replace_strict(w, default=DEFAULT_WEIGHT, return_dtype=pl.Float64),
        _sharp=pl.col("bookmaker").is_in(list(sharp)),
    ).filter(pl.col("_w") > 0)
    p = pl.col(fair_col)
    wsum = pl.col("_w").sum()
    swsum = pl.col("_w").filter(pl.col("_sharp")).sum()
    out = fresh.group_by(keys, maintain_order=True).agg(
        consensus_prob=(p * pl.col("_w")).sum() / wsum,
        _swp=(p * pl.col("_w")).filter(pl.col("_sharp")).sum(),
        _sw=swsum,
        n_books=pl.len().cast(pl.UInt32),
        n_sharp=pl.col("_sharp").sum().cast(pl.UInt32),
        fair_std=p.std(ddof=0),
        fair_min=p.min(),
        fair_max=p.max(),
        min_age_s=pl.col("age_s").min(),
        max_age_s=pl.col("age_s").max(),
        latest_quote_at=pl.col("quote_at").max(),
    )
    out = out.with_columns(
        sharp_prob=pl.when(pl.col("n_sharp") > 0).then(pl.col("_swp") / pl.col("_sw")).otherwise(None)
    )
    return out.select([*keys, *CONSENSUS_COLUMNS])
