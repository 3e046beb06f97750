"""A SQLite event log that keeps one SQLAlchemy engine per shard instead of one per event.

Dagster's ``SqliteEventLogStorage`` builds and disposes an engine for every event it stores, so
SQLAlchemy's compiled-statement cache (held by the engine) is thrown away each time: a single-run
backfill of 9 hourly assets x 168 hours spends most of its bookkeeping recompiling the same
INSERTs. Connections stay unpooled (NullPool, as upstream) so file locking behaves the same for
the webserver and daemon reading the same files.
"""

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as db
from dagster._core.definitions.events import AssetKey
from dagster._core.event_api import EventLogEntry
from dagster._core.events import ASSET_EVENTS, AssetMaterializationPlannedData, DagsterEventType
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData, deserialize_value
from sqlalchemy.pool import StaticPool

MAX_ENGINES = 8
# the shards' folder in a new edge instance, relative to $DAGSTER_HOME (Dagster's default layout)
RUNS_DIR = "history/runs"


def resolve_base_dir(base_dir: str) -> str:
    """A relative ``base_dir`` is read against $DAGSTER_HOME, not the working directory: the
    instance's event log then moves with its folder (a copied or moved instance with an absolute
    path kept writing its events into the original)."""
    if os.path.isabs(base_dir):
        return base_dir
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise ValueError(
            f"event_log_storage base_dir {base_dir!r} is relative to $DAGSTER_HOME, which is not set; "
            "set DAGSTER_HOME to the folder holding dagster.yaml or give an absolute base_dir"
        )
    return os.path.join(home, base_dir)


def shard_files(shard: str) -> list[Path]:
    """A SQLite shard and the WAL files that come and go beside it."""
    path = Path(shard)
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def _pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


class CachedEngineSqliteEventLogStorage(SqliteEventLogStorage):
    """Drop-in for SqliteEventLogStorage (same files, same schema): configure it in dagster.yaml."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, db.engine.Engine] = OrderedDict()
        self._tables_present: set[str] = set()
        super().__init__(resolve_base_dir(base_dir), inst_data)

    def has_table(self, table_name: str) -> bool:
        """Upstream opens a new engine and reflects the index shard on every asset event with tags;
        a table once present stays (until ``wipe``), so only a miss asks again."""
        if table_name in self._tables_present:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables_present.add(table_name)
        return found

    def wipe(self) -> None:
        self._tables_present.clear()
        super().wipe()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> "CachedEngineSqliteEventLogStorage":
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> db.engine.Engine:
        engine = self._engines.get(shard)
        if engine is None:
            engine = db.create_engine(
                self.conn_string_for_shard(shard),
                poolclass=StaticPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            db.event.listen(engine, "connect", _pragmas)
            self._engines[shard] = engine
            while len(self._engines) > MAX_ENGINES:
                _, old = self._engines.popitem(last=False)
                old.dispose()
        else:
            self._engines.move_to_end(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.engine.Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """One run's asset events (a range run's materializations, one per partition) in one
        transaction per shard instead of two per event. Dagster hands a step's partition events over
        as one batch when DAGSTER_EVENT_BATCH_SIZE > 0 (``runner.ensure_dagster_home`` sets it);
        anything else is stored one by one, as upstream."""
        run_id = events[0].run_id if events else None
        if not events or not all(
            e.run_id == run_id
            and e.is_dagster_event
            and e.dagster_event_type in ASSET_EVENTS
            and e.get_dagster_event().asset_key is not None
            for e in events
        ):
            super().store_event_batch(events)
            return
        inserts = [self.prepare_insert_event(e) for e in events]
        with self.run_connection(run_id) as conn:
            for insert in inserts:
                conn.execute(insert)
        with self.index_connection() as conn:  # mirrored for cross-run asset queries, as store_event
            ids = []
            for insert in inserts:
                key = conn.execute(insert).inserted_primary_key
                assert key is not None  # always set after a single-row INSERT
                ids.append(key[0])
            self._store_asset_event_tags(conn, events, ids)
            for event, event_id in zip(events, ids, strict=True):
                self._store_asset_event(conn, event, event_id)

    def get_latest_asset_partition_materialization_attempts_without_materializations(
        self, asset_key: AssetKey, after_storage_id: int | None = None
    ) -> Mapping[str, tuple[str, int]]:
        """Upstream's answer plus the partitions of range runs' planned events: `edge backfill` plans
        one event per asset and run (a partitions subset, no partition column), which upstream reads
        past, so its failed hours showed as missing in the UI, its running ones not as in progress."""
        attempts = dict(
            super().get_latest_asset_partition_materialization_attempts_without_materializations(
                asset_key, after_storage_id
            )
        )
        events = SqlEventLogStorageTable
        query = db.select(events.c.id, events.c.run_id, events.c.event).where(
            events.c.asset_key == asset_key.to_string(),
            events.c.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value,
            events.c.partition.is_(None),
            events.c.id > (after_storage_id or 0),
        )
        with self.index_connection() as conn:
            rows = conn.execute(query).fetchall()
        planned = []
        for storage_id, run_id, body in rows:
            data = deserialize_value(body, EventLogEntry).get_dagster_event().event_specific_data
            if isinstance(data, AssetMaterializationPlannedData) and data.partitions_subset is not None:
                planned.append((storage_id, run_id, data.partitions_subset.get_partition_keys()))
        if not planned:
            return attempts
        materialized = self.get_latest_storage_id_by_partition(
            asset_key, DagsterEventType.ASSET_MATERIALIZATION
        )
        for storage_id, run_id, partitions in planned:
            for partition in partitions:
                newer_than_attempt = partition not in attempts or attempts[partition][1] < storage_id
                if newer_than_attempt and materialized.get(partition, -1) < storage_id:
                    attempts[partition] = (run_id, storage_id)
        return attempts

    def delete_events(self, run_id: str) -> None:
        """Remove the run's shard file instead of emptying it: upstream opens it (checking its schema
        revision) only to delete its rows, and leaves ~150 KB of empty tables behind for every
        deleted run (``edge_assets.run_retention`` deletes ~4,000 a day)."""
        with self.index_connection() as conn:  # the run's asset events, mirrored for cross-run queries
            self.delete_events_for_run(conn, run_id)
        if self.supports_global_concurrency_limits:
            self.free_concurrency_slots_for_run(run_id)
        with self._db_lock:
            engine = self._engines.pop(run_id, None)
            if engine is not None:
                engine.dispose()
            self._initialized_dbs.discard(run_id)
            for path in shard_files(self.path_for_shard(run_id)):
                path.unlink(missing_ok=True)

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        super().dispose()
