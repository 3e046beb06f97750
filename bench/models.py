"""Models benchmark: 90-day backfill of the whole graph, feature/training/scoring speed, and the
model-driven vs rule-based comparator on the last two held-out weeks (simulator ground truth).

    .venv/bin/python bench/models.py                       # full run in a temp dir, removed after (--keep)
    .venv/bin/python bench/models.py --dir /tmp/hist --skip-backfill   # reuse a lake + dagster home
    .venv/bin/python bench/models.py --dir /tmp/hist --eval-only       # re-fit and compare, lake as is

Ground truth (simulator only, never read by the pipeline): a row is a true edge when it is observed
inside an injected ``true_mispricing`` window of its token whose true EV after fees is >= 3 %.
``mean_true_ev``: EV after costs at the accepted price from the world's true probability, the
expectation that ``mean_realized_ev`` estimates through two weeks of game outcomes.
"""

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from edge_assets.lake import Lake

TRUE_EV = 0.03


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TreeRss:
    """Peak memory of this process and its workers together: summed RSS every 0.2 s, summed PSS
    every second.

    Summed PSS (each shared page split between the processes mapping it) is the peak reported; the
    summed RSS peak beside it counts copy-on-write pages twice: Dagster forks a small subprocess
    per run for its compute logs, and for a moment that child shows its parent's whole RSS (a
    1.4 GB worker counted twice). getrusage's children figure has the same flaw. Reading PSS walks
    each process's page tables (~13 ms for a 2 GB heap of small objects), time taken from the
    workers being measured; the memory peaks last seconds (a 48-hour run), so once a second does.
    """

    PSS_EVERY = 5  # RSS ticks of 0.2 s

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.peak_mb = 0.0  # summed PSS
        self.peak_rss_mb = 0.0  # summed RSS (double counts forks)
        self.t0 = time.perf_counter()
        self.peak_at_s = 0.0  # seconds after start: which phase peaked
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        tick = 0
        while not self._stop.wait(0.2):
            with_pss = tick % self.PSS_EVERY == 0
            tick += 1
            pss = rss = 0
            for proc in [self.me, *self.me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # a worker that just exited
                    if with_pss:
                        info = proc.memory_full_info()
                        pss, rss = pss + info.pss, rss + info.rss
                    else:
                        rss += proc.memory_info().rss
            self.peak_rss_mb = max(self.peak_rss_mb, rss / 2**20)
            if with_pss and pss / 2**20 > self.peak_mb:
                self.peak_mb, self.peak_at_s = pss / 2**20, time.perf_counter() - self.t0

    def __enter__(self) -> "TreeRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


REFERENCE_SIM_MS = 62.0  # host index where the 296-303 s backfills were measured (docs/scaling.md)


def host_speed_index() -> float:
    """Simulator server ms per simulated hour (bench/sim_backfill_pattern.py, asset order, 24 h):
    a fixed, deterministic single-core workload, so backfill figures from different hosts or days
    can be compared. Run in a child process so its World stays out of the peak memory figure."""
    script = Path(__file__).with_name("sim_backfill_pattern.py")
    out = subprocess.run(
        [sys.executable, str(script), "--order", "asset", "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    res = json.loads(out)
    return sum(res["server_s"].values()) * 1000 / res["hours"]


def _cpu_s() -> tuple[float, float]:
    """(user, system) CPU seconds of this process and its exited, waited-for children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + kids.ru_utime, me.ru_stime + kids.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--end", default="2026-11-24", help="UTC end day of the simulated history")
    ap.add_argument("--dir", help="work dir holding lake/, dh/ (default: a temp dir)")
    ap.add_argument(
        "--skip-backfill", action="store_true", help="reuse the lake's ingest history, rebuild features"
    )
    ap.add_argument(
        "--eval-only",
        action="store_true",
        help="reuse a finished lake as is: fit with the current code, compare (stored champion ignored)",
    )
    ap.add_argument("--min-history-days", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2, help="backfill processes per hourly stage")
    ap.add_argument("--keep", action="store_true", help="keep the temp work dir (~3.3 GB for 90 days)")
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="edge_models_bench_"))
    try:
        return _bench(args, work)
    finally:
        if not args.dir and not args.keep:  # a 90-day lake is ~3.3 GB: each run used to leave one in /tmp
            shutil.rmtree(work, ignore_errors=True)
            print(f"removed the work dir {work} (--keep or --dir keeps it)")


def _bench(args: argparse.Namespace, work: Path) -> int:
    os.environ.update(
        EDGE_LAKE_ROOT=str(work / "lake"),
        EDGE_DUCKDB_PATH=str(work / "w.duckdb"),
        EDGE_MLFLOW_TRACKING_URI=f"sqlite:///{work}/mlflow.db",
        EDGE_MODEL_MIN_HISTORY_DAYS=str(args.min_history_days),
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    import dagster as dg

    from edge_assets.definitions import defs
    from edge_assets.lake import Lake
    from edge_assets.runner import ensure_dagster_home, run_window
    from edge_assets.settings import get_settings

    ensure_dagster_home(str(work / "dh"))
    s = get_settings()
    end = datetime.fromisoformat(args.end).replace(tzinfo=UTC)
    start = end - timedelta(days=args.days)
    print(f"work dir {work}; history {start:%Y-%m-%d}..{end:%Y-%m-%d} ({args.days} days)")

    def run(include: list[str] | None, exclude: tuple[str, ...] = ()) -> float:
        t0 = time.perf_counter()
        with dg.DagsterInstance.get() as inst:
            rep = run_window(
                defs,
                inst,
                start,
                end,
                include=include,
                exclude=exclude,
                chunk_hours=48,
                poll_minutes=s.backfill_poll_minutes,
                workers=args.workers,
            )
        bad = [f"{st.name} {st.partitions}: {st.errors[:1]}" for st in rep.steps if not st.success]
        for b in bad[:5]:
            print("  FAILED", b)
        print("  " + "; ".join(f"{name} {secs:.0f} s" for name, secs in rep.phases.items()))
        return time.perf_counter() - t0

    if args.skip_backfill:
        secs = run(["features_latest", "features", "ml/training_sets", "edge_models"])
        print(f"features_latest, features, training_sets, edge_models over the stored history: {secs:.0f} s")
    elif not args.eval_only:
        idx = host_speed_index()
        print(
            f"host speed index: {idx:.1f} ms of simulator time per simulated hour "
            f"(the 296-303 s backfills ran at ~{REFERENCE_SIM_MS:.0f} ms; lower is faster)"
        )
        cpu0 = _cpu_s()
        with TreeRss() as tree:
            secs = run(None)
        cpu = tuple(b - a for a, b in zip(cpu0, _cpu_s(), strict=True))
        print(
            f"backfill whole graph ({args.workers} workers): {secs:.0f} s wall; "
            f"peak memory {tree.peak_mb:.0f} MB (summed PSS, at {tree.peak_at_s:.0f} s) for this process and "
            f"its workers together; summed RSS peak {tree.peak_rss_mb:.0f} MB counts forked pages twice; "
            f"{_rss_mb():.0f} MB this process alone (aims: 300 s, 4096 MB)"
        )
        cores = os.cpu_count() or 1
        print(
            f"backfill CPU: {cpu[0]:.0f} s user + {cpu[1]:.0f} s system: {sum(cpu) / secs:.2f} of "
            f"{cores} cores busy on average (workers counted once they exit)"
        )
        # a shared host's speed drifts within minutes (seen: 136 ms, then 238 ms in a slow spell)
        print(f"host speed index after the backfill: {host_speed_index():.1f} ms (before: {idx:.1f} ms)")

    lake = Lake(s.lake_root)
    from edge_assets.features.history import build_features
    from edge_assets.partitions import hours_between

    snaps = lake.read_many("features_latest", hours_between(start, end), allow_missing=True)
    t0 = time.perf_counter()
    feats = build_features(snaps)
    dt = time.perf_counter() - t0
    print(f"feature build: {feats.height} rows in {dt:.2f} s = {feats.height / dt:,.0f} rows/s")

    from edge_assets.assets.training import TRAINING_TABLE

    data = lake.read_many(TRAINING_TABLE, lake.day_keys(TRAINING_TABLE), allow_missing=True)
    print(f"training_sets: {data.height} labelled rows, valid share {cast(float, data['valid'].mean()):.3f}")
    from edge_assets.trading.paper import summarize

    trades = lake.read_many("paper_trades", lake.day_keys("paper_trades"), allow_missing=True)
    if trades.height:  # the backfill's comparator ran before any model existed: rule-confidence trades
        print("paper trades of the backfill's signals (one per edge, settled within the label horizon):")
        with pl.Config(tbl_cols=20, tbl_width_chars=200):
            print(summarize(trades))
    from edge_assets.ml.registry import list_versions, load_champion
    from edge_assets.ml.train import Comparators, candidate_mask, edge_target, fit_models, walk_forward_split

    train, hold, cutoff = walk_forward_split(data, s.model_holdout_days)
    t0 = time.perf_counter()
    cfg = Comparators(
        model_threshold=s.model_threshold,
        min_confidence=s.min_confidence,
        min_ev=s.min_ev,
        min_size_usdc=s.min_trade_usdc,
    )
    fitted = fit_models(
        train,
        holdout_range=(cutoff, cast(datetime, data["observed_at"].max())),
        n_holdout=hold.height,
        cfg=cfg,
    )
    print(
        f"training time: {time.perf_counter() - t0:.1f} s on {train.height} rows "
        f"(incl. threshold tuning -> {fitted.threshold})"
    )
    champ = None if args.eval_only else load_champion(s.mlflow_tracking_uri)
    if champ:
        with pl.Config(tbl_cols=20, tbl_width_chars=220):  # every metric, as `edge models` prints them
            print(list_versions(s.mlflow_tracking_uri).drop("run_id", "created"))
    from edge_assets.ml.train import predict

    def score(d: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return champ.score(d) if champ else predict(fitted, d)

    big = pl.concat([hold] * (100_000 // max(hold.height, 1) + 1)).head(100_000)
    score(big.head(10))
    runs = []
    for _ in range(7):
        t0 = time.perf_counter()
        score(big)
        runs.append((time.perf_counter() - t0) * 1000)
    print(
        f"scoring 100,000 rows: median {np.median(runs):.0f} ms, min {min(runs):.0f}, max {max(runs):.0f} "
        "over 7 runs (aim 100 ms)"
    )

    # ---- comparators on the held-out weeks, with simulator ground truth
    from edge_assets.simulator.world import World

    edges = World(s.sim_seed).injected_edges(cutoff - timedelta(days=1), end + timedelta(days=1))
    truth = edges.filter((pl.col("kind") == "true_mispricing") & (pl.col("true_ev_after_fee") >= TRUE_EV))
    hit = (
        hold.select("observed_at", "pm_token_id")
        .join(truth.select("pm_token_id", "window_start", "window_end"), on="pm_token_id", how="inner")
        .filter(
            (pl.col("observed_at") >= pl.col("window_start")) & (pl.col("observed_at") < pl.col("window_end"))
        )
        .select("observed_at", "pm_token_id")
        .unique()
        .with_columns(true_edge=pl.lit(True))
    )
    h = hold.join(hit, on=["observed_at", "pm_token_id"], how="left").with_columns(
        pl.col("true_edge").fill_null(False)
    )
    y_true = h["true_edge"].to_numpy()
    # EV after costs at the accepted price from the world's true probability: what realized EV
    # estimates, without the game outcomes' noise
    true_ev = World(s.sim_seed).token_true_probs(h) * h["pm_decimal"].to_numpy() - 1
    p_model = score(h)[0]
    threshold = champ.threshold if champ else fitted.threshold
    from sklearn.metrics import brier_score_loss, roc_auc_score

    from edge_assets.signals import signal_checks

    rule_ok = (signal_checks(h.drop("confidence", strict=False))["failed"] == "").to_numpy()
    model_ok = (
        signal_checks(
            h.with_columns(model_prob=pl.Series(p_model)),
            min_confidence=threshold,
            confidence_col="model_prob",
        )["failed"]
        == ""
    ).to_numpy()
    # AUC / Brier of what the classifier predicts (edge_target: EV after costs at the close >= the bar)
    target = edge_target(h, cfg.min_ev)
    cand = candidate_mask(h)
    rows = []
    for name, ok, prob in (
        ("rule", rule_ok, h["rule_confidence"].fill_null(0).to_numpy()),
        ("model", model_ok, p_model),
    ):
        n = int(ok.sum())
        tp = int((ok & y_true).sum())
        rows.append(
            {
                "comparator": name,
                "accepted": n,
                "precision_true_edge": tp / n if n else float("nan"),
                "recall_true_edge": tp / max(int(y_true.sum()), 1),
                "mean_realized_ev": float(h["realized_ev"].to_numpy()[ok].mean()) if n else float("nan"),
                "mean_ev_close": float(h["ev_close"].to_numpy()[ok].mean()) if n else float("nan"),
                "mean_true_ev": float(np.nanmean(true_ev[ok])) if n else float("nan"),
                # on the candidate edges (the rows where check (1) decides), then on every row
                "auc_candidates": float(roc_auc_score(target[cand], prob[cand])),
                "brier_candidates": float(brier_score_loss(target[cand], np.clip(prob[cand], 0, 1))),
                "auc_all_rows": float(roc_auc_score(target, prob)),
                "brier_all_rows": float(brier_score_loss(target, np.clip(prob, 0, 1))),
            }
        )
    print(
        f"held-out {cutoff:%Y-%m-%d}..{end:%Y-%m-%d}: {h.height} rows, {int(cand.sum())} candidate edges, "
        f"{int(y_true.sum())} true-edge rows; model threshold {threshold}"
    )
    with pl.Config(tbl_cols=20, tbl_width_chars=200):
        print(pl.DataFrame(rows))
    lo, mid, hi = realized_ev_difference(h, rule_ok, model_ok)
    print(
        f"model - rule mean realized EV: {mid:+.4f} (90% interval {lo:+.4f}..{hi:+.4f}, "
        "bootstrap over games: one game's result settles all its rows)"
    )
    paper_on_holdout(lake, h, {"rule": rule_ok, "model": model_ok}, s.model_label_horizon_days)
    return 0


def paper_on_holdout(
    lake: "Lake", h: pl.DataFrame, accepted: dict[str, np.ndarray], horizon_days: int
) -> None:
    """Paper-trade each comparator's accepted held-out rows with the product's code: one trade per
    edge at its first acceptance, filled at the walk, settled from the lake's scores."""
    from edge_assets.signals import edge_id, signal_id
    from edge_assets.trading.paper import opening_signals, paper_trades, summarize

    start = cast(datetime, h["observed_at"].min())  # the held-out rows: never empty
    stop = cast(datetime, h["observed_at"].max()) + timedelta(hours=1)
    scores = lake.read_many("oddsapi_scores", lake.day_keys("oddsapi_scores"), allow_missing=True)
    ids = ("event_id", "market_key", "point", "outcome_name", "pm_token_id", "observed_at")
    frames = []
    for name, ok in accepted.items():
        rows = h.filter(pl.Series(ok))
        keys = rows.select(ids).rows()
        signals = rows.with_columns(
            signal_id=pl.Series([signal_id(*k) for k in keys], dtype=pl.String),
            edge_id=pl.Series([edge_id(*k[:5]) for k in keys], dtype=pl.String),
            created_at=pl.col("observed_at"),
            side=pl.lit("buy"),
            model_name=pl.lit(name),
            model_version=pl.lit(None, pl.String),
            confidence=pl.lit(None, pl.Float64),
        )
        opening = opening_signals(signals, start=start, end=stop)
        frames.append(paper_trades(opening, h, scores, horizon=timedelta(days=horizon_days)))
    print(f"paper trading the held-out weeks ({start:%Y-%m-%d}..{stop:%Y-%m-%d}), one trade per edge:")
    with pl.Config(tbl_cols=20, tbl_width_chars=200):
        print(summarize(pl.concat(frames), by=("model_name",)))


def realized_ev_difference(
    h: pl.DataFrame, a: np.ndarray, b: np.ndarray, n: int = 4000, seed: int = 0
) -> tuple[float, float, float]:
    """5th/50th/95th percentile of mean realized EV (b) - (a), resampling whole games (event_id)."""
    codes = h["event_id"].cast(pl.Categorical).to_physical().to_numpy()
    ev = h["realized_ev"].fill_null(0.0).to_numpy()
    k = int(codes.max()) + 1
    sums = [np.bincount(codes, weights=ev * m, minlength=k) for m in (a, b)]
    counts = [np.bincount(codes, weights=m.astype(float), minlength=k) for m in (a, b)]
    draws = np.random.default_rng(seed).multinomial(k, np.full(k, 1.0 / k), size=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = [(draws @ s_) / (draws @ c_) for s_, c_ in zip(sums, counts, strict=True)]
    diff = means[1] - means[0]
    diff = diff[np.isfinite(diff)]
    lo, mid, hi = np.percentile(diff, [5, 50, 95])
    return float(lo), float(mid), float(hi)


if __name__ == "__main__":
    sys.exit(main())
