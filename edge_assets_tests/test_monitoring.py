"""Freshness, completeness and schema checks, and the monitor alert sensor."""

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from edge_assets import automation, checks, monitoring
from edge_assets.assets import ingest, seeds
from edge_assets.partitions import hour_key
from edge_assets.resources import build_resources
from edge_assets.schemas import ODDS_QUOTES, conform
from edge_assets.settings import get_settings, load_settings
from edge_assets_tests.scripted_server import Reply, ScriptedServer

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ALL_SEEDS = [seeds.team_aliases, seeds.fee_tables, seeds.cost_models]
CHAIN = automation.COMPARATOR_CHAIN


def _quotes(at: datetime, sports: list[str]) -> pl.DataFrame:
    rows = [
        {
            "observed_at": at,
            "event_id": f"e{i}",
            "sport_key": s,
            "commence_time": at,
            "home_team": "A",
            "away_team": "B",
            "bookmaker": "pinnacle",
            "market_key": "h2h",
            "outcome_name": "A",
            "point": None,
            "price_decimal": 1.9,
            "last_update": at,
        }
        for i, s in enumerate(sports)
    ]
    return conform(pl.DataFrame(rows), ODDS_QUOTES)


def test_freshness_limits() -> None:
    ok = monitoring.freshness("oddsapi_live", _quotes(NOW - timedelta(minutes=4), ["basketball_nba"]), NOW)
    assert ok.passed and ok.metadata["lag_s"] == 240.0
    late = monitoring.freshness("oddsapi_live", _quotes(NOW - timedelta(minutes=6), ["basketball_nba"]), NOW)
    assert not late.passed
    assert late.message == (
        "oddsapi_live: latest observed_at 2026-11-20 11:54:00 UTC is 360s behind (limit 300s)"
    )
    empty = monitoring.freshness("pm_markets", pl.DataFrame(), NOW)
    assert not empty.passed and empty.message == "pm_markets: no rows in the latest partitions"


def test_league_missing_and_schema_drift() -> None:
    df = _quotes(NOW, ["basketball_nba", "soccer_epl"])
    out = monitoring.sports_present(df, ["basketball_nba", "soccer_epl", "icehockey_nhl"])
    assert not out.passed and out.message == "leagues missing: icehockey_nhl"
    assert monitoring.schema_matches("oddsapi_live", df, ODDS_QUOTES).passed
    drifted = df.drop("point").with_columns(pl.col("price_decimal").cast(pl.String))
    bad = monitoring.schema_matches("oddsapi_live", drifted, ODDS_QUOTES)
    assert not bad.passed
    assert bad.message == "missing point; price_decimal is String, expected Float64"
    assert monitoring.row_count_in_range("x", df, 3, 10).message == "x: 2 rows (expected 3..10)"


def test_checks_run_on_fresh_and_stale_data(tmp_path: Path) -> None:
    resources = build_resources(
        load_settings(lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.db"))
    )
    now = datetime.now(UTC)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [ingest.pm_markets, ingest.oddsapi_live, *checks.CHECKS],
            resources=resources,
            instance=instance,
            partition_key=hour_key(now),
        )
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()
    }
    assert evaluations[("oddsapi_live", "fresh")].passed
    assert evaluations[("pm_markets", "fresh")].passed
    assert evaluations[("oddsapi_live", "schema")].passed
    assert evaluations[("pm_markets", "schema")].passed
    assert evaluations[("oddsapi_live", "leagues_present")].passed
    assert evaluations[("pm_markets", "row_count")].passed


def test_a_league_out_of_season_is_not_missing() -> None:
    df = _quotes(NOW, ["basketball_nba", "soccer_epl"])
    expected = ["basketball_nba", "soccer_epl", "baseball_mlb"]
    out = monitoring.sports_present(
        df, [*expected, "icehockey_nhl"], in_season=lambda: {*expected[:2], "icehockey_nhl"}
    )
    assert not out.passed and out.message == "leagues missing: icehockey_nhl; out of season: baseball_mlb"
    ok = monitoring.sports_present(df, expected, in_season=lambda: set(expected[:2]))
    assert ok.passed and ok.message == "all expected leagues present; out of season: baseball_mlb"
    assert ok.metadata == {
        "missing": [],
        "out_of_season": ["baseball_mlb"],
        "present": ["basketball_nba", "soccer_epl"],
    }

    def unreachable() -> set[str]:
        raise TimeoutError("the-odds-api /v4/sports: timed out")

    down = monitoring.sports_present(df, expected, in_season=unreachable)
    assert not down.passed and down.message == (
        "leagues missing: baseball_mlb (could not tell whether they are in season: "
        "the-odds-api /v4/sports: timed out)"
    )
    all_there = monitoring.sports_present(df, expected[:2], in_season=unreachable)  # not asked at all
    assert all_there.passed and all_there.message == "all expected leagues present"


def test_leagues_check_asks_the_live_api_which_leagues_are_in_season(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Live mode in December: MLB is not in /v4/sports (active only), so its empty odds are no alarm."""
    from edge_assets.lake import Lake
    from edge_assets.lake.io_manager import LakeResource
    from edge_assets.sources_resource import SourcesResource

    key = "live-key-0123456789abcdef"
    monkeypatch.setenv("EDGE_ODDS_API_KEY", key)
    polled = datetime.now(UTC) - timedelta(minutes=3)
    Lake(str(tmp_path / "lake")).write("oddsapi_live", hour_key(polled), _quotes(polled, ["basketball_nba"]))
    lake = LakeResource(root=str(tmp_path / "lake"))
    sources = SourcesResource(
        mode="live", odds_base_url=server.url, sports=["basketball_nba", "baseball_mlb"]
    )
    nba = {
        "key": "basketball_nba",
        "group": "Basketball",
        "title": "NBA",
        "active": True,
        "has_outrights": False,
    }
    server.script(
        "/v4/sports", Reply(200, [nba]), Reply(401, {"error_code": "INVALID_KEY", "message": "bad key"})
    )

    ok = checks.oddsapi_live_leagues(dg.build_asset_check_context(), lake, sources)
    assert ok.passed, ok.metadata
    assert ok.metadata["message"].value == "all expected leagues present; out of season: baseball_mlb"
    assert ok.metadata["out_of_season"].value == ["baseball_mlb"]
    (seen,) = server.requests
    assert seen.query["apiKey"] == [key] and "all" not in seen.query  # active leagues only, free

    bad = checks.oddsapi_live_leagues(dg.build_asset_check_context(), lake, sources)
    message = bad.metadata["message"].value
    assert not bad.passed
    assert message.startswith("leagues missing: baseball_mlb (could not tell whether they are in season: ")
    assert "HTTP 401 INVALID_KEY" in message and key not in message


def _watching_for(duration: timedelta, last_tick_ago: timedelta = timedelta(minutes=1)) -> str:
    """A monitor cursor: watching for `duration`, last ticked `last_tick_ago`."""
    now = datetime.now(UTC)
    return (
        f'{{"since": "{(now - duration).isoformat()}", "last_tick": "{(now - last_tick_ago).isoformat()}"}}'
    )


def test_startup_grace_gives_each_table_its_freshness_limit() -> None:
    since = monitoring.watching_since(None, None, NOW)
    assert since == NOW  # a new instance starts watching now
    assert monitoring.watching_since(
        NOW - timedelta(minutes=9), NOW - timedelta(hours=3), NOW
    ) == NOW - timedelta(hours=3)
    assert monitoring.watching_since(NOW - timedelta(minutes=11), NOW - timedelta(hours=3), NOW) == NOW
    at = NOW + timedelta(minutes=1)
    assert monitoring.startup_grace("pm_markets_fresh", since, at) == timedelta(minutes=1)
    assert monitoring.startup_grace("oddsapi_live_fresh", since, at) == timedelta(minutes=4)
    assert monitoring.startup_grace("leagues_present", since, at) == timedelta(minutes=4)
    assert monitoring.startup_grace("pm_order_book_snapshots_fresh", since, at) == timedelta(minutes=69)
    assert monitoring.startup_grace("pm_markets_fresh", since, NOW + timedelta(minutes=2)) is None


def test_monitor_sensor_alerts_once_per_hour_after_the_startup_grace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fresh start alerted at once on four empty tables, before their first polls had run."""
    monkeypatch.setenv("EDGE_ALERT_CONSOLE", "true")
    get_settings.cache_clear()
    try:
        settings = load_settings(
            lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.db"), alert_console=True
        )
        resources = build_resources(settings)
        defs = dg.Definitions(sensors=[automation.monitor_alerts_sensor], resources=resources)
        sensor = defs.resolve_sensor_def("monitor_alerts_sensor")
        cursors = [
            None,  # a new instance
            _watching_for(timedelta(minutes=6)),  # past the live tables' limits, not the books'
            _watching_for(timedelta(hours=2)),
            _watching_for(timedelta(hours=2)),  # the same hour again
            _watching_for(timedelta(hours=2), last_tick_ago=timedelta(minutes=30)),  # daemon was down
        ]
        ticks = []
        with dg.instance_for_test() as instance:
            for cursor in cursors:
                with dg.build_sensor_context(
                    instance=instance, definitions=defs, resources=resources, cursor=cursor
                ) as ctx:
                    ticks.append(sensor.evaluate_tick(ctx))
        quiet = "starting up, quiet for now: "
        books = "pm_order_book_snapshots_fresh"
        assert (
            ticks[0].skip_message
            == f"no alerts; {quiet}pm_markets_fresh, oddsapi_live_fresh, {books}, leagues_present"
        )
        assert ticks[1].skip_message == f"3 monitor(s) failing: sent=3; {quiet}{books}"
        assert ticks[2].skip_message == "4 monitor(s) failing: sent=1, skipped_duplicate=3"
        assert ticks[3].skip_message == "4 monitor(s) failing: skipped_duplicate=4"
        assert ticks[4].skip_message.startswith("no alerts; starting up")
        since = json.loads(ticks[4].cursor)["since"]
        assert datetime.now(UTC) - datetime.fromisoformat(since) < timedelta(minutes=1)  # a new watch
        printed = capsys.readouterr().out
        assert printed.count("edge-assets monitor failed") == 4
        assert "pm_markets_fresh" in printed and "leagues_present" in printed
    finally:
        get_settings.cache_clear()


def test_a_daemon_restart_gives_the_tables_their_grace_however_short_the_pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`edge ui` restarted after 3 minutes down: the first tick, before any poll, alerted on the rows
    of before the stop (only a 10-minute pause between ticks counted as a restart)."""
    from dagster._daemon.types import DaemonHeartbeat

    monkeypatch.setenv("EDGE_ALERT_CONSOLE", "true")
    get_settings.cache_clear()
    try:
        settings = load_settings(lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.db"))
        resources = build_resources(settings)
        defs = dg.Definitions(sensors=[automation.monitor_alerts_sensor], resources=resources)
        sensor = defs.resolve_sensor_def("monitor_alerts_sensor")

        def tick(instance: dg.DagsterInstance, daemon: str) -> tuple[str, dict]:
            state = json.loads(_watching_for(timedelta(hours=2), last_tick_ago=timedelta(minutes=3)))
            cursor = json.dumps({**state, "daemon": daemon})
            with dg.build_sensor_context(
                instance=instance, definitions=defs, resources=resources, cursor=cursor
            ) as ctx:
                result = sensor.evaluate_tick(ctx)
            return result.skip_message or "", json.loads(result.cursor or "{}")

        with dg.instance_for_test() as instance:
            instance.add_daemon_heartbeat(DaemonHeartbeat(time.time(), "SENSOR", "daemon-2", None))
            message, cursor = tick(instance, "daemon-1")  # the daemon that ticked before was another
            assert message.startswith("no alerts; starting up, quiet for now: pm_markets_fresh")
            assert cursor["daemon"] == "daemon-2"
            assert datetime.now(UTC) - datetime.fromisoformat(cursor["since"]) < timedelta(minutes=1)
            message, _ = tick(instance, "daemon-2")  # the same daemon 3 minutes later: the tables are late
            assert message.startswith("4 monitor(s) failing: sent=4")
    finally:
        get_settings.cache_clear()


LIVE_KEY = "live-key-0123456789abcdef"
OUT_OF_CREDITS = "oddsapi /v4/sports: HTTP 401 OUT_OF_USAGE_CREDITS: Usage quota has been reached."


@pytest.fixture
def out_of_credits(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, object]]:
    """Live-mode resources against a local Odds API whose key has no credits left."""
    monkeypatch.setenv("EDGE_ODDS_API_KEY", LIVE_KEY)
    body = {"error_code": "OUT_OF_USAGE_CREDITS", "message": "Usage quota has been reached."}
    server.script("/v4/sports", Reply(401, body))  # the credit probe before the first paid call
    get_settings.cache_clear()
    try:
        settings = load_settings(
            lake_root=str(tmp_path / "lake"),
            duckdb_path=str(tmp_path / "w.db"),
            source_mode="live",
            odds_api_key=LIVE_KEY,
            odds_base_url=server.url,
            sports=("basketball_nba",),
            alert_console=True,
        )
        yield build_resources(settings)
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("odds_with_markets_poll", [True, False])
def test_a_stale_tables_alert_says_why_its_last_run_failed(
    out_of_credits: dict[str, object],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    odds_with_markets_poll: bool,
) -> None:
    """Out of credits: the live odds go stale and the alert says so, not only "behind"; polled in
    the markets poll's runs (the default) or in runs of their own."""
    monkeypatch.setenv("EDGE_ODDS_WITH_MARKETS_POLL", str(odds_with_markets_poll).lower())
    get_settings.cache_clear()
    job, other = ("pm_markets_job", "oddsapi_live_job")[:: 1 if odds_with_markets_poll else -1]
    defs = dg.Definitions(
        assets=[*ALL_SEEDS, ingest.pm_markets, ingest.pm_order_book_snapshots, ingest.oddsapi_live, *CHAIN],
        jobs=[automation.markets_job, automation.live_odds_job],
        sensors=[automation.monitor_alerts_sensor],
        resources=out_of_credits,
    )
    with dg.instance_for_test() as instance:
        run = defs.resolve_job_def(job).execute_in_process(
            instance=instance,
            partition_key=hour_key(datetime.now(UTC)),
            asset_selection=[ingest.oddsapi_live.key],
            raise_on_error=False,
        )
        assert not run.success
        why = automation.last_run_failure(instance, job, "oddsapi_live")
        assert why == f"oddsapi_live: stopped cleanly, {OUT_OF_CREDITS}"
        assert automation.last_run_failure(instance, job, "pm_markets") is None  # not polled there
        assert automation.last_run_failure(instance, other) is None  # never ran
        sensor = defs.resolve_sensor_def("monitor_alerts_sensor")
        with dg.build_sensor_context(
            instance=instance,
            definitions=defs,
            resources=out_of_credits,
            cursor=_watching_for(timedelta(hours=2)),
        ) as ctx:
            sensor.evaluate_tick(ctx)
    printed = capsys.readouterr().out
    stale = "oddsapi_live: no rows in the latest partitions"
    assert f"oddsapi_live_fresh: {stale}; the latest {job} run polling it failed: {why}" in printed
    assert printed.count("run polling it failed") == 1 and LIVE_KEY not in printed


def run_failure_alerts_on(instance: dg.DagsterInstance, run_id: str, resources: dict[str, object]) -> None:
    """`run_failure_alerts` as the daemon calls it for a failed run."""
    run = instance.get_run_by_id(run_id)
    (failed,) = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    with dg.build_run_status_sensor_context(
        "run_failure_alerts", failed.dagster_event, instance, run, resources=resources
    ).for_run_failure() as ctx:
        automation.run_failure_alerts(ctx)


def test_a_failed_run_alerts_once_per_job_and_hour(
    out_of_credits: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    defs = dg.Definitions(
        assets=[ingest.oddsapi_historical_hourly],
        jobs=[automation.historical_job],
        sensors=[automation.run_failure_alerts],
        resources=out_of_credits,
    )
    partition = hour_key(datetime.now(UTC) - timedelta(hours=1))
    hours, runs = set(), []
    with dg.instance_for_test() as instance:
        for _ in range(2):  # the hourly job failing again within the hour: one alert
            result = defs.resolve_job_def("oddsapi_historical_job").execute_in_process(
                instance=instance, partition_key=partition, raise_on_error=False
            )
            assert not result.success
            run_failure_alerts_on(instance, result.run_id, out_of_credits)
            ended = instance.get_run_record_by_id(result.run_id).end_time  # type: ignore[union-attr]
            hours.add(hour_key(datetime.fromtimestamp(ended, UTC)))  # type: ignore[arg-type]
            runs.append(result.run_id)
    lines = [line for line in capsys.readouterr().out.splitlines() if "[monitor]" in line]
    assert len(lines) == len(hours)  # 1 unless the two runs straddle an hour boundary
    assert lines[0].endswith(
        f"[monitor] edge-assets run failed: oddsapi_historical_job: run {runs[0]} "
        f"(partition {partition}): oddsapi_historical_hourly: stopped cleanly, {OUT_OF_CREDITS}"
    )
    assert LIVE_KEY not in lines[0]


def test_market_row_count_reads_the_last_hour_too(tmp_path: Path) -> None:
    """A pm_markets run that ends just after the hour turns: the check still finds its poll (it read
    only the new, empty hour and failed, which made the suite flaky at hour boundaries)."""
    from edge_assets.lake import Lake
    from edge_assets.lake.io_manager import LakeResource

    polled = datetime.now(UTC) - timedelta(hours=1)
    lake = Lake(str(tmp_path / "lake"))
    lake.write(
        "pm_markets", hour_key(polled), pl.DataFrame({"observed_at": [polled] * 3, "market_id": list("abc")})
    )
    result = checks.pm_markets_rows(dg.build_asset_check_context(), LakeResource(root=str(tmp_path / "lake")))
    assert result.passed and result.metadata["message"].value == "pm_markets: 3 rows (expected 1..20000)"


def test_a_backfilled_hour_is_checked_itself_and_not_for_freshness(tmp_path: Path) -> None:
    """A past hour backfilled in the UI: its checks read the latest two hours instead, so on a lake
    without live polls a perfect partition failed schema (ERROR), row_count and fresh; with live polls
    a broken backfilled partition could never fail them."""
    resources = build_resources(
        load_settings(lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.db"))
    )
    past = hour_key(datetime.now(UTC) - timedelta(days=2))
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [ingest.pm_markets, *checks.CHECKS],
            selection=[ingest.pm_markets],
            resources=resources,
            instance=instance,
            partition_key=past,
        )
    found = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(found) == {"fresh", "schema", "row_count"}
    assert found["schema"].passed and found["row_count"].passed
    assert found["row_count"].description.startswith("pm_markets: ") and " rows (expected 1..20000)" in (
        found["row_count"].description
    )
    assert found["fresh"].passed and found["fresh"].description == (
        f"not judged: this run wrote past hours ({past}..{past}); the latest hours' runs judge freshness"
    )
