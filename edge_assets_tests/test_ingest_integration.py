"""Ingestion assets against the simulator: in-process and on a real loopback port."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow.parquet as pq
import pytest
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.storage.tags import BACKFILL_ID_TAG

from edge_assets.assets import ingest
from edge_assets.lake import Lake
from edge_assets.lake.raw import decompress
from edge_assets.partitions import hour_key
from edge_assets.resources import build_resources
from edge_assets.settings import load_settings
from edge_assets.simulator import FaultConfig, SimulatorApp, World, serve

RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
LEAK_KEY = "sk-LEAKCANARY-8f3a9d"


def _resources(tmp_path: Path, **overrides: object) -> dict[str, object]:
    s = load_settings(lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.duckdb"), **overrides)
    return build_resources(s)


def test_historical_backfill_168_hours_is_one_run(tmp_path: Path) -> None:
    end = datetime(2026, 11, 20, tzinfo=UTC)
    first, last = hour_key(end - timedelta(hours=168)), hour_key(end - timedelta(hours=1))
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [ingest.oddsapi_historical_hourly],
            resources=_resources(tmp_path),
            instance=instance,
            tags={RANGE[0]: first, RANGE[1]: last},
        )
        assert result.success
        assert len(instance.get_runs()) == 1
        mats = result.asset_materializations_for_node("oddsapi_historical_hourly")
        assert len(mats) == 168
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    env.update(EDGE_LAKE_ROOT=str(tmp_path / "lake"), EDGE_DUCKDB_PATH=str(tmp_path / "w.duckdb"))
    sql = (
        "select count(distinct date_trunc('hour', observed_at)) as hours, "
        "count(distinct sport_key) as sports "
        "from oddsapi_historical_hourly"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "edge_assets.cli", "query", sql, "--csv"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["hours,sports", "168,5"]


def test_rerunning_a_partition_gives_the_same_rows(tmp_path: Path) -> None:
    key = hour_key(datetime.now(UTC) - timedelta(hours=5))
    lake = Lake(str(tmp_path / "lake"))
    raw_dir = tmp_path / "lake" / "raw_responses"
    with dg.instance_for_test() as instance:
        frames, raw = [], []
        for _ in range(2):
            r = dg.materialize(
                [ingest.pm_markets, ingest.oddsapi_live],
                resources=_resources(tmp_path),
                instance=instance,
                partition_key=key,
            )
            assert r.success
            frames.append((lake.read("pm_markets", key), lake.read("oddsapi_live", key)))
            raw.append({p.relative_to(raw_dir): p.read_bytes() for p in raw_dir.rglob("*.parquet")})
    (m1, o1), (m2, o2) = frames
    # the raw responses too: the same files, byte for byte (a simulated instant has no round trip
    # to time, so elapsed_ms is 0; a measured one made every re-run rewrite them with other bytes)
    assert len(raw[0]) >= 3 and raw[1] == raw[0]
    assert (
        Lake(str(tmp_path / "lake")).read_file(str(next(raw_dir.rglob("*.parquet"))))["elapsed_ms"][0] == 0.0
    )
    assert m1.height > 100 and o1.height > 1000
    assert m1.equals(m2) and o1.equals(o2)
    assert m1["observed_at"].n_unique() == len(load_settings().backfill_poll_minutes)  # one, at :50
    assert (
        o1.select(["observed_at", "event_id", "bookmaker", "market_key", "outcome_name", "point"])
        .is_duplicated()
        .sum()
        == 0
    )


def test_live_mode_cannot_poll_the_past(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_ODDS_API_KEY", "k")
    res = _resources(tmp_path, source_mode="live", odds_api_key="k")
    with dg.instance_for_test() as instance:
        r = dg.materialize(
            [ingest.oddsapi_live],
            resources=res,
            instance=instance,
            raise_on_error=False,
            partition_key="2026-01-01-00:00",
        )
    assert not r.success
    failure = next(e for e in r.all_events if e.is_step_failure)
    assert "oddsapi_live is polled live" in failure.event_specific_data.error.message  # type: ignore[union-attr]


def test_live_mode_fetches_no_books_for_a_past_hour(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A UI re-run of a past hour fetched today's books and stamped them with that hour's markets poll:
    past signals priced on books from the future. Refused before any request (the CLOB is not even up)."""
    from edge_assets import schemas

    key_ = "live-key-0123456789abcdefghij"
    monkeypatch.setenv("EDGE_ODDS_API_KEY", key_)
    past = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    row = {c: None for c in schemas.PM_MARKETS} | {
        "observed_at": past + timedelta(minutes=50),
        "market_id": "m1",
        "sports_market_type": "moneyline",
        "token_ids": ["t1", "t2"],
        "closed": False,
        "accepting_orders": True,
    }
    Lake(str(tmp_path / "lake")).write(
        "pm_markets", hour_key(past), pl.DataFrame([row], schema=schemas.PM_MARKETS)
    )
    res = _resources(tmp_path, source_mode="live", odds_api_key=key_, clob_base_url="http://127.0.0.1:9")
    with dg.instance_for_test() as instance:
        r = dg.materialize(
            [ingest.pm_order_book_snapshots, dg.AssetSpec("pm_markets", partitions_def=ingest.HOURLY)],
            selection=[ingest.pm_order_book_snapshots],
            resources=res,
            instance=instance,
            raise_on_error=False,
            partition_key=hour_key(past),
        )
    assert not r.success
    failure = next(e for e in r.all_events if e.is_step_failure)
    message = failure.event_specific_data.error.message  # type: ignore[union-attr]
    assert "pm_order_book_snapshots is polled live: hours " in message
    assert not (tmp_path / "lake" / "pm_order_book_snapshots").exists()


# -- loopback simulator: faults ---------------------------------------------------------------


@pytest.fixture
def loopback() -> Iterator[tuple[SimulatorApp, str]]:
    app = SimulatorApp(World(7), api_key=LEAK_KEY, rate_limit_per_s=None)
    server = serve(app)
    try:
        yield app, server.url
    finally:
        server.stop()


def _loop_resources(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch, **kw: object
) -> dict[str, object]:
    monkeypatch.setenv("EDGE_ODDS_API_KEY", LEAK_KEY)
    return _resources(tmp_path, sim_url=url, sports=("basketball_nba", "icehockey_nhl"), **kw)


def _run(
    assets: list, res: dict, instance: dg.DagsterInstance, partition_key: str | None = None
) -> dg.ExecuteInProcessResult:
    """One partition (default: the current hour), failures returned rather than raised."""
    return dg.materialize(
        assets,
        resources=res,
        instance=instance,
        partition_key=partition_key or hour_key(datetime.now(UTC)),
        raise_on_error=False,
    )


def _failure(result: dg.ExecuteInProcessResult) -> str:
    return next(e for e in result.all_events if e.is_step_failure).event_specific_data.error.message  # type: ignore[union-attr]


def _raw(tmp_path: Path) -> pl.DataFrame:
    return pl.read_parquet(
        str(tmp_path / "lake" / "raw_responses" / "**" / "*.parquet"), hive_partitioning=False
    )


@pytest.mark.integration
def test_5xx_and_429_are_retried(
    tmp_path: Path, loopback: tuple[SimulatorApp, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, url = loopback
    odds_paths = ("/v4/sports/",)  # the polls, not the free /v4/sports credit probe before them
    app.faults = FaultConfig(fail_next=2, fail_status=503, paths=odds_paths)
    res = _loop_resources(tmp_path, url, monkeypatch)
    with dg.instance_for_test() as instance:
        assert _run([ingest.oddsapi_live], res, instance).success
        app.faults = FaultConfig(rate_limit_next=1, retry_after_s=1, paths=odds_paths)
        t0 = datetime.now(UTC)
        assert _run([ingest.oddsapi_live], res, instance).success
        assert datetime.now(UTC) - t0 >= timedelta(seconds=1)
    raw = _raw(tmp_path).filter(pl.col("source") == "oddsapi")
    probes = raw.filter(pl.col("url_path") == "/v4/sports")  # each session reads its credits first
    assert probes["status"].to_list() == [200, 200]
    statuses = raw.filter(pl.col("url_path") != "/v4/sports")["status"].to_list()
    assert statuses.count(503) == 2 and statuses.count(429) == 1 and statuses.count(200) == 4


@pytest.mark.integration
def test_malformed_body_is_kept_raw_and_fails_clearly(
    tmp_path: Path, loopback: tuple[SimulatorApp, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, url = loopback
    res = _loop_resources(tmp_path, url, monkeypatch)
    lake = Lake(str(tmp_path / "lake"))
    key = hour_key(datetime.now(UTC))
    with dg.instance_for_test() as instance:
        assert _run([ingest.oddsapi_live], res, instance).success
        before = lake.read("oddsapi_live", key)
        app.faults = FaultConfig(malformed_next=1, paths=("/v4/sports/basketball_nba/odds",))
        result = _run([ingest.oddsapi_live], res, instance)
    assert not result.success
    assert lake.read("oddsapi_live", key).equals(before)
    raw = _raw(tmp_path).sort("requested_at")
    # every sport's body is stored as received; parsing (after the poll) failed on the NBA one, whose
    # row now says why (and the failure where it is)
    last = raw.filter(pl.col("url_path") == "/v4/sports/basketball_nba/odds").row(-1, named=True)
    body = decompress(last["body_zstd"], last["body_bytes"])
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert last["status"] == 200 and last["body_bytes"] == len(body) > 0
    assert last["parse_error"].startswith("body is not a JSON array of events")
    marked = raw.filter(pl.col("parse_error").is_not_null())
    assert marked.height == 1  # not the NHL body of the same poll, the credit probe or the first run
    raw_files = (tmp_path / "lake" / "raw_responses").rglob("*.parquet")
    [path] = [p for p in raw_files if pl.read_parquet(p)["parse_error"][0]]
    message = _failure(result)
    where = path.relative_to(tmp_path / "lake").as_posix()
    assert f"malformed response kept raw in {where} (parse_error set); curated rows unchanged" in message
    assert message.rstrip().endswith(f"malformed response: {last['parse_error']}")


@pytest.mark.integration
def test_schema_drift_caught_inside_the_client_sets_parse_error_too(
    tmp_path: Path, loopback: tuple[SimulatorApp, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """/scores is validated by the client's wire model while the session is open, right after the
    raw hook stored the body."""
    app, url = loopback
    res = _loop_resources(tmp_path, url, monkeypatch)
    app.faults = FaultConfig(drop_field="commence_time", paths=("/v4/sports/icehockey_nhl/scores",))
    with dg.instance_for_test() as instance:
        result = _run([ingest.oddsapi_scores], res, instance, datetime.now(UTC).strftime("%Y-%m-%d"))
    assert not result.success
    raw = _raw(tmp_path)
    scores = raw.filter(pl.col("endpoint") == "/v4/sports/{sport}/scores").sort("url_path")
    assert scores["url_path"].str.split("/").list.get(3).to_list() == ["basketball_nba", "icehockey_nhl"]
    nba, nhl = scores["parse_error"].to_list()
    assert nba is None and nhl is not None and "commence_time" in nhl and "Field required" in nhl
    expected = "(parse_error set); curated rows unchanged. oddsapi /v4/sports/{sport}/scores: malformed"
    assert expected in _failure(result)
    assert not (tmp_path / "lake" / "oddsapi_scores").exists()


@pytest.mark.integration
def test_quota_exhaustion_stops_cleanly(
    tmp_path: Path, loopback: tuple[SimulatorApp, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, url = loopback
    res = _loop_resources(tmp_path, url, monkeypatch, quota_reserve=5)
    app.odds.quota = 10  # one /odds call (2 regions x 3 markets) costs 6: the second would cross the reserve
    with dg.instance_for_test() as instance:
        result = _run([ingest.oddsapi_live], res, instance)
    assert not result.success
    message = _failure(result)
    assert "oddsapi_live: stopped cleanly" in message and "reserve 5" in message


@pytest.mark.integration
def test_a_historical_run_the_credits_cannot_finish_stops_before_spending_any(
    tmp_path: Path, loopback: tuple[SimulatorApp, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopping at the reserve halfway through, a run kept what it had paid for only raw."""
    app, url = loopback
    res = _loop_resources(tmp_path, url, monkeypatch)  # reserve 50
    app.odds.quota = 150  # one past hour: 2 sports x (3 markets x 2 regions x 10) = 120 credits
    past_hour = hour_key(datetime.now(UTC) - timedelta(hours=2))
    with dg.instance_for_test() as instance:
        result = _run([ingest.oddsapi_historical_hourly], res, instance, past_hour)
        assert not result.success
        message = _failure(result)
        assert "oddsapi_historical_hourly: stopped cleanly" in message
        expected = "Odds API quota: 150 credits left, reserve 50, this run (2 calls x 60) costs 120; stopping"
        assert expected in message
        assert app.odds.used.get(LEAK_KEY, 0) == 0  # only the free credit probe went out
        app.odds.quota = 170  # 170 - 120 = 50: the reserve is kept
        assert _run([ingest.oddsapi_historical_hourly], res, instance, past_hour).success
    assert app.odds.used[LEAK_KEY] == 120


def test_hours_left_to_fetch_are_this_runs_the_later_ones_begun_and_earlier_ones_never_fetched() -> None:
    keys = [f"2026-11-20-{h:02d}:00" for h in (12, 9, 10, 11, 13, 8)]
    now = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
    run_start = datetime(2026, 11, 20, 10, tzinfo=UTC)
    left = ingest.hours_left_to_fetch(keys, run_start, now, fetched={"2026-11-20-08:00", "2026-11-20-10:00"})
    # 09:00 was never fetched (its run refused), 13:00 has not begun
    assert left == ["2026-11-20-09:00", "2026-11-20-10:00", "2026-11-20-11:00", "2026-11-20-12:00"]
    assert ingest.hours_left_to_fetch([], run_start, now, fetched=set()) == []


@pytest.mark.integration
def test_a_ui_backfill_checks_every_hour_it_has_left_before_its_first_run_spends(
    tmp_path: Path, loopback: tuple[SimulatorApp, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon cuts a UI range into runs; each checking only its own hours, a range the key could
    not pay for stopped at the reserve halfway, its credits spent. The first run checks them all."""
    app, url = loopback
    res = _loop_resources(tmp_path, url, monkeypatch)  # reserve 50; an hour: 2 sports x 60 credits
    first_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
    hours = [hour_key(first_hour + timedelta(hours=h)) for h in range(4)]
    defs = dg.Definitions(assets=[ingest.oddsapi_historical_hourly], resources=res)
    with dg.instance_for_test() as instance:
        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id="ui-range",
            asset_graph=defs.resolve_asset_graph(),
            partition_names=hours,
            asset_selection=[ingest.oddsapi_historical_hourly.key],
            backfill_timestamp=datetime.now(UTC).timestamp(),
            tags={},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=None,
            description=None,
            run_config=None,
        )
        instance.add_backfill(backfill)

        def run(first: str, last: str) -> dg.ExecuteInProcessResult:
            tags = {BACKFILL_ID_TAG: "ui-range", RANGE[0]: first, RANGE[1]: last}
            return dg.materialize(
                [ingest.oddsapi_historical_hourly],
                resources=res,
                instance=instance,
                tags=tags,
                raise_on_error=False,
            )

        app.odds.quota = 500  # its first 2 hours cost 240 and fit, all 4 (480) would cross the reserve
        refused = run(hours[0], hours[1])
        assert not refused.success
        assert app.odds.used.get(LEAK_KEY, 0) == 0  # only the free credit probe went out
        assert _failure(refused) == (
            "dagster._core.definitions.events.Failure: oddsapi_historical_hourly: stopped cleanly, "
            "oddsapi /v4/historical/sports/{sport}/odds: "
            "not sent QUOTA_RESERVE: Odds API quota: 500 credits left, reserve 50, the 4 hours backfill "
            f"ui-range has left, {hours[0]} to {hours[3]} UTC (8 calls x 60) costs 480; stopping. Backfill "
            "ui-range canceled, nothing spent: launch a shorter range or spend less an hour (EDGE_SPORTS, "
            "EDGE_ODDS_MARKETS, EDGE_ODDS_REGIONS)\n"
        )
        # its later runs, each fitting on its own, are not launched to spend on part of the range
        canceled = instance.get_backfill("ui-range")
        assert canceled is not None and canceled.status == BulkActionStatus.CANCELING
        # one the queue had already let go counts the refused hours, so it spends nothing either
        late = run(hours[2], hours[3])
        assert not late.success and "the 4 hours backfill ui-range has left" in _failure(late)
        assert app.odds.used.get(LEAK_KEY, 0) == 0
        app.odds.quota = 530  # 530 - 480 = 50: every hour fits above the reserve
        assert run(hours[0], hours[1]).success
        assert run(hours[2], hours[3]).success  # the last run: nothing after it, its own 2 hours
        assert app.odds.used[LEAK_KEY] == 480
        mats = instance.fetch_materializations(ingest.oddsapi_historical_hourly.key, limit=10).records
        assert sorted(r.partition_key for r in mats) == hours


@pytest.mark.integration
def test_api_key_never_reaches_logs_metadata_or_lake(
    tmp_path: Path, loopback: tuple[SimulatorApp, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, url = loopback
    res = _loop_resources(tmp_path, url, monkeypatch)
    with dg.instance_for_test() as instance:
        for assets in ([ingest.pm_markets, ingest.oddsapi_live, ingest.pm_order_book_snapshots],):
            assert _run(assets, res, instance).success
        app.faults = FaultConfig(fail_next=1, paths=("/v4",))
        assert _run([ingest.oddsapi_live], res, instance).success
        logs = [str(e) for run in instance.get_runs() for e in instance.all_logs(run.run_id)]
    haystack = "\n".join(logs)
    for path in (tmp_path / "lake").rglob("*.parquet"):
        table = pq.read_table(path)
        haystack += json.dumps(table.to_pylist(), default=str)
        if "body_zstd" in table.column_names:
            for row in table.to_pylist():
                haystack += decompress(row["body_zstd"], row["body_bytes"]).decode("utf-8", "replace")
    assert len(haystack) > 100_000
    assert LEAK_KEY not in haystack
    assert "apiKey" not in haystack or "apiKey=***" in haystack
