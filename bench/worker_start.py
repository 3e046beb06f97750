"""Run worker start: what every run under `edge ui` pays before its first step.

Dagster's code server starts each run in a new *spawned* interpreter (`multiprocessing` "spawn"),
which imports dagster and the code location (`edge_assets.definitions`) before the run starts.
This bench does the same through Dagster's own `core_execute_run` on a new instance, per repeat:
a `pm_markets_job` run of the current hour (the poll, the live odds at their cadence, the
comparator chain) launched in a spawned process. It prints the median, over repeats, of the
worker start (process launched -> RUN_START) and the run time (RUN_START -> RUN_SUCCESS), and
separately the import of `edge_assets.definitions` in a fresh interpreter.

    .venv/bin/python bench/worker_start.py [--repeats 7] [--job pm_markets_job]

Compare two trees in one session by putting one first on the path:
`PYTHONPATH=/path/to/other/checkout .venv/bin/python bench/worker_start.py`.
"""

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

IMPORT_TIMER = """
import time
t0 = time.perf_counter()
import edge_assets.definitions
print(time.perf_counter() - t0)
"""


def _worker(recon_job: Any, run_id: str, instance_ref: Any) -> None:
    """What Dagster's `_run_in_subprocess` does with a started run, minus the IPC; its log is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    from dagster import DagsterInstance
    from dagster._core.execution.api import execute_run_iterator

    with DagsterInstance.from_ref(instance_ref) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        for _ in execute_run_iterator(recon_job, run, instance):
            pass


def _import_seconds(tree: Path) -> float:
    cmd = [sys.executable, "-c", IMPORT_TIMER]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=tree)
    return float(out.stdout.split()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--job", default="pm_markets_job")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="worker_start_"))
    os.environ.update(
        EDGE_LAKE_ROOT=str(work / "lake"),
        EDGE_DUCKDB_PATH=str(work / "w.duckdb"),
        EDGE_MLFLOW_TRACKING_URI=f"sqlite:///{work}/mlflow.db",
    )
    os.environ.pop("DAGSTER_HOME", None)
    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    import edge_assets
    from edge_assets.assets import seeds
    from edge_assets.definitions import defs
    from edge_assets.runner import ensure_dagster_home

    tree = Path(edge_assets.__file__).resolve().parents[1]  # this checkout, or the one on PYTHONPATH
    print(f"edge_assets from {tree}; work dir {work}")
    ensure_dagster_home(str(work / "dh"), range_runs=False)
    job = defs.resolve_job_def(args.job)
    recon = ReconstructableRepository.for_module(
        "edge_assets.definitions", "defs", working_directory=str(tree)
    ).get_reconstructable_job(args.job)
    ctx = multiprocessing.get_context("spawn")  # as Dagster's code server starts runs

    starts, runs = [], []
    with dg.DagsterInstance.get() as instance:
        dg.materialize(  # the comparator chain reads the seed tables
            [seeds.team_aliases, seeds.fee_tables, seeds.cost_models],
            instance=instance,
            resources=defs.resources,
        )
        hour = datetime.now(UTC).strftime("%Y-%m-%d-%H:00")  # the current hour's partition key
        for _ in range(args.repeats + 1):  # the first warms the lake and the OS file cache
            run = instance.create_run_for_job(job, tags={"dagster/partition": hour})
            launched = time.time()
            proc = ctx.Process(target=_worker, args=(recon, run.run_id, instance.get_ref()))
            proc.start()
            proc.join()
            record = instance.get_run_record_by_id(run.run_id)
            assert record is not None and record.start_time and record.end_time
            if record.dagster_run.status != dg.DagsterRunStatus.SUCCESS:
                print(f"run {run.run_id} ended {record.dagster_run.status}")
                return 1
            starts.append(record.start_time - launched)
            runs.append(record.end_time - record.start_time)
    starts, runs = starts[1:], runs[1:]
    imports = sorted(_import_seconds(tree) for _ in range(args.repeats))
    print(
        f"{args.job}, {args.repeats} runs each in a spawned worker: worker start median "
        f"{statistics.median(starts):.2f} s (min {min(starts):.2f}, max {max(starts):.2f}); run median "
        f"{statistics.median(runs):.2f} s (min {min(runs):.2f})"
    )
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"import edge_assets.definitions in a fresh interpreter: median {statistics.median(imports):.2f} s "
        f"(min {imports[0]:.2f}, max {imports[-1]:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
