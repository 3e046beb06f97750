"""A real dagster-webserver on loopback: every asset appears with its upstreams and partitions."""

import os
import sys
from collections.abc import Iterator

import httpx
import pytest

from edge_assets_tests.conftest import LAUNCH_BACKFILL, REPO_ROOT, free_port, serving

QUERY = """
{ assetNodes { assetKey { path } dependencyKeys { path } isPartitioned isMaterializable
               partitionDefinition { type description } } }
"""

EXPECTED_UPSTREAMS = {
    "pm_markets": {"raw_responses"},
    "pm_order_book_snapshots": {"raw_responses", "pm_markets"},
    "oddsapi_live": {"raw_responses"},
    "oddsapi_historical_hourly": {"raw_responses"},
    "oddsapi_scores": {"raw_responses"},
    "market_mappings": {"pm_markets", "oddsapi_live", "team_aliases"},
    "pm_sportsbook_lines": {"pm_markets", "pm_order_book_snapshots", "market_mappings", "oddsapi_live"},
    "features_latest": {"pm_sportsbook_lines", "oddsapi_live", "pm_order_book_snapshots", "market_mappings"},
    "signals": {"features_latest"},
    "team_aliases": set(),
    "fee_tables": set(),
    "cost_models": set(),
}
HOURLY = {
    "pm_markets",
    "pm_order_book_snapshots",
    "oddsapi_live",
    "oddsapi_historical_hourly",
    "market_mappings",
    "pm_sportsbook_lines",
    "features_latest",
    "signals",
}


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("ws_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = free_port()
    cmd = [sys.executable, "-m", "dagster_webserver", "-w", str(REPO_ROOT / "workspace.yaml")]
    with serving(
        [*cmd, "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        log=home / "webserver.log",
        port=port,
        timeout_s=120,
        group_stop=True,
    ) as url:
        yield url


@pytest.mark.integration
def test_every_asset_with_upstreams_and_partitions(webserver: str) -> None:
    response = httpx.post(f"{webserver}/graphql", json={"query": QUERY}, timeout=60)
    response.raise_for_status()
    nodes = {"/".join(n["assetKey"]["path"]): n for n in response.json()["data"]["assetNodes"]}
    for name, upstreams in EXPECTED_UPSTREAMS.items():
        assert name in nodes, f"{name} missing from the UI"
        deps = {"/".join(d["path"]) for d in nodes[name]["dependencyKeys"]}
        assert upstreams <= deps, f"{name}: upstreams {deps}, expected at least {upstreams}"
        partitions = nodes[name]["partitionDefinition"]
        if name in HOURLY:
            assert partitions["type"] == "TIME_WINDOW" and "Hourly" in partitions["description"], name
        elif name == "oddsapi_scores":
            assert partitions["type"] == "TIME_WINDOW" and "Daily" in partitions["description"]
        else:
            assert partitions is None, name
    assert nodes["raw_responses"]["isMaterializable"] is False


BACKFILL_TARGET = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill {
      assetBackfillData {
        assetBackfillStatuses {
          ... on AssetPartitionsStatusCounts { assetKey { path } numPartitionsTargeted }
        }
      }
    }
  }
}
"""


@pytest.mark.integration
def test_a_ui_backfill_of_hours_targets_exactly_those_hours(webserver: str) -> None:
    """What "Materialize all" over a range of hours launches: every hourly asset gets those hours and
    no later one (lookback reads once made Dagster add the next hour, whose same-hour inputs did not
    exist, so every UI backfill ended failed)."""
    hours = [f"2026-11-20-{h:02d}:00" for h in range(6)]
    hourly = sorted(HOURLY | {"features"})
    params = {"partitionNames": hours, "assetSelection": [{"path": [name]} for name in hourly]}
    launched = httpx.post(
        f"{webserver}/graphql", json={"query": LAUNCH_BACKFILL, "variables": {"params": params}}, timeout=60
    ).json()["data"]["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    target = httpx.post(
        f"{webserver}/graphql",
        json={"query": BACKFILL_TARGET, "variables": {"id": launched["backfillId"]}},
        timeout=60,
    ).json()["data"]["partitionBackfillOrError"]["assetBackfillData"]["assetBackfillStatuses"]
    targeted = {"/".join(s["assetKey"]["path"]): s["numPartitionsTargeted"] for s in target}
    assert targeted == dict.fromkeys(hourly, 6)
