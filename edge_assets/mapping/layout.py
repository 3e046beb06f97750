"""Polymarket executable prices in the sportsbook layout (bookmaker = "polymarket").

Why: once a token is mapped, the rest of the pipeline (de-vig, best price, EV) can treat
Polymarket as one more book. The price is what a taker really pays per share: the best ask
plus the taker fee at that price, so price_decimal = 1 / (ask + fee). Depth is the shares
resting at that best ask. Indicative numbers (outcomePrices, midpoints, last trade) are never
used; Gamma's cached best_ask is a fallback only for the first outcome (it refers to token 0)
when the CLOB book is missing. A market that is closed or not accepting orders has no executable
price, so it gives no row. A market that says ``feesEnabled`` without a ``feeSchedule`` is priced
with the ``fee_tables`` seed's enabled schedule (costs.enabled_fee_schedule_for), never fee-free.
"""

from datetime import datetime

import polars as pl

from edge_assets.mapping.matcher import MATCHED_METHODS
from edge_assets.pricing.costs import enabled_fee_schedule_for, fee_per_share
from edge_assets.schemas import PM_SPORTSBOOK_LINES, UTC_TS

BOOKMAKER = "polymarket"
VENUE_MARKET_TYPE = "sports"


def _latest_books(books: pl.DataFrame, observed_at: datetime) -> pl.DataFrame:
    """Per token: best ask, shares at it and CLOB timestamp of the latest snapshot at/before observed_at."""
    b = books.filter(pl.col("snapshot_at") <= observed_at)
    latest = b.group_by("token_id").agg(pl.col("snapshot_at").max().alias("_snap"))
    b = b.join(latest, on="token_id").filter(pl.col("snapshot_at") == pl.col("_snap"))
    asks = b.filter(pl.col("side") == "ask")
    best_level = asks.group_by("token_id").agg(
        pl.col("price").min().alias("_ask_min"),
    )
    size_at_best = (
        asks.join(best_level, on="token_id")
        .filter(pl.col("price") == pl.col("_ask_min"))
        .group_by("token_id")
        .agg(pl.col("size").sum().alias("book_size"), pl.col("_ask_min").first())
    )
    summary = b.group_by("token_id").agg(
        pl.col("best_ask").drop_nulls().first().alias("_summary_ask"),
        pl.col("book_timestamp").max().alias("book_timestamp"),
    )
    return summary.join(size_at_best, on="token_id", how="left").select(
        "token_id",
        pl.coalesce("_ask_min", "_summary_ask").alias("book_ask"),
        pl.col("book_size").fill_null(0.0),
        "book_timestamp",
        pl.lit(True).alias("_has_book"),
    )


def _fill_unscheduled_fees(pm: pl.DataFrame, at: datetime, table: pl.DataFrame | None) -> pl.DataFrame:
    """Give feesEnabled markets without a feeSchedule the seed's enabled rate (and exponent)."""
    unscheduled = pl.col("fees_enabled").fill_null(False) & pl.col("fee_rate").is_null()
    if pm.is_empty() or not pm.select(unscheduled.any()).item():
        return pm
    row = enabled_fee_schedule_for(BOOKMAKER, VENUE_MARKET_TYPE, at, table)
    if row is None:  # no rate known: the price cannot be computed, so the market gives no row
        return pm.with_columns(_tradable=pl.col("_tradable") & ~unscheduled)
    return pm.with_columns(
        fee_exponent=pl.when(unscheduled).then(pl.lit(row["exponent"])).otherwise("fee_exponent"),
        fee_rate=pl.when(unscheduled).then(pl.lit(row["rate"])).otherwise("fee_rate"),
    )


def _events(odds: pl.DataFrame) -> pl.DataFrame:
    return (
        odds.sort("observed_at", nulls_last=False)
        .group_by("event_id")
        .agg(
            pl.col("commence_time").last().alias("ev_commence"),
            pl.col("home_team").last().alias("ev_home"),
            pl.col("away_team").last().alias("ev_away"),
        )
        .rename({"event_id": "odds_event_id"})
    )


def pm_sportsbook_lines(
    pm_markets: pl.DataFrame,
    books: pl.DataFrame,
    mappings: pl.DataFrame,
    *,
    observed_at: datetime,
    odds: pl.DataFrame | None = None,
    fee_table: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """PM_SPORTSBOOK_LINES rows for every usable mapping (method exact|fuzzy) that has an ask.

    `books` is PM_ORDER_BOOK_SNAPSHOTS (latest snapshot per token at/before observed_at is used).
    `odds` (ODDS_QUOTES) supplies the mapped event's commence_time/home/away exactly as the
    Odds API writes them; without it they fall back to the Polymarket market's own values.
    `fee_table` (the fee_tables seed, read from data/ when None) is consulted only for markets
    flagged feesEnabled without a schedule.
    """
    maps = mappings.filter(
        pl.col("method").is_in(MATCHED_METHODS) & pl.col("odds_outcome_name").is_not_null()
    )
    pm = (
        pm_markets.sort("observed_at", nulls_last=False)
        .unique("market_id", keep="last")
        .select(
            pl.col("market_id").alias("pm_market_id"),
            pl.col("token_ids").list.first().alias("_first_token"),
            pl.col("best_ask").alias("_gamma_ask"),
            pl.col("observed_at").alias("_pm_observed"),
            "fees_enabled",
            "fee_rate",
            "fee_exponent",
            "home_team",
            "away_team",
            "game_start_time",
            _tradable=~pl.col("closed").fill_null(False) & pl.col("accepting_orders").fill_null(True),
        )
    )
    pm = _fill_unscheduled_fees(pm, observed_at, fee_table)
    rows = maps.join(pm, on="pm_market_id", how="left").join(
        _latest_books(books, observed_at), left_on="pm_token_id", right_on="token_id", how="left"
    )
    if odds is not None:
        rows = rows.join(_events(odds), on="odds_event_id", how="left")
    else:
        rows = rows.with_columns(
            ev_commence=pl.col("game_start_time"), ev_home=pl.col("home_team"), ev_away=pl.col("away_team")
        )
    no_book = pl.col("_has_book").is_null()
    gamma_ok = no_book & (pl.col("pm_token_id") == pl.col("_first_token"))
    rows = rows.with_columns(
        best_ask=pl.when(~no_book).then(pl.col("book_ask")).when(gamma_ok).then(pl.col("_gamma_ask")),
        size_available=pl.when(~no_book).then(pl.col("book_size")),
        last_update=pl.when(~no_book)
        .then(pl.col("book_timestamp"))
        .when(gamma_ok)
        .then(pl.col("_pm_observed")),
    ).filter(
        pl.col("_tradable").fill_null(True)  # a mapping whose market is absent from the poll keeps its book
        & pl.col("best_ask").is_not_null()
        & (pl.col("best_ask") > 0)
        & (pl.col("best_ask") < 1)
    )
    fees_on = pl.col("fees_enabled").fill_null(False) & pl.col("fee_rate").is_not_null()
    rows = rows.with_columns(
        fee_per_share=pl.when(fees_on)
        .then(fee_per_share(pl.col("best_ask"), pl.col("fee_rate"), pl.col("fee_exponent").fill_null(1.0)))
        .otherwise(0.0)
    ).with_columns(price_decimal=1.0 / (pl.col("best_ask") + pl.col("fee_per_share")))
    out = rows.select(
        pl.lit(observed_at).cast(UTC_TS).alias("observed_at"),
        pl.col("odds_event_id").alias("event_id"),
        "sport_key",
        pl.col("ev_commence").alias("commence_time"),
        pl.col("ev_home").alias("home_team"),
        pl.col("ev_away").alias("away_team"),
        pl.lit(BOOKMAKER).alias("bookmaker"),
        "market_key",
        pl.col("odds_outcome_name").alias("outcome_name"),
        "point",
        "price_decimal",
        "last_update",
        "pm_market_id",
        "pm_token_id",
        "best_ask",
        "fee_per_share",
        "size_available",
    ).sort("event_id", "market_key", "pm_market_id", "pm_token_id")
    return out.select([pl.col(c).cast(t) for c, t in PM_SPORTSBOOK_LINES.items()])
