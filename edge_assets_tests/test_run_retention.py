"""Run retention on a real edge instance (SQLite run storage, edge's event log, local compute logs)."""

import sqlite3
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from edge_assets import automation
from edge_assets.run_retention import prune_runs
from edge_assets.runner import PLANNED_SUBSET_ENV, ensure_dagster_home
from edge_assets_tests.test_cli import _env

HOURS = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00")
H1, H2, H3, H4 = "2026-01-01-01:00", "2026-01-01-02:00", "2026-01-01-03:00", "2026-01-01-04:00"


class PollConfig(dg.Config):
    fail: bool = False


@dg.asset(partitions_def=HOURS, io_manager_key="mem")
def poll(config: PollConfig) -> int:
    if config.fail:
        raise RuntimeError("upstream API down")
    return 1


@dg.asset(io_manager_key="mem")
def model() -> int:
    return 1


@dg.asset_check(asset=model)
def model_is_sane() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.op
def housekeeping() -> None:
    pass


@dg.job
def housekeeping_job() -> None:
    housekeeping()


def _materialize(
    instance: dg.DagsterInstance, assets: list, partition: str | None = None, **kw: object
) -> str:
    result = dg.materialize(
        assets,
        instance=instance,
        partition_key=partition,
        resources={"mem": dg.InMemoryIOManager()},
        raise_on_error=False,
        **kw,  # type: ignore[arg-type]
    )
    return _with_logs(instance, result.run_id)


def _with_logs(instance: dg.DagsterInstance, run_id: str) -> str:
    """Captured step output, as a run worker leaves it on disk (in-process runs capture none)."""
    with instance.compute_log_manager.capture_logs([run_id, "compute_logs", "step"]):
        print("step output")
    return run_id


def _history(instance: dg.DagsterInstance) -> dict[str, str]:
    """Runs in creation order; all but the last are then aged 40 days."""
    fail = {"ops": {"poll": {"config": {"fail": True}}}}
    runs = {
        "h1_first": _materialize(instance, [poll], H1),
        "h1_second": _materialize(instance, [poll], H1),
        "h2_only": _materialize(instance, [poll], H2),
        "h3_ok": _materialize(instance, [poll], H3),
        "h3_failed": _materialize(instance, [poll], H3, run_config=fail),
        "h4_failed": _materialize(instance, [poll], H4, run_config=fail),
        "model_checked_first": _materialize(instance, [model, model_is_sane]),
        "model_checked_last": _materialize(instance, [model, model_is_sane]),
        "model_unchecked": _materialize(instance, [model], selection=dg.AssetSelection.assets(model)),
        "housekeeping": _with_logs(instance, housekeeping_job.execute_in_process(instance=instance).run_id),
    }
    recent = _materialize(instance, [poll], H1)
    old = list(runs.values())
    with sqlite3.connect(Path(instance.root_directory) / "history" / "runs.db") as db:
        marks = ",".join("?" * len(old))
        aged = "datetime(create_timestamp, '-40 days')"
        db.execute(f"update runs set create_timestamp = {aged} where run_id in ({marks})", old)
    runs["h1_recent"] = recent
    return runs


# nothing in them is the latest of its kind: H1's materialization is newer, the model's check was
# evaluated again, the op job wrote no asset records
SUPERSEDED = ["h1_first", "h1_second", "model_checked_first", "housekeeping"]


def _snapshot(instance: dg.DagsterInstance) -> dict[str, object]:
    """What the UI shows of the assets and checks, with the partition statuses rebuilt from the
    event log rather than read from Dagster's cache of them."""
    from dagster._core.events import DagsterEventType
    from dagster._core.storage.partition_status_cache import _build_status_cache

    events = instance.event_log_storage
    poll_key, model_key = dg.AssetKey("poll"), dg.AssetKey("model")
    check_key = dg.AssetCheckKey(model_key, "model_is_sane")
    latest_check = events.get_latest_asset_check_execution_by_key([check_key])[check_key]
    record = instance.get_asset_records([poll_key])[0]
    status = _build_status_cache(instance, poll_key, HOURS, None, record)
    assert status is not None
    return {
        "materialized": status.deserialize_materialized_partition_subsets(HOURS).get_partition_keys(),
        "failed": status.deserialize_failed_partition_subsets(HOURS).get_partition_keys(),
        "latest": events.get_latest_storage_id_by_partition(poll_key, DagsterEventType.ASSET_MATERIALIZATION),
        "model": instance.get_latest_materialization_event(model_key).run_id,  # type: ignore[union-attr]
        "check": (latest_check.run_id, latest_check.status),
    }


def _rows(home: Path, sql: str, run_ids: list[str]) -> int:
    marks = ",".join("?" * len(run_ids))
    with sqlite3.connect(home / sql.split(":")[0]) as db:
        return db.execute(sql.split(":")[1].format(marks=marks), run_ids).fetchone()[0]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The instance `edge ui` opens, whose schedules make most runs."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv(PLANNED_SUBSET_ENV, raising=False)
    return ensure_dagster_home(str(tmp_path / "dh"), range_runs=False)


def test_nightly_job_deletes_only_superseded_runs_and_everything_they_left(home: Path) -> None:
    with dg.DagsterInstance.get() as instance:
        runs = _history(instance)
        before = _snapshot(instance)
        assert (before["materialized"], before["failed"]) == ([H1, H2, H3], [H3, H4])
        doomed = [runs[name] for name in SUPERSEDED]
        shards = [home / "history" / "runs" / f"{run_id}.db" for run_id in doomed]
        logs = [home / "storage" / run_id for run_id in doomed]
        assert all(p.is_file() for p in shards) and all(p.is_dir() for p in logs)
        assert (
            _rows(home, "history/runs.db:select count(*) from run_tags where run_id in ({marks})", doomed) > 0
        )
        checks = "history/runs/index.db:select count(*) from asset_check_executions where run_id in ({marks})"
        assert _rows(home, checks, doomed) == 1

        result = automation.run_retention_job.execute_in_process(instance=instance)
        assert result.success
        output = next(e for e in result.all_events if e.is_successful_output).step_output_data
        assert (output.metadata["runs_deleted"].value, output.metadata["runs_kept"].value) == (4, 6)
        left = {r.dagster_run.run_id for r in instance.get_run_records()}
        assert left == ({*runs.values()} - set(doomed)) | {result.run_id}
        assert _snapshot(instance) == before  # the same partitions, failures, latest records and check
        assert not any(p.exists() for p in shards) and not any(p.exists() for p in logs)
        assert (
            _rows(home, "history/runs.db:select count(*) from run_tags where run_id in ({marks})", doomed)
            == 0
        )
        assert _rows(home, checks, doomed) == 0
        assert (home / "storage" / runs["h3_failed"]).is_dir()  # kept runs keep their logs

        again = prune_runs(instance, 30)
        assert (again.deleted, again.kept) == (0, 6)


def test_prune_runs_command_dry_run_then_delete(home: Path, tmp_path: Path) -> None:
    with dg.DagsterInstance.get() as instance:
        runs = _history(instance)
    env = _env(tmp_path)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "edge_assets.cli", "prune-runs", *args]
        return subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    def edge(*args: str) -> str:
        proc = run(*args)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "UTC: deleted 0, kept 0 holding" in edge("--days", "60"), "40-day-old runs are inside 60 days"
    dry = edge("--dry-run")
    assert "would delete 4, kept 6 holding a partition's or check's latest record" in dry, dry
    with dg.DagsterInstance.get() as instance:
        assert len(instance.get_run_records()) == len(runs)
    done = edge()
    assert ": deleted 4, kept 6 holding" in done, done
    assert edge().split(" UTC: ")[1].startswith("deleted 0, kept 6"), "a second pass has nothing to do"
    refused = run("--days", "0")
    assert refused.returncode == 2
    assert "argument --days: must keep at least 1 day of runs, got 0" in refused.stderr
    with pytest.raises(ValueError, match="at least 1 day"), dg.DagsterInstance.get() as instance:
        prune_runs(instance, 0)


def test_a_run_that_does_not_go_stops_the_prune_instead_of_looping(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with dg.DagsterInstance.get() as instance:
        runs = _history(instance)
        monkeypatch.setattr(instance, "delete_run", lambda run_id: None)  # e.g. a storage that ignores it
        # the page after the last kept run would start with the same run again
        with pytest.raises(RuntimeError, match=f"run {runs['housekeeping']} is still listed"):
            prune_runs(instance, 7)
