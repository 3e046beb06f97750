"""Detection quality of the comparator against the simulator's injected edges (evaluation only).

Why: issue 6 accepts the comparator on precision and recall over a simulated window. This
module is the one place that defines how a pipeline's ``signals`` are scored against
``World.injected_edges`` so the benchmark (bench/detect.py) and the test
(edge_assets_tests/test_detect_quality.py) cannot drift apart. It reads ground truth, so the
pipeline itself never imports it.

Definitions (also printed by ``format_report``):
- observation times: the instants the comparator looks at the market, one per hour at that
  hour's last poll (``HH:50`` on the embedded simulator). An edge alive only between two
  observations is invisible to an hourly comparator and is not counted.
- positive: an injected ``true_mispricing`` whose true EV after the taker fee is
  >= ``min_ev``, whose size at the mispriced ask is worth >= ``min_trade_usdc`` USDC, and whose
  window ``[window_start, window_end)`` contains at least one observation time.
- a signal is correct when an injected true edge on the same token has the signal's
  ``observed_at`` inside its window; otherwise it is a false positive, attributed to the
  false-edge kind alive on that token then (stale_book, thin_book, soft_outlier, near_start)
  or to "no injected edge".
- precision = correct signals / signals; recall = detected positives / positives, where a
  positive is detected when at least one correct signal falls inside its window.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl

from edge_assets.signals import signal_checks
from edge_assets.simulator import World

NO_EDGE = "no injected edge"
UTC_TS = pl.Datetime("us", "UTC")

__all__ = [
    "NO_EDGE",
    "DetectionReport",
    "definition_text",
    "evaluate",
    "format_report",
    "label_positives",
    "match_signals",
    "observation_times",
]


def definition_text(min_ev: float, min_trade_usdc: float, poll_minute: int) -> str:
    return (
        f"positive = injected true_mispricing with true EV after fee >= {min_ev:.0%}, "
        f"size x ask >= {min_trade_usdc:g} USDC, and a pipeline observation time "
        f"(each hour's last poll, HH:{poll_minute:02d}) inside its window [start, end); "
        "a signal is correct when an injected true edge on the same token has the signal's "
        "observed_at inside its window"
    )


def observation_times(start: datetime, end: datetime, poll_minute: int) -> list[datetime]:
    """The comparator's snapshot instants for the hours in [start, end): HH:poll_minute each hour."""
    start = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    out = []
    at = start
    while at < end:
        out.append(at + timedelta(minutes=poll_minute))
        at += timedelta(hours=1)
    return out


def _obs_frame(obs: Sequence[datetime]) -> pl.DataFrame:
    return pl.DataFrame({"obs_at": list(obs)}, schema={"obs_at": UTC_TS})


def label_positives(
    injected: pl.DataFrame, obs: Sequence[datetime], *, min_ev: float, min_trade_usdc: float
) -> pl.DataFrame:
    """Injected true edges with ``n_obs`` (observations inside the window) and ``is_positive``."""
    edges = injected.with_row_index("edge_id").filter(pl.col("is_true_edge"))
    seen = (
        edges.select("edge_id", "window_start", "window_end")
        .join(_obs_frame(obs), how="cross")
        .filter((pl.col("obs_at") >= pl.col("window_start")) & (pl.col("obs_at") < pl.col("window_end")))
        .group_by("edge_id")
        .agg(n_obs=pl.len(), first_obs=pl.col("obs_at").min())
    )
    return (
        edges.join(seen, on="edge_id", how="left")
        .with_columns(
            pl.col("n_obs").fill_null(0).cast(pl.UInt32), notional=pl.col("size_available") * pl.col("pm_ask")
        )
        .with_columns(
            is_positive=(pl.col("true_ev_after_fee") >= min_ev)
            & (pl.col("notional") >= min_trade_usdc)
            & (pl.col("n_obs") > 0)
        )
    )


def match_signals(signals: pl.DataFrame, injected: pl.DataFrame) -> pl.DataFrame:
    """One row per signal with ``matched_kind`` (injected edge alive on its token then, true edges
    first; NO_EDGE when none), ``is_correct`` and the matched ``edge_id`` (true edges only)."""
    sig = signals.select("signal_id", "observed_at", "pm_token_id").with_row_index("_sig")
    edges = injected.with_row_index("edge_id").select(
        "edge_id", "pm_token_id", "kind", "is_true_edge", "window_start", "window_end"
    )
    hits = (
        sig.join(edges, on="pm_token_id", how="inner")
        .filter(
            (pl.col("observed_at") >= pl.col("window_start")) & (pl.col("observed_at") < pl.col("window_end"))
        )
        .sort(["_sig", "is_true_edge"], descending=[False, True])
        .unique("_sig", keep="first", maintain_order=True)
        .select("_sig", "edge_id", "kind", "is_true_edge")
    )
    return (
        sig.join(hits, on="_sig", how="left")
        .with_columns(
            matched_kind=pl.col("kind").fill_null(NO_EDGE),
            is_correct=pl.col("is_true_edge").fill_null(False),
            edge_id=pl.when(pl.col("is_true_edge").fill_null(False)).then(pl.col("edge_id")),
        )
        .sort("_sig")
        .drop("_sig", "kind", "is_true_edge")
    )


@dataclass
class DetectionReport:
    precision: float
    recall: float
    n_signals: int
    n_correct: int
    n_positives: int
    n_detected: int
    n_true_edges: int  # injected true edges overlapping the window (before the positive filter)
    false_positives: dict[str, int] = field(default_factory=dict)
    fp_rows: pl.DataFrame = field(default_factory=pl.DataFrame)
    misses: pl.DataFrame = field(default_factory=pl.DataFrame)
    definition: str = ""


def _miss_reasons(
    missed: pl.DataFrame,
    features: pl.DataFrame,
    obs: Sequence[datetime],
    *,
    min_confidence: float,
    min_ev: float,
    min_trade_usdc: float,
) -> pl.DataFrame:
    """Why each missed positive was not signalled: the failed checks at each observation inside
    its window, or that the pipeline had no features row (token not mapped / no book)."""
    if missed.height == 0:
        return missed.with_columns(reason=pl.lit(None, pl.String))
    at_obs = (
        missed.select("edge_id", "pm_token_id", "window_start", "window_end")
        .join(_obs_frame(obs), how="cross")
        .filter((pl.col("obs_at") >= pl.col("window_start")) & (pl.col("obs_at") < pl.col("window_end")))
    )
    if features.height:
        checked = signal_checks(
            features, min_confidence=min_confidence, min_ev=min_ev, min_size_usdc=min_trade_usdc
        ).select(pl.col("observed_at").alias("obs_at"), "pm_token_id", "failed")
        at_obs = at_obs.join(checked, on=["obs_at", "pm_token_id"], how="left")
    else:
        at_obs = at_obs.with_columns(failed=pl.lit(None, pl.String))
    per_obs = at_obs.with_columns(
        reason=pl.col("obs_at").dt.strftime("%d %H:%M ")
        + pl.col("failed").fill_null("no features row (token not mapped or no book)")
    )
    reasons = per_obs.group_by("edge_id").agg(reason=pl.col("reason").sort().str.join(" | "))
    return missed.join(reasons, on="edge_id", how="left")


def evaluate(
    signals: pl.DataFrame,
    injected: pl.DataFrame,
    obs: Sequence[datetime],
    *,
    features: pl.DataFrame | None = None,
    min_ev: float = 0.03,
    min_trade_usdc: float = 25.0,
    min_confidence: float = 0.6,
    poll_minute: int = 50,
) -> DetectionReport:
    """Score ``signals`` (SIGNAL_COLUMNS) against ``injected`` (World.injected_edges) at ``obs``."""
    positives = label_positives(injected, obs, min_ev=min_ev, min_trade_usdc=min_trade_usdc)
    matched = match_signals(signals, injected)
    detected_ids = set(matched.filter(pl.col("is_correct"))["edge_id"].to_list())
    pos = positives.filter(pl.col("is_positive"))
    detected = pos.filter(pl.col("edge_id").is_in(list(detected_ids)))
    missed = pos.filter(~pl.col("edge_id").is_in(list(detected_ids)))
    fp = matched.filter(~pl.col("is_correct"))
    fp_counts = dict(fp.group_by("matched_kind").len().sort("matched_kind").iter_rows())
    n_correct = matched.height - fp.height
    fp_rows = fp.join(
        signals.drop("observed_at", "pm_token_id").unique("signal_id", keep="last"),
        on="signal_id",
        how="left",
    )
    misses = _miss_reasons(
        missed,
        features if features is not None else pl.DataFrame(),
        obs,
        min_confidence=min_confidence,
        min_ev=min_ev,
        min_trade_usdc=min_trade_usdc,
    )
    return DetectionReport(
        precision=n_correct / matched.height if matched.height else 1.0,
        recall=detected.height / pos.height if pos.height else 1.0,
        n_signals=matched.height,
        n_correct=n_correct,
        n_positives=pos.height,
        n_detected=detected.height,
        n_true_edges=positives.height,
        false_positives=fp_counts,
        fp_rows=fp_rows,
        misses=misses,
        definition=definition_text(min_ev, min_trade_usdc, poll_minute),
    )


def injected_for(seed: int, start: datetime, end: datetime) -> pl.DataFrame:
    """Ground truth for the window (evaluation only)."""
    return World(seed).injected_edges(start, end)


def format_report(r: DetectionReport, *, title: str = "") -> str:
    lines = [title] if title else []
    lines += [
        f"definition: {r.definition}",
        f"precision: {r.precision:.1%}  ({r.n_correct} of {r.n_signals} signals match an injected true edge)",
        f"recall:    {r.recall:.1%}  ({r.n_detected} of {r.n_positives} positives detected; "
        f"{r.n_true_edges} injected true edges overlap the window)",
    ]
    if r.false_positives:
        lines.append(
            "false positives by kind: " + ", ".join(f"{k}={v}" for k, v in r.false_positives.items())
        )
    else:
        lines.append("false positives: none")
    cols = [c for c in ("observed_at", "matched_kind", "pm_token_id") if c in r.fp_rows.columns]
    for row in r.fp_rows.select(cols).head(20).iter_rows(named=True) if r.fp_rows.height else []:
        lines.append(
            f"  FP {row['observed_at']:%m-%d %H:%M} {row['matched_kind']:<16} token {row['pm_token_id'][:16]}"
        )
    if r.misses.height:
        lines.append(f"misses ({r.misses.height}):")
        for row in r.misses.iter_rows(named=True):
            point = "" if row["point"] is None else row["point"]
            lines.append(
                f"  MISS {row['window_start']:%m-%d %H:%M}-{row['window_end']:%H:%M} {row['sport_key']:<20} "
                f"{row['market_key']}/{row['odds_outcome_name']} {point} "
                f"true_ev_after_fee={row['true_ev_after_fee']:.3f}: {row['reason']}"
            )
    else:
        lines.append("misses: none")
    return "\n".join(lines)
