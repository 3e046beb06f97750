"""A range launched from the UI and run by the real daemon under `edge ui`: runs of 48 hours, one at
a time, in time order. As one run, a week of the graph peaked at 3.6 GB in one step process."""

import os
import sys
import time
from collections.abc import Iterator
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
      runs(limit: 10) { status startTime endTime tags { key value } }
    }
  }
}
"""
HOURS = [f"2026-11-{10 + h // 24:02d}-{h % 24:02d}:00" for h in range(96)]


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
        group_stop=False,  # edge ui passes SIGTERM on to dagster dev and its daemon
    ) as url:
        yield url


@pytest.mark.integration
def test_a_ui_backfill_runs_48_hour_runs_one_at_a_time_in_time_order(edge_ui: str, tmp_path: Path) -> None:
    params = {"partitionNames": HOURS, "assetSelection": [{"path": ["oddsapi_historical_hourly"]}]}
    launched = _graphql(edge_ui, LAUNCH_BACKFILL, params=params)["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    deadline = time.monotonic() + 360
    while True:
        backfill = _graphql(edge_ui, STATUS, id=launched["backfillId"])["partitionBackfillOrError"]
        if backfill["status"] not in ("REQUESTED", "CANCELING") or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert backfill["status"] == "COMPLETED_SUCCESS", (tmp_path / "ui.log").read_text()[-3000:]
    runs = sorted(backfill["runs"], key=lambda r: r["startTime"])
    ranges = [
        tuple(t["value"] for t in sorted(r["tags"], key=lambda t: t["key"]) if "partition_range" in t["key"])
        for r in runs
    ]
    # (end, start) as the tags sort: two runs of 48 hours, in time order
    assert ranges == [(HOURS[47], HOURS[0]), (HOURS[95], HOURS[48])]
    assert [r["status"] for r in runs] == ["SUCCESS", "SUCCESS"]
    assert runs[1]["startTime"] >= runs[0]["endTime"]  # queued until the first one was done
    lake = Lake(str(tmp_path / "lake"))
    assert lake.read_many("oddsapi_historical_hourly", HOURS)["observed_at"].dt.hour().n_unique() == 24
    for hour in (HOURS[0], HOURS[47], HOURS[48], HOURS[95]):
        assert lake.read("oddsapi_historical_hourly", hour).height > 0
