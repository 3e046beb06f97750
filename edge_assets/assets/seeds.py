"""Seed tables shipped in data/ (small CSVs under version control), exposed as lake tables."""

from pathlib import Path

import dagster as dg
import polars as pl

DATA_DIR = Path(__file__).resolve().parents[2] / "data"


def _seed(name: str) -> pl.DataFrame:
    path = DATA_DIR / f"{name}.csv"
    if not path.is_file():
        raise dg.Failure(description=f"seed table {name} is missing: {path}")
    return pl.read_csv(path, try_parse_dates=True)


def _result(df: pl.DataFrame) -> dg.MaterializeResult:
    return dg.MaterializeResult(value=df, metadata={"dagster/row_count": df.height})


@dg.asset(
    group_name="seeds", kinds={"csv", "parquet"}, description="Team name aliases (data/team_aliases.csv)."
)
def team_aliases() -> dg.MaterializeResult:
    return _result(_seed("team_aliases"))


@dg.asset(
    group_name="seeds", kinds={"csv", "parquet"}, description="Venue fee schedules with valid-from dates."
)
def fee_tables() -> dg.MaterializeResult:
    return _result(_seed("fee_tables"))


@dg.asset(group_name="seeds", kinds={"csv", "parquet"}, description="Slippage / fill-probability parameters.")
def cost_models() -> dg.MaterializeResult:
    return _result(_seed("cost_models"))
