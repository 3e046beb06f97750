"""The instance `edge` creates: cached-engine SQLite event log, same files the UI and daemon read."""

import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from edge_assets.dagster_storage import CachedEngineSqliteEventLogStorage, resolve_base_dir
from edge_assets.runner import (
    BACKFILL_QUEUE_YAML,
    EVENT_BATCH_ENV,
    INSTANCE_YAML,
    PLANNED_SUBSET_ENV,
    RANGE_END,
    RANGE_START,
    RUN_QUEUE_YAML,
    TICK_RETENTION_YAML,
    ensure_dagster_home,
)

HOURS = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00")


@dg.asset(partitions_def=HOURS, backfill_policy=dg.BackfillPolicy.single_run(), io_manager_key="mem")
def upstream(context: dg.AssetExecutionContext) -> int:
    return len(context.partition_keys)


@dg.asset(partitions_def=HOURS, backfill_policy=dg.BackfillPolicy.single_run(), io_manager_key="mem")
def downstream(context: dg.AssetExecutionContext, upstream: int) -> int:
    return upstream


def _two_days_as_one_run(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [upstream, downstream],
        instance=instance,
        resources={"mem": dg.InMemoryIOManager()},
        tags={RANGE_START: "2026-01-01-00:00", RANGE_END: "2026-01-02-23:00"},
    )


def test_new_home_uses_cached_engine_event_log_and_a_second_process_sees_the_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv(PLANNED_SUBSET_ENV, raising=False)
    monkeypatch.delenv(EVENT_BATCH_ENV, raising=False)
    home = ensure_dagster_home(str(tmp_path / "dh"))
    assert os.environ["DAGSTER_HOME"] == str(home) and os.environ[PLANNED_SUBSET_ENV] == "true"
    assert int(os.environ[EVENT_BATCH_ENV]) >= 48
    assert "CachedEngineSqliteEventLogStorage" in (home / "dagster.yaml").read_text()
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, CachedEngineSqliteEventLogStorage)
        result = _two_days_as_one_run(instance)
        assert result.success
        assert result.output_for_node("downstream") == 48
        run_id = result.run_id
    # the layout is Dagster's default one: a plain DagsterInstance (the webserver's) reads it
    assert (home / "history" / "runs" / "index.db").is_file()
    assert (home / "history" / "runs" / f"{run_id}.db").is_file()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as reader:
        for key in ("upstream", "downstream"):
            parts = reader.get_materialized_partitions(dg.AssetKey(key))
            assert len(parts) == 48 and "2026-01-02-23:00" in parts
        logs = reader.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
        assert len(logs) == 2  # one planned event per asset for the whole range, not one per hour


def test_existing_dagster_yaml_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    (tmp_path / "dh").mkdir()
    (tmp_path / "dh" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    ensure_dagster_home(str(tmp_path / "dh"))
    assert (tmp_path / "dh" / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def _backfill_limits(home: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object, int]]:
    """The queue's tag limits, and that it is read every second (Dagster's default: 5 s)."""
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert instance.run_coordinator.dequeue_interval_seconds == 1  # type: ignore[attr-defined]
    return [(x["key"], x.get("value"), x["limit"]) for x in limits]


def test_a_backfills_runs_are_queued_one_at_a_time_on_new_and_earlier_edge_instances(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A UI backfill's 48-hour runs must go in time order: each reads the hours before it."""
    one_at_a_time = [("dagster/backfill", {"applyLimitPerUniqueValue": True}, 1)]
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    new = ensure_dagster_home(str(tmp_path / "new"))
    assert _backfill_limits(new, monkeypatch) == one_at_a_time
    # an instance edge made before the queue existed gets it, once
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    old = tmp_path / "old"
    old.mkdir()
    (old / "dagster.yaml").write_text(INSTANCE_YAML.format(base_dir=old / "history" / "runs"))
    ensure_dagster_home(str(old))
    upgraded = (old / "dagster.yaml").read_text()
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    ensure_dagster_home(str(old))
    assert (old / "dagster.yaml").read_text() == upgraded
    assert upgraded == (new / "dagster.yaml").read_text()  # and its absolute base_dir became relative
    assert _backfill_limits(old, monkeypatch) == one_at_a_time
    # one with the queue but read every 5 s (this morning's) gets the 1 s pass, once
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    queued = tmp_path / "queued"
    queued.mkdir()
    (queued / "dagster.yaml").write_text(upgraded.replace(RUN_QUEUE_YAML, ""))
    ensure_dagster_home(str(queued))
    assert (queued / "dagster.yaml").read_text() == upgraded
    assert _backfill_limits(queued, monkeypatch) == one_at_a_time
    # a queue the user configured is theirs
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    mine = tmp_path / "mine"
    mine.mkdir()
    text = (
        INSTANCE_YAML.format(base_dir=mine / "runs") + "concurrency:\n  runs:\n    max_concurrent_runs: 2\n"
    )
    (mine / "dagster.yaml").write_text(text)
    ensure_dagster_home(str(mine))
    assert (mine / "dagster.yaml").read_text() == text + TICK_RETENTION_YAML  # the retention it lacked


def test_edge_instances_purge_old_ticks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster keeps successful ticks forever: ~3,000 a day from the every-minute polls and the
    comparator sensor every 5 s."""
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.scheduler.instigation import TickStatus

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    ensure_dagster_home(str(tmp_path / "dh"))
    with dg.DagsterInstance.get() as instance:
        schedule = instance.get_tick_retention_settings(InstigatorType.SCHEDULE)
        sensor = instance.get_tick_retention_settings(InstigatorType.SENSOR)
    assert set(schedule.values()) == {30}
    assert sensor == {
        TickStatus.STARTED: -1,
        TickStatus.SKIPPED: 7,
        TickStatus.SUCCESS: 30,
        TickStatus.FAILURE: 30,
    }


def test_table_check_is_asked_once_per_table_and_again_after_a_wipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    asked: list[str] = []
    upstream_check = SqliteEventLogStorage.has_table

    def counting(self: SqliteEventLogStorage, table_name: str) -> bool:
        asked.append(table_name)
        return upstream_check(self, table_name)

    monkeypatch.setattr(SqliteEventLogStorage, "has_table", counting)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    ensure_dagster_home(str(tmp_path / "dh"))
    with dg.DagsterInstance.get() as instance:
        asked.clear()
        result = _two_days_as_one_run(instance)
        assert result.success
        # 96 partition materializations, each with tags: the tags table is looked up once
        assert asked.count("asset_event_tags") == 1
        tagged = instance.get_event_tags_for_asset(dg.AssetKey("upstream"))
        assert len(tagged) == 48
        asked.clear()
        instance.event_log_storage.wipe()  # files deleted and made anew: the table is asked for again
        assert instance.event_log_storage.has_table("asset_event_tags")
        assert asked.count("asset_event_tags") == 1


def _records(home: Path, batch: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv(EVENT_BATCH_ENV, batch)
    ensure_dagster_home(str(home))
    batches: list[tuple[int, str]] = []
    store = CachedEngineSqliteEventLogStorage.store_event_batch
    monkeypatch.setattr(
        CachedEngineSqliteEventLogStorage,
        "store_event_batch",
        lambda self, events: (
            batches.append((len(events), events[0].dagster_event_type.value)) or store(self, events)
        ),
    )
    with dg.DagsterInstance.get() as instance:
        assert _two_days_as_one_run(instance).success
    with dg.DagsterInstance.get() as reader:  # a fresh reader: what the UI sees
        out: dict[str, object] = {"batches": batches}
        for key in (dg.AssetKey("upstream"), dg.AssetKey("downstream")):
            records = reader.fetch_materializations(key, limit=100).records
            one = reader.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, asset_partitions=["2026-01-01-05:00"]), limit=10
            ).records
            latest = reader.get_latest_materialization_event(key)
            out[key.to_user_string()] = (
                sorted(reader.get_materialized_partitions(key)),
                [r.partition_key for r in records],
                [r.partition_key for r in one],
                latest.dagster_event.partition if latest and latest.dagster_event else None,
            )
        return out


def test_a_range_runs_materializations_are_stored_as_one_batch_with_the_same_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batched = _records(tmp_path / "batched", "1000", monkeypatch)
    single = _records(tmp_path / "single", "0", monkeypatch)
    # the run's planned events (one per asset: PLANNED_SUBSET_ENV), then each step's 48 hours
    assert batched.pop("batches") == [
        (2, "ASSET_MATERIALIZATION_PLANNED"),
        (48, "ASSET_MATERIALIZATION"),
        (48, "ASSET_MATERIALIZATION"),
    ]
    assert single.pop("batches") == []
    assert batched == single
    parts, recent, one, latest = batched["upstream"]  # type: ignore[misc]
    assert len(parts) == 48 and recent[0] == latest == "2026-01-02-23:00" and one == ["2026-01-01-05:00"]


@dg.asset(partitions_def=HOURS, io_manager_key="mem")
def flaky_poll() -> int:
    raise RuntimeError("upstream API down")


@pytest.mark.parametrize("range_runs", [False, True])
def test_a_failed_poll_hour_shows_as_failed_under_the_ui(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, range_runs: bool
) -> None:
    """Upstream finds failed partitions only in per-partition planned events (`edge ui` keeps them);
    `edge backfill` plans one event per asset and run, which the edge event log reads as well."""
    from dagster._core.storage.partition_status_cache import _build_status_cache

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv(PLANNED_SUBSET_ENV, raising=False)
    ensure_dagster_home(str(tmp_path / "dh"), range_runs=range_runs)
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            [flaky_poll],
            instance=instance,
            partition_key="2026-01-01-05:00",
            resources={"mem": dg.InMemoryIOManager()},
            raise_on_error=False,
        )
        assert not result.success
        key = flaky_poll.key
        status = _build_status_cache(instance, key, HOURS, None, instance.get_asset_records([key])[0])
    assert status is not None
    assert status.deserialize_failed_partition_subsets(HOURS).get_partition_keys() == ["2026-01-01-05:00"]


DOWN_HOURS: set[str] = set()


@dg.asset(partitions_def=HOURS, backfill_policy=dg.BackfillPolicy.single_run(), io_manager_key="mem")
def hours_api(context: dg.AssetExecutionContext) -> int:
    if DOWN_HOURS & set(context.partition_keys):
        raise RuntimeError("upstream API down")
    return len(context.partition_keys)


def test_an_edge_backfill_runs_failed_hours_show_as_failed_until_a_rerun_writes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, a failed `edge backfill` run's hours showed as missing: its one planned event per
    asset has no partition column. Read the way the UI does, with its cached status updated."""
    from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv(PLANNED_SUBSET_ENV, raising=False)
    ensure_dagster_home(str(tmp_path / "dh"))

    def run(first: str, last: str) -> bool:
        return dg.materialize(
            [hours_api],
            instance=instance,
            resources={"mem": dg.InMemoryIOManager()},
            tags={RANGE_START: first, RANGE_END: last},
            raise_on_error=False,
        ).success

    def status() -> tuple[list[str], list[str]]:
        value = get_and_update_asset_status_cache_value(instance, hours_api.key, HOURS)
        assert value is not None
        done = value.deserialize_materialized_partition_subsets(HOURS).get_partition_keys()
        return list(done), list(value.deserialize_failed_partition_subsets(HOURS).get_partition_keys())

    hours = [f"2026-01-01-{h:02d}:00" for h in range(8)]
    try:
        with dg.DagsterInstance.get() as instance:
            DOWN_HOURS.add(hours[5])
            assert run(hours[0], hours[3]) and not run(hours[4], hours[7])
            assert status() == (hours[:4], hours[4:])
            DOWN_HOURS.clear()
            assert run(hours[4], hours[7])
            assert status() == (hours, [])
    finally:
        DOWN_HOURS.clear()


def _runs_seen(home: Path, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Runs with asset events in the instance's index shard, read by a plain Dagster reader."""
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as reader:
        return {r.run_id for r in reader.fetch_materializations(upstream.key, limit=1000).records}


def _materialize_in(home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    ensure_dagster_home(str(home))
    with dg.DagsterInstance.get() as instance:
        result = _two_days_as_one_run(instance)
        assert result.success
        return result.run_id


def test_a_copied_instance_keeps_its_events_to_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shards' folder is relative to DAGSTER_HOME: a copy (or a moved instance) writes its own."""
    first = _materialize_in(tmp_path / "original", monkeypatch)
    assert "base_dir: history/runs\n" in (tmp_path / "original" / "dagster.yaml").read_text()
    shutil.copytree(tmp_path / "original", tmp_path / "copy")
    second = _materialize_in(tmp_path / "copy", monkeypatch)
    assert (tmp_path / "copy" / "history" / "runs" / f"{second}.db").is_file()
    assert not (tmp_path / "original" / "history" / "runs" / f"{second}.db").exists()
    assert _runs_seen(tmp_path / "copy", monkeypatch) == {first, second}
    assert _runs_seen(tmp_path / "original", monkeypatch) == {first}


def test_a_copy_of_an_earlier_instance_is_pointed_back_at_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Instances edge wrote before named the folder by absolute path; a copy kept the original's."""
    original, copy = tmp_path / "original", tmp_path / "copy"
    original.mkdir()
    earlier = INSTANCE_YAML.format(base_dir=original / "history" / "runs") + TICK_RETENTION_YAML
    (original / "dagster.yaml").write_text(earlier)
    first = _materialize_in(original, monkeypatch)
    assert "copied or moved" not in capsys.readouterr().err  # its own folder: made relative quietly
    assert "base_dir: history/runs\n" in (original / "dagster.yaml").read_text()
    shutil.copytree(original, copy)
    (copy / "dagster.yaml").write_text(earlier)  # as the copy had it, before the original's upgrade
    second = _materialize_in(copy, monkeypatch)
    err = capsys.readouterr().err
    assert f"event log base_dir was {original / 'history' / 'runs'} (the instance was copied or moved)" in err
    assert _runs_seen(copy, monkeypatch) == {first, second}
    assert _runs_seen(original, monkeypatch) == {first}
    # a folder the user chose elsewhere stays as it is
    mine = tmp_path / "mine"
    mine.mkdir()
    theirs = (
        INSTANCE_YAML.format(base_dir=tmp_path / "fast-disk" / "events")
        + BACKFILL_QUEUE_YAML
        + TICK_RETENTION_YAML
        + RUN_QUEUE_YAML
    )
    (mine / "dagster.yaml").write_text(theirs)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    ensure_dagster_home(str(mine))
    assert (mine / "dagster.yaml").read_text() == theirs


def test_a_relative_base_dir_needs_dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert resolve_base_dir("history/runs") == str(tmp_path / "history" / "runs")
    assert resolve_base_dir("/var/edge/runs") == "/var/edge/runs"
    monkeypatch.delenv("DAGSTER_HOME")
    with pytest.raises(
        ValueError, match=r"base_dir 'history/runs' is relative to \$DAGSTER_HOME, which is not set"
    ):
        resolve_base_dir("history/runs")
