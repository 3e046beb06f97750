"""Run retention for the Dagster instance: delete old runs whose every record has been superseded.

Dagster OSS keeps every run and its event log forever: ~4,100-4,400 runs a day under `edge ui` (a
markets poll every minute, odds every 2 minutes, a comparator run after most), ~1.1 GB a day on
SQLite. Deleting every old run would also delete the only materialization of each old partition,
so the UI would show week-old hours as missing and a "backfill missing" would poll them again.
Here a run goes only when nothing in it is the latest of its kind: no asset partition's latest
materialization, observation or failure, no failed plan not materialized since, no check's latest
evaluation.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import dagster as dg
import sqlalchemy as db
from dagster._core.event_api import EventLogEntry
from dagster._core.events import ASSET_EVENTS, AssetMaterializationPlannedData, DagsterEventType
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from dagster._core.storage.runs.schema import RunTagsTable
from dagster._core.storage.runs.sql_run_storage import SqlRunStorage
from dagster._serdes import deserialize_value

from edge_assets.dagster_storage import shard_files

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
PAGE = 500  # run records read per query


@dataclass
class PruneReport:
    cutoff: datetime
    deleted: int = 0
    kept: int = 0  # finished before the cutoff, kept for a latest record
    # run shard files and captured logs; pages freed inside runs.db and index.db are reused, not counted
    bytes_freed: int = 0
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (
            f"runs created before {self.cutoff:%Y-%m-%d %H:%M} UTC: {verb} {self.deleted:,}, "
            f"kept {self.kept:,} holding a partition's or check's latest record; "
            f"{self.bytes_freed / 2**20:,.1f} MB of run files {'to free' if self.dry_run else 'freed'}"
        )


def runs_holding_latest(instance: dg.DagsterInstance) -> set[str]:
    """Runs that hold the latest materialization, observation or failure event of some asset
    partition (or unpartitioned asset), or some check's latest evaluation: deleting them would change
    what the UI shows as materialized or checked. Failed runs are judged by ``failures_still_shown``."""
    storage = instance.event_log_storage
    if not isinstance(storage, SqlEventLogStorage):
        raise TypeError(f"run retention needs a SQL event log, not {type(storage).__name__}")
    events = SqlEventLogStorageTable
    # planned events are left to failures_still_shown: a successful run's are superseded by its own
    # materializations, and `edge backfill` records them with the partitions only in the event's body
    kinds = [t.value for t in ASSET_EVENTS if t != DagsterEventType.ASSET_MATERIALIZATION_PLANNED]
    latest_events = (
        db.select(db.func.max(events.c.id))
        .where(events.c.asset_key.isnot(None), events.c.dagster_event_type.in_(kinds))
        .group_by(events.c.asset_key, events.c.partition, events.c.dagster_event_type)
    )
    checks = AssetCheckExecutionsTable
    latest_checks = db.select(db.func.max(checks.c.id)).group_by(
        checks.c.asset_key, checks.c.check_name, checks.c.partition
    )
    with storage.index_connection() as conn:
        held = {r[0] for r in conn.execute(db.select(events.c.run_id).where(events.c.id.in_(latest_events)))}
        held |= {r[0] for r in conn.execute(db.select(checks.c.run_id).where(checks.c.id.in_(latest_checks)))}
    return held


def failures_still_shown(instance: dg.DagsterInstance, run_ids: Sequence[str]) -> set[str]:
    """Failed or canceled runs that planned an asset partition not materialized since: the UI shows
    that partition as failed because of them."""
    latest: dict[dg.AssetKey, dict[str | None, int]] = {}

    def materialized_after(key: dg.AssetKey, partition: str | None, storage_id: int) -> bool:
        if key not in latest:
            # via .items(): typed to take the None key below (dict keys are invariant)
            by_partition: dict[str | None, int] = dict(
                instance.event_log_storage.get_latest_storage_id_by_partition(
                    key, DagsterEventType.ASSET_MATERIALIZATION
                ).items()
            )
            newest = instance.fetch_materializations(key, limit=1).records  # an unpartitioned asset's
            if newest and newest[0].partition_key is None:
                by_partition[None] = newest[0].storage_id
            latest[key] = by_partition
        return latest[key].get(partition, -1) > storage_id

    events = SqlEventLogStorageTable
    planned = db.select(events.c.id, events.c.run_id, events.c.event).where(
        events.c.run_id.in_(run_ids),
        events.c.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value,
    )
    shown = set()
    # the index shard's ids: a SQLite run shard numbers its events from 1, so they do not compare
    with instance.event_log_storage.index_connection() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(planned).fetchall()
    for storage_id, run_id, body in rows:
        event = deserialize_value(body, EventLogEntry).get_dagster_event()
        data = cast(AssetMaterializationPlannedData, event.event_specific_data)
        subset = data.partitions_subset
        partitions = subset.get_partition_keys() if subset else [data.partition]
        if not all(materialized_after(data.asset_key, p, storage_id) for p in partitions):
            shown.add(run_id)
    return shown


def _run_files(instance: dg.DagsterInstance, run_id: str) -> list[Path]:
    """Files a run keeps on local disk, for the bytes freed: its SQLite event shard, its captured logs."""
    files: list[Path] = []
    shard_path = getattr(instance.event_log_storage, "path_for_shard", None)
    if shard_path is not None:
        files += shard_files(shard_path(run_id))
    logs_dir = getattr(instance.compute_log_manager, "_base_dir", None)
    if logs_dir:
        root = Path(logs_dir) / run_id
        if root.is_dir():
            files += [p for p in root.rglob("*") if p.is_file()]
    return [f for f in files if f.is_file()]


def _delete(instance: dg.DagsterInstance, run_ids: Sequence[str]) -> int:
    """Delete runs with their events, tags, check executions, shard files and captured logs; returns
    the bytes of local files removed. ``instance.delete_run`` alone leaves all but the events behind
    (on SQLite the run tags' foreign-key cascade is not enforced)."""
    freed = 0
    for run_id in run_ids:
        files = _run_files(instance, run_id)
        freed += sum(f.stat().st_size for f in files)
        # run row, events (edge's SQLite event log also removes the run's shard file), asset event tags
        instance.delete_run(run_id)
        instance.compute_log_manager.delete_logs(prefix=[run_id])  # stdout/stderr captured per step
    run_storage = instance.run_storage
    if isinstance(run_storage, SqlRunStorage):
        with run_storage.connect() as conn:
            conn.execute(RunTagsTable.delete().where(RunTagsTable.c.run_id.in_(run_ids)))
    events = instance.event_log_storage
    if isinstance(events, SqlEventLogStorage):
        with events.index_connection() as conn:
            checks = AssetCheckExecutionsTable
            conn.execute(checks.delete().where(checks.c.run_id.in_(run_ids)))
    return freed


def prune_runs(
    instance: dg.DagsterInstance, days: int, *, now: datetime | None = None, dry_run: bool = False
) -> PruneReport:
    """Delete finished runs created more than ``days`` ago unless they hold a latest record."""
    if days < 1:
        raise ValueError(f"run retention must keep at least 1 day of runs, got {days}")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    report = PruneReport(cutoff=cutoff, dry_run=dry_run)
    held = runs_holding_latest(instance)
    cursor = None  # the last run read and kept: deleted runs drop out of the next page by themselves
    seen: set[str] = set()
    while True:
        records = instance.get_run_records(
            filters=dg.RunsFilter(statuses=FINISHED, created_before=cutoff),
            limit=PAGE,
            ascending=True,
            cursor=cursor,
        )
        if not records:
            break
        page = [r.dagster_run.run_id for r in records]
        if again := seen.intersection(page):
            raise RuntimeError(f"run {sorted(again)[0]} is still listed after its deletion; stopping")
        seen.update(page)
        failed = [
            r.dagster_run.run_id for r in records if r.dagster_run.status != dg.DagsterRunStatus.SUCCESS
        ]
        held |= failures_still_shown(instance, [r for r in failed if r not in held])
        doomed = [r for r in page if r not in held]
        report.kept += len(page) - len(doomed)
        report.deleted += len(doomed)
        if dry_run:
            report.bytes_freed += sum(f.stat().st_size for r in doomed for f in _run_files(instance, r))
            cursor = page[-1]
            continue
        if doomed:
            report.bytes_freed += _delete(instance, doomed)
        kept = [r for r in page if r in held]
        cursor = kept[-1] if kept else cursor
    return report
