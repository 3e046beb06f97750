"""Trading costs on Polymarket: taker fees, maker rebates, order-book walks, fill probability.

Fees (docs.polymarket.com/trading/fees via apis.md 2.6): only takers pay,
``fee = shares * rate * (p * (1 - p)) ** exponent`` in USDC (exponent 1 for every sports
schedule seen), rounded to 5 decimals, fees under 0.00001 charged as zero. The venue does
not document its rounding mode; we round half up (so 0.000125 -> 0.00013) and zero
anything under 0.00001, which satisfies both published statements. The per-market
``feeSchedule`` (rate, exponent, takerOnly, rebateRate) is authoritative; the
``fee_tables`` seed covers periods before per-market schedules.

Book walks are vectorized over many books with polars (sort, cumulative sum per target,
clip), never a Python loop over levels. The CLOB sends bids ascending and asks descending;
we never rely on either order and sort explicitly.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from edge_assets.pricing.seeds import (
    COST_MODELS_CSV,
    COST_MODELS_SCHEMA,
    FEE_TABLES_CSV,
    FEE_TABLES_SCHEMA,
    read_seed,
)

StakeUnit = Literal["usdc", "shares"]
Num = Any  # float | np.ndarray | pl.Series | pl.Expr

FEE_DECIMALS = 5
FEE_MIN = 1e-5

__all__ = [
    "WALK_COLUMNS",
    "WALK_LEVEL_COLUMNS",
    "cost_model_for",
    "enabled_fee_schedule_for",
    "fee_per_share",
    "fee_schedule_for",
    "fill_probability",
    "liquidity_ok",
    "load_cost_models",
    "load_fee_tables",
    "maker_rebate",
    "size_at_or_better",
    "taker_fee",
    "walk_book",
    "walk_books",
    "walk_levels",
]


# ---------------------------------------------------------------------------- fees


def _series_to_np(*xs: Num) -> tuple[list[Num], str | None]:
    """polars Series -> numpy so numpy math applies; remembers a name to wrap the result."""
    name = None
    out = []
    for x in xs:
        if isinstance(x, pl.Series):
            name = name or x.name
            out.append(x.cast(pl.Float64).to_numpy())
        elif isinstance(x, list | tuple):
            out.append(np.asarray(x, dtype=np.float64))
        else:
            out.append(x)
    return out, name


def _wrap(result: Num, name: str | None) -> Num:
    if name is not None:
        return pl.Series(name, np.asarray(result, dtype=np.float64)).fill_nan(None)
    if isinstance(result, np.ndarray) and result.ndim == 0:
        return float(result)
    return result


def fee_per_share(price: Num, rate: Num, exponent: Num = 1.0) -> Num:
    """Unrounded taker fee per share, ``rate * (p (1 - p)) ** exponent``, for pricing.

    Works on scalars, numpy arrays, polars Series and polars expressions alike.
    """
    if isinstance(price, pl.Expr) or isinstance(rate, pl.Expr) or isinstance(exponent, pl.Expr):
        p = price if isinstance(price, pl.Expr) else pl.lit(price)
        r = rate if isinstance(rate, pl.Expr) else pl.lit(rate)
        return r * (p * (1.0 - p)).pow(exponent)
    (p, r, e), name = _series_to_np(price, rate, exponent)
    return _wrap(r * np.power(np.asarray(p) * (1.0 - np.asarray(p)), e), name)


def _round_fee(raw: Num) -> Num:
    """Half-up to 5 decimals; fees under 0.00001 are zero (the venue's published rule)."""
    scale = 10.0**FEE_DECIMALS
    if isinstance(raw, pl.Expr):
        return pl.when(raw < FEE_MIN).then(0.0).otherwise((raw * scale + 0.5 + 1e-9).floor() / scale)
    raw_a = np.asarray(raw, dtype=np.float64)
    rounded = np.floor(raw_a * scale + 0.5 + 1e-9) / scale  # 1e-9 absorbs binary noise at .5
    return np.where(raw_a < FEE_MIN, 0.0, rounded)


def taker_fee(shares: Num, price: Num, rate: Num, exponent: Num = 1.0) -> Num:
    """Fee in USDC charged to a taker for ``shares`` at ``price``, rounded as the venue does.

    ``rate = 0`` (fees off) gives exactly 0. Same input kinds as :func:`fee_per_share`.
    """
    if any(isinstance(x, pl.Expr) for x in (shares, price, rate, exponent)):
        s = shares if isinstance(shares, pl.Expr) else pl.lit(shares)
        return _round_fee(s * fee_per_share(price, rate, exponent))
    (s, p, r, e), name = _series_to_np(shares, price, rate, exponent)
    raw = np.asarray(s, dtype=np.float64) * np.asarray(fee_per_share(p, r, e), dtype=np.float64)
    return _wrap(_round_fee(raw), name)


def maker_rebate(shares: Num, price: Num, rate: Num, rebate_rate: Num, exponent: Num = 1.0) -> Num:
    """Estimated maker rebate in USDC: ``rebate_rate`` of the taker fee on the matched shares.

    Polymarket pays rebates from a pool of taker fees (paid out later, pro rata), so this is
    an expectation, not a per-fill cash flow; it is left unrounded.
    """
    if any(isinstance(x, pl.Expr) for x in (shares, price, rate, rebate_rate, exponent)):
        s = shares if isinstance(shares, pl.Expr) else pl.lit(shares)
        return s * fee_per_share(price, rate, exponent) * rebate_rate
    (s, p, r, rr, e), name = _series_to_np(shares, price, rate, rebate_rate, exponent)
    return _wrap(np.asarray(s) * np.asarray(fee_per_share(p, r, e)) * np.asarray(rr), name)


# ---------------------------------------------------------------------------- seed tables


def load_fee_tables(path: str | Path | None = None) -> pl.DataFrame:
    """The ``fee_tables`` seed (data/fee_tables.csv by default), typed per seeds.FEE_TABLES_SCHEMA."""
    return read_seed(Path(path) if path else FEE_TABLES_CSV, FEE_TABLES_SCHEMA)


def load_cost_models(path: str | Path | None = None) -> pl.DataFrame:
    """The ``cost_models`` seed (data/cost_models.csv by default): fill model parameters etc."""
    return read_seed(Path(path) if path else COST_MODELS_CSV, COST_MODELS_SCHEMA)


def _as_utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _valid_row(table: pl.DataFrame, venue: str, market_type: str, at: datetime) -> dict[str, Any] | None:
    """Row for venue whose market_type matches exactly (preferred) or is '*', latest valid_from <= at."""
    cand = table.filter(
        (pl.col("venue") == venue)
        & ((pl.col("market_type") == market_type) | (pl.col("market_type") == "*"))
        & (pl.col("valid_from") <= _as_utc(at))
    )
    if cand.is_empty():
        return None
    cand = cand.sort([(pl.col("market_type") == market_type), pl.col("valid_from")], descending=[True, True])
    return cand.row(0, named=True)


def fee_schedule_for(
    venue: str, market_type: str, at: datetime, table: pl.DataFrame | None = None
) -> dict[str, Any] | None:
    """The fee schedule in force for (venue, market_type) at ``at``; None when the table has none.

    Rows with ``fees_enabled = false`` come back with ``rate`` forced to 0 so callers can
    always compute ``fee_per_share(p, row["rate"], row["exponent"])``. Naive datetimes are UTC.
    """
    row = _valid_row(load_fee_tables() if table is None else table, venue, market_type, at)
    if row is not None and not row.get("fees_enabled", True):
        row = {**row, "rate": 0.0, "rebate_rate": 0.0}
    return row


def enabled_fee_schedule_for(
    venue: str, market_type: str, at: datetime, table: pl.DataFrame | None = None
) -> dict[str, Any] | None:
    """The schedule to price a market that says ``feesEnabled`` but sends no ``feeSchedule``.

    The newest enabled schedule in force at ``at``, else the earliest enabled one: the market
    itself says it charges, so a zero-fee row in force (the fee-free era) must not price it free,
    which would show its fee as edge. None when the table has no enabled schedule for the venue.
    """
    t = load_fee_tables() if table is None else table
    enabled = t.filter(
        (pl.col("venue") == venue)
        & ((pl.col("market_type") == market_type) | (pl.col("market_type") == "*"))
        & pl.col("fees_enabled")
        & (pl.col("rate") > 0)
    )
    if enabled.is_empty():
        return None
    in_force = _valid_row(enabled, venue, market_type, at)
    return in_force if in_force is not None else enabled.sort("valid_from").row(0, named=True)


def cost_model_for(
    venue: str, market_type: str, at: datetime, table: pl.DataFrame | None = None
) -> dict[str, Any] | None:
    """The cost model row in force for (venue, market_type) at ``at`` (None when absent)."""
    return _valid_row(load_cost_models() if table is None else table, venue, market_type, at)


# ---------------------------------------------------------------------------- book walks

WALK_COLUMNS: dict[str, pl.DataType] = {
    "token_id": pl.String(),
    "side": pl.String(),  # buy | sell (the taker's side)
    "stake": pl.Float64(),
    "stake_unit": pl.String(),
    "vwap": pl.Float64(),  # null when nothing filled
    "filled_shares": pl.Float64(),
    "filled_usdc": pl.Float64(),
    "best_price": pl.Float64(),
    "worst_price": pl.Float64(),
    "limit_price": pl.Float64(),  # worst price moved onto the tick (away from the touch)
    "levels_used": pl.UInt32(),
    "available_shares": pl.Float64(),  # whole side of the book
    "fully_filled": pl.Boolean(),
    "fee_usdc": pl.Float64(),  # unrounded sum over levels; 0 when no fee_rate given
    "fee_per_share": pl.Float64(),
    "min_order_size": pl.Float64(),
    "meets_min_size": pl.Boolean(),
}


def _first_per_token(levels: pl.DataFrame, col: str) -> pl.DataFrame | None:
    if col not in levels.columns:
        return None
    return (
        levels.filter(pl.col(col).is_not_null())
        .group_by("token_id")
        .agg(pl.col(col).first().cast(pl.Float64))
    )


def _walk(
    levels: pl.DataFrame, targets: pl.DataFrame, stake_unit: StakeUnit
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(targets with ``_t`` and parsed options, one row per target and book level in walk order).

    Level rows: ``_take`` (amount taken in the stake unit), ``_tsh`` shares, ``_tusd`` notional,
    ``_fee``, ``_used`` (taken beyond float noise); shared by ``walk_books`` and ``walk_levels``.
    """
    if stake_unit not in ("usdc", "shares"):
        raise ValueError(f"stake_unit must be 'usdc' or 'shares', got {stake_unit!r}")
    for col in ("token_id", "side", "price", "size"):
        if col not in levels.columns:
            raise ValueError(f"walk_books: levels lacks column {col!r}")
    for col in ("token_id", "stake"):
        if col not in targets.columns:
            raise ValueError(f"walk_books: targets lacks column {col!r}")

    t = targets.with_row_index("_t").with_columns(
        pl.col("token_id").cast(pl.String),
        pl.col("stake").cast(pl.Float64),
        (
            pl.col("side").cast(pl.String).str.to_lowercase() if "side" in targets.columns else pl.lit("buy")
        ).alias("_tside"),
        (
            pl.col("fee_rate").cast(pl.Float64).fill_null(0.0)
            if "fee_rate" in targets.columns
            else pl.lit(0.0)
        ).alias("_rate"),
        (
            pl.col("fee_exponent").cast(pl.Float64).fill_null(1.0)
            if "fee_exponent" in targets.columns
            else pl.lit(1.0)
        ).alias("_exp"),
    )
    bad_side = t.filter(~pl.col("_tside").is_in(["buy", "sell"]))
    if bad_side.height:
        raise ValueError(f"walk_books: target side must be buy/sell, got {bad_side['_tside'][0]!r}")
    t = t.with_columns(_bside=pl.when(pl.col("_tside") == "buy").then(pl.lit("ask")).otherwise(pl.lit("bid")))

    lv = levels.select(
        pl.col("token_id").cast(pl.String),
        pl.col("side").cast(pl.String).str.to_lowercase().alias("_bside"),
        pl.col("price").cast(pl.Float64),
        pl.col("size").cast(pl.Float64),
    ).filter(
        pl.col("_bside").is_not_null()
        & pl.col("price").is_finite()
        & (pl.col("price") > 0)
        & pl.col("size").is_finite()
        & (pl.col("size") > 0)
    )

    is_buy = pl.col("_tside") == "buy"
    amount = pl.col("price") * pl.col("size") if stake_unit == "usdc" else pl.col("size")
    walk = (
        t.select("_t", "token_id", "_bside", "_tside", "stake", "_rate", "_exp")
        .join(lv, on=["token_id", "_bside"], how="inner")
        .with_columns(_key=pl.when(is_buy).then(pl.col("price")).otherwise(-pl.col("price")))
        .sort(["_t", "_key"])
        .with_columns(_amt=amount)
        .with_columns(_prev=pl.col("_amt").cum_sum().over("_t") - pl.col("_amt"))
        .with_columns(_take=(pl.col("stake") - pl.col("_prev")).clip(0.0, None))
        .with_columns(_take=pl.min_horizontal("_take", "_amt"))
    )
    take_shares = pl.col("_take") / pl.col("price") if stake_unit == "usdc" else pl.col("_take")
    walk = walk.with_columns(_tsh=take_shares).with_columns(
        _tusd=pl.col("_tsh") * pl.col("price"),
        _fee=pl.col("_tsh") * fee_per_share(pl.col("price"), pl.col("_rate"), pl.col("_exp")),
        # a level counts as used only beyond float noise of the cumulative sums
        _used=pl.col("_take") > 1e-12 * pl.max_horizontal(pl.col("stake"), pl.lit(1.0)),
    )
    return t, walk


def walk_books(
    levels: pl.DataFrame,
    targets: pl.DataFrame,
    *,
    stake_unit: StakeUnit = "usdc",
) -> pl.DataFrame:
    """Walk many order books at once for per-target stakes (market order, taker).

    ``levels``: token_id, side ("ask"/"bid"), price, size (one row per level, any order;
    rows with null side, non-positive price or size are ignored); optional tick_size and
    min_order_size per token (PM_ORDER_BOOK_SNAPSHOTS columns).
    ``targets``: token_id, stake; optional side ("buy" walks asks from the lowest price up,
    "sell" walks bids from the highest down; default buy), fee_rate and fee_exponent (fee
    per level ``shares * rate * (p(1-p))**exponent``), tick_size, min_order_size (used when
    levels lack them). Several targets may name the same token.
    ``stake_unit``: "usdc" = notional to spend (buy) / receive (sell), fees on top;
    "shares" = number of shares.

    Returns one row per target in target order with WALK_COLUMNS. A side with no levels
    gives filled 0, vwap/worst null, levels_used 0, fully_filled false (true for stake 0).
    """
    t, walk = _walk(levels, targets, stake_unit)
    is_buy = pl.col("_tside") == "buy"
    agg = walk.group_by("_t").agg(
        filled_shares=pl.col("_tsh").sum(),
        filled_usdc=pl.col("_tusd").sum(),
        best_price=pl.col("price").first(),
        worst_price=pl.col("price").filter(pl.col("_used")).last(),
        levels_used=pl.col("_used").sum().cast(pl.UInt32),
        available_shares=pl.col("size").sum(),
        _available_amt=pl.col("_amt").sum(),
        fee_usdc=pl.col("_fee").sum(),
    )

    out = t.join(agg, on="_t", how="left").sort("_t")
    for col in ("tick_size", "min_order_size"):
        per_token = _first_per_token(levels.with_columns(pl.col("token_id").cast(pl.String)), col)
        from_targets = pl.col(col).cast(pl.Float64) if col in targets.columns else pl.lit(None, pl.Float64)
        if per_token is not None:
            out = out.join(per_token.rename({col: f"_{col}"}), on="token_id", how="left").with_columns(
                pl.coalesce(f"_{col}", from_targets).alias(f"_{col}")
            )
        else:
            out = out.with_columns(from_targets.alias(f"_{col}"))

    filled = pl.col("filled_shares").fill_null(0.0)
    target_amount = pl.col("filled_usdc") if stake_unit == "usdc" else pl.col("filled_shares")
    tick = pl.col("_tick_size")
    on_tick_up = (pl.col("worst_price") / tick - 1e-9).ceil() * tick
    on_tick_down = (pl.col("worst_price") / tick + 1e-9).floor() * tick
    out = out.with_columns(
        side=pl.col("_tside"),
        stake_unit=pl.lit(stake_unit),
        vwap=pl.when(filled > 0).then(pl.col("filled_usdc") / pl.col("filled_shares")).otherwise(None),
        filled_shares=filled,
        filled_usdc=pl.col("filled_usdc").fill_null(0.0),
        levels_used=pl.col("levels_used").fill_null(0),
        available_shares=pl.col("available_shares").fill_null(0.0),
        fully_filled=(pl.col("stake") <= 0)
        | (target_amount.fill_null(0.0) >= pl.col("stake") * (1.0 - 1e-12)),
        fee_usdc=pl.col("fee_usdc").fill_null(0.0),
        fee_per_share=pl.when(filled > 0).then(pl.col("fee_usdc").fill_null(0.0) / filled).otherwise(None),
        limit_price=pl.when(tick.is_null() | (tick <= 0))
        .then(pl.col("worst_price"))
        .when(is_buy)
        .then(on_tick_up.round(10))
        .otherwise(on_tick_down.round(10)),
        min_order_size=pl.col("_min_order_size"),
        meets_min_size=(filled > 0)
        & (pl.col("_min_order_size").is_null() | (filled >= pl.col("_min_order_size") * (1.0 - 1e-12))),
    )
    return out.select([pl.col(c).cast(d) for c, d in WALK_COLUMNS.items()])


WALK_LEVEL_COLUMNS: dict[str, pl.DataType] = {
    "target": pl.UInt32(),  # row index of the target in ``targets``
    "token_id": pl.String(),
    "fill_no": pl.UInt32(),  # 1 = the best level, in walk order
    "price": pl.Float64(),
    "shares": pl.Float64(),
    "usdc": pl.Float64(),  # shares * price
    "fee_usdc": pl.Float64(),
}


def walk_levels(
    levels: pl.DataFrame, targets: pl.DataFrame, *, stake_unit: StakeUnit = "usdc"
) -> pl.DataFrame:
    """The book levels each walk takes, one row per target and level used, in walk order.

    Same inputs as ``walk_books``; a target's rows sum to its ``filled_shares``, ``filled_usdc``
    and ``fee_usdc`` there (the fills of a market order). Targets that take nothing have no rows.
    """
    _, walk = _walk(levels, targets, stake_unit)
    return (
        walk.filter(pl.col("_used"))
        .select(
            pl.col("_t").cast(pl.UInt32).alias("target"),
            "token_id",
            (pl.int_range(pl.len()).over("_t") + 1).cast(pl.UInt32).alias("fill_no"),
            "price",
            pl.col("_tsh").alias("shares"),
            pl.col("_tusd").alias("usdc"),
            pl.col("_fee").alias("fee_usdc"),
        )
        .cast(WALK_LEVEL_COLUMNS)  # type: ignore[arg-type]
    )


def _levels_from_raw(raw: Sequence[Mapping[str, Any]], side: str, token_id: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "token_id": [token_id] * len(raw),
            "side": [side] * len(raw),
            "price": [float(lv["price"]) for lv in raw],
            "size": [float(lv["size"]) for lv in raw],
        },
        schema={"token_id": pl.String, "side": pl.String, "price": pl.Float64, "size": pl.Float64},
    )


def walk_book(
    bids: Sequence[Mapping[str, Any]],
    asks: Sequence[Mapping[str, Any]],
    stake: float,
    side: Literal["buy", "sell"] = "buy",
    stake_unit: StakeUnit = "usdc",
    *,
    fee_rate: float = 0.0,
    fee_exponent: float = 1.0,
    tick_size: float | str | None = None,
    min_order_size: float | str | None = None,
) -> dict[str, Any]:
    """Walk one raw CLOB book (``bids``/``asks`` lists of {"price": str, "size": str}, any order).

    Convenience for a single /book response; returns one WALK_COLUMNS row as a dict.
    """
    levels = pl.concat([_levels_from_raw(bids, "bid", "t"), _levels_from_raw(asks, "ask", "t")])
    target = pl.DataFrame(
        {
            "token_id": ["t"],
            "stake": [float(stake)],
            "side": [side],
            "fee_rate": [float(fee_rate)],
            "fee_exponent": [float(fee_exponent)],
            "tick_size": [float(tick_size) if tick_size not in (None, "") else None],
            "min_order_size": [float(min_order_size) if min_order_size not in (None, "") else None],
        },
        schema_overrides={"tick_size": pl.Float64, "min_order_size": pl.Float64},
    )
    row = walk_books(levels, target, stake_unit=stake_unit).row(0, named=True)
    row.pop("token_id")
    return row


def size_at_or_better(
    levels: pl.DataFrame,
    price_limit: float | pl.DataFrame,
    *,
    side: Literal["ask", "bid"] = "ask",
) -> pl.DataFrame:
    """Shares (and USDC notional) resting at or better than a price limit, per token.

    "Better" is lower for asks (what a buyer can take at <= limit) and higher for bids.
    ``price_limit`` is one float for all tokens or a frame with token_id and price_limit
    (only those tokens are returned). Tokens with nothing inside the limit get 0.
    A 1e-9 tolerance keeps a level exactly at the limit inside despite float noise.
    """
    lv = levels.filter(pl.col("side").cast(pl.String).str.to_lowercase() == side).select(
        pl.col("token_id").cast(pl.String), pl.col("price").cast(pl.Float64), pl.col("size").cast(pl.Float64)
    )
    if isinstance(price_limit, pl.DataFrame):
        limits = price_limit.select(
            pl.col("token_id").cast(pl.String), pl.col("price_limit").cast(pl.Float64)
        )
    else:
        limits = (
            levels.select(pl.col("token_id").cast(pl.String))
            .unique(maintain_order=True)
            .with_columns(price_limit=pl.lit(float(price_limit)))
        )
    inside = (
        pl.col("price") <= pl.col("price_limit") + 1e-9
        if side == "ask"
        else (pl.col("price") >= pl.col("price_limit") - 1e-9)
    )
    # sums level by level from the best price (cum_sum is sequential): the same bits whatever the
    # frame's layout, so one batch of many snapshots equals a build per snapshot
    agg = (
        limits.join(lv, on="token_id", how="inner")
        .filter(inside & (pl.col("size") > 0))
        .sort("token_id", "price", descending=[False, side == "bid"], maintain_order=True)
        .group_by("token_id")
        .agg(
            size_available=pl.col("size").cum_sum().last(),
            notional_available=(pl.col("size") * pl.col("price")).cum_sum().last(),
        )
    )
    return limits.join(agg, on="token_id", how="left").with_columns(
        pl.col("size_available").fill_null(0.0), pl.col("notional_available").fill_null(0.0)
    )


def liquidity_ok(
    levels: pl.DataFrame,
    price_limit: float | pl.DataFrame,
    min_size: float,
    *,
    side: Literal["ask", "bid"] = "ask",
    unit: StakeUnit = "shares",
) -> pl.DataFrame:
    """Liquidity cutoff rule: at least ``min_size`` (shares or USDC) at or better than the limit."""
    sized = size_at_or_better(levels, price_limit, side=side)
    col = "size_available" if unit == "shares" else "notional_available"
    return sized.with_columns(liquidity_ok=pl.col(col) >= min_size * (1.0 - 1e-12))


# ---------------------------------------------------------------------------- fill probability


def fill_probability(depth_at_price: Num, quote_age_s: Num, params: Mapping[str, Any]) -> Num:
    """Chance a taker order at the quoted price fills, model ``exp_age_depth``:

    ``p = p_max * 0.5 ** (age / half_life_s) * (1 - exp(-depth / depth_scale_shares))``

    Older quotes are more likely gone (halving every ``half_life_s``); thin depth at the
    price is more likely taken by someone else first. Depth and age below 0 count as 0.
    Parameters come from a ``cost_models`` row; the form is deliberately simple and will be
    refit from paper fills. Accepts scalars, numpy arrays, polars Series or expressions.
    """
    p_max = float(params["p_max"])
    half_life = float(params["half_life_s"])
    scale = float(params["depth_scale_shares"])
    if half_life <= 0 or scale <= 0:
        raise ValueError("fill_probability: half_life_s and depth_scale_shares must be > 0")
    if isinstance(depth_at_price, pl.Expr) or isinstance(quote_age_s, pl.Expr):
        d = depth_at_price if isinstance(depth_at_price, pl.Expr) else pl.lit(depth_at_price)
        a = quote_age_s if isinstance(quote_age_s, pl.Expr) else pl.lit(quote_age_s)
        return (
            p_max
            * pl.lit(0.5).pow(a.clip(0.0, None) / half_life)
            * (1.0 - (-d.clip(0.0, None) / scale).exp())
        )
    (d_in, a_in), name = _series_to_np(depth_at_price, quote_age_s)
    depth = np.clip(np.asarray(d_in, dtype=np.float64), 0.0, None)
    age = np.clip(np.asarray(a_in, dtype=np.float64), 0.0, None)
    return _wrap(p_max * np.power(0.5, age / half_life) * (1.0 - np.exp(-depth / scale)), name)
