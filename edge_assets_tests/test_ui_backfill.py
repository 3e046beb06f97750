"""A range launched from the UI and run by the real daemon under `edge ui`: runs of 48 hours and of 30
days, one at a time, in time order, the scores before the labels that look days ahead for them. As
one run, a week of the graph peaked at 3.6 GB in one step process, and 90 days of labels at 4.7 GB."""

import itertools
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge_assets.lake import Lake
from edge_assets_tests.conftest import LAUNCH_BACKFILL, free_port, serving

STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill {
      status
      runs(limit: 20) { status startTime endTime tags { key value } }
    }
  }
}
"""
HOURS = [f"2026-11-{10 + h // 24:02d}-{h % 24:02d}:00" for h in range(96)]
DAYS = [(date(2026, 10, 10) + timedelta(days=d)).isoformat() for d in range(31)]
DAILY = [["oddsapi_scores"], ["ml", "training_sets"], ["paper_trades"], ["paper_fills"]]


def _graphql(url: str, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables}, timeout=60)
    response.raise_for_status()
    return response.json()["data"]


@pytest.fixture
def edge_ui(tmp_path: Path) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_") and k != "DAGSTER_HOME"}
    env.update(
        EDGE_LAKE_ROOT=str(tmp_path / "lake"),
        EDGE_DUCKDB_PATH=str(tmp_path / "w.duckdb"),
        EDGE_DAGSTER_HOME=str(tmp_path / "dh"),
    )
    port = free_port()
    with serving(
        [sys.executable, "-m", "edge_assets.cli", "ui", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        log=tmp_path / "ui.log",
        port=port,
        timeout_s=180,
        group_stop=False,  # edge ui passes SIGTERM on to dg dev and its daemon
    ) as url:
        yield url


@pytest.mark.integration
def test_a_ui_backfill_runs_hours_and_days_in_ranges_one_at_a_time_in_time_order(
    edge_ui: str, tmp_path: Path
) -> None:
    hourly = {"assetKey": {"path": ["oddsapi_historical_hourly"]}, "partitions": {"range": _range(HOURS)}}
    daily = [{"assetKey": {"path": key}, "partitions": {"range": _range(DAYS)}} for key in DAILY]
    launched = _graphql(edge_ui, LAUNCH_BACKFILL, params={"partitionsByAssets": [hourly, *daily]})
    launched = launched["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    deadline = time.monotonic() + 420
    while True:
        backfill = _graphql(edge_ui, STATUS, id=launched["backfillId"])["partitionBackfillOrError"]
        if backfill["status"] not in ("REQUESTED", "CANCELING") or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert backfill["status"] == "COMPLETED_SUCCESS", (tmp_path / "ui.log").read_text()[-3000:]
    runs = sorted(backfill["runs"], key=lambda r: r["startTime"])
    assert [r["status"] for r in runs] == ["SUCCESS"] * 5
    for before, after in itertools.pairwise(runs):
        assert after["startTime"] >= before["endTime"]  # queued until the one before was done
    ranges = [_run_range(r) for r in runs]
    hour_runs = [r for r in ranges if r[0] in HOURS]
    assert hour_runs == [(HOURS[0], HOURS[47]), (HOURS[48], HOURS[95])]
    # the scores of all 31 days as one run, then the labels and paper trades 30 days a run
    day_runs = [r for r in ranges if r[0] in DAYS]
    assert day_runs == [(DAYS[0], DAYS[30]), (DAYS[0], DAYS[29]), (DAYS[30], DAYS[30])]
    lake = Lake(str(tmp_path / "lake"))
    assert lake.read_many("oddsapi_historical_hourly", HOURS)["observed_at"].dt.hour().n_unique() == 24
    for hour in (HOURS[0], HOURS[47], HOURS[48], HOURS[95]):
        assert lake.read("oddsapi_historical_hourly", hour).height > 0
    # the daemon also runs the live schedules: a scores poll at :15 (or the 03:30 nightly) during the
    # test writes today's (yesterday's) partition, which is no part of the backfill
    live_days = {(datetime.now(UTC).date() - timedelta(days=d)).isoformat() for d in (0, 1)}
    for table in ("oddsapi_scores", "ml/training_sets"):
        assert sorted(set(lake.day_keys(table)) - live_days) == DAYS, table


def _range(keys: list[str]) -> dict[str, str]:
    return {"start": keys[0], "end": keys[-1]}


def _run_range(run: dict[str, Any]) -> tuple[str, str]:
    tags = {t["key"]: t["value"] for t in run["tags"]}
    return tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]
