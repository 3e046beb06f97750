"""The comparator sensor on a real instance: new data -> one run and its alerts; no new data -> nothing."""

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import pytest

from edge_assets import automation, checks
from edge_assets.assets import ingest, seeds
from edge_assets.lake import Lake
from edge_assets.ml import scoring
from edge_assets.partitions import hour_key
from edge_assets.resources import build_resources
from edge_assets.settings import get_settings, load_settings
from edge_assets.simulator import FaultConfig, SimulatorApp, World, serve
from edge_assets_tests.test_monitoring import run_failure_alerts_on


class _Sink(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    received: ClassVar[list[dict]] = []
    handler = type("Sink", (_Sink,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


ALL_ASSETS = [
    seeds.team_aliases,
    seeds.fee_tables,
    seeds.cost_models,
    ingest.pm_markets,
    ingest.pm_order_book_snapshots,
    ingest.oddsapi_live,
    *automation.COMPARATOR_CHAIN,
]


LIVE_POLLS = [ingest.pm_markets, ingest.pm_order_book_snapshots, ingest.oddsapi_live]


def _tick_requests(
    schedule: dg.ScheduleDefinition, instance: dg.DagsterInstance, at: datetime, repo: dg.RepositoryDefinition
) -> list[dg.RunRequest]:
    """A schedule tick's requests. The context is entered so the instance it opens from the ref is
    closed: left open, it stayed Dagster's current defs-state storage after its folder was deleted."""
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=at, repository_def=repo
    ) as ctx:
        return list(schedule.evaluate_tick(ctx).run_requests or [])


def _seeds_and_an_hours_polls(resources: dict[str, object], instance: dg.DagsterInstance, hour: str) -> None:
    assert dg.materialize(ALL_ASSETS[:3], resources=resources, instance=instance).success
    assert dg.materialize(
        ALL_ASSETS, selection=LIVE_POLLS, resources=resources, instance=instance, partition_key=hour
    ).success


def _champion_without_artifacts(tracking_uri: str, missing: Path) -> None:
    """A store whose champion aliases point at model versions with no files behind them."""
    import mlflow

    from edge_assets.ml.train import CLASSIFIER_NAME, REGRESSOR_NAME

    client = mlflow.MlflowClient(tracking_uri, registry_uri=tracking_uri)
    for name in (CLASSIFIER_NAME, REGRESSOR_NAME):
        client.create_registered_model(name)
        version = client.create_model_version(name, source=missing.as_uri())
        client.set_registered_model_alias(name, "champion", version.version)


def test_new_data_gives_one_run_and_one_alert_per_edge(
    tmp_path: Path, webhook: tuple[str, list[dict]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = webhook
    monkeypatch.setenv("EDGE_WEBHOOK_URL", url)
    monkeypatch.setenv("EDGE_LAKE_ROOT", str(tmp_path / "lake"))
    tracking_uri = f"sqlite:///{tmp_path}/mlflow.db"  # no store yet: no champion, the rule decides
    monkeypatch.setenv("EDGE_MLFLOW_TRACKING_URI", tracking_uri)
    get_settings.cache_clear()
    try:
        at = datetime(2026, 11, 20, 14, tzinfo=UTC)
        # the fixed hour (the simulated edges it has) counts as recent for the alerts
        alert_age = int((datetime.now(UTC) - at).total_seconds() // 60) + 180
        settings = load_settings(
            lake_root=str(tmp_path / "lake"),
            duckdb_path=str(tmp_path / "w.duckdb"),
            alert_max_age_minutes=alert_age,
        )
        resources = build_resources(settings)
        hour = hour_key(at)
        monkeypatch.setattr(automation, "_utcnow", lambda: datetime(2026, 11, 20, 14, 55, tzinfo=UTC))
        defs = dg.Definitions(
            assets=ALL_ASSETS,
            sensors=[automation.comparator_sensor],
            jobs=[automation.comparator_job],
            resources=resources,
        )
        sensor = defs.resolve_sensor_def("comparator_sensor")
        with dg.instance_for_test() as instance:
            _seeds_and_an_hours_polls(resources, instance, hour)  # new live data for the hour
            tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
            assert [r.partition_key for r in tick.run_requests] == [hour]
            run = dg.materialize(
                ALL_ASSETS,
                selection=automation.COMPARATOR_CHAIN,
                resources=resources,
                instance=instance,
                partition_key=tick.run_requests[0].partition_key,
            )
            assert run.success
            (check,) = [c for c in run.get_asset_check_evaluations() if c.asset_key.path == ["signals"]]
            assert (check.check_name, check.passed) == ("champion_decides", True)
            assert check.description == "check (1) by rule_confidence"
            found = Lake(str(tmp_path / "lake")).read("signals", hour)
            assert found.height >= 1
            alerted = [p["alert_id"] for p in received]
            assert sorted(alerted) == sorted(found["edge_id"].to_list())  # one alert per edge
            assert found["alert_status"].to_list() == ["sent"] * found.height

            # the next tick, with no new data, asks for nothing (cursor), and nothing is re-alerted
            again = sensor.evaluate_tick(
                dg.build_sensor_context(instance=instance, definitions=defs, cursor=tick.cursor)
            )
            assert again.run_requests == []
            assert again.skip_message == "no new live data since the last tick"
            # even a forced re-run of the same hour alerts no signal twice; here a champion exists
            # whose model files are gone: the rule still decides, and the check warns why
            _champion_without_artifacts(tracking_uri, tmp_path / "gone")
            scoring.clear_cache()
            rerun = dg.materialize(
                ALL_ASSETS,
                selection=automation.COMPARATOR_CHAIN,
                resources=resources,
                instance=instance,
                partition_key=hour,
            )
            assert rerun.success
            (check,) = [c for c in rerun.get_asset_check_evaluations() if c.asset_key.path == ["signals"]]
            assert check.check_name == "champion_decides" and not check.passed
            assert check.severity == dg.AssetCheckSeverity.WARN
            assert check.description.startswith("the champion cannot be loaded (")
            assert check.description.endswith(
                "check (1) by the rule confidence until the next edge_models run"
            )
            scoring.clear_cache()
            # no signal alerted twice; one monitor alert says the comparator is not running as configured
            (monitor,) = received[len(alerted) :]
            today = datetime.now(UTC).strftime("%Y-%m-%d")
            assert monitor["kind"] == "monitor" and monitor["text"] == check.description
            assert monitor["alert_id"].startswith(f"monitor:champion_decides:{today}:")
            assert Lake(str(tmp_path / "lake")).read("signals", hour).height == found.height
            alerted.append(monitor["alert_id"])

            # the next hour: an edge that persists gets a new signal row but no second alert
            later = hour_key(datetime(2026, 11, 20, 15, tzinfo=UTC))
            for selection in (
                LIVE_POLLS,
                automation.COMPARATOR_CHAIN,
            ):
                assert dg.materialize(
                    ALL_ASSETS,
                    selection=selection,
                    resources=resources,
                    instance=instance,
                    partition_key=later,
                ).success
            next_hour = Lake(str(tmp_path / "lake")).read("signals", later)
            persisting = set(next_hour["edge_id"]) & set(found["edge_id"])
            assert persisting, "some simulated edges of 14:00 are still there at 15:00"
            assert not set(next_hour["signal_id"]) & set(found["signal_id"])  # new rows for the hour
            new_edges = set(next_hour["edge_id"]) - set(found["edge_id"])
            # the champion is still broken: the same problem the same day is not alerted again
            assert sorted(p["alert_id"] for p in received[len(alerted) :]) == sorted(new_edges)
            assert next_hour["alert_status"].to_list() == ["sent"] * next_hour.height
    finally:
        get_settings.cache_clear()


def test_schedules_poll_into_the_right_partitions() -> None:
    at = datetime(2026, 11, 20, 14, 2, tzinfo=UTC)
    expected = {
        "pm_markets_every_minute": "2026-11-20-14:00",  # the live odds too, every 2 minutes
        "order_books_hourly": "2026-11-20-14:00",
        "oddsapi_historical_hourly_schedule": "2026-11-20-13:00",
        "oddsapi_scores_hourly": "2026-11-20",
        "paper_trades_hourly": "2026-11-20",
        "raw_compaction_daily": None,  # not partitioned: it compacts the closed hours of the last days
        "run_retention_daily": None,
    }
    from edge_assets.definitions import defs

    repo = defs.get_repository_def()
    assert {s.name for s in automation.SCHEDULES} == set(expected)
    with dg.instance_for_test() as instance:  # the markets schedule reads it
        for schedule in automation.SCHEDULES:
            requests = _tick_requests(schedule, instance, at, repo)
            assert [r.partition_key for r in requests] == [expected[schedule.name]], schedule.name
            assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
        # with EDGE_ODDS_WITH_MARKETS_POLL off the odds have a schedule of their own
        requests = _tick_requests(automation.live_odds_schedule, instance, at, repo)
        assert [r.partition_key for r in requests] == ["2026-11-20-14:00"]
    assert {s.name for s in automation.SENSORS} == {
        "comparator_sensor",
        "seeds_sensor",
        "monitor_alerts_sensor",
        "run_failure_alerts",
    }
    # ticked at every pass of the daemon's loop: the interval counts from a tick's end, so at a whole
    # loop a tick evaluated in under 4 s skipped the next pass (ticks ~10 s apart, the largest wait
    # between a poll and its signals)
    from dagster._daemon.sensor import MIN_INTERVAL_LOOP_TIME

    assert automation.comparator_sensor.minimum_interval_seconds + 4 <= MIN_INTERVAL_LOOP_TIME


def test_hour_key_is_utc() -> None:
    est = datetime(2026, 1, 1, 0, 59, tzinfo=UTC) - timedelta(hours=5)
    assert hour_key(est) == "2025-12-31-19:00"


def test_first_missed_day_is_the_earliest_day_with_features_and_no_training_set() -> None:
    featured = {"2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13", "2026-11-14"}
    built = {"2026-11-10", "2026-11-12"}
    assert automation.first_missed_day("2026-11-14", built, featured) == "2026-11-11"
    assert automation.first_missed_day("2026-11-14", built | {"2026-11-11", "2026-11-13"}, featured) == (
        "2026-11-14"
    )
    # days without features (before the history began) are not missed; neither are those too far back
    assert automation.first_missed_day("2026-11-14", set(), set()) == "2026-11-14"
    assert automation.first_missed_day("2026-11-14", built, featured, lookback=2) == "2026-11-13"


def test_nightly_training_labels_the_days_it_missed_in_one_run(tmp_path: Path) -> None:
    from edge_assets.assets import training
    from edge_assets.definitions import defs as full

    get_settings.cache_clear()
    settings = load_settings(lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.duckdb"))
    resources = build_resources(settings)
    defs = dg.Definitions(assets=full.assets, jobs=[automation.nightly_training_job], resources=resources)
    at = datetime(2026, 11, 19, 3, 30, tzinfo=UTC)  # labels 2026-11-14 (4-day horizon)
    with dg.instance_for_test() as instance:
        for day in range(10, 15):  # features for the 10th..14th, training sets built for 10th and 12th
            for hour in (0, 23):
                key = hour_key(datetime(2026, 11, day, hour, tzinfo=UTC))
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(training.features.key, partition=key)
                )
        for day in ("2026-11-10", "2026-11-12"):
            instance.report_runless_asset_event(
                dg.AssetMaterialization(training.training_sets.key, partition=day)
            )
        (request,) = _tick_requests(
            automation.nightly_training_schedule, instance, at, defs.get_repository_def()
        )
        assert request.run_key == "nightly:2026-11-14" and request.partition_key is None
        assert {k: v for k, v in request.tags.items() if "partition" in k} == {
            "dagster/asset_partition_range_start": "2026-11-11",
            "dagster/asset_partition_range_end": "2026-11-14",
        }
        # the request runs as one run over the range (training sets), then the models once
        result = defs.resolve_job_def("nightly_training_job").execute_in_process(
            instance=instance, tags={k: v for k, v in request.tags.items() if "partition" in k}
        )
        assert result.success
        assert instance.get_materialized_partitions(training.training_sets.key) == {
            f"2026-11-{d}" for d in range(10, 15)
        }
        # nothing missed: the day alone, as before
        (request,) = _tick_requests(
            automation.nightly_training_schedule, instance, at + timedelta(days=1), defs.get_repository_def()
        )
        assert (request.run_key, request.partition_key) == ("nightly:2026-11-15", "2026-11-15")
    get_settings.cache_clear()


def test_an_hours_first_runs_price_on_the_previous_hours_books(tmp_path: Path) -> None:
    """Live, the books land at :02: the comparator's runs for a new hour failed ("pm_order_book_snapshots
    partition ... has not been written") until then, and alerted every hour. Now they price on the
    previous hour's last book poll."""
    from edge_assets.frames import latest_poll
    from edge_assets.mapping.layout import pm_sportsbook_lines as build_lines
    from edge_assets.schemas import PM_SPORTSBOOK_LINES, conform

    settings = load_settings(lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.duckdb"))
    resources = build_resources(settings)
    before, hour = (hour_key(datetime(2026, 11, 20, h, tzinfo=UTC)) for h in (14, 15))
    lake = Lake(str(tmp_path / "lake"))
    with dg.instance_for_test() as instance:

        def run(selection: list, partition: str | None) -> bool:
            return dg.materialize(
                ALL_ASSETS,
                selection=selection,
                resources=resources,
                instance=instance,
                partition_key=partition,
            ).success

        assert run(ALL_ASSETS[:3], None)
        assert run(LIVE_POLLS, before)
        assert run([ingest.pm_markets, ingest.oddsapi_live], hour)  # no book poll yet this hour
        assert run(automation.COMPARATOR_CHAIN, hour)
    books = lake.read("pm_order_book_snapshots", before)
    markets = latest_poll(lake.read("pm_markets", hour))
    at = markets["observed_at"].max()
    expected = build_lines(
        markets,
        books,
        lake.read("market_mappings", hour),
        observed_at=at,
        odds=lake.read("oddsapi_live", hour),
    )
    lines = lake.read("pm_sportsbook_lines", hour)
    assert lines.height > 100
    assert lines.equals(conform(expected, PM_SPORTSBOOK_LINES))
    features = lake.read("features_latest", hour)
    assert features.height > 100
    age = (at - books["snapshot_at"].max()).total_seconds()
    assert age == 3600  # both polled at :50 of their hour
    # the book's age; 0: a token missing from the books, priced by Gamma's best ask of the poll
    ages = features["pm_quote_age_s"].drop_nulls()
    assert (ages == age).sum() > 100 and set(ages) == {age, 0.0}


def test_signals_of_past_hours_are_recorded_stale_and_not_alerted(
    tmp_path: Path, webhook: tuple[str, list[dict]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backfill of past hours alerted every edge it found, as if it were new."""
    url, received = webhook
    monkeypatch.setenv("EDGE_WEBHOOK_URL", url)
    monkeypatch.setenv("EDGE_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    get_settings.cache_clear()
    hour = hour_key(datetime(2026, 11, 20, 14, tzinfo=UTC))
    recent = int((datetime.now(UTC) - datetime(2026, 11, 20, 14, tzinfo=UTC)).total_seconds() // 60) + 180

    def comparator(instance: dg.DagsterInstance, max_age: int | None) -> Any:
        extra = {} if max_age is None else {"alert_max_age_minutes": max_age}
        settings = load_settings(
            lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.duckdb"), **extra
        )
        result = dg.materialize(
            ALL_ASSETS,
            selection=automation.COMPARATOR_CHAIN,
            resources=build_resources(settings),
            instance=instance,
            partition_key=hour,
        )
        assert result.success
        return result

    try:
        resources = build_resources(load_settings(lake_root=str(tmp_path / "lake")))
        with dg.instance_for_test() as instance:
            _seeds_and_an_hours_polls(resources, instance, hour)
            lake = Lake(str(tmp_path / "lake"))
            # the default age (30 minutes): the hour is history, recorded but not alerted
            first = comparator(instance, None)
            found = lake.read("signals", hour)
            assert found.height >= 1
            assert found["alert_status"].to_list() == ["stale"] * found.height
            assert received == []
            meta = first.asset_materializations_for_node("signals")[0].metadata
            assert meta["signals_too_old_to_alert"].value == found.height
            assert meta["alerts_sent"].value == 0
            # counted as recent, the same edges are alerted, once each
            comparator(instance, recent)
            assert sorted(p["alert_id"] for p in received) == sorted(lake.read("signals", hour)["edge_id"])
            assert lake.read("signals", hour)["alert_status"].to_list() == ["sent"] * found.height
            # old again, a rerun keeps what was sent and sends nothing
            comparator(instance, None)
            assert lake.read("signals", hour)["alert_status"].to_list() == ["sent"] * found.height
            assert len(received) == found.height
    finally:
        get_settings.cache_clear()


def test_comparator_waits_for_the_hours_odds_and_re_polls_books_older_than_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hourly book poll alone left the comparator pricing on books up to an hour old. And the
    comparator ran for an hour whose live odds were not written yet, and failed."""
    settings = load_settings(lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.duckdb"))
    resources = build_resources(settings)
    defs = dg.Definitions(
        assets=ALL_ASSETS,
        sensors=[automation.comparator_sensor],
        jobs=[automation.comparator_job, automation.books_job],
        resources=resources,
    )
    sensor = defs.resolve_sensor_def("comparator_sensor")
    now = datetime.now(UTC)
    monkeypatch.setattr(automation, "_utcnow", lambda: now)
    current, previous = hour_key(now), hour_key(now - timedelta(hours=1))
    with dg.instance_for_test() as instance:

        def tick(cursor: str | None) -> Any:
            return sensor.evaluate_tick(
                dg.build_sensor_context(instance=instance, definitions=defs, cursor=cursor)
            )

        def poll(asset: dg.AssetsDefinition, hour: str) -> None:
            assert dg.materialize(
                ALL_ASSETS, selection=[asset], resources=resources, instance=instance, partition_key=hour
            ).success

        # markets first: the comparator waits for the hour's live odds (it failed without them)
        poll(ingest.pm_markets, previous)
        first = tick(None)
        assert first.run_requests == []
        assert first.skip_message == f"{previous}: waiting for oddsapi_live"
        poll(ingest.pm_markets, current)
        second = tick(first.cursor)
        window = int(now.timestamp() // 600)
        assert [(r.job_name, r.partition_key, r.run_key) for r in second.run_requests] == [
            ("order_books_job", current, f"books_refresh:{current}:{window}"),  # no books yet
        ]
        run = defs.resolve_job_def("order_books_job").execute_in_process(
            instance=instance, partition_key=current
        )
        (polled,) = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=ingest.pm_order_book_snapshots.key), limit=1
        ).records
        assert polled.run_id == run.run_id
        for hour in (previous, current):
            poll(ingest.oddsapi_live, hour)
        # the odds complete both hours; the new books are fresh: no second poll
        third = tick(second.cursor)
        assert [(r.job_name, r.partition_key, r.run_key) for r in third.run_requests] == [
            ("comparator_job", previous, f"comparator:{previous}:{third.cursor}"),
            ("comparator_job", current, f"comparator:{current}:{third.cursor}"),
        ]
        # a backfill writes earlier hours: they run their own comparator, and the sensor leaves them
        # (a 24-hour UI backfill queued 48 comparator runs that held up the live polls)
        earlier = [hour_key(now - timedelta(hours=h)) for h in (30, 2)]
        for hour in earlier:
            poll(ingest.pm_markets, hour)
            poll(ingest.oddsapi_live, hour)
        fourth = tick(third.cursor)
        assert fourth.run_requests == []
        assert fourth.skip_message == f"earlier hours left to their backfill: {earlier[0]}..{earlier[1]} (2)"
        at = datetime.fromtimestamp(polled.timestamp, UTC)
        assert automation.books_refresh(instance, current, at + timedelta(minutes=9, seconds=59)) is None
        later = at + timedelta(minutes=10)
        again = automation.books_refresh(instance, current, later)
        assert (
            again is not None and again.run_key == f"books_refresh:{current}:{int(later.timestamp() // 600)}"
        )


def _markets_poll_defs(
    tmp_path: Path,
) -> tuple[
    dict[str, object],
    dg.Definitions,
    dg.ScheduleDefinition,
    dg.SensorDefinition,
    dg.JobDefinition,
    dg.RepositoryDefinition,
]:
    """The markets schedule, the comparator sensor and their jobs on the embedded simulator."""
    settings = load_settings(lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.duckdb"))
    resources = build_resources(settings)
    defs = dg.Definitions(
        assets=ALL_ASSETS,
        asset_checks=checks.CHECKS,
        schedules=[automation.markets_schedule],
        sensors=[automation.comparator_sensor],
        jobs=[automation.markets_job, automation.comparator_job, automation.books_job],
        resources=resources,
    )
    return (
        resources,
        defs,
        defs.resolve_schedule_def("pm_markets_every_minute"),
        defs.resolve_sensor_def("comparator_sensor"),
        defs.resolve_job_def("pm_markets_job"),
        defs.get_repository_def(),
    )


def test_a_markets_poll_prices_its_hour_in_its_own_run_once_the_hour_has_odds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A comparator run of its own after each Gamma poll cost a run start and the sensor's wait: half
    the way from a poll to its signals (bench/live_latency.py)."""
    resources, defs, schedule, sensor, markets_job, repo = _markets_poll_defs(tmp_path)
    hour = hour_key(datetime(2026, 11, 20, 14, tzinfo=UTC))
    monkeypatch.setattr(automation, "_utcnow", lambda: datetime(2026, 11, 20, 14, 7, tzinfo=UTC))
    chain = [a.key for a in automation.COMPARATOR_CHAIN]
    with dg.instance_for_test() as instance:

        def poll_at(minute: int) -> tuple[list[dg.AssetKey], dg.ExecuteInProcessResult]:
            at = datetime(2026, 11, 20, 14, minute, tzinfo=UTC)
            (request,) = _tick_requests(schedule, instance, at, repo)
            assert (request.partition_key, request.run_key) == (
                hour,
                f"pm_markets_every_minute:{at.isoformat()}",
            )
            selection = list(request.asset_selection or [])
            run = markets_job.execute_in_process(
                instance=instance, partition_key=hour, asset_selection=selection
            )
            assert run.success
            return selection, run

        def tick(cursor: str | None) -> Any:
            return sensor.evaluate_tick(
                dg.build_sensor_context(instance=instance, definitions=defs, cursor=cursor)
            )

        def poll(asset: dg.AssetsDefinition) -> None:
            assert dg.materialize(
                ALL_ASSETS, selection=[asset], resources=resources, instance=instance, partition_key=hour
            ).success

        assert dg.materialize(ALL_ASSETS[:3], resources=resources, instance=instance).success
        # no live odds for the hour yet: the poll alone, and the sensor waits for the odds
        selection, run = poll_at(1)
        assert selection == [ingest.pm_markets.key]
        assert [m.asset_key for m in run.get_asset_materialization_events()] == [ingest.pm_markets.key]
        assert {c.asset_key for c in run.get_asset_check_evaluations()} == {ingest.pm_markets.key}
        poll(ingest.pm_order_book_snapshots)  # fresh books: the sensor asks for no book poll below
        first = tick(None)
        assert first.run_requests == [] and first.skip_message == f"{hour}: waiting for oddsapi_live"
        poll(ingest.oddsapi_live)
        second = tick(first.cursor)  # the odds are new data: a comparator run prices the hour
        assert [(r.job_name, r.partition_key) for r in second.run_requests] == [("comparator_job", hour)]

        # with the hour's odds in, the next poll runs the comparator chain behind it, checks included
        selection, run = poll_at(3)
        assert selection == [ingest.pm_markets.key, *chain]
        assert [m.asset_key for m in run.get_asset_materialization_events()] == [
            ingest.pm_markets.key,
            *chain,
        ]
        checked = {c.asset_key for c in run.get_asset_check_evaluations()}
        assert checked == {ingest.pm_markets.key, chain[0], automation.comparator.signals.key}
        signals = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=automation.comparator.signals.key, asset_partitions=[hour]),
            limit=1,
        ).records
        assert [r.run_id for r in signals] == [run.run_id]
        # the sensor sees the poll as priced: no second run for the same data
        third = tick(second.cursor)
        assert third.run_requests == []
        assert third.skip_message == f"{hour}: priced in the run of its poll"
        assert int(third.cursor) > int(second.cursor)
        assert tick(third.cursor).skip_message == "no new live data since the last tick"

        # switched off, every poll runs alone and the sensor prices it
        monkeypatch.setenv("EDGE_PRICE_WITH_MARKETS_POLL", "false")
        get_settings.cache_clear()
        try:
            selection, _ = poll_at(5)
            fourth = tick(third.cursor)
        finally:  # no cached settings with the switch off for the tests after this one
            monkeypatch.delenv("EDGE_PRICE_WITH_MARKETS_POLL")
            get_settings.cache_clear()
        assert selection == [ingest.pm_markets.key]
        assert [(r.job_name, r.partition_key) for r in fourth.run_requests] == [("comparator_job", hour)]


def test_odds_ride_the_markets_poll_at_their_cadence() -> None:
    every_7 = [m for m in range(60) if automation.on_cadence(m, 7)]
    assert every_7 == [0, 7, 14, 21, 28, 35, 42, 49, 56]  # `*/7`: cron restarts it each hour
    assert [m for m in range(60) if automation.on_cadence(m, 60)] == [0]
    assert all(automation.on_cadence(m, 1) for m in range(60))


def test_a_markets_poll_at_the_odds_cadence_polls_the_odds_and_prices_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An odds poll in a run of its own, priced by a comparator run the sensor then asked for, took a
    median 8.85 s to signals against 4.51 s for a Gamma poll pricing its own hour (bench/live_latency.py)."""
    resources, defs, schedule, sensor, markets_job, repo = _markets_poll_defs(tmp_path)
    hour = hour_key(datetime(2026, 11, 20, 14, tzinfo=UTC))
    monkeypatch.setattr(automation, "_utcnow", lambda: datetime(2026, 11, 20, 14, 7, tzinfo=UTC))
    chain = [a.key for a in automation.COMPARATOR_CHAIN]
    polls = [ingest.pm_markets.key, ingest.oddsapi_live.key]
    with dg.instance_for_test() as instance:

        def selection_at(minute: int) -> list[dg.AssetKey]:
            at = datetime(2026, 11, 20, 14, minute, tzinfo=UTC)
            (request,) = _tick_requests(schedule, instance, at, repo)
            assert request.partition_key == hour
            return list(request.asset_selection or [])

        def with_env(name: str, value: str, minute: int) -> list[dg.AssetKey]:
            monkeypatch.setenv(name, value)
            get_settings.cache_clear()
            try:
                return selection_at(minute)
            finally:  # no cached settings left for the tests after this one
                monkeypatch.delenv(name)
                get_settings.cache_clear()

        assert dg.materialize(ALL_ASSETS[:3], resources=resources, instance=instance).success
        assert dg.materialize(  # the hour before: its books serve the new hour's first minutes
            ALL_ASSETS,
            selection=[ingest.pm_markets, ingest.pm_order_book_snapshots],
            resources=resources,
            instance=instance,
            partition_key=hour_key(datetime(2026, 11, 20, 13, tzinfo=UTC)),
        ).success
        before = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
        # the hour's first minute: no odds yet, but this run polls them, so it prices on both at once
        selection = selection_at(0)
        assert selection == [*polls, *chain]
        run = markets_job.execute_in_process(instance=instance, partition_key=hour, asset_selection=selection)
        assert run.success
        written = [m.asset_key for m in run.get_asset_materialization_events()]
        assert set(written[:2]) == set(polls) and written[2:] == chain  # the two polls, then the chain
        checked = {c.asset_key for c in run.get_asset_check_evaluations()}
        assert checked == {*polls, chain[0], automation.comparator.signals.key}
        signals = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=automation.comparator.signals.key, asset_partitions=[hour]),
            limit=1,
        ).records
        assert [r.run_id for r in signals] == [run.run_id]
        first = sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, definitions=defs, cursor=before.cursor)
        )
        # no comparator run: the hour is priced (on the hour before's books, so it asks for fresh ones)
        assert [(r.job_name, r.partition_key) for r in first.run_requests] == [("order_books_job", hour)]

        # between odds polls: Gamma alone, priced on the odds it has
        assert selection_at(1) == [ingest.pm_markets.key, *chain]
        # the odds cadence is the setting's; switched off, the odds have their own schedule again
        assert with_env("EDGE_ODDS_LIVE_EVERY_MINUTES", "5", 4) == [ingest.pm_markets.key, *chain]
        assert with_env("EDGE_ODDS_LIVE_EVERY_MINUTES", "5", 5) == [*polls, *chain]
        assert with_env("EDGE_ODDS_WITH_MARKETS_POLL", "false", 2) == [ingest.pm_markets.key, *chain]


def _past_the_turn_of_the_hour(margin: timedelta = timedelta(seconds=40)) -> datetime:
    """Now, after waiting out the end of the hour when it is closer than ``margin``: a live poll
    can only write the current hour."""
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if end - now < margin:
        time.sleep((end - now).total_seconds() + 1)
        now = datetime.now(UTC)
    return now


@pytest.mark.integration
def test_a_failed_poll_keeps_its_markets_for_the_sensor_and_only_a_failed_chain_alerts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Against the simulator over HTTP: the odds poll beside the Gamma poll fails (a malformed
    body); the markets it polled are written and priced by a comparator run, and only the freshness
    monitor, not a run-failure alert, speaks of the odds. A failed comparator chain alerts."""
    key = "sk-FUSED-3b1f0c"
    app = SimulatorApp(World(7), api_key=key, rate_limit_per_s=None)
    server = serve(app)
    monkeypatch.setenv("EDGE_ODDS_API_KEY", key)
    get_settings.cache_clear()
    try:
        settings = load_settings(
            lake_root=str(tmp_path / "lake"),
            duckdb_path=str(tmp_path / "w.duckdb"),
            sim_url=server.url,
            sports=("basketball_nba",),
            alert_console=True,
        )
        resources = build_resources(settings)
        defs = dg.Definitions(
            assets=ALL_ASSETS,
            asset_checks=checks.CHECKS,
            sensors=[automation.comparator_sensor],
            jobs=[automation.markets_job, automation.comparator_job, automation.books_job],
            resources=resources,
        )
        sensor = defs.resolve_sensor_def("comparator_sensor")
        markets_job = defs.resolve_job_def("pm_markets_job")
        chain = [a.key for a in automation.COMPARATOR_CHAIN]
        polls = [ingest.pm_markets.key, ingest.oddsapi_live.key]
        hour = hour_key(_past_the_turn_of_the_hour())
        with dg.instance_for_test() as instance:

            def poll(selection: list[dg.AssetKey]) -> dg.ExecuteInProcessResult:
                return markets_job.execute_in_process(
                    instance=instance, partition_key=hour, asset_selection=selection, raise_on_error=False
                )

            _seeds_and_an_hours_polls(resources, instance, hour)
            first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
            assert [r.job_name for r in first.run_requests] == ["comparator_job"]  # the polls above

            app.faults = FaultConfig(malformed_next=1, paths=("/v4/sports/basketball_nba/odds",))
            broken = poll([*polls, *chain])
            assert not broken.success
            assert [m.asset_key for m in broken.get_asset_materialization_events()] == [ingest.pm_markets.key]
            assert set(automation.failed_steps(instance, broken.run_id)) == {"oddsapi_live"}
            # its markets are new data no run priced: the sensor prices them on the odds the hour has
            second = sensor.evaluate_tick(
                dg.build_sensor_context(instance=instance, definitions=defs, cursor=first.cursor)
            )
            assert [(r.job_name, r.partition_key) for r in second.run_requests] == [("comparator_job", hour)]
            run_failure_alerts_on(instance, broken.run_id, resources)
            assert "[monitor]" not in capsys.readouterr().out  # a failed poll is the freshness monitor's
            why = automation.last_run_failure(instance, "pm_markets_job", "oddsapi_live")
            assert why is not None and "body is not a JSON array of events" in why
            # a later poll without the odds does not hide why the last one with them failed
            assert poll([ingest.pm_markets.key, *chain]).success
            assert automation.last_run_failure(instance, "pm_markets_job", "oddsapi_live") == why
            assert automation.last_run_failure(instance, "pm_markets_job", "pm_markets") is None

            # the chain failing (a seed table no longer readable) is alerted, with its step's reason
            (aliases,) = (tmp_path / "lake" / "team_aliases").glob("*.parquet")
            aliases.write_bytes(b"not parquet")
            failed_chain = poll([ingest.pm_markets.key, *chain])
            assert not failed_chain.success
            assert set(automation.failed_steps(instance, failed_chain.run_id)) == {"market_mappings"}
            run_failure_alerts_on(instance, failed_chain.run_id, resources)
            (line,) = [ln for ln in capsys.readouterr().out.splitlines() if "[monitor]" in ln]
            reason = automation.failed_steps(instance, failed_chain.run_id)["market_mappings"]
            assert line.endswith(
                f"[monitor] edge-assets run failed: pm_markets_job: run {failed_chain.run_id} "
                f"(partition {hour}): {reason}"
            )
            assert key not in line
    finally:
        server.stop()
        get_settings.cache_clear()


def test_scheduled_and_sensor_jobs_run_in_one_process() -> None:
    """A process per step made a 1 s markets poll a ~30 s run, every minute (measured under
    `edge ui`); the implicit asset job of UI backfills keeps parallel steps."""
    from edge_assets.definitions import defs

    targets = {s.job_name for s in [*automation.SCHEDULES, *automation.ML_SCHEDULES]}
    targets |= {t.job_name for sensor in automation.SENSORS if sensor.has_jobs for t in sensor.targets}
    assert {"comparator_job", "order_books_job", "seeds_job", "raw_compaction_job"} <= targets
    for name in targets:
        assert defs.resolve_job_def(name).executor_def.name == "in_process", name
    assert defs.resolve_implicit_global_asset_job_def().executor_def.name == "multi_or_in_process_executor"


def test_a_backlog_past_the_fetch_limit_is_read_over_the_next_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    """One cursor over three keys: a key that filled its fetch limit had the records after its last one
    fetched jumped over (the cursor took another key's higher id), so an hour's last poll was never priced."""
    monkeypatch.setattr(automation, "SENSOR_FETCH_LIMIT", 5)
    now = datetime.now(UTC)
    current, previous = hour_key(now), hour_key(now - timedelta(hours=1))
    markets, odds = ingest.pm_markets.key, ingest.oddsapi_live.key
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(odds, partition=previous))
        cursor = str(instance.fetch_materializations(odds, limit=1).records[0].storage_id)
        for i in range(7):  # a backlog of past hours, more than one fetch holds
            old = hour_key(now - timedelta(days=3) + timedelta(hours=i))
            instance.report_runless_asset_event(dg.AssetMaterialization(markets, partition=old))
        instance.report_runless_asset_event(dg.AssetMaterialization(markets, partition=previous))
        instance.report_runless_asset_event(dg.AssetMaterialization(odds, partition=current))
        ticks: list[list[str]] = []
        for _ in range(3):
            result = automation.comparator_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
            ticks.append([r.partition_key for r in result.run_requests if r.job_name == "comparator_job"])
            cursor = result.cursor or cursor
        newest = instance.fetch_materializations(odds, limit=1).records[0].storage_id
    # the first tick reads 5 markets records (past hours, left to backfills) and stops there; the next
    # reads the rest: the previous hour's last poll (priced) and the new hour's odds (waits for markets)
    assert ticks == [[], [previous], []]
    assert cursor == str(newest)
