"""Dagster bookkeeping of a single-run backfill: stock SQLite event log vs the instance `edge` creates.

9 trivial hourly assets x 168 hours as one run (the shape of `edge backfill`'s hourly chunks), each
configuration in a fresh process and DAGSTER_HOME, best of 2 runs. The third is what the instance
records under `edge ui`, which keeps a planned event per partition so failed partitions show:

    .venv/bin/python bench/eventlog.py
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOURS = 168
ASSETS = 9
STOCK_YAML = "telemetry:\n  enabled: false\n"


def child(mode: str) -> None:
    import dagster as dg

    from edge_assets.runner import (
        EVENT_BATCH_ENV,
        PLANNED_SUBSET_ENV,
        RANGE_END,
        RANGE_START,
        ensure_dagster_home,
    )

    home = Path(tempfile.mkdtemp(prefix="eventlog_bench_"))
    os.environ.pop("DAGSTER_HOME", None)
    if mode == "stock":
        (home / "dagster.yaml").write_text(STOCK_YAML)
        os.environ.pop(PLANNED_SUBSET_ENV, None)
        os.environ.pop(EVENT_BATCH_ENV, None)
        os.environ["DAGSTER_HOME"] = str(home)
    else:
        ensure_dagster_home(str(home))
        if mode == "edge-planned-per-partition":
            os.environ.pop(PLANNED_SUBSET_ENV, None)
    hourly = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00")

    def make(i: int) -> dg.AssetsDefinition:
        @dg.asset(
            name=f"a{i}",
            partitions_def=hourly,
            backfill_policy=dg.BackfillPolicy.single_run(),
            io_manager_key="mem",
        )
        def _asset() -> int:
            return 1

        return _asset

    assets = [make(i) for i in range(ASSETS)]
    best = float("inf")
    with dg.DagsterInstance.get() as instance:
        for week in range(2):
            t0 = time.perf_counter()
            result = dg.materialize(
                assets,
                instance=instance,
                resources={"mem": dg.InMemoryIOManager()},
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
                tags={
                    RANGE_START: f"2026-01-{1 + 7 * week:02d}-00:00",
                    RANGE_END: f"2026-01-{7 + 7 * week:02d}-23:00",
                },
            )
            assert result.success
            best = min(best, time.perf_counter() - t0)
    shutil.rmtree(home)
    print(f"{best:.2f}")


def main() -> int:
    if len(sys.argv) > 1:
        child(sys.argv[1])
        return 0
    seconds = {}
    for mode in ("stock", "edge", "edge-planned-per-partition"):
        out = subprocess.run(
            [sys.executable, __file__, mode], capture_output=True, text=True, check=True
        ).stdout.split()
        seconds[mode] = float(out[-1])
    print(f"one run of {ASSETS} hourly assets x {HOURS} hours ({ASSETS * HOURS} partition materializations):")
    print(f"  stock SQLite event log, planned event per partition: {seconds['stock']:6.2f} s")
    print(f"  edge instance (cached engines, WAL, planned subset):  {seconds['edge']:6.2f} s")
    per_partition = seconds["edge-planned-per-partition"]
    print(f"  edge instance, a planned event per partition (edge ui): {per_partition:4.2f} s")
    print(f"  ratio {seconds['stock'] / seconds['edge']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
