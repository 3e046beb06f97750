"""Seed tables shipped in data/ (small CSVs under version control), exposed as lake tables."""

import hashlib
import io
from pathlib import Path

import dagster as dg
import polars as pl

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
SHA_KEY = "seed_sha256"  # materialization metadata: which CSV content the lake copy holds


def seed_path(name: str) -> Path:
    return DATA_DIR / f"{name}.csv"


def seed_sha256(name: str) -> str | None:
    """The CSV's content hash, None when the file is missing."""
    path = seed_path(name)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _seed(name: str) -> dg.MaterializeResult:
    path = seed_path(name)
    if not path.is_file():
        raise dg.Failure(description=f"seed table {name} is missing: {path}")
    content = path.read_bytes()  # hashed and parsed from the same bytes
    df = pl.read_csv(io.BytesIO(content), try_parse_dates=True)
    metadata: dict[str, int | str] = {
        "dagster/row_count": df.height,
        SHA_KEY: hashlib.sha256(content).hexdigest(),
    }
    return dg.MaterializeResult(value=df, metadata=metadata)


@dg.asset(
    group_name="seeds", kinds={"csv", "parquet"}, description="Team name aliases (data/team_aliases.csv)."
)
def team_aliases() -> dg.MaterializeResult:
    return _seed("team_aliases")


@dg.asset(
    group_name="seeds", kinds={"csv", "parquet"}, description="Venue fee schedules with valid-from dates."
)
def fee_tables() -> dg.MaterializeResult:
    return _seed("fee_tables")


@dg.asset(group_name="seeds", kinds={"csv", "parquet"}, description="Slippage / fill-probability parameters.")
def cost_models() -> dg.MaterializeResult:
    return _seed("cost_models")
