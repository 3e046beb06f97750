"""Where the seed tables (CSV in the repo's data/ folder) live, and typed loaders for them."""

from pathlib import Path

import polars as pl

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
FEE_TABLES_CSV = DATA_DIR / "fee_tables.csv"
COST_MODELS_CSV = DATA_DIR / "cost_models.csv"

FEE_TABLES_SCHEMA: dict[str, pl.DataType] = {
    "venue": pl.String(),  # polymarket | sportsbook key (pinnacle, draftkings, ...) | "sportsbook" default
    "market_type": pl.String(),  # venue category ("sports") or "*" for any
    "fee_type": pl.String(),  # none | sports_fees_v2 | sports_fees_v3 | vig | commission_on_winnings
    "fees_enabled": pl.Boolean(),
    "rate": pl.Float64(),  # taker fee rate (Polymarket) or commission rate (exchanges)
    "exponent": pl.Float64(),  # fee = shares * rate * (p (1 - p)) ** exponent
    "taker_only": pl.Boolean(),
    "rebate_rate": pl.Float64(),  # share of taker fees returned to makers
    "vig": pl.Float64(),  # typical sportsbook margin (booksum - 1) on main markets; informational
    "min_trade_size": pl.Float64(),
    "min_trade_unit": pl.String(),  # shares | usdc | usd
    "valid_from": pl.Datetime("us", "UTC"),
    "source": pl.String(),
}

COST_MODELS_SCHEMA: dict[str, pl.DataType] = {
    "venue": pl.String(),
    "market_type": pl.String(),
    "model": pl.String(),  # exp_age_depth (see costs.fill_probability)
    "p_max": pl.Float64(),  # fill probability of a fresh quote with unlimited depth
    "half_life_s": pl.Float64(),  # quote age at which the probability halves
    "depth_scale_shares": pl.Float64(),  # depth at which the depth factor reaches 1 - 1/e
    "latency_ms": pl.Float64(),  # signal-to-order latency assumed by the slippage walk
    "min_trade_usdc": pl.Float64(),  # smallest stake worth alerting on
    "valid_from": pl.Datetime("us", "UTC"),
    "notes": pl.String(),
}


def read_seed(path: Path, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Read a seed CSV as strings and cast to the schema, so typos fail loudly here."""
    raw = pl.read_csv(path, infer_schema=False)
    missing = [c for c in schema if c not in raw.columns]
    if missing:
        raise ValueError(f"seed table {path} is missing columns {missing}")
    exprs = []
    for col, dtype in schema.items():
        c = pl.col(col).str.strip_chars()
        c = pl.when(c == "").then(None).otherwise(c)
        if dtype == pl.Boolean():
            exprs.append(c.str.to_lowercase().replace_strict({"true": True, "false": False}).alias(col))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(c.str.to_datetime(time_zone="UTC", time_unit="us").alias(col))
        else:
            exprs.append(c.cast(dtype, strict=True).alias(col))
    return raw.select(exprs)
