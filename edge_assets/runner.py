"""In-process runs of the asset graph for the CLI: demo windows and single-run backfills."""

import contextlib
import gc
import importlib
import itertools
import multiprocessing
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import dagster as dg

from edge_assets.assets.common import READS_EARLIER_HOURS, RUN_HOURS, SINGLE_WRITER, WARM_UP
from edge_assets.dagster_storage import RUNS_DIR
from edge_assets.lake.io_manager import HOURS_BEFORE
from edge_assets.partitions import DAILY, HOURLY, hour_key

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


INSTANCE_YAML = """\
telemetry:
  enabled: false
# same files as Dagster's default SQLite event log, one engine per shard (edge_assets/dagster_storage.py);
# a relative base_dir is read against $DAGSTER_HOME, so the instance can be copied or moved
event_log_storage:
  module: edge_assets.dagster_storage
  class: CachedEngineSqliteEventLogStorage
  config:
    base_dir: {base_dir}
"""
# A backfill's runs one at a time, in the order they were queued (time order): an hour reads the
# hours before it, which the previous run writes, and a run of 48 hours is ~1 GB. Live runs are
# not limited.
BACKFILL_QUEUE_YAML = """\
concurrency:
  runs:
    tag_concurrency_limits:
      - key: dagster/backfill
        value:
          applyLimitPerUniqueValue: true
        limit: 1
"""
# Every run waits in that queue for the daemon's next pass over it: at Dagster's default of 5 s,
# ~2.5 s for each run on a poll's way to its signals (an odds poll, then its comparator run); one
# query a second.
# Added beside edge's own queue only: a queue the user configured is theirs.
RUN_QUEUE_YAML = """\
run_queue:
  dequeue_interval_seconds: 1
"""
# Schedule and sensor ticks: Dagster keeps successful ones forever by default, ~3,000 a day with
# polls every minute and the comparator sensor every 5 s; skipped ones 7 days (its default)
TICK_RETENTION_YAML = """\
retention:
  schedule:
    purge_after_days: 30
  sensor:
    purge_after_days:
      skipped: 7
      success: 30
      failure: 30
"""
# what edge adds to its own instances, and the keys by which a dagster.yaml already has it
INSTANCE_ADDITIONS = (
    (BACKFILL_QUEUE_YAML, ("concurrency:", "run_queue:", "run_coordinator:")),
    (TICK_RETENTION_YAML, ("retention:",)),
)
# one planned event per asset for a partition-range run instead of one per partition (Dagster's own
# switch, for every partitioned run; upstream's event log then shows a failed run's partitions as
# missing, not failed: edge_assets.dagster_storage reads them)
PLANNED_SUBSET_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
TRAINING_CHUNK_DAYS = 7
# a step's per-partition materializations reach the event log as one batch (one transaction per
# shard in edge_assets.dagster_storage); Dagster's own switch, read per event
EVENT_BATCH_ENV = "DAGSTER_EVENT_BATCH_SIZE"
DEFAULT_DEFS = "edge_assets.definitions:defs"
# cycle-collector thresholds while a window runs (CPython's defaults: 700, 10, 10)
BATCH_GC_THRESHOLD = (7_000, 10, 10)
_gc_depth = 0  # nesting of batch_gc in this process


@contextlib.contextmanager
def batch_gc() -> Iterator[None]:
    """While a window runs, collect cycles less often and only among objects the current run made
    (``_fresh_generation`` before each run); restore the collector after.

    Why: a backfill allocates millions of short-lived containers (JSON pages, simulated books)
    beside a large long-lived heap (imported modules, memoized simulator state), and reference
    counting frees nearly all of them. At the default thresholds the collector ran ~8,500 times per
    8 simulated days and kept re-scanning that heap: 2.5-2.7 s of GC, 1.3 s with this (same peak
    RSS; thresholds of 50,000 without the per-run collection kept cyclic garbage holding frames
    for so long that a 90-day backfill's workers peaked at twice the memory).
    """
    global _gc_depth
    if _gc_depth:  # inside another window (a lane's chunks, the main process's reruns): its setting holds
        _gc_depth += 1
        try:
            yield
        finally:
            _gc_depth -= 1
        return
    old = gc.get_threshold()
    gc.set_threshold(*BATCH_GC_THRESHOLD)
    _gc_depth = 1
    try:
        yield
    finally:
        _gc_depth = 0
        gc.set_threshold(*old)
        gc.unfreeze()


def _fresh_generation() -> None:
    """Free what the last run left in reference cycles, then leave the survivors out of later
    collections (they live across runs: modules, memoized simulator state, kept outputs)."""
    gc.collect()
    gc.freeze()


def ensure_dagster_home(path: str, *, range_runs: bool = True) -> Path:
    """Use $DAGSTER_HOME if set, else a persistent local instance the UI also opens.

    A new instance gets the cached-engine SQLite event log, the backfill run queue (read every
    second) and tick retention. An existing dagster.yaml is kept as it is, except that one edge
    wrote before the queue, its interval or the retention existed gets what it lacks, once.

    ``range_runs`` (`edge backfill`, `edge demo`): one planned event per asset and run instead of one
    per partition. Not for `edge ui`: upstream Dagster finds failed partitions only in per-partition
    planned events. The edge event log reads the per-run ones too, but a UI on an instance of the
    user's own (another event log) would show a failed poll's hour as missing rather than failed.
    """
    home = Path(os.environ.get("DAGSTER_HOME") or path).resolve()
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        base = INSTANCE_YAML.format(base_dir=RUNS_DIR)
        cfg.write_text(base + "".join(block for block, _ in INSTANCE_ADDITIONS) + RUN_QUEUE_YAML)
    else:
        text = cfg.read_text()
        if "edge_assets.dagster_storage" in text:  # written by edge
            upgraded = _relative_runs_dir(text, home)
            missing = [block for block, keys in INSTANCE_ADDITIONS if not any(k in text for k in keys)]
            edge_queue = BACKFILL_QUEUE_YAML in text or BACKFILL_QUEUE_YAML in missing
            if edge_queue and "run_queue:" not in text:
                missing.append(RUN_QUEUE_YAML)
            if missing:
                upgraded = upgraded.rstrip("\n") + "\n" + "".join(missing)
            if upgraded != text:
                cfg.write_text(upgraded)
    os.environ["DAGSTER_HOME"] = str(home)
    if range_runs:
        os.environ.setdefault(PLANNED_SUBSET_ENV, "true")
    os.environ.setdefault(EVENT_BATCH_ENV, "1000")
    return home


_BASE_DIR_LINE = re.compile(r"^\s+base_dir:[ \t]*(?P<path>\S[^\n]*?)[ \t]*$", re.MULTILINE)


def _relative_runs_dir(text: str, home: Path) -> str:
    """Earlier edge instances named their shards' folder by absolute path, so a copy of the instance
    wrote its events into the original's folder (and a moved one into a folder that was gone).
    A path ending in edge's layout (``…/history/runs``: this instance's, or its original's) becomes
    relative; any other folder was chosen by the user and stays."""
    match = _BASE_DIR_LINE.search(text)
    if match is None:
        return text
    written = Path(match["path"])
    if not written.is_absolute() or written.parts[-2:] != tuple(RUNS_DIR.split("/")):
        return text
    if written != home / RUNS_DIR:
        print(
            f"{home / 'dagster.yaml'}: event log base_dir was {written} (the instance was copied or "
            f"moved); it now is {home / RUNS_DIR}, relative to DAGSTER_HOME",
            file=sys.stderr,
        )
    return text[: match.start("path")] + RUNS_DIR + text[match.end("path") :]


@dataclass
class StepReport:
    name: str
    partitions: str
    seconds: float
    assets: list[str] = field(default_factory=list)
    success: bool = True
    errors: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # "<check>: passed|FAILED: <description>"


@dataclass
class RunReport:
    steps: list[StepReport] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds, in run order

    @property
    def success(self) -> bool:
        return all(s.success for s in self.steps)


def _by_partitions(
    defs: dg.Definitions,
) -> tuple[list[dg.AssetKey], list[dg.AssetKey], list[dg.AssetKey], list[dg.AssetKey], list[dg.AssetKey]]:
    """Split assets into phases by partitioning and upstream: roots, days, hours, days after hours, last.

    e.g. seeds (unpartitioned roots) -> oddsapi_scores (daily) -> hourly graph -> training_sets (daily,
    reads hourly features) -> edge_models (unpartitioned, reads training_sets).
    """
    graph = defs.resolve_asset_graph()
    unpart: list[dg.AssetKey] = []
    daily: list[dg.AssetKey] = []
    hourly: list[dg.AssetKey] = []
    daily_after: list[dg.AssetKey] = []
    final: list[dg.AssetKey] = []
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        pdef = node.partitions_def
        parents = [graph.get(p).partitions_def for p in node.parent_keys if graph.has(p)]
        if pdef is None:
            (final if any(p is not None for p in parents) else unpart).append(key)
        elif pdef == DAILY:
            (daily_after if any(p == HOURLY for p in parents) else daily).append(key)
        elif pdef == HOURLY:
            hourly.append(key)
    return unpart, daily, hourly, daily_after, final


def hours_read_before(graph: Any, key: dg.AssetKey, parent: dg.AssetKey) -> int:
    """Hours before its own ones that ``key`` reads of ``parent``: a lookback partition mapping, or an
    input read with the hours before it (io_manager.HOURS_BEFORE)."""
    mapping = graph.get_partition_mapping(key, parent)
    hours = -mapping.start_offset if isinstance(mapping, dg.TimeWindowPartitionMapping) else 0
    assets_def = graph.assets_def_for_key(key)
    for name, input_key in assets_def.keys_by_input_name.items():
        if input_key == parent:
            meta = assets_def.node_def.input_dict[name].metadata or {}
            hours = max(hours, int(meta.get(HOURS_BEFORE, 0)))
    return max(hours, 0)


def hourly_stages(defs: dg.Definitions, keys: Sequence[dg.AssetKey]) -> list[list[dg.AssetKey]]:
    """Group hourly assets so that inside a stage every hour reads only the same hour upstream.

    An asset that reads earlier hours of an hourly parent (a lookback partition mapping, or
    READS_EARLIER_HOURS for lake reads) runs one stage after that parent: once a stage is done for the
    whole range, the next one's hours are independent and disjoint ranges can run at once.
    """
    graph = defs.resolve_asset_graph()
    chosen = set(keys)
    stage: dict[dg.AssetKey, int] = {}
    for key in graph.toposorted_asset_keys:
        if key not in chosen:
            continue
        node = graph.get(key)
        reads_back = bool(node.metadata.get(READS_EARLIER_HOURS))
        level = 0
        for parent in node.parent_keys:
            if parent not in stage:
                continue
            back = hours_read_before(graph, key, parent) > 0
            level = max(level, stage[parent] + int(back or reads_back))
        stage[key] = level
    n = max(stage.values(), default=-1) + 1
    by_name = sorted(stage, key=lambda k: k.to_user_string())
    return [[k for k in by_name if stage[k] == i] for i in range(n)]


def _fusable_lookback(graph: Any, keys: Sequence[dg.AssetKey], earlier: set[dg.AssetKey]) -> int | None:
    """Hours before their own hour that ``keys`` read of the ``earlier`` stage, when they can run in
    that stage's runs instead of after it: every hour but the first few of a worker's range finds its
    lookback already written by the same worker, and those few are recomputed once the stage is done.
    None when not: lake reads (READS_EARLIER_HOURS) and whole-range assets keep their own stage."""
    hours = 0
    for key in keys:
        node = graph.get(key)
        if any(node.metadata.get(m) for m in (READS_EARLIER_HOURS, SINGLE_WRITER, RUN_HOURS)):
            return None
        for parent in node.parent_keys:
            if parent in earlier:
                hours = max(hours, hours_read_before(graph, key, parent))
    return hours


def _warm_up(defs: dg.Definitions, keys: Sequence[dg.AssetKey]) -> None:
    """Call the WARM_UP function of each of these assets (their bodies' lazy imports)."""
    graph = defs.resolve_asset_graph()
    for key in keys:
        ref = graph.get(key).metadata.get(WARM_UP)
        if ref:
            module, attr = str(ref).split(":")
            getattr(importlib.import_module(module), attr)()


def _hours_read_days(defs: dg.Definitions, hourly: Sequence[dg.AssetKey]) -> bool:
    """Whether an hourly asset reads a daily one (then the days run before the hours)."""
    graph = defs.resolve_asset_graph()
    return any(
        graph.has(p) and graph.get(p).partitions_def == DAILY
        for k in hourly
        for p in graph.get(k).parent_keys
    )


def _segments(start: datetime, end: datetime, n: int) -> list[tuple[datetime, datetime]]:
    """[start, end) cut at whole hours into at most n contiguous, near-equal parts."""
    hours = int((end - start).total_seconds() // 3600)
    n = max(1, min(n, hours))
    bounds = [start + timedelta(hours=round(i * hours / n)) for i in range(n)] + [end]
    return list(itertools.pairwise(bounds))


def _chunks(lo: datetime, hi: datetime, hours: int | None) -> list[tuple[datetime, datetime]]:
    """[lo, hi) as consecutive runs of ``hours`` (the last one shorter; None: one run)."""
    if not hours:
        return [(lo, hi)]
    step = timedelta(hours=hours)
    out = []
    while lo < hi:
        out.append((lo, min(lo + step, hi)))
        lo += step
    return out


def _day_segments(start: datetime, end: datetime, n: int) -> list[tuple[datetime, datetime]]:
    """[start, end) cut at whole UTC days into at most n contiguous parts (daily assets' ranges)."""
    first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    days = max(1, -(-int((end - first).total_seconds()) // 86400))  # ceil: a partial last day counts
    n = max(1, min(n, days))
    bounds = [max(start, first + timedelta(days=round(i * days / n))) for i in range(n)] + [end]
    return list(itertools.pairwise(bounds))


def _day_chunks(lo: datetime, hi: datetime, days: int) -> list[tuple[datetime, datetime]]:
    """[lo, hi) cut at UTC midnights into runs of ``days`` days (a partial first day counts as one)."""
    first = lo.replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    while lo < hi:
        first += timedelta(days=days)
        out.append((lo, min(first, hi)))
        lo = first
    return out


# --------------------------------------------------------------------------------------------------
# lanes: the chunks of a stage, shared by its worker processes
# --------------------------------------------------------------------------------------------------
MAX_LANES = 16
MAX_BOARDS = 8
# per lane: next chunk, stop (one past its last chunk), the group that may take its chunks (0: none),
# the group whose chunks it may take once its own are taken (0: none)
_CELLS = 4
_STATE = MAX_BOARDS * MAX_LANES * _CELLS  # the last cell: ABORT once the main process gave up
ABORT = 1


def claim_chunk(cells: Any, base: int, lane: int) -> tuple[int, int] | None:
    """(owner lane, chunk index) for ``lane`` to run next, or None when the board is done.

    A lane runs its own chunks front to back; once they are all taken, it takes the last chunk not
    yet started of the lane in its group with the most left, so a range that runs slower ends sooner
    instead of leaving a core idle at the end of the stage. ``cells`` is the board (the caller holds
    its lock); plain index arithmetic, so the rule is testable on a list.
    """
    me = base + lane * _CELLS
    if cells[me] < cells[me + 1]:
        cells[me] += 1
        return lane, cells[me] - 1
    group = cells[me + 3]
    if not group:
        return None
    best, left = -1, 0
    for other in range(MAX_LANES):
        at = base + other * _CELLS
        if cells[at + 2] == group and cells[at + 1] - cells[at] > left:
            best, left = other, cells[at + 1] - cells[at]
    if best < 0:
        return None
    at = base + best * _CELLS
    cells[at + 1] -= 1
    return best, cells[at + 1]


@dataclass
class Lane:
    """Assets run together over the chunks (hour or day ranges) one worker process takes in order."""

    names: list[str]
    chunks: list[tuple[datetime, datetime]]
    victim: int  # lanes whose thief group is this may take its last chunks (0: none may)
    thief: int  # once its own chunks are taken, it takes those of lanes with this victim group (0: none)


_SHARED: tuple[Any, Sequence[Any]] | None = None  # (board cells, gate per board), set in each worker


def _warm_worker(defs_ref: str, cells: Any, gates: Sequence[Any]) -> None:
    """Keep the board and gates and import the definitions as soon as a worker starts: the first
    stage's workers import while the seeds run, the later stages' while the stage before ends."""
    global _SHARED
    _SHARED = (cells, gates)
    importlib.import_module(defs_ref.split(":")[0])


def _run_lane(
    defs_ref: str,
    board: int,
    lane: int,
    lanes: list[Lane],
    start: datetime,
    poll_minutes: Sequence[int] | None,
    log_level: str,
) -> tuple[RunReport, list[datetime]]:
    """A worker process: the chunks ``lane`` takes on ``board``, one run each, on the instance of
    $DAGSTER_HOME. Returns its runs and the chunk starts it ran cold: not right after the chunk
    before them in this process (its lookback hours may have been missing), the window start aside."""
    assert _SHARED is not None, "a lane runs in a pool started by _run_parallel"
    cells, gates = _SHARED
    gates[board].wait()
    report = RunReport()
    cold: list[datetime] = []
    if cells[_STATE] == ABORT:
        return report, cold
    module, attr = defs_ref.split(":")
    defs = getattr(importlib.import_module(module), attr)
    base = board * MAX_LANES * _CELLS
    flat = [chunk for each in lanes for chunk in each.chunks]  # chunk indices run across the lanes
    last_end: datetime | None = None
    with batch_gc(), dg.DagsterInstance.get() as instance:  # one collector setting across the lane's runs
        while True:
            with cells.get_lock():
                got = claim_chunk(cells, base, lane)
            if got is None:
                break
            owner, i = got
            lo, hi = flat[i]
            if lo != last_end and lo != start:
                cold.append(lo)
            part = run_window(
                defs,
                instance,
                lo,
                hi,
                include=lanes[owner].names,
                log_level=log_level,
                poll_minutes=poll_minutes,
            )
            report.steps.extend(part.steps)
            last_end = hi
    # frozen, the heap is not traversed by the interpreter's last collection when the worker exits
    # (~0.85 -> 0.07 s after 2 simulated days; the first stage's workers exit right after their lane)
    gc.freeze()
    return report, cold


@contextlib.contextmanager
def _worker_threads(workers: int) -> Iterator[None]:
    """Share the cores between worker processes: polars would start one thread per core in each
    (oversubscribed, and spinning threads slow small frames). An explicit POLARS_MAX_THREADS wins."""
    if "POLARS_MAX_THREADS" in os.environ:
        yield
        return
    os.environ["POLARS_MAX_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
    try:
        yield
    finally:
        os.environ.pop("POLARS_MAX_THREADS", None)


def _run_parallel(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    stages: list[list[dg.AssetKey]],
    daily_after: list[dg.AssetKey],
    start: datetime,
    end: datetime,
    workers: int,
    defs_ref: str,
    *,
    chunk_hours: int | None,
    poll_minutes: Sequence[int] | None,
    log_level: str,
    before: Callable[[], None],
    beside: Callable[[], None],
    warm: Callable[[], None] = lambda: None,
) -> list[StepReport]:
    """The hourly stages, then the daily assets built from hours, as worker processes on one instance.

    ``before`` (the seeds) runs here while the first stage's workers start and import, ``beside``
    (daily assets no hourly one reads) while they run the first stage, ``warm`` (the last phase's
    imports) in a thread once the first of them is done.
    Each stage's hours (or days) are cut into ``workers`` contiguous lanes of runs of ``chunk_hours``
    (days: TRAINING_CHUNK_DAYS); a lane whose own runs are all taken takes the last untaken run of the
    busiest lane (`claim_chunk`). A stage that reads its parent stage's earlier hours only through a
    short lookback mapping runs in the same runs as its parents (``_fusable_lookback``; fewer runs, no
    wait between the two), then the first lookback hours of every run that did not follow the run
    before it in the same process are run again, now that the hours before them exist. A SINGLE_WRITER
    or RUN_HOURS asset gets a lane of its own over the whole range (runs of its RUN_HOURS, else
    ``chunk_hours``), awaited only when a later asset reads it (or at the end), so it runs beside the
    rest of the stage and the later stages instead of leaving the other cores idle; RUN_HOURS lanes
    share their runs with the other whole-range lanes of the stage (a SINGLE_WRITER's are its own).
    """
    graph = defs.resolve_asset_graph()
    steps: list[StepReport] = []
    running: list[tuple[set[dg.AssetKey], list[Future]]] = []  # whole-range lanes still going

    def collect(futures: Sequence[Future]) -> list[datetime]:
        cold: list[datetime] = []
        for future in futures:
            report, starts = future.result()
            steps.extend(report.steps)
            cold += starts
        return cold

    plan: list[tuple[list[dg.AssetKey], list[dg.AssetKey], int]] = []  # keys, to redo, redo hours
    for keys in stages:
        lookback = _fusable_lookback(graph, keys, set(plan[-1][0])) if plan and not plan[-1][1] else None
        if lookback is not None:
            plan[-1] = (plan[-1][0] + keys, keys, lookback)
        else:
            plan.append((keys, [], 0))
    plan.append((daily_after, [], 0))
    plan = [entry for entry in plan if entry[0]]
    if not plan:
        before()
        beside()
        return steps
    if len(plan) > MAX_BOARDS:
        raise ValueError(f"{len(plan)} stages: the runner shares at most {MAX_BOARDS} boards")

    boards = []  # per stage: keys, whole-range keys, lanes, assets to rerun, their lookback hours
    for keys, redo, redo_hours in plan:
        meta = {k: graph.get(k).metadata for k in keys}
        whole = [k for k in keys if any(meta[k].get(m) for m in (SINGLE_WRITER, RUN_HOURS))]
        names = [k.to_user_string() for k in keys if k not in whole]
        lanes = [
            Lane(
                [k.to_user_string()],
                _chunks(start, end, meta[k].get(RUN_HOURS) or chunk_hours),
                victim=0 if meta[k].get(SINGLE_WRITER) else 1,
                thief=1,
            )
            for k in whole
        ]
        if names and keys is daily_after:
            lanes += [
                Lane(names, _day_chunks(lo, hi, TRAINING_CHUNK_DAYS), 2, 2)
                for lo, hi in _day_segments(start, end, workers)
            ]
        elif names:
            lanes += [
                Lane(names, _chunks(lo, hi, chunk_hours), 2, 2) for lo, hi in _segments(start, end, workers)
            ]
        if len(lanes) > MAX_LANES:
            raise ValueError(f"{len(lanes)} lanes in one stage: use at most {MAX_LANES - 2} workers")
        boards.append((keys, whole, lanes, redo, redo_hours))

    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked Dagster/SQLite state
    cells = ctx.Array("i", _STATE + 1)
    gates = [ctx.Event() for _ in boards]  # a board's lanes start once the stages before it are done
    shared = (defs_ref, cells, gates)
    with contextlib.ExitStack() as stack:
        stack.enter_context(_worker_threads(workers))
        # the first stage (ingestion) grows the largest heaps: a process of its own per lane, gone with
        # it; the later stages share `workers` processes, so a lane that ends hands its process to the
        # next stage's lane, already started and imported
        firsts = [
            stack.enter_context(ProcessPoolExecutor(1, ctx, initializer=_warm_worker, initargs=shared))
            for _ in boards[0][2]
        ]
        pool = stack.enter_context(
            ProcessPoolExecutor(workers, ctx, initializer=_warm_worker, initargs=shared)
        )
        submitted: dict[int, list[Future]] = {}
        warming = threading.Thread(target=warm, name="warm-up", daemon=True)

        def submit(board: int) -> None:
            if board >= len(boards) or board in submitted:
                return
            lanes = boards[board][2]
            base = board * MAX_LANES * _CELLS
            first = 0
            with cells.get_lock():
                for i, lane in enumerate(lanes):
                    at = base + i * _CELLS
                    cells[at : at + _CELLS] = [first, first + len(lane.chunks), lane.victim, lane.thief]
                    first += len(lane.chunks)
            submitted[board] = [
                (firsts[i] if board == 0 else pool).submit(
                    _run_lane, defs_ref, board, i, lanes, start, poll_minutes, log_level
                )
                for i in range(len(lanes))
            ]

        try:
            for board, (keys, whole, _, redo, redo_hours) in enumerate(boards):
                submit(board)
                parents = {p for k in keys for p in graph.get(k).parent_keys}
                for entry in [e for e in running if e[0] & parents]:
                    running.remove(entry)
                    collect(entry[1])
                futures = submitted[board]
                if whole:
                    running.append((set(whole), futures[: len(whole)]))
                if board == 0:
                    before()
                gates[board].set()
                if board == 0:
                    beside()
                rest = futures[len(whole) :]
                if rest:  # the first lane done frees a core: the next stage's lanes start and import there
                    wait(rest, return_when=FIRST_COMPLETED)
                submit(board + 1)
                if board == 0:
                    for first_pool, future in zip(firsts, futures, strict=True):
                        if future.done():
                            first_pool.shutdown(wait=False)
                    warming.start()
                cold = collect(rest)
                if board == 0:  # exit the first stage's processes (and their heaps) now
                    for first_pool in firsts:
                        first_pool.shutdown()
                if redo and redo_hours:
                    redo_names = [k.to_user_string() for k in redo]
                    for lo in sorted(cold):
                        part = run_window(
                            defs,
                            instance,
                            lo,
                            min(lo + timedelta(hours=redo_hours), end),
                            include=redo_names,
                            log_level=log_level,
                            poll_minutes=poll_minutes,
                        )
                        steps.extend(part.steps)
            for _, futures in running:
                collect(futures)
            if warming.is_alive():
                warming.join()  # done long before; the last phase then finds it complete
        except BaseException:
            cells[_STATE] = ABORT  # lanes still waiting at a gate return without running
            for gate in gates:
                gate.set()
            raise
    return steps


def with_poll_minutes(resources: dict[str, object], minutes: Sequence[int] | None) -> dict[str, object]:
    """Poll the embedded simulator at these minutes of each past hour (fewer polls = faster backfill).

    The comparator scores each hour at its last poll, so one late poll (:50) loses no signal; the
    sub-hourly volatility features get fewer points.
    """
    sources = resources.get("sources")
    if not minutes or sources is None:
        return resources
    # a new instance, not model_copy: Dagster re-reads a resource's config fields when a run starts
    # resources are typed object; "sources" is the SourcesResource (a pydantic model)
    fields = {k: getattr(sources, k) for k in type(cast(dg.ConfigurableResource, sources)).model_fields}
    fields["sim_poll_minutes"] = sorted(int(m) for m in minutes)
    return {**resources, "sources": type(sources)(**fields)}


@batch_gc()
def run_window(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    start: datetime,
    end: datetime,
    *,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    log_level: str = "WARNING",
    chunk_hours: int | None = None,
    poll_minutes: Sequence[int] | None = None,
    workers: int = 1,
    defs_ref: str = DEFAULT_DEFS,
) -> RunReport:
    """Materialize the graph for the hours in [start, end) in dependency phases.

    Seeds, then days, then the hours as single runs of ``chunk_hours`` (default: one run for the whole
    range), then daily assets built from hours (training_sets), then unpartitioned assets built from
    partitioned ones (edge_models). ``poll_minutes`` lowers the simulated polls per past hour.

    ``workers`` > 1 runs each hourly stage (``hourly_stages``) and then the daily assets built from
    hours as that many processes over disjoint ranges, all recording to the instance of $DAGSTER_HOME
    (``defs_ref`` names the definitions they import); a SINGLE_WRITER or RUN_HOURS asset runs its
    whole range in one of them, beside the rest (``_run_parallel``).
    """
    if start >= end:
        raise ValueError(f"run_window needs at least one hour: {start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M}")
    unpart, daily, hourly, daily_after, final = _by_partitions(defs)
    # Definitions also allows CacheableAssetsDefinition, which dg.materialize does not; this project has none
    all_assets = cast(list[dg.AssetsDefinition | dg.AssetSpec | dg.SourceAsset], list(defs.assets or []))
    resources = with_poll_minutes(dict(defs.resources or {}), poll_minutes)
    report = RunReport()

    def keep(keys: list[dg.AssetKey]) -> list[dg.AssetKey]:
        out = [k for k in keys if k.to_user_string() not in exclude]
        if include is not None:
            out = [k for k in out if k.to_user_string() in include]
        return sorted(out, key=lambda k: k.to_user_string())

    def step(
        name: str,
        keys: list[dg.AssetKey],
        partition_key: str | None,
        tags: dict[str, str],
        checks: Sequence[dg.AssetsDefinition] = (),  # checks are AssetsDefinitions (Definitions.asset_checks)
    ) -> None:
        if not keys:
            return
        t0 = time.perf_counter()
        _fresh_generation()
        result = dg.materialize(
            [*all_assets, *checks],  # a check runs when its asset is selected
            selection=keys,
            instance=instance,
            resources=resources,
            partition_key=partition_key,
            tags=tags,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
        errors = [
            f"{e.step_key}: {e.event_specific_data.error.message.strip()}"  # type: ignore[union-attr]
            for e in result.all_events
            if e.is_step_failure and e.event_specific_data is not None
        ]
        report.steps.append(
            StepReport(
                name=name,
                partitions=partition_key or tags.get(RANGE_START, "-") + "..." + tags.get(RANGE_END, ""),
                seconds=time.perf_counter() - t0,
                assets=[k.to_user_string() for k in keys],
                success=result.success,
                errors=errors,
                checks=[
                    f"{c.check_name}: {'passed' if c.passed else 'FAILED'}"
                    + (f": {c.description}" if c.description else "")
                    for c in result.get_asset_check_evaluations()
                ],
            )
        )

    first_hour = hour_key(start)
    last_hour = hour_key(end - timedelta(seconds=1))
    day_keys: list[str] = []
    day = datetime.strptime(first_hour[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    while day.strftime("%Y-%m-%d") <= last_hour[:10]:
        day_keys.append(day.strftime("%Y-%m-%d"))
        day += timedelta(days=1)

    def days_step(name: str, keys: list[dg.AssetKey], chunk_days: int) -> None:
        for i in range(0, len(day_keys), chunk_days):
            days = day_keys[i : i + chunk_days]
            if len(days) == 1:
                step(name, keys, days[0], {})
            else:
                step(name, keys, None, {RANGE_START: days[0], RANGE_END: days[-1]})

    @contextlib.contextmanager
    def phase(name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        report.phases[name] = time.perf_counter() - t0

    seeds_done: list[float] = []

    def seeds_and_days() -> None:
        with phase("seeds and days"):
            step("seeds", keep(unpart), None, {})
            days_step("daily", keep(daily), chunk_days=len(day_keys))
        seeds_done.append(time.perf_counter())

    def seeds() -> None:
        with phase("seeds"):
            step("seeds", keep(unpart), None, {})
        seeds_done.append(time.perf_counter())

    def days_beside() -> None:
        with phase("days (beside the first hours)"):
            days_step("daily", keep(daily), chunk_days=len(day_keys))

    hourly_keys = keep(hourly)

    def hours_step(keys: list[dg.AssetKey], lo: datetime, hi: datetime) -> None:
        chunk = timedelta(hours=chunk_hours) if chunk_hours else hi - lo
        while lo < hi:
            top = min(lo + chunk, hi)
            a, b = hour_key(lo), hour_key(top - timedelta(seconds=1))
            if a == b:
                step("hourly", keys, a, {})
            else:
                step("hourly", keys, None, {RANGE_START: a, RANGE_END: b})
            lo = top

    daily_after_keys = keep(daily_after)
    if workers <= 1 or first_hour == last_hour:
        seeds_and_days()
        with phase("hours, then days built from hours"):
            hours_step(hourly_keys, start, end)
            # training_sets reads each day's hourly features: a week per run bounds memory
            days_step("daily", daily_after_keys, chunk_days=TRAINING_CHUNK_DAYS)
    elif instance.is_ephemeral:
        raise ValueError("workers > 1 needs a persistent instance ($DAGSTER_HOME) the workers can share")
    else:
        days_first = _hours_read_days(defs, hourly_keys)
        steps = _run_parallel(
            defs,
            instance,
            hourly_stages(defs, hourly_keys),
            daily_after_keys,
            start,
            end,
            workers,
            defs_ref,
            chunk_hours=chunk_hours,
            poll_minutes=poll_minutes,
            log_level=log_level,
            # while the first workers start; the days (scores) beside the first hours unless an hourly
            # asset reads them
            before=seeds_and_days if days_first else seeds,
            beside=(lambda: None) if days_first else days_beside,
            warm=lambda: _warm_up(defs, keep(final)),
        )
        report.steps.extend(steps)
        report.phases["hours, then days built from hours"] = time.perf_counter() - seeds_done[0]
    with phase("models"):
        # the models' own checks (champion_beats_rule) judge what was just trained; the others
        # (freshness of the latest polls) say nothing about past hours
        models = keep(final)
        checks = [c for c in defs.asset_checks or [] if any(k.asset_key in models for k in c.check_keys)]
        step("models", models, None, {}, checks)
    return report
