"""Live polls against a remote-like API: requests one at a time vs overlapped (`EDGE_HTTP_MAX_IN_FLIGHT`).

The ingestion assets run in live mode (`EDGE_SOURCE_MODE=live`) against the simulator served on a
loopback port that waits `--latency-ms` before each answer, as a remote API's round trip would:
* the minute's poll: `pm_markets` + `oddsapi_live` (5 sports) + `pm_order_book_snapshots`, the
  current hour, as the fused poll and the sensor's book refresh run them;
* `oddsapi_historical_hourly` over the last `--hours` hours as one run (5 sports an hour).
Each case is materialized `--repeats` times per setting into a new lake; the median wall time and
the ratio against one request at a time (the baseline, same run) are printed.

Run: `.venv/bin/python bench/overlapped_polls.py [--latency-ms 150] [--hours 24] [--in-flight 1,4,8]
[--odds-requests-per-s 10]`
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge_assets.assets import ingest  # noqa: E402
from edge_assets.partitions import hour_key  # noqa: E402
from edge_assets.resources import build_resources  # noqa: E402
from edge_assets.settings import ODDS_API_KEY_ENV, load_settings  # noqa: E402
from edge_assets.simulator import FaultConfig, SimulatorApp, World, serve  # noqa: E402

KEY = "bench-overlap-key"
RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def _run(
    assets: list, resources: dict, *, partition_key: str | None = None, tags: dict | None = None
) -> float:
    with dg.instance_for_test() as instance:
        t0 = time.perf_counter()
        result = dg.materialize(
            assets, resources=resources, instance=instance, partition_key=partition_key, tags=tags
        )
        elapsed = time.perf_counter() - t0
    assert result.success
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency-ms", type=float, default=150.0, help="added before each answer")
    ap.add_argument("--hours", type=int, default=24, help="historical hours in one run")
    ap.add_argument("--in-flight", default="1,4,8", help="settings to compare; the first is the baseline")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--odds-requests-per-s", type=float, default=10.0, help="EDGE_ODDS_REQUESTS_PER_S (default 10)"
    )
    args = ap.parse_args()
    settings_to_try = [int(n) for n in args.in_flight.split(",")]

    app = SimulatorApp(
        World(7),
        api_key=KEY,
        quota=100_000_000,
        rate_limit_per_s=None,
        faults=FaultConfig(latency_ms=args.latency_ms),
    )
    server = serve(app)
    os.environ[ODDS_API_KEY_ENV] = KEY
    now = datetime.now(UTC)
    last = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    history = {RANGE[0]: hour_key(last - timedelta(hours=args.hours - 1)), RANGE[1]: hour_key(last)}
    print(
        f"live mode against a loopback simulator, {args.latency_ms:g} ms per answer, "
        f"Odds API client at {args.odds_requests_per_s:g} requests/s; "
        f"median of {args.repeats}; the hour polled: {hour_key(now)}"
    )
    cases = {
        "poll (markets + odds + books)": lambda res: _run(
            [ingest.raw_responses, ingest.pm_markets, ingest.oddsapi_live, ingest.pm_order_book_snapshots],
            res,
            partition_key=hour_key(datetime.now(UTC)),
        ),
        f"historical odds, {args.hours} hours": lambda res: _run(
            [ingest.oddsapi_historical_hourly], res, tags=history
        ),
    }
    medians: dict[tuple[str, int], float] = {}
    try:
        for in_flight in settings_to_try:
            for name, case in cases.items():
                times = []
                for _ in range(args.repeats):
                    with tempfile.TemporaryDirectory() as tmp:
                        s = load_settings(
                            lake_root=f"{tmp}/lake",
                            duckdb_path=f"{tmp}/w.duckdb",
                            source_mode="live",
                            gamma_base_url=f"{server.url}/gamma",
                            clob_base_url=f"{server.url}/clob",
                            odds_base_url=server.url,
                            http_max_in_flight=in_flight,
                            odds_requests_per_s=args.odds_requests_per_s,
                        )
                        times.append(case(build_resources(s)))
                medians[(name, in_flight)] = statistics.median(times)
    finally:
        server.stop()

    base = settings_to_try[0]
    print(f"{'case':<34}" + "".join(f"{f'in flight {n}':>20}" for n in settings_to_try))
    for name in cases:
        cells = []
        for n in settings_to_try:
            t = medians[(name, n)]
            ratio = medians[(name, base)] / t
            cells.append(f"{t:8.2f} s" + (f" ({ratio:4.2f}x)" if n != base else " " * 8))
        print(f"{name:<34}" + "".join(f"{c:>20}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
