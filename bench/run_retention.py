"""Nightly run retention: time per deleted run on the instance `edge` writes vs Dagster's stock one.

Makes N one-hour runs of a trivial hourly asset over 4 partitions, ages them 40 days, copies the
instance twice and prunes each copy in a fresh process (as the nightly job does): once with edge's
event log, which removes a run's shard file, once with Dagster's stock SQLite event log, which opens
the shard (checking its schema revision) to empty it and leaves the file:

    .venv/bin/python bench/run_retention.py [--runs 300]
"""

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STOCK_YAML = "telemetry:\n  enabled: false\n"


def make(home: Path, runs: int) -> None:
    import dagster as dg

    from edge_assets.runner import ensure_dagster_home

    ensure_dagster_home(str(home), range_runs=False)
    hours = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00")

    @dg.asset(partitions_def=hours, io_manager_key="mem")
    def poll() -> int:
        return 1

    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    with dg.DagsterInstance.get() as instance:
        for i in range(runs):
            dg.materialize(
                [poll],
                instance=instance,
                partition_key=f"2026-01-01-{i % 4:02d}:00",
                resources={"mem": dg.InMemoryIOManager()},
                run_config=quiet,
            )
    with sqlite3.connect(home / "history" / "runs.db") as db:
        db.execute("update runs set create_timestamp = datetime(create_timestamp, '-40 days')")


def prune(home: Path) -> None:
    import dagster as dg

    from edge_assets.run_retention import prune_runs

    os.environ["DAGSTER_HOME"] = str(home)
    with dg.DagsterInstance.get() as instance:
        t0 = time.perf_counter()
        report = prune_runs(instance, 30)
        seconds = time.perf_counter() - t0
    left = sum(p.stat().st_size for p in (home / "history").rglob("*") if p.is_file())
    print(report.deleted, report.kept, f"{seconds:.3f}", left)


def child(*args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    cmd = [sys.executable, __file__, *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout.split()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, home = args.child[0], Path(args.child[1])
        make(home, args.runs) if mode == "make" else prune(home)
        return 0
    work = Path(tempfile.mkdtemp(prefix="retention_bench_"))
    child("--runs", str(args.runs), "--child", "make", str(work / "made"))
    results: dict[str, tuple[int, int, float, int]] = {}
    for name in ("edge", "stock"):
        home = work / name
        shutil.copytree(work / "made", home)  # edge's dagster.yaml names its event log folder relatively
        if name == "stock":
            (home / "dagster.yaml").write_text(STOCK_YAML)
        printed = child("--child", "prune", str(home))  # deleted, kept, seconds, bytes left
        results[name] = (int(printed[0]), int(printed[1]), float(printed[2]), int(printed[3]))
    print(f"{args.runs} runs aged 40 days, pruned in a fresh process (deleted, kept; time; history/ left):")
    for name, (deleted, kept, seconds, left) in results.items():
        per_run = seconds / max(deleted, 1) * 1000
        print(
            f"  {name:5s} event log: {deleted} deleted, {kept} kept; {seconds:6.2f} s, "
            f"{per_run:5.1f} ms per run; {left / 2**20:6.1f} MB left"
        )
    print(f"  ratio {results['stock'][2] / results['edge'][2]:.1f}x")
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
