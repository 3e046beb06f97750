"""The seeds sensor keeps the lake's seed tables equal to data/*.csv, on a real lake and instance."""

import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest

from edge_assets import automation
from edge_assets.assets import seeds
from edge_assets.lake import Lake
from edge_assets.resources import build_resources
from edge_assets.settings import load_settings
from edge_assets_tests.conftest import REPO_ROOT

NAMES = ["cost_models", "fee_tables", "team_aliases"]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repo's seed CSVs the test may edit."""
    data = tmp_path / "data"
    data.mkdir()
    for name in NAMES:
        shutil.copy(REPO_ROOT / "data" / f"{name}.csv", data)
    monkeypatch.setattr(seeds, "DATA_DIR", data)
    return data


def test_seeds_load_when_missing_or_changed_and_a_failed_csv_waits_for_a_change(
    tmp_path: Path, data_dir: Path
) -> None:
    settings = load_settings(lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.db"))
    resources = build_resources(settings)
    defs = dg.Definitions(
        assets=automation.SEED_ASSETS,
        jobs=[automation.seeds_job],
        sensors=[automation.seeds_sensor],
        resources=resources,
    )
    sensor = defs.resolve_sensor_def("seeds_sensor")
    job = defs.resolve_job_def("seeds_job")
    lake = Lake(str(tmp_path / "lake"))

    def tick(instance: dg.DagsterInstance) -> Any:
        with dg.build_sensor_context(instance=instance, definitions=defs, resources=resources) as ctx:
            return sensor.evaluate_tick(ctx)

    def run(instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
        return job.execute_in_process(
            instance=instance,
            asset_selection=request.asset_selection,
            tags=request.tags,
            raise_on_error=False,
        )

    with dg.instance_for_test() as instance:
        # a new instance: all three missing from the lake (the comparator failed on this)
        (first,) = tick(instance).run_requests
        assert sorted(k.to_user_string() for k in first.asset_selection) == NAMES
        waiting = instance.create_run_for_job(job_def=job)
        assert (
            tick(instance).skip_message == f"{', '.join(NAMES)}: waiting for seeds_job run {waiting.run_id}"
        )
        instance.delete_run(waiting.run_id)
        assert run(instance, first).success
        assert tick(instance).skip_message == "the lake's seed tables match their CSVs"
        aliases = pl.read_csv(data_dir / "team_aliases.csv")
        assert lake.read("team_aliases", None).height == aliases.height

        # an alias added to the CSV reaches the lake without anyone materializing by hand
        row = aliases.row(0, named=True) | {"alias": "Zz Test Alias"}
        pl.concat([aliases, pl.DataFrame([row], schema=aliases.schema)]).write_csv(
            data_dir / "team_aliases.csv"
        )
        (changed,) = tick(instance).run_requests
        assert [k.to_user_string() for k in changed.asset_selection] == ["team_aliases"]
        assert run(instance, changed).success
        assert "Zz Test Alias" in lake.read("team_aliases", None)["alias"].to_list()
        assert tick(instance).skip_message == "the lake's seed tables match their CSVs"

        # a seed gone from both the CSVs and the lake: one run fails with the path, then it waits
        (data_dir / "fee_tables.csv").rename(data_dir / "fee_tables.bak")
        Path(lake.partition_file("fee_tables", None)).unlink()
        (missing,) = tick(instance).run_requests
        failed = run(instance, missing)
        assert not failed.success
        assert tick(instance).skip_message == (
            f"fee_tables: not retried until a CSV changes; run {failed.run_id} failed: "
            f"seed table fee_tables is missing: {data_dir / 'fee_tables.csv'}"
        )
        (data_dir / "fee_tables.bak").rename(data_dir / "fee_tables.csv")
        (restored,) = tick(instance).run_requests
        assert run(instance, restored).success
        assert tick(instance).skip_message == "the lake's seed tables match their CSVs"
        assert lake.read("fee_tables", None).equals(
            pl.read_csv(data_dir / "fee_tables.csv", try_parse_dates=True)
        )


def test_a_failed_input_load_alerts_with_its_cause(tmp_path: Path) -> None:
    """The comparator's first run on a new instance alerted only "Error occurred while loading input";
    which table was missing is in the cause."""
    from edge_assets.assets import mapping
    from edge_assets_tests.test_comparator_sensor import ALL_ASSETS

    settings = load_settings(lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.db"))
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            ALL_ASSETS,
            selection=[mapping.market_mappings],
            resources=build_resources(settings),
            instance=instance,
            partition_key="2026-11-20-12:00",
            raise_on_error=False,
        )
        assert not result.success
        why = automation.run_failure_reason(instance, result.run_id)
    path = tmp_path / "lake" / "oddsapi_live" / "dt=2026-11-20" / "hour=12" / "part.parquet"
    cause = f"lake table oddsapi_live: partition 2026-11-20-12:00 has not been written ({path})"
    assert why == (
        "dagster._core.errors.DagsterExecutionLoadInputError: Error occurred while loading input "
        f'"oddsapi_live" of step "market_mappings"; '
        f"caused by edge_assets.lake.storage.LakeMissingPartition: {cause}; "
        f"caused by FileNotFoundError: {path}"
    )
