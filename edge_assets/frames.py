"""Small pure helpers over time-stamped frames, shared by the hourly assets."""

from collections.abc import Sequence
from datetime import datetime, timedelta

import polars as pl

from edge_assets.schemas import PM_ORDER_BOOK_SNAPSHOTS, empty


def by_hour(df: pl.DataFrame, column: str) -> dict[datetime, pl.DataFrame]:
    """Split a window's rows by the UTC hour of `column` (a single-run backfill holds many hours)."""
    if df.height == 0:
        return {}
    tagged = df.with_columns(_hour=pl.col(column).dt.truncate("1h"))
    return {k[0]: g.drop("_hour") for k, g in tagged.group_by(["_hour"], maintain_order=True)}


def latest_poll(df: pl.DataFrame, column: str = "observed_at") -> pl.DataFrame:
    """The rows of the most recent poll."""
    return df.filter(pl.col(column) == pl.col(column).max()) if df.height else df


BOOK_FALLBACK = timedelta(hours=1)  # how far back an hour without its own book poll yet may look


def book_poll(books_by_hour: dict[datetime, pl.DataFrame], hour: datetime, at: datetime) -> pl.DataFrame:
    """The latest order-book poll at/before `at`, from its hour or else the hour before (the
    hourly snapshot lands a few minutes into the hour); empty when there is none."""
    for h in (hour, hour - BOOK_FALLBACK):
        if (books := books_by_hour.get(h)) is not None:
            poll = latest_poll(books.filter(pl.col("snapshot_at") <= at), "snapshot_at")
            if poll.height:
                return poll
    return empty(PM_ORDER_BOOK_SNAPSHOTS)


def split_by_windows(
    df: pl.DataFrame, column: str, windows: Sequence[tuple[datetime, datetime]]
) -> list[pl.DataFrame]:
    """The rows of each [start, end) window (sorted, disjoint), in their order: one pass over the
    frame instead of one filter per partition of a long single-run backfill."""
    starts = pl.Series([w[0] for w in windows], dtype=df.schema[column])
    ends = pl.Series([w[1] for w in windows], dtype=df.schema[column])
    values = df[column]
    idx = starts.search_sorted(values, side="right").cast(pl.Int64) - 1
    inside = (idx >= 0) & (values < ends.gather(idx.clip(0, len(windows) - 1)))
    tagged = df.with_columns(_window=pl.when(inside).then(idx)).filter(pl.col("_window").is_not_null())
    groups = tagged.partition_by("_window", as_dict=True, include_key=False)
    return [groups.get((i,), df.clear()) for i in range(len(windows))]


def upsert_rows(
    old: pl.DataFrame, new: pl.DataFrame, key_cols: Sequence[str], replace_by: Sequence[str] = ()
) -> pl.DataFrame:
    """`new` merged over `old` (cast to new's columns): one row per key, new's where both have it,
    sorted by the key. ``replace_by``: columns naming a whole group (an order book: snapshot and
    token) that a new poll replaces outright, so none of its old rows (a deeper level) survives."""
    if not old.height:
        return new.unique(subset=list(key_cols), keep="last", maintain_order=True).sort(key_cols)
    old = old.select([pl.col(c).cast(t) for c, t in new.schema.items()])
    if replace_by and new.height:
        old = old.join(new.select(replace_by).unique(), on=list(replace_by), how="anti", nulls_equal=True)
    merged = pl.concat([old, new]).unique(subset=list(key_cols), keep="last", maintain_order=True)
    return merged.sort(key_cols)
