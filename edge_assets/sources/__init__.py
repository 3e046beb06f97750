"""API clients (Gamma, CLOB, The Odds API v4), their wire models and normalizers to lake frames.

Pure: no Dagster here. Assets wire these clients into resources and write `RawExchange`s to the
raw lake through the `on_response` hook before anything is parsed.
"""

from edge_assets.sources.http import (
    ApiError,
    HttpSource,
    MalformedResponse,
    QuotaExhausted,
    RateLimited,
    RawExchange,
    RetriesExhausted,
    RetryPolicy,
    SourceError,
    TokenBucket,
    paginate_cursor,
    paginate_offset,
    parse_retry_after,
    parse_utc,
    redact,
)
from edge_assets.sources.oddsapi import (
    HistoricalOdds,
    OddsApiClient,
    OddsEvent,
    QuotaTracker,
    ScoreEvent,
    Sport,
    odds_cost,
)
from edge_assets.sources.polymarket import (
    ClobBook,
    ClobClient,
    GammaClient,
    GammaEvent,
    GammaMarket,
    PriceHistory,
)

__all__ = [
    "ApiError",
    "ClobBook",
    "ClobClient",
    "GammaClient",
    "GammaEvent",
    "GammaMarket",
    "HistoricalOdds",
    "HttpSource",
    "MalformedResponse",
    "OddsApiClient",
    "OddsEvent",
    "PriceHistory",
    "QuotaExhausted",
    "QuotaTracker",
    "RateLimited",
    "RawExchange",
    "RetriesExhausted",
    "RetryPolicy",
    "ScoreEvent",
    "SourceError",
    "Sport",
    "TokenBucket",
    "odds_cost",
    "paginate_cursor",
    "paginate_offset",
    "parse_retry_after",
    "parse_utc",
    "redact",
]
