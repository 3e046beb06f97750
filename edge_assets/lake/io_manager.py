"""Partition-aware parquet IO manager over the lake.

Unlike UPathIOManager it accepts an output covering many partitions (a single-run backfill) and
splits the frame by each partition's time window, so a 168-hour backfill is one run.
"""

import functools
import importlib
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, cast

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from edge_assets.frames import split_by_windows, upsert_rows
from edge_assets.lake import catalog
from edge_assets.lake.storage import Lake
from edge_assets.partitions import hours_between

# (catalog file, lake root, table) whose view this process has created: a view globs the table's
# files, so later partitions need no refresh, and parallel backfill workers rarely contend for the
# DuckDB file lock
_VIEWS_MADE: set[tuple[str, str, str]] = set()
# The partitions of each table's latest output in this process, as written: a later step of the same
# run (or of this worker's next run) takes them from memory instead of reading the files back.
# Only this process writes them during its runs; one output per table is kept.
_JUST_WRITTEN: dict[tuple[str, str], dict[str, pl.DataFrame]] = {}
# Input metadata: this many hours before the run's first hour are read too, where written. Not a
# lookback partition mapping: Dagster maps those downstream, so a UI backfill of hours a..b also
# targeted the hours after b, whose own inputs did not exist yet, and every such backfill failed.
HOURS_BEFORE = "hours_before"
# Definition metadata of a polled table: its key columns. Each partition is written merged over what
# it holds at write time, under the table's write lock (`Lake.write_lock`), so overlapping runs keep
# each other's polls.
UPSERT_KEYS = "upsert_keys"
UPSERT_REPLACES = "upsert_replaces"  # columns of a group a new poll replaces whole (frames.upsert_rows)
# "module:function" merging (held, new) -> partition, for a table whose rows merge by rule, not by key
# (signals: a sent row stays as it was sent); run at write time under the lock like `upsert_keys`
UPSERT_MERGE = "upsert_merge"


def _merge_function(ref: str) -> Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame]:
    module, _, name = ref.partition(":")
    return cast(
        Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame], getattr(importlib.import_module(module), name)
    )


class LakeResource(dg.ConfigurableResource):
    """Where the lake lives: a local folder or s3://bucket/prefix (credentials from AWS_* vars)."""

    root: str = "data/lake"
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"

    def lake(self) -> Lake:
        return Lake(self.root, s3_endpoint_url=self.s3_endpoint_url, s3_region=self.s3_region)


def table_path(asset_key: dg.AssetKey) -> Sequence[str]:
    return asset_key.path


class ParquetLakeIOManager(dg.ConfigurableIOManager):
    lake_resource: LakeResource
    catalog_db: DuckDBResource

    def _lake(self) -> Lake:
        return self.lake_resource.lake()

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | None) -> None:
        if obj is None:
            return
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: expected a polars DataFrame, got {type(obj)}"
            )
        lake = self._lake()
        path = table_path(context.asset_key)
        if not context.has_asset_partitions:
            lake.write(path, None, obj)
            written = 1
        else:
            column = context.definition_metadata.get("partition_column", "observed_at")
            keys = list(context.asset_partition_keys)
            # the lake's partitioned assets are all time-windowed (HOURLY / DAILY)
            partitions_def = cast(dg.TimeWindowPartitionsDefinition, context.asset_partitions_def)
            if len(keys) > 1 and column not in obj.columns:
                raise ValueError(
                    f"{context.asset_key.to_user_string()}: a multi-partition output needs the "
                    f"partition column {column!r} to split by"
                )
            if column in obj.columns:
                windows = [partitions_def.time_window_for_partition_key(k) for k in keys]
                parts = split_by_windows(obj, column, [(w.start, w.end) for w in windows])
            else:
                parts = [obj]
            meta: dict[str, Any] = {
                k: getattr(v, "value", v)  # a list or str, or its metadata value
                for k, v in context.definition_metadata.items()
                if k in (UPSERT_KEYS, UPSERT_REPLACES, UPSERT_MERGE)
            }
            merge: Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame] | None = None
            if UPSERT_MERGE in meta:
                merge = _merge_function(meta[UPSERT_MERGE])
            elif upsert_keys := meta.get(UPSERT_KEYS):
                replaces = meta.get(UPSERT_REPLACES) or []
                merge = functools.partial(upsert_rows, key_cols=upsert_keys, replace_by=replaces)
            if merge is not None:
                parts = [
                    self._upsert(lake, path, key, part, merge) for key, part in zip(keys, parts, strict=True)
                ]
            else:
                for key, part in zip(keys, parts, strict=True):
                    lake.write(path, key, part)
            written = len(keys)
            _JUST_WRITTEN[(lake.root, "/".join(path))] = dict(zip(keys, parts, strict=True))
            obj = pl.concat(parts) if merge is not None else obj
        context.add_output_metadata(
            {
                "dagster/row_count": obj.height,
                "partitions_written": written,
                "lake_path": lake.uri(lake.table_dir(path)),
            }
        )
        self._refresh_view(context, lake, "/".join(path))

    @staticmethod
    def _upsert(
        lake: Lake,
        path: Sequence[str],
        key: str,
        part: pl.DataFrame,
        merge: Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame],
    ) -> pl.DataFrame:
        """Write a partition merged over what it holds now, under the table's write lock: the asset
        merged its rows over what it read, but another run may have written the partition since."""
        with lake.write_lock(path):
            if lake.exists(path, key):
                part = merge(lake.read(path, key), part)
            lake.write(path, key, part)
        return part

    def _refresh_view(self, context: dg.OutputContext, lake: Lake, table: str) -> None:
        made = (self.catalog_db.database, lake.root, table)
        if made in _VIEWS_MADE:
            return
        try:
            with self.catalog_db.get_connection() as con:
                catalog.configure(con, lake)
                catalog.refresh(con, lake, [table])
            _VIEWS_MADE.add(made)
        except Exception as exc:  # the lake write succeeded; the view is refreshed by `edge query` too
            context.log.warning(f"DuckDB catalog view for {table} not refreshed: {exc}")

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        lake = self._lake()
        path = table_path(context.asset_key)
        if not context.has_asset_partitions:
            return lake.read(path, None)
        meta = context.definition_metadata or {}
        allow_missing = bool(meta.get("allow_missing_partitions", False))
        keys = list(context.asset_partition_keys)
        if before := int(meta.get(HOURS_BEFORE, 0)):
            start = context.asset_partitions_time_window.start
            keys = hours_between(start - timedelta(hours=before), start) + keys
        written = _JUST_WRITTEN.get((lake.root, "/".join(path)))
        return lake.read_many(path, keys, allow_missing=allow_missing, written=written)
