"""Column contracts of the lake tables (DESIGN.md §4).

Every curated asset returns a polars frame with exactly these columns and dtypes, so
producers, consumers and the DuckDB views agree. Times are UTC, microsecond precision.
"""

from collections.abc import Mapping

import polars as pl
from polars._typing import PolarsDataType

UTC_TS = pl.Datetime("us", "UTC")

RAW_RESPONSES: dict[str, PolarsDataType] = {
    "source": pl.String,  # gamma | clob | oddsapi
    "endpoint": pl.String,  # path template, e.g. /v4/sports/{sport}/odds
    "url_path": pl.String,  # concrete path
    "params": pl.String,  # JSON of query params with the API key removed
    "requested_at": UTC_TS,
    "elapsed_ms": pl.Float64,
    "status": pl.Int32,
    "quota_remaining": pl.Int64,
    "quota_used": pl.Int64,
    "quota_last": pl.Int64,
    "body_zstd": pl.Binary,  # zstd-compressed response body, exactly as received
    "body_bytes": pl.Int64,
    "sha256": pl.String,  # of the uncompressed body
    "parse_error": pl.String,  # why the body did not parse (set after the fact); null otherwise
}

PM_MARKETS: dict[str, PolarsDataType] = {
    "observed_at": UTC_TS,
    "market_id": pl.String,
    "condition_id": pl.String,
    "event_id": pl.String,
    "event_slug": pl.String,
    "event_title": pl.String,
    "slug": pl.String,
    "question": pl.String,
    "league": pl.String,  # Polymarket league code from slug/series/tags, e.g. "nba"
    "sports_market_type": pl.String,  # moneyline | spreads | totals | ...
    "line": pl.Float64,
    "group_item_title": pl.String,
    "outcomes": pl.List(pl.String),
    "token_ids": pl.List(pl.String),
    "outcome_prices": pl.List(pl.Float64),
    "home_team": pl.String,  # from event teams[] ordering when present
    "away_team": pl.String,
    "best_bid": pl.Float64,
    "best_ask": pl.Float64,
    "last_trade_price": pl.Float64,
    "liquidity": pl.Float64,
    "volume": pl.Float64,
    "game_start_time": UTC_TS,
    "active": pl.Boolean,
    "closed": pl.Boolean,
    "accepting_orders": pl.Boolean,
    "fees_enabled": pl.Boolean,
    "fee_rate": pl.Float64,
    "fee_exponent": pl.Float64,
    "fee_taker_only": pl.Boolean,
    "fee_rebate_rate": pl.Float64,
    "tick_size": pl.Float64,
    "min_order_size": pl.Float64,
}

PM_ORDER_BOOK_SNAPSHOTS: dict[str, PolarsDataType] = {
    "snapshot_at": UTC_TS,  # our observation time
    "token_id": pl.String,
    "market_id": pl.String,  # condition id (CLOB `market`)
    "side": pl.String,  # bid | ask; null for a book with both sides empty
    "level": pl.Int32,  # 0 = best price on that side
    "price": pl.Float64,
    "size": pl.Float64,
    "best_bid": pl.Float64,
    "best_ask": pl.Float64,
    "mid": pl.Float64,
    "spread": pl.Float64,
    "depth_1c": pl.Float64,  # ask-side shares within 1 cent of the best ask
    "depth_2c": pl.Float64,
    "depth_5c": pl.Float64,
    "book_hash": pl.String,
    "book_timestamp": UTC_TS,  # the CLOB's own timestamp (when the book last changed)
    "tick_size": pl.Float64,
    "min_order_size": pl.Float64,
}

ODDS_QUOTES: dict[str, PolarsDataType] = {
    "observed_at": UTC_TS,  # live: poll time; historical: snapshot timestamp
    "event_id": pl.String,
    "sport_key": pl.String,
    "commence_time": UTC_TS,
    "home_team": pl.String,
    "away_team": pl.String,
    "bookmaker": pl.String,
    "market_key": pl.String,  # h2h | spreads | totals
    "outcome_name": pl.String,
    "point": pl.Float64,
    "price_decimal": pl.Float64,
    "last_update": UTC_TS,  # market-level when present, else bookmaker-level
}

ODDS_SCORES: dict[str, PolarsDataType] = {
    "observed_at": UTC_TS,
    "event_id": pl.String,
    "sport_key": pl.String,
    "commence_time": UTC_TS,
    "home_team": pl.String,
    "away_team": pl.String,
    "completed": pl.Boolean,
    "home_score": pl.Int64,
    "away_score": pl.Int64,
    "last_update": UTC_TS,
}

TEAM_ALIASES: dict[str, PolarsDataType] = {
    "league": pl.String,  # Odds API sport_key
    "canonical_name": pl.String,  # Odds API full name
    "alias": pl.String,
    "source": pl.String,
}

MARKET_MAPPINGS: dict[str, PolarsDataType] = {
    "observed_at": UTC_TS,
    "pm_market_id": pl.String,
    "pm_token_id": pl.String,
    "pm_outcome": pl.String,
    "odds_event_id": pl.String,
    "sport_key": pl.String,
    "odds_outcome_name": pl.String,
    "market_key": pl.String,
    "point": pl.Float64,
    "confidence": pl.Float64,
    "method": pl.String,  # exact | fuzzy | unmatched | out_of_scope | conflict
    "reason": pl.String,  # null when matched
}

PM_SPORTSBOOK_LINES: dict[str, PolarsDataType] = {
    **ODDS_QUOTES,
    "pm_market_id": pl.String,
    "pm_token_id": pl.String,
    "best_ask": pl.Float64,
    "fee_per_share": pl.Float64,
    "size_available": pl.Float64,  # shares at the best ask
}


def empty(schema: Mapping[str, PolarsDataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def conform(df: pl.DataFrame, schema: Mapping[str, PolarsDataType]) -> pl.DataFrame:
    """Select and cast to the contract; a missing column is a bug, so it raises."""
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise ValueError(f"frame is missing contract columns {missing}")
    return df.select([pl.col(c).cast(t) for c, t in schema.items()])
