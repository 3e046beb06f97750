"""Model features: each features_latest snapshot plus point-in-time history of its own series.

Why one function: the comparator (serving) and training_sets (learning) both call
``build_features`` on features_latest rows, so a feature cannot mean one thing in training
and another in production.

Point-in-time: a row observed at t only uses snapshots of the same token observed at or before
t (backward as-of joins, right-closed rolling windows); features_latest itself only uses data
observed at or before its snapshot. So computing from a history truncated at t gives the same
row as computing from the full history (tested).

Granularity: snapshots are hourly (the comparator scores each hour at its last poll), so the
1 h deltas compare with the previous hour's snapshot, and rolling windows ``[t - w, t]``
include both ends (the 1 h volatility is over two points: |delta| / 2).
"""

import math
from datetime import datetime, timedelta

import polars as pl

from edge_assets.features.latest import FEATURES_LATEST_COLUMNS, NEWS_MOVE
from edge_assets.signals import rule_confidence

TOKEN = "pm_token_id"
T = "observed_at"
HORIZONS_H = (1, 6, 24)
GAP_MOVE_HORIZONS_H = (1, 6)
LOOKBACK = timedelta(hours=max(HORIZONS_H))
# Snapshots are an hour's last poll, whose minute varies: the one before t - h may be the hour before's
# (up to ~60 min older). Beyond that, null. A whole missing hour still reads as the one before it.
ASOF_TOLERANCE = timedelta(minutes=75)
# hours a run must load before its first hour so every as-of finds what a longer history would
# (t - 24 h - 75 min reaches into the 26th hour back): serving and training rows stay equal
HISTORY_HOURS = math.ceil((LOOKBACK + ASOF_TOLERANCE) / timedelta(hours=1))

HISTORY_COLUMNS: dict[str, pl.DataType] = {
    "pm_minus_fair": pl.Float64(),  # ask - consensus fair probability
    "mid_minus_fair": pl.Float64(),
    "sharp_minus_fair": pl.Float64(),
    "fair_range": pl.Float64(),  # book agreement: max - min per-book fair prob
    "time_to_start_h": pl.Float64(),
    "rule_confidence": pl.Float64(),
    **{f"d_fair_{h}h": pl.Float64() for h in HORIZONS_H},  # consensus line delta
    **{f"d_sharp_{h}h": pl.Float64() for h in HORIZONS_H},
    **{f"d_mid_{h}h": pl.Float64() for h in HORIZONS_H},  # Polymarket mid delta
    "drift_fair_per_h": pl.Float64(),  # 6 h slope
    "drift_pm_per_h": pl.Float64(),
    "drift_gap_per_h": pl.Float64(),  # PM moving faster than the books: news the books lack
    "liq_decay_1h": pl.Float64(),  # log1p(liquidity_usdc) change over 1 h
    "liq_decay_6h": pl.Float64(),
    "depth_decay_1h": pl.Float64(),  # log1p(depth at the best ask) change over 1 h
    **{f"vol_fair_{h}h": pl.Float64() for h in HORIZONS_H},
    **{f"vol_mid_{h}h": pl.Float64() for h in HORIZONS_H},
    "gap_z_24h": pl.Float64(),  # mean-reversion z of (ask - fair) over 24 h
    "n_snapshots_24h": pl.UInt32(),
    # same event, same observation: news moves every market of a game at once, a mispricing one
    "event_edges": pl.UInt32(),  # the event's outcomes that beat the books by >= EVENT_EDGE_EV
    "event_positive_ev": pl.UInt32(),  # the event's outcomes with EV after costs >= 0
    # the event's markets whose Polymarket-minus-books gap moved >= NEWS_MOVE: one for a mispricing,
    # most of the game's markets when Polymarket priced news the books have not
    **{f"event_gap_moves_{h}h": pl.UInt32() for h in GAP_MOVE_HORIZONS_H},
}
EVENT_EDGE_EV = 0.03

FEATURE_COLUMNS: dict[str, pl.DataType] = {**FEATURES_LATEST_COLUMNS, **HISTORY_COLUMNS}

# numeric inputs of the models (all point-in-time; ids and times are excluded)
MODEL_FEATURES: tuple[str, ...] = (
    "raw_edge",
    "ev_after_costs",
    "ev_sharp",
    "fair_prob",
    "sharp_prob",
    "ask",
    "spread",
    "depth_at_ask",
    "liquidity_usdc",
    "fill_prob",
    "n_books",
    "n_sharp",
    "fair_std",
    "book_min_age_s",
    "book_max_age_s",
    "pm_quote_age_s",
    "mapping_confidence",
    "line_share",
    "line_haircut",
    "n_market_books",
    "levels_used",
    "kelly_full",
    "pm_move_1h",
    "event_moved_markets",
    "stale_consensus",
    *[c for c in HISTORY_COLUMNS if c != "n_snapshots_24h"],
    "n_snapshots_24h",
)

__all__ = [
    "FEATURE_COLUMNS",
    "HISTORY_COLUMNS",
    "HISTORY_HOURS",
    "LOOKBACK",
    "MODEL_FEATURES",
    "build_features",
]


def _asof(base: pl.DataFrame, series: pl.DataFrame, hours: int, cols: list[str]) -> pl.DataFrame:
    """Values of ``cols`` at the latest snapshot at or before t - hours (same token)."""
    right = series.select(
        TOKEN, pl.col(T).alias("_rt"), *[pl.col(c).alias(f"{c}_{hours}h_ago") for c in cols]
    )
    left = base.with_columns(_lt=pl.col(T) - pl.duration(hours=hours)).sort("_lt")
    out = left.join_asof(
        right.sort("_rt"),
        left_on="_lt",
        right_on="_rt",
        by=TOKEN,
        strategy="backward",
        tolerance=ASOF_TOLERANCE,
        check_sortedness=False,
    )
    return out.drop("_lt", "_rt")


def build_features(
    snapshots: pl.DataFrame, *, start: datetime | None = None, end: datetime | None = None
) -> pl.DataFrame:
    """FEATURE_COLUMNS for the snapshots observed in [start, end) (default: all).

    ``snapshots``: features_latest rows (FEATURES_LATEST_COLUMNS) covering the target window
    plus the ``HISTORY_HOURS`` (26) clock hours before it; earlier rows only feed the history columns.
    One output row per input row in the window, sorted by (observed_at, pm_token_id).
    """
    if snapshots.height == 0:
        return pl.DataFrame(schema=FEATURE_COLUMNS)
    s = (
        snapshots.select([pl.col(c).cast(t) for c, t in FEATURES_LATEST_COLUMNS.items()])
        .unique(subset=[T, TOKEN], keep="last", maintain_order=True)
        .with_columns(
            _mid=pl.coalesce("mid", "ask"),
            _gap=pl.col("ask") - pl.col("fair_prob"),
            _lliq=pl.col("liquidity_usdc").fill_null(0.0).log1p(),
            _ldepth=pl.col("depth_at_ask").fill_null(0.0).log1p(),
        )
        .sort(TOKEN, T)
    )
    series = s.select(TOKEN, T, "fair_prob", "sharp_prob", "_mid", "_lliq", "_ldepth", "_gap")

    target = s
    if start is not None:
        target = target.filter(pl.col(T) >= start)
    if end is not None:
        target = target.filter(pl.col(T) < end)
    if target.height == 0:
        return pl.DataFrame(schema=FEATURE_COLUMNS)

    df = target
    for h in HORIZONS_H:
        df = _asof(df, series, h, ["fair_prob", "sharp_prob", "_mid", "_lliq", "_ldepth", "_gap"])

    # rolling windows [t - w, t] over the token's own snapshots, evaluated at the target rows. Each
    # window's statistic is computed from its own values (list.std / list.mean): polars' rolling
    # std and mean update a running state, so their last bits would depend on where the loaded
    # frame starts, and serving (a 24 h lookback) would differ from training (longer ranges).
    def std(col: str) -> pl.Expr:
        return pl.col(col).implode().list.std(ddof=0)

    rolled = []
    for h in HORIZONS_H:
        r = series.rolling(index_column=T, period=f"{h}h", group_by=TOKEN, closed="both").agg(
            std("fair_prob").alias(f"vol_fair_{h}h"),
            std("_mid").alias(f"vol_mid_{h}h"),
            *(
                [
                    pl.col("_gap").implode().list.mean().alias("_gap_mean"),
                    std("_gap").alias("_gap_std"),
                    pl.len().cast(pl.UInt32).alias("n_snapshots_24h"),
                ]
                if h == 24
                else []
            ),
        )
        rolled.append(r)
    for r in rolled:
        df = df.join(r, on=[TOKEN, T], how="left")

    def delta(col: str, h: int) -> pl.Expr:
        return pl.col(col) - pl.col(f"{col}_{h}h_ago")

    df = df.with_columns(
        pm_minus_fair=pl.col("_gap"),
        mid_minus_fair=pl.col("_mid") - pl.col("fair_prob"),
        sharp_minus_fair=pl.col("sharp_prob") - pl.col("fair_prob"),
        fair_range=pl.col("fair_max") - pl.col("fair_min"),
        time_to_start_h=(pl.col("commence_time") - pl.col(T)).dt.total_seconds() / 3600.0,
        rule_confidence=rule_confidence(df),
        **{f"d_fair_{h}h": delta("fair_prob", h) for h in HORIZONS_H},
        **{f"d_sharp_{h}h": delta("sharp_prob", h) for h in HORIZONS_H},
        **{f"d_mid_{h}h": delta("_mid", h) for h in HORIZONS_H},
        drift_fair_per_h=delta("fair_prob", 6) / 6.0,
        drift_pm_per_h=delta("_mid", 6) / 6.0,
        drift_gap_per_h=(delta("_mid", 6) - delta("fair_prob", 6)) / 6.0,
        liq_decay_1h=delta("_lliq", 1),
        liq_decay_6h=delta("_lliq", 6),
        depth_decay_1h=delta("_ldepth", 1),
        gap_z_24h=pl.when(pl.col("_gap_std") > 1e-9)
        .then((pl.col("_gap") - pl.col("_gap_mean")) / pl.col("_gap_std"))
        .otherwise(0.0),
        event_edges=(pl.col("beats_book").fill_null(False) & (pl.col("ev_after_costs") >= EVENT_EDGE_EV))
        .sum()
        .over("event_id", T),
        event_positive_ev=(pl.col("ev_after_costs") >= 0).sum().over("event_id", T),
        **{
            f"event_gap_moves_{h}h": pl.col("pm_market_id")
            .filter(delta("_gap", h).abs() >= NEWS_MOVE)
            .n_unique()
            .over("event_id", T)
            for h in GAP_MOVE_HORIZONS_H
        },
    )
    return df.select([pl.col(c).cast(t) for c, t in FEATURE_COLUMNS.items()]).sort(T, TOKEN)
