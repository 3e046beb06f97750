"""Live operation latency under `edge ui`: from a poll run's creation to its hour's signals.

Starts `edge ui` (embedded simulator, schedules and sensors on) on a new instance for some minutes,
once per setting compared (run-queue dequeue interval x mode), stops it, and reads the instance's run
records and RUN_STARTING events (a run leaves the queue). Modes (MODES): `separate`, each poll and
each comparator run a run of its own; `priced`, a Gamma poll's run prices its hour
(EDGE_PRICE_WITH_MARKETS_POLL); `fused`, it also polls the live odds at their cadence
(EDGE_ODDS_WITH_MARKETS_POLL, the default). Per run: queue wait (created -> launched), worker start
(launched -> started), run time; per poll (Gamma, odds, or both in one run): poll run created -> its
own end when it ran the comparator chain, else -> the first comparator run of its hour created after
the poll ended -> that run's end.

With `--sim-latency-ms N` the polls go over HTTP to `edge simulate --latency-ms N` (a remote API's
round trip per answer), comparing the `--in-flight` settings (EDGE_HTTP_MAX_IN_FLIGHT).

    .venv/bin/python bench/live_latency.py [--minutes 7] [--dequeue-seconds 1] [--modes separate,priced,fused]
    .venv/bin/python bench/live_latency.py --modes fused --sim-latency-ms 150 --in-flight 1,8
"""

import argparse
import itertools
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

POLL_JOBS = ("pm_markets_job", "oddsapi_live_job")
PARTITION_TAG = "dagster/partition"
# mode -> (EDGE_PRICE_WITH_MARKETS_POLL, EDGE_ODDS_WITH_MARKETS_POLL)
MODES = {"separate": (False, False), "priced": (True, False), "fused": (True, True)}
POLL_KINDS = ("Gamma", "odds", "Gamma + odds")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def soak(
    work: Path, minutes: float, dequeue_seconds: int, mode: str, in_flight: int, sim_url: str | None
) -> tuple[Path, float, float]:
    """`edge ui` for ``minutes`` on a new instance whose queue is read every ``dequeue_seconds``;
    its home, the CPU seconds its long-lived processes (daemon, webserver, code server) used, and
    those of the run workers they reaped."""
    import psutil

    from edge_assets.runner import ensure_dagster_home

    home = work / "dh"
    saved = os.environ.pop("DAGSTER_HOME", None)
    ensure_dagster_home(str(home), range_runs=False)
    os.environ.pop("DAGSTER_HOME", None)
    if saved:
        os.environ["DAGSTER_HOME"] = saved
    cfg = home / "dagster.yaml"
    text, n = re.subn(
        r"dequeue_interval_seconds: \d+", f"dequeue_interval_seconds: {dequeue_seconds}", cfg.read_text()
    )
    if n != 1:
        text += f"run_queue:\n  dequeue_interval_seconds: {dequeue_seconds}\n"
    cfg.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_") and k != "DAGSTER_HOME"}
    env.update(
        EDGE_LAKE_ROOT=str(work / "lake"),
        EDGE_DUCKDB_PATH=str(work / "w.duckdb"),
        EDGE_DAGSTER_HOME=str(home),
        EDGE_MLFLOW_TRACKING_URI=f"sqlite:///{work / 'mlflow.db'}",
        EDGE_PRICE_WITH_MARKETS_POLL=str(MODES[mode][0]).lower(),
        EDGE_ODDS_WITH_MARKETS_POLL=str(MODES[mode][1]).lower(),
        EDGE_HTTP_MAX_IN_FLIGHT=str(in_flight),
    )
    if sim_url:
        env["EDGE_SIM_URL"] = sim_url
    cmd = [sys.executable, "-m", "edge_assets.cli", "ui", "--port", str(_free_port())]
    with open(work / "ui.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(minutes * 60)
        cpu = workers = 0.0
        for child in [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]:
            try:  # a run worker may end between listing and reading; only the long-lived ones count
                if "execute_run" not in " ".join(child.cmdline()):
                    times = child.cpu_times()
                    cpu += times.user + times.system
                    workers += times.children_user + times.children_system
            except psutil.NoSuchProcess:
                pass
        proc.send_signal(signal.SIGTERM)  # edge ui passes it on to dg dev and its daemon
        proc.wait(timeout=120)
    return home, cpu, workers


def run_records(home: Path) -> list[dict[str, Any]]:
    """Each run: job, partition, status, created / launched / started / ended (epoch s)."""
    code = f"""
import json, os
os.environ["DAGSTER_HOME"] = {str(home)!r}
import dagster as dg
from dagster._core.events import DagsterEventType
out = []
with dg.DagsterInstance.get() as instance:
    for record in instance.get_run_records():
        run = record.dagster_run
        launched = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_STARTING)
        out.append(dict(
            job=run.job_name, partition=run.tags.get({PARTITION_TAG!r}), status=run.status.value,
            priced=dg.AssetKey("signals") in (run.asset_selection or ()),
            with_odds=dg.AssetKey("oddsapi_live") in (run.asset_selection or ()),
            created=record.create_timestamp.timestamp(),
            launched=launched[0].timestamp if launched else None,
            started=record.start_time, ended=record.end_time,
        ))
print(json.dumps(out))
"""
    import json

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(proc.stdout.splitlines()[-1]))


def _summary(values: list[float]) -> str:
    if not values:
        return "n = 0"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    median = statistics.median(ordered)
    return f"median {median:5.2f} s, p90 {p90:5.2f}, max {ordered[-1]:5.2f} (n = {len(ordered)})"


def report(runs: list[dict[str, Any]]) -> float:
    """Prints the figures; returns the median from poll run created to its hour's signals."""
    done = [r for r in runs if r["started"] and r["ended"]]
    by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in done:
        by_job[r["job"]].append(r)
    queued = [r["launched"] - r["created"] for r in done if r["launched"]]
    starting = [r["started"] - r["launched"] for r in done if r["launched"]]
    print(f"  runs: {len(runs)}, failed: {sum(r['status'] == 'FAILURE' for r in runs)}")
    print(f"  queue wait (created -> launched):    {_summary(queued)}")
    print(f"  worker start (launched -> started):  {_summary(starting)}")
    for job in ("pm_markets_job", "oddsapi_live_job", "comparator_job"):
        for priced, with_odds in itertools.product((False, True), (False, True)):
            runs_of = [
                r["ended"] - r["started"]
                for r in by_job[job]
                if r["priced"] == priced and r["with_odds"] == with_odds
            ]
            if runs_of:
                label = job + (" + odds" if with_odds else "")
                label += " + chain" if priced and job != "comparator_job" else ""
                print(f"  {label:<32} run time: {_summary(runs_of)}")
    comparators = sorted(by_job["comparator_job"], key=lambda r: r["created"])
    to_signal, poll_runs, sensor_waits, comparator_runs, in_run = [], [], [], [], []
    per_kind: dict[str, list[float]] = defaultdict(list)
    for poll in (r for job in POLL_JOBS for r in by_job[job] if r["status"] == "SUCCESS"):
        kind = "odds" if poll["job"] == "oddsapi_live_job" else POLL_KINDS[2 if poll["with_odds"] else 0]
        after = [
            c for c in comparators if c["partition"] == poll["partition"] and c["created"] >= poll["ended"]
        ]
        if poll["priced"]:  # the poll's own run priced its hour
            to_signal.append(poll["ended"] - poll["created"])
            in_run.append(poll["ended"] - poll["created"])
            per_kind[kind].append(to_signal[-1])
        elif after:
            to_signal.append(after[0]["ended"] - poll["created"])
            per_kind[kind].append(to_signal[-1])
            poll_runs.append(poll["ended"] - poll["created"])
            sensor_waits.append(after[0]["created"] - poll["ended"])
            comparator_runs.append(after[0]["ended"] - after[0]["created"])
    print(f"  poll run with the chain, created -> ended: {_summary(in_run)}")
    print(f"  poll run, created -> ended:          {_summary(poll_runs)}")
    print(f"  sensor, poll ended -> comparator run: {_summary(sensor_waits)}")
    print(f"  comparator run, created -> ended:    {_summary(comparator_runs)}")
    for kind in POLL_KINDS:
        if per_kind[kind]:
            print(f"  {kind + ' poll':<16} created -> signals done: {_summary(per_kind[kind])}")
    print(f"  poll run created -> signals done:    {_summary(to_signal)}")
    return statistics.median(to_signal) if to_signal else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=7.0)
    parser.add_argument("--dequeue-seconds", default="1", help="run queue intervals to compare")
    parser.add_argument(
        "--modes",
        default="separate,priced,fused",
        help=f"modes to compare at each interval, of {', '.join(MODES)} (the first: the baseline)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the instances and lakes")
    parser.add_argument(
        "--sim-latency-ms",
        type=float,
        default=0.0,
        help="> 0: poll `edge simulate --latency-ms N` over HTTP (EDGE_SIM_URL), as remote APIs, "
        "instead of the embedded simulator",
    )
    parser.add_argument(
        "--in-flight", default="8", help="EDGE_HTTP_MAX_IN_FLIGHT values to compare (over HTTP only)"
    )
    args = parser.parse_args()
    results = {}
    modes = [m.strip() for m in args.modes.split(",")]
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown mode(s) {', '.join(sorted(unknown))}: pick from {', '.join(MODES)}")
    simulator, sim_url = None, None
    if args.sim_latency_ms > 0:
        sim_port = _free_port()
        sim_cmd = [sys.executable, "-m", "edge_assets.cli", "simulate", "--port", str(sim_port)]
        simulator = subprocess.Popen([*sim_cmd, "--latency-ms", str(args.sim_latency_ms)])
        sim_url = f"http://127.0.0.1:{sim_port}"
        time.sleep(5)
    settings = itertools.product(
        [int(s) for s in args.dequeue_seconds.split(",")], modes, [int(n) for n in args.in_flight.split(",")]
    )
    try:
        for seconds, mode, in_flight in settings:
            label = f"queue every {seconds} s, {mode}"
            label += f", {in_flight} in flight" if sim_url else ""
            work = Path(tempfile.mkdtemp(prefix=f"edge-latency-{seconds}s-{mode}-"))
            where = f"edge simulate, {args.sim_latency_ms:g} ms per answer" if sim_url else "embedded"
            print(f"edge ui for {args.minutes:g} min, {label}, {where} ({work})", flush=True)
            home, cpu, workers = soak(work, args.minutes, seconds, mode, in_flight, sim_url)
            results[label] = report(run_records(home))
            print(
                f"  CPU of the daemon, webserver and code server: {cpu:.1f} s; "
                f"of the run workers they reaped: {workers:.1f} s"
            )
            if not args.keep:
                subprocess.run(["rm", "-rf", str(work)], check=False)
    finally:
        if simulator is not None:
            simulator.terminate()
            simulator.wait(timeout=30)
    base, *others = results
    for label in others:
        ratio = results[base] / results[label]
        print(
            f"poll -> signals, median: {results[base]:.2f} s ({base}), "
            f"{results[label]:.2f} s ({label}): {ratio:.2f}x"
        )


if __name__ == "__main__":
    main()
