"""Parsed API responses → polars frames that follow `edge_assets.schemas` exactly.

Odds payloads are flattened column-wise (explode → struct fields) rather than with nested
Python loops: a historical snapshot carries thousands of outcomes and a backfill thousands
of snapshots. Raw JSON bytes go straight into `pl.read_json` with an explicit schema (the
fastest path, used by the ingest bench); dicts and pydantic models are accepted too.
"""

import io
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl

from edge_assets import schemas
from edge_assets.sources.http import MalformedResponse, parse_utc
from edge_assets.sources.oddsapi import HistoricalOdds, OddsEvent, ScoreEvent
from edge_assets.sources.polymarket import ClobBook, GammaEvent, GammaMarket

# --------------------------------------------------------------------------- odds wire schema

_OUTCOME = pl.Struct({"name": pl.String, "price": pl.Float64, "point": pl.Float64})
_MARKET = pl.Struct({"key": pl.String, "last_update": pl.String, "outcomes": pl.List(_OUTCOME)})
_BOOK = pl.Struct({"key": pl.String, "last_update": pl.String, "markets": pl.List(_MARKET)})
ODDS_EVENT_WIRE: dict[str, pl.DataType] = {
    "id": pl.String,
    "sport_key": pl.String,
    "commence_time": pl.String,
    "home_team": pl.String,
    "away_team": pl.String,
    "bookmakers": pl.List(_BOOK),
}
_SCORE_EVENT_WIRE: dict[str, pl.DataType] = {
    "id": pl.String,
    "sport_key": pl.String,
    "commence_time": pl.String,
    "completed": pl.Boolean,
    "home_team": pl.String,
    "away_team": pl.String,
    "scores": pl.List(pl.Struct({"name": pl.String, "score": pl.String})),
    "last_update": pl.String,
}


def _utc(value: datetime | str) -> datetime:
    dt = parse_utc(value)
    if dt is None:
        raise ValueError("a timestamp is required")
    return dt


def _ts(col: str) -> pl.Expr:
    """Wire timestamp column (ISO `...Z`, or epoch seconds with dateFormat=unix) → UTC datetime."""
    c = pl.col(col)
    return (
        pl.when(c.str.contains(r"^\d+$"))
        .then(pl.from_epoch(c.cast(pl.Int64, strict=False), time_unit="s").dt.replace_time_zone("UTC"))
        .otherwise(c.str.to_datetime(time_unit="us", time_zone="UTC", strict=False))
        .cast(schemas.UTC_TS)
    )


def _to_decimal_price(odds_format: str) -> pl.Expr:
    """American → decimal (+150 → 2.5, −200 → 1.5); decimal passes through."""
    p = pl.col("price")
    if odds_format == "decimal":
        return p
    if odds_format != "american":
        raise ValueError(f"odds_format must be 'decimal' or 'american', got {odds_format!r}")
    return pl.when(p > 0).then(1.0 + p / 100.0).when(p < 0).then(1.0 - 100.0 / p).otherwise(None)


def _dump(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [i.model_dump(mode="json") if hasattr(i, "model_dump") else i for i in items]


def _events_wire_frame(events: Sequence[dict[str, Any] | OddsEvent]) -> pl.DataFrame:
    return pl.DataFrame(_dump(events), schema=ODDS_EVENT_WIRE, strict=False)


def _flatten_odds(events: pl.DataFrame, observed_at: pl.Expr, odds_format: str) -> pl.DataFrame:
    """events (ODDS_EVENT_WIRE columns) → one row per outcome in the ODDS_QUOTES contract."""
    f = pl.col
    flat = (
        events.lazy()
        .explode("bookmakers")
        .filter(f("bookmakers").is_not_null())
        .with_columns(
            f("bookmakers").struct.field("key").alias("bookmaker"),
            f("bookmakers").struct.field("last_update").alias("_book_update"),
            f("bookmakers").struct.field("markets").alias("_markets"),
        )
        .drop("bookmakers")
        .explode("_markets")
        .filter(f("_markets").is_not_null())
        .with_columns(
            f("_markets").struct.field("key").alias("market_key"),
            f("_markets").struct.field("last_update").alias("_market_update"),
            f("_markets").struct.field("outcomes").alias("_outcomes"),
        )
        .drop("_markets")
        .explode("_outcomes")
        .filter(f("_outcomes").is_not_null())
        .with_columns(
            f("_outcomes").struct.field("name").alias("outcome_name"),
            f("_outcomes").struct.field("point").alias("point"),
            f("_outcomes").struct.field("price").alias("price"),
        )
        .with_columns(
            observed_at.alias("observed_at"),
            f("id").alias("event_id"),
            _ts("commence_time").alias("commence_time"),
            _to_decimal_price(odds_format).alias("price_decimal"),
            pl.coalesce(_ts("_market_update"), _ts("_book_update")).alias("last_update"),
        )
        .collect()
    )
    _check_required(flat)
    return schemas.conform(flat, schemas.ODDS_QUOTES)


_REQUIRED = {
    "event_id": "id",
    "sport_key": "sport_key",
    "commence_time": "commence_time",
    "bookmaker": "bookmakers[].key",
    "market_key": "bookmakers[].markets[].key",
    "outcome_name": "bookmakers[].markets[].outcomes[].name",
    "price": "bookmakers[].markets[].outcomes[].price",
}


def _check_required(flat: pl.DataFrame) -> None:
    """Schema drift guard for the fast path (which has no pydantic): a renamed or retyped
    required field shows up as nulls after the schema-driven read."""
    if flat.height == 0:
        return
    nulls = flat.select(pl.col(c).null_count() for c in _REQUIRED).row(0)
    bad = [
        f"field '{wire}' missing or invalid in {n} of {flat.height} rows"
        for (_, wire), n in zip(_REQUIRED.items(), nulls, strict=True)
        if n
    ]
    if bad:
        raise MalformedResponse("oddsapi", "odds payload", "; ".join(bad))


def odds_to_frame(
    events: Sequence[dict[str, Any] | OddsEvent] | dict[str, Any] | OddsEvent,
    observed_at: datetime | str,
    odds_format: str = "decimal",
) -> pl.DataFrame:
    """Live /odds (or one /events/{id}/odds object) → ODDS_QUOTES; observed_at = poll time."""
    if isinstance(events, dict | OddsEvent):
        events = [events]
    if not events:
        return schemas.empty(schemas.ODDS_QUOTES)
    obs = pl.lit(_utc(observed_at), dtype=schemas.UTC_TS)
    return _flatten_odds(_events_wire_frame(events), obs, odds_format)


def odds_bodies_to_frame(
    bodies: Sequence[bytes], observed_at: datetime | str, odds_format: str = "decimal"
) -> pl.DataFrame:
    """Raw live /odds bodies (JSON arrays of events, e.g. one per sport) → one ODDS_QUOTES frame.

    Polars reads the bytes against the wire schema and one flatten serves every body: ~4x
    cheaper than pydantic models + odds_to_frame per body. Drift is still MalformedResponse
    (not JSON, not an array, or a required field renamed/retyped).
    """
    frames = []
    for body in bodies:
        try:
            frame = pl.read_json(io.BytesIO(body), schema=ODDS_EVENT_WIRE)
        except Exception as exc:  # polars raises ComputeError/SchemaError for bad JSON or shapes
            snippet = body[:80].decode("utf-8", "replace")
            raise MalformedResponse(
                "oddsapi",
                "/v4/sports/{sport}/odds",
                f"body is not a JSON array of events ({exc}); starts with {snippet!r}",
            ) from None
        if frame.height:
            frames.append(frame)
    if not frames:
        return schemas.empty(schemas.ODDS_QUOTES)
    obs = pl.lit(_utc(observed_at), dtype=schemas.UTC_TS)
    return _flatten_odds(pl.concat(frames), obs, odds_format)


_HIST_WIRE = {"timestamp": pl.String, "data": pl.List(pl.Struct(ODDS_EVENT_WIRE))}


def historical_to_frame(
    wrapper: bytes | str | dict[str, Any] | HistoricalOdds, odds_format: str = "decimal"
) -> pl.DataFrame:
    """Historical wrapper → ODDS_QUOTES with observed_at = the snapshot `timestamp`.

    Raw bytes/str of a list-shaped wrapper are read by polars directly (fast path); the
    event-odds variant (`data` is one object) and dicts/models go through Python objects.
    """
    if isinstance(wrapper, bytes | str):
        raw = wrapper.encode() if isinstance(wrapper, str) else wrapper
        try:
            frame = pl.read_json(io.BytesIO(raw), schema=_HIST_WIRE)
        except Exception:  # data is an object, not a list (or not JSON): take the slow path
            try:
                payload = json.loads(raw)
            except ValueError as exc:
                raise MalformedResponse(
                    "oddsapi", "historical odds", f"body is not valid JSON ({exc})"
                ) from None
            return historical_to_frame(payload, odds_format)
        if frame.height != 1 or frame["timestamp"][0] is None:
            raise ValueError("historical wrapper without a timestamp")
        timestamp = _utc(frame["timestamp"][0])
        events = frame.select(pl.col("data").explode()).unnest("data")
        if events.height == 0 or events["id"].null_count() == events.height:
            return schemas.empty(schemas.ODDS_QUOTES)
        return _flatten_odds(events, pl.lit(timestamp, dtype=schemas.UTC_TS), odds_format)
    if isinstance(wrapper, HistoricalOdds):
        timestamp, data = wrapper.timestamp, wrapper.data
    else:
        timestamp, data = _utc(wrapper["timestamp"]), wrapper.get("data") or []
    events = [data] if isinstance(data, dict | OddsEvent) else list(data)
    return odds_to_frame(events, timestamp, odds_format)


def scores_to_frame(
    scores: Sequence[dict[str, Any] | ScoreEvent], observed_at: datetime | str
) -> pl.DataFrame:
    """/scores → ODDS_SCORES. Scores are strings on the wire and are matched to home/away by name."""
    if not scores:
        return schemas.empty(schemas.ODDS_SCORES)
    f = pl.col
    base = pl.DataFrame(_dump(scores), schema=_SCORE_EVENT_WIRE, strict=False).with_row_index("_row")
    long = (
        base.select("_row", "home_team", "away_team", "scores")
        .explode("scores")
        .filter(f("scores").is_not_null())
        .with_columns(
            f("scores").struct.field("name").alias("_name"),
            f("scores").struct.field("score").cast(pl.Int64, strict=False).alias("_score"),
        )
        .group_by("_row")
        .agg(
            f("_score").filter(f("_name") == f("home_team")).first().alias("home_score"),
            f("_score").filter(f("_name") == f("away_team")).first().alias("away_score"),
        )
    )
    out = base.join(long, on="_row", how="left").with_columns(
        pl.lit(_utc(observed_at), dtype=schemas.UTC_TS).alias("observed_at"),
        f("id").alias("event_id"),
        _ts("commence_time").alias("commence_time"),
        _ts("last_update").alias("last_update"),
        f("completed").fill_null(False),
    )
    return schemas.conform(out.sort("_row"), schemas.ODDS_SCORES)


# --------------------------------------------------------------------------- Polymarket

_GAME_SLUG = re.compile(r"^([a-z0-9]+)-[a-z0-9-]+?-\d{4}-\d{2}-\d{2}(?:-|$)")


def league_of(market: GammaMarket, event: GammaEvent | None) -> str | None:
    """Polymarket league code: event `sport` object, else a game-shaped slug's prefix, else series."""
    if event is not None and event.sport is not None and event.sport.sport:
        return event.sport.sport.lower()
    for slug in (market.slug, event.slug if event else None):
        m = _GAME_SLUG.match(slug or "")
        if m:
            return m.group(1)
    if event is not None:
        if event.series and event.series[0].slug:
            return event.series[0].slug.lower()
        if event.series_slug:
            return event.series_slug.lower()
    return None


def gamma_markets_to_frame(
    markets: Sequence[GammaMarket | dict[str, Any]],
    observed_at: datetime | str,
    events: Sequence[GammaEvent | dict[str, Any]] | None = None,
) -> pl.DataFrame:
    """Gamma markets → PM_MARKETS. The parent event comes from `events` (matched by the market
    ids they contain) or else from the market's own nested `events[0]`."""
    ms = [m if isinstance(m, GammaMarket) else GammaMarket.model_validate(m) for m in markets]
    evs = [e if isinstance(e, GammaEvent) else GammaEvent.model_validate(e) for e in events or []]
    by_market = {m.id: e for e in evs for m in e.markets}
    if not ms:
        return schemas.empty(schemas.PM_MARKETS)

    rows = []
    for m in ms:
        ev = by_market.get(m.id) or (m.events[0] if m.events else None)
        fs = m.fee_schedule
        if fs is not None:
            fee_rate: float | None = fs.rate
        else:
            fee_rate = 0.0 if m.fees_enabled is False else None
        rows.append(
            {
                "market_id": m.id,
                "condition_id": m.condition_id,
                "event_id": ev.id if ev else None,
                "event_slug": ev.slug if ev else None,
                "event_title": ev.title if ev else None,
                "slug": m.slug,
                "question": m.question,
                "league": league_of(m, ev),
                "sports_market_type": m.sports_market_type,
                "line": m.line,
                "group_item_title": m.group_item_title,
                "outcomes": m.outcomes,
                "token_ids": m.clob_token_ids,
                "outcome_prices": m.outcome_prices,
                "home_team": ev.home_team if ev else None,
                "away_team": ev.away_team if ev else None,
                "best_bid": m.best_bid,
                "best_ask": m.best_ask,
                "last_trade_price": m.last_trade_price,
                "liquidity": m.liquidity if m.liquidity is not None else m.liquidity_num,
                "volume": m.volume if m.volume is not None else m.volume_num,
                "game_start_time": m.game_start_time or m.event_start_time or (ev.start_time if ev else None),
                "active": m.active,
                "closed": m.closed,
                "accepting_orders": m.accepting_orders,
                "fees_enabled": m.fees_enabled,
                "fee_rate": fee_rate,
                "fee_exponent": fs.exponent if fs else None,
                "fee_taker_only": fs.taker_only if fs else None,
                "fee_rebate_rate": fs.rebate_rate if fs else None,
                "tick_size": m.order_price_min_tick_size,
                "min_order_size": m.order_min_size,
            }
        )
    schema = {k: v for k, v in schemas.PM_MARKETS.items() if k != "observed_at"}
    frame = pl.DataFrame(rows, schema=schema, strict=False).with_columns(
        pl.lit(_utc(observed_at), dtype=schemas.UTC_TS).alias("observed_at")
    )
    return schemas.conform(frame, schemas.PM_MARKETS)


def gamma_events_to_frame(
    events: Sequence[GammaEvent | dict[str, Any]], observed_at: datetime | str
) -> pl.DataFrame:
    """Every market nested in `events` → PM_MARKETS (teams/league from its event)."""
    evs = [e if isinstance(e, GammaEvent) else GammaEvent.model_validate(e) for e in events]
    return gamma_markets_to_frame([m for e in evs for m in e.markets], observed_at, evs)


_DEPTH_CENTS = (1, 2, 5)
_EPS = 1e-9  # float tolerance on "within n cents" (prices are multiples of the tick)


def book_to_frame(books: Sequence[ClobBook | dict[str, Any]], snapshot_at: datetime | str) -> pl.DataFrame:
    """CLOB books → PM_ORDER_BOOK_SNAPSHOTS: one row per level, best first (level 0) per side,
    each carrying the book summary. A book with both sides empty still yields one row."""
    bs = [b if isinstance(b, ClobBook) else ClobBook.model_validate(b) for b in books]
    if not bs:
        return schemas.empty(schemas.PM_ORDER_BOOK_SNAPSHOTS)
    f = pl.col
    meta = pl.DataFrame(
        {
            "_book": list(range(len(bs))),
            "token_id": [b.asset_id for b in bs],
            "market_id": [b.market for b in bs],
            "book_hash": [b.hash for b in bs],
            "book_timestamp": [b.timestamp for b in bs],
            "tick_size": [float(b.tick_size) if b.tick_size is not None else None for b in bs],
            "min_order_size": [float(b.min_order_size) if b.min_order_size is not None else None for b in bs],
        },
        schema_overrides={
            "_book": pl.Int64,
            "book_timestamp": schemas.UTC_TS,
            "book_hash": pl.String,
            "tick_size": pl.Float64,
            "min_order_size": pl.Float64,
        },
    )
    idx, side, price, size = [], [], [], []
    for i, b in enumerate(bs):
        for name, levels in (("bid", b.bids), ("ask", b.asks)):
            for lv in levels:
                idx.append(i)
                side.append(name)
                price.append(float(lv.price))
                size.append(float(lv.size))
    levels = pl.DataFrame(
        {"_book": idx, "side": side, "price": price, "size": size},
        schema={"_book": pl.Int64, "side": pl.String, "price": pl.Float64, "size": pl.Float64},
    )
    levels = levels.sort(
        ["_book", "side", pl.when(f("side") == "bid").then(-f("price")).otherwise(f("price"))]
    ).with_columns(pl.int_range(pl.len(), dtype=pl.Int32).over(["_book", "side"]).alias("level"))
    best = levels.group_by("_book").agg(
        f("price").filter(f("side") == "bid").max().alias("best_bid"),
        f("price").filter(f("side") == "ask").min().alias("best_ask"),
    )
    asks = levels.filter(f("side") == "ask").join(best, on="_book")
    depth = asks.group_by("_book").agg(
        *[
            f("size").filter(f("price") <= f("best_ask") + c / 100 + _EPS).sum().alias(f"depth_{c}c")
            for c in _DEPTH_CENTS
        ]
    )
    summary = (
        meta.join(best, on="_book", how="left")
        .join(depth, on="_book", how="left")
        .with_columns(
            ((f("best_bid") + f("best_ask")) / 2).round(10).alias("mid"),  # 0.14-0.1 → 0.04, not 0.0400…01
            (f("best_ask") - f("best_bid")).round(10).alias("spread"),
        )
    )
    out = (
        summary.join(levels, on="_book", how="left")
        .sort(["_book", "side", "level"], nulls_last=True)
        .with_columns(pl.lit(_utc(snapshot_at), dtype=schemas.UTC_TS).alias("snapshot_at"))
    )
    return schemas.conform(out, schemas.PM_ORDER_BOOK_SNAPSHOTS)
