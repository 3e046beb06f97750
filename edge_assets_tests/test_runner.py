"""The CLI runner: hourly stages, and a parallel backfill that writes what a sequential one writes."""

import multiprocessing
import os
import subprocess
import sys
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from edge_assets import runner
from edge_assets.runner import (
    _CELLS,
    _STATE,
    BATCH_GC_THRESHOLD,
    MAX_LANES,
    Lane,
    RunReport,
    _by_partitions,
    _chunks,
    _day_chunks,
    _day_segments,
    _fresh_generation,
    _fusable_lookback,
    _hours_read_days,
    _run_lane,
    _segments,
    batch_gc,
    claim_chunk,
    hourly_stages,
)


def test_hourly_stages_put_lookback_readers_after_their_parents() -> None:
    from edge_assets.definitions import defs

    hourly = _by_partitions(defs)[2]
    stages = [[k.to_user_string() for k in stage] for stage in hourly_stages(defs, hourly)]
    assert stages == [
        [
            "market_mappings",
            "oddsapi_historical_hourly",
            "oddsapi_live",
            "pm_markets",
            "pm_order_book_snapshots",
        ],
        ["features_latest", "pm_sportsbook_lines"],  # read the previous hour's pm_markets / books
        ["features", "signals"],  # read 24 h of features_latest
    ]
    graph = defs.resolve_asset_graph()
    stage_keys = hourly_stages(defs, hourly)
    # the second stage runs in the ingestion runs (its first hour per worker range redone after them);
    # signals reads the lake itself and features is a whole-range asset: their own stage
    assert _fusable_lookback(graph, stage_keys[1], set(stage_keys[0])) == 1
    assert _fusable_lookback(graph, stage_keys[2], set(stage_keys[1])) is None


class _Node:
    me: object = None


def test_batch_gc_collects_rarely_inside_and_restores_the_collector_after() -> None:
    import gc

    before = gc.get_threshold()
    with batch_gc():
        assert gc.get_threshold() == BATCH_GC_THRESHOLD
        node = _Node()
        node.me = node  # garbage only the cycle collector frees
        gone = weakref.ref(node)
        del node
        _fresh_generation()  # as before each run: the last run's cycles freed, the survivors frozen
        assert gone() is None
        assert gc.get_freeze_count() > 0
        assert gc.get_count()[0] < 50
        frozen = gc.get_freeze_count()
        with batch_gc():  # a window inside a window (a lane's runs) keeps the outer setting
            assert gc.get_threshold() == BATCH_GC_THRESHOLD
        assert gc.get_threshold() == BATCH_GC_THRESHOLD
        # nothing unfrozen or frozen again: at most a few frozen objects freed meanwhile by another
        # thread (earlier tests leave some, e.g. tqdm's monitor after an MLflow download)
        assert frozen - 1_000 < gc.get_freeze_count() <= frozen
    with pytest.raises(ValueError, match="boom"), batch_gc():
        _fresh_generation()
        raise ValueError("boom")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_days_run_beside_the_first_hours_unless_an_hourly_asset_reads_them() -> None:
    from edge_assets.definitions import defs
    from edge_assets.partitions import DAILY, HOURLY

    _, daily, hourly, _, _ = _by_partitions(defs)
    assert [k.to_user_string() for k in daily] == ["oddsapi_scores"]
    assert not _hours_read_days(defs, hourly)  # only training_sets (daily, after the hours) reads scores

    @dg.asset(partitions_def=DAILY)
    def day_table() -> None: ...

    @dg.asset(partitions_def=HOURLY, deps=[day_table])
    def hour_table() -> None: ...

    reads = dg.Definitions(assets=[day_table, hour_table])
    assert _hours_read_days(reads, [dg.AssetKey("hour_table")])


def test_the_models_imports_can_be_warmed_ahead_without_opening_the_store(tmp_path: Path) -> None:
    code = (
        "import sys, dagster as dg\n"
        "from edge_assets.definitions import defs\n"
        "from edge_assets.runner import _warm_up\n"
        "assert 'xgboost' not in sys.modules and 'mlflow' not in sys.modules\n"
        "_warm_up(defs, [dg.AssetKey('edge_models'), dg.AssetKey('pm_markets')])\n"
        "print(sorted(m for m in ('xgboost', 'mlflow', 'sklearn', 'matplotlib') if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    env["EDGE_MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path}/ml/mlflow.db"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True, env=env
    )
    assert out.stdout.strip() == "['matplotlib', 'mlflow', 'sklearn', 'xgboost']"
    # the store is left alone: a comparator in another process must never find it half-created
    assert not (tmp_path / "ml").exists()


def test_segments_cut_whole_hours_into_contiguous_parts() -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    h = timedelta(hours=1)
    assert _segments(t0, t0 + 5 * h, 2) == [(t0, t0 + 2 * h), (t0 + 2 * h, t0 + 5 * h)]
    assert _segments(t0, t0 + 2 * h, 4) == [(t0, t0 + h), (t0 + h, t0 + 2 * h)]
    assert _segments(t0, t0 + 3 * h, 1) == [(t0, t0 + 3 * h)]


def test_day_segments_cut_whole_days_and_keep_the_window_edges() -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    d, h = timedelta(days=1), timedelta(hours=1)
    assert _day_segments(t0, t0 + 5 * d, 2) == [(t0, t0 + 2 * d), (t0 + 2 * d, t0 + 5 * d)]
    # a window starting and ending inside days: the first and last parts are partial days
    assert _day_segments(t0 + 10 * h, t0 + 2 * d + 3 * h, 2) == [
        (t0 + 10 * h, t0 + 2 * d),
        (t0 + 2 * d, t0 + 2 * d + 3 * h),
    ]
    assert _day_segments(t0 + 10 * h, t0 + 14 * h, 2) == [(t0 + 10 * h, t0 + 14 * h)]


def test_chunks_cut_a_range_into_runs_and_days_at_midnight() -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    d, h = timedelta(days=1), timedelta(hours=1)
    assert _chunks(t0, t0 + 5 * h, 2) == [
        (t0, t0 + 2 * h),
        (t0 + 2 * h, t0 + 4 * h),
        (t0 + 4 * h, t0 + 5 * h),
    ]
    assert _chunks(t0, t0 + 5 * h, None) == [(t0, t0 + 5 * h)]
    # a partial first day is a run's first day; later runs start at midnight
    assert _day_chunks(t0 + 10 * h, t0 + 9 * d, 3) == [
        (t0 + 10 * h, t0 + 3 * d),
        (t0 + 3 * d, t0 + 6 * d),
        (t0 + 6 * d, t0 + 9 * d),
    ]


def _board(*lanes: tuple[int, int, int, int]) -> list[int]:
    cells = [0] * (MAX_LANES * _CELLS)
    for i, lane in enumerate(lanes):
        cells[i * _CELLS : (i + 1) * _CELLS] = lane
    return cells


def test_a_lane_takes_its_own_chunks_then_the_last_ones_of_the_busiest_lane_of_its_group() -> None:
    # lanes: (next, stop, victim group, thief group); chunk indices run across the lanes
    cells = _board((0, 5, 2, 2), (5, 7, 2, 2), (7, 9, 0, 1), (9, 13, 1, 1), (13, 14, 2, 0))
    assert [claim_chunk(cells, 0, 1) for _ in range(4)] == [(1, 5), (1, 6), (0, 4), (0, 3)]
    assert [claim_chunk(cells, 0, 0) for _ in range(3)] == [(0, 0), (0, 1), (0, 2)]
    # the busiest lane of the group now is lane 4 (one left); then nothing is left in group 2
    assert claim_chunk(cells, 0, 0) == (4, 13)
    assert claim_chunk(cells, 0, 0) is None
    assert claim_chunk(cells, 0, 4) is None  # thief group 0: never takes another lane's chunks
    # a SINGLE_WRITER lane (victim group 0) takes RUN_HOURS chunks but keeps its own
    assert [claim_chunk(cells, 0, 2) for _ in range(3)] == [(2, 7), (2, 8), (3, 12)]
    assert [claim_chunk(cells, 0, 3) for _ in range(4)] == [(3, 9), (3, 10), (3, 11), None]
    # every lane's next chunk is its stop: each of the 14 chunks was handed out once (above)
    assert cells[0::_CELLS][:5] == cells[1::_CELLS][:5] == [3, 7, 9, 12, 13]


def test_a_lane_runs_the_chunks_it_takes_with_their_owners_assets_and_reports_cold_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = multiprocessing.get_context("spawn")
    cells = ctx.Array("i", _STATE + 1)
    go = ctx.Event()
    go.set()
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    h = timedelta(hours=1)
    lanes = [Lane(["pm_markets"], [(t0, t0 + h), (t0 + h, t0 + 3 * h), (t0 + 3 * h, t0 + 4 * h)], 2, 2)]
    lanes.append(Lane(["oddsapi_live"], [], 2, 2))
    cells[0:_CELLS] = [0, 3, 2, 2]
    cells[_CELLS : 2 * _CELLS] = [3, 3, 2, 2]
    ran: list[tuple[datetime, datetime, list[str]]] = []

    def fake_run_window(defs, instance, lo, hi, *, include, **_: object) -> RunReport:
        ran.append((lo, hi, include))
        return RunReport()

    monkeypatch.setattr(runner, "_SHARED", (cells, [go]))
    monkeypatch.setattr(runner, "run_window", fake_run_window)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    _, cold = _run_lane(runner.DEFAULT_DEFS, 0, 1, lanes, t0, None, "WARNING")
    # lane 1 has no chunks: it takes lane 0's from the back, each one cold but the window's first
    assert ran == [
        (t0 + 3 * h, t0 + 4 * h, ["pm_markets"]),
        (t0 + h, t0 + 3 * h, ["pm_markets"]),
        (t0, t0 + h, ["pm_markets"]),
    ]
    assert cold == [t0 + 3 * h, t0 + h]
    ran.clear()
    _, cold = _run_lane(runner.DEFAULT_DEFS, 0, 0, lanes, t0, None, "WARNING")
    assert ran == [] and cold == []  # every chunk ran once


def _backfill(tmp_path: Path, workers: int) -> Path:
    tmp_path.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    env.update(
        EDGE_LAKE_ROOT=str(tmp_path / "lake"),
        EDGE_DUCKDB_PATH=str(tmp_path / "w.duckdb"),
        EDGE_MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path}/mlflow.db",
        DAGSTER_HOME=str(tmp_path / "dh"),
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge_assets.cli",
            "backfill",
            "--hours",
            "40",
            "--end",
            "2026-11-19T14:00",
            # the workers' hour ranges cut across the sequential 12-hour chunks, and the last ones start
            # more than the 24 h lookback after the first hour
            "--chunk-hours",
            "12",
            "--workers",
            str(workers),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp_path


@pytest.mark.timeout(600)
def test_parallel_backfill_writes_the_same_lake_and_records_every_partition(tmp_path: Path) -> None:
    seq = _backfill(tmp_path / "seq", 1)
    par = _backfill(tmp_path / "par", 2)
    tables = sorted(p.name for p in (seq / "lake").iterdir() if p.is_dir() and p.name != "raw_responses")
    assert {
        "pm_markets",
        "features_latest",
        "features",
        "signals",
        "ml",
        "paper_trades",
        "paper_fills",
    } <= set(tables)
    for table in tables:
        files = sorted(f.relative_to(seq / "lake") for f in (seq / "lake" / table).rglob("*.parquet"))
        assert files == sorted(f.relative_to(par / "lake") for f in (par / "lake" / table).rglob("*.parquet"))
        for f in files:
            assert pl.read_parquet(seq / "lake" / f).equals(pl.read_parquet(par / "lake" / f)), f
    # paper trading: one trade per edge, opened by its first signal
    signals = pl.concat([pl.read_parquet(f) for f in (seq / "lake" / "signals").rglob("*.parquet")])
    trades = pl.concat([pl.read_parquet(f) for f in (seq / "lake" / "paper_trades").rglob("*.parquet")])
    first = signals.sort("created_at", "signal_id").unique("edge_id", keep="first").sort("signal_id")
    assert trades.height == first.height > 0
    assert sorted(trades["trade_id"]) == first["signal_id"].to_list()
    # each trade's fills, walked again through the snapshot it was priced on, give back its fill
    fills = pl.concat([pl.read_parquet(f) for f in (seq / "lake" / "paper_fills").rglob("*.parquet")])
    summed = fills.group_by("trade_id").agg(
        pl.col("shares").sum(), (pl.col("usdc").sum() / pl.col("shares").sum()).alias("fill_vwap")
    )
    both = trades.join(summed, on="trade_id", how="left", suffix="_filled")
    assert both["shares_filled"].to_list() == pytest.approx(both["shares"].to_list(), rel=1e-12)
    assert both["fill_vwap"].to_list() == pytest.approx(both["vwap"].to_list(), rel=1e-12)
    hours = sorted(
        (datetime(2026, 11, 19, 14, tzinfo=UTC) - timedelta(hours=h)).strftime("%Y-%m-%d-%H:00")
        for h in range(1, 41)
    )
    os.environ["DAGSTER_HOME"], home = str(par / "dh"), os.environ["DAGSTER_HOME"]
    try:
        with dg.DagsterInstance.get() as instance:  # the workers' runs are in the one instance
            for asset in ("pm_markets", "pm_sportsbook_lines", "features_latest", "signals"):
                assert sorted(instance.get_materialized_partitions(dg.AssetKey(asset))) == hours, asset
    finally:
        os.environ["DAGSTER_HOME"] = home


def test_workers_need_an_instance_they_can_share() -> None:
    from edge_assets.definitions import defs
    from edge_assets.runner import run_window

    t0 = datetime(2026, 11, 19, tzinfo=UTC)
    with dg.DagsterInstance.ephemeral() as instance, pytest.raises(ValueError, match="persistent instance"):
        run_window(defs, instance, t0, t0 + timedelta(hours=2), include=["pm_markets"], workers=2)


_CHECKED: list[str] = []


def test_a_backfill_runs_the_models_checks_and_no_others(tmp_path: Path) -> None:
    """`champion_beats_rule` judges what the backfill just trained; a freshness check of the latest
    polls would judge past hours against now, so the hourly runs carry no checks."""
    from edge_assets.partitions import HOURLY
    from edge_assets.runner import run_window

    @dg.asset(partitions_def=HOURLY)
    def polls() -> None:
        return None

    @dg.asset(deps=[polls])
    def model() -> None:
        return None

    @dg.asset_check(asset=polls)
    def fresh() -> dg.AssetCheckResult:
        _CHECKED.append("fresh")
        return dg.AssetCheckResult(passed=False)

    @dg.asset_check(asset=model)
    def beats_rule() -> dg.AssetCheckResult:
        _CHECKED.append("beats_rule")
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN, description="champion v1 vs rule: worse"
        )

    defs = dg.Definitions(assets=[polls, model], asset_checks=[fresh, beats_rule])
    t0 = datetime(2026, 11, 19, tzinfo=UTC)
    _CHECKED.clear()
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        report = run_window(defs, instance, t0, t0 + timedelta(hours=3))
        # a failed WARN check fails no step; the report carries it for `edge backfill` to print
        assert [s.name for s in report.steps] == ["hourly", "models"] and all(s.success for s in report.steps)
        assert _CHECKED == ["beats_rule"]
        assert report.steps[-1].checks == ["beats_rule: FAILED: champion v1 vs rule: worse"]
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(model.key, "beats_rule"), dg.AssetCheckKey(polls.key, "fresh")]
        )
        assert set(record) == {dg.AssetCheckKey(model.key, "beats_rule")}
