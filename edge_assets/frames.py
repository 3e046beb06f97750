"""Small pure helpers over time-stamped frames, shared by the hourly assets."""

from datetime import datetime

import polars as pl


def by_hour(df: pl.DataFrame, column: str) -> dict[datetime, pl.DataFrame]:
    """Split a window's rows by the UTC hour of `column` (a single-run backfill holds many hours)."""
    if df.height == 0:
        return {}
    tagged = df.with_columns(_hour=pl.col(column).dt.truncate("1h"))
    return {k[0]: g.drop("_hour") for k, g in tagged.group_by(["_hour"], maintain_order=True)}


def latest_poll(df: pl.DataFrame, column: str = "observed_at") -> pl.DataFrame:
    """The rows of the most recent poll."""
    return df.filter(pl.col(column) == pl.col(column).max()) if df.height else df
