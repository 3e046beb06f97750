"""Labels for feature rows: closing-line value, realized result, EV after costs at the close.

Why these labels: a signal is worth taking when the price we would pay (VWAP + fee for the
configured stake, ``effective_price``) is below the sharp books' closing fair probability:
the close is the best public estimate of the truth, far less noisy than one game's result.

- close: the last snapshot of the same token observed in the ``CLOSE_WINDOW`` (24 h) before the
  game's commence time with a sharp fair probability (``close_source`` = sharp), else its consensus
  fair probability (``consensus``). Snapshots are hourly, so the close is usually ~1 h before the
  start; the window bounds how far back a run must read (a day's labels then do not depend on the
  range a run covers).
- ``ev_close`` = close_prob / effective_price - 1 (EV per dollar after fees and slippage).
- ``clv`` = close_prob - effective_price (probability points).
- ``result``: 1 win, 0 loss, 0.5 push, from the final score; ``realized_ev`` = result /
  effective_price - 1.
- ``valid`` = ev_close > 0.

Only pre-game rows (observed before commence) of settled games (a completed score; with
``horizon``, one observed before the end of the row's UTC day + horizon, as the nightly run sees
it) get labels. Labels read only data up to the game's settlement: nothing after it changes them
(tested).
"""

from datetime import timedelta

import polars as pl

from edge_assets.features.history import FEATURE_COLUMNS
from edge_assets.schemas import UTC_TS

LABEL_COLUMNS: dict[str, pl.DataType] = {
    "close_at": UTC_TS,
    "close_prob": pl.Float64(),
    "close_source": pl.String(),
    "ev_close": pl.Float64(),
    "clv": pl.Float64(),
    "home_score": pl.Int64(),
    "away_score": pl.Int64(),
    "result": pl.Float64(),
    "realized_ev": pl.Float64(),
    "valid": pl.Boolean(),
}
TRAINING_COLUMNS: dict[str, pl.DataType] = {**FEATURE_COLUMNS, **LABEL_COLUMNS}
CLOSE_WINDOW = timedelta(hours=24)  # the close is the last snapshot within this before the start

__all__ = [
    "CLOSE_WINDOW",
    "LABEL_COLUMNS",
    "TRAINING_COLUMNS",
    "build_labels",
    "closing_lines",
    "final_scores",
    "outcome_result",
    "settle_by",
]


def closing_lines(snapshots: pl.DataFrame) -> pl.DataFrame:
    """Per token: the last pre-start snapshot's fair probabilities (sharp preferred).

    ``snapshots`` needs pm_token_id, observed_at, commence_time, fair_prob, sharp_prob. The
    commence time used is the latest one reported for the token (delays move it).
    """
    s = snapshots.select("pm_token_id", "observed_at", "commence_time", "fair_prob", "sharp_prob")
    start = (
        s.sort("observed_at").group_by("pm_token_id").agg(_start=pl.col("commence_time").drop_nulls().last())
    )
    pre = s.join(start, on="pm_token_id").filter(
        (pl.col("observed_at") < pl.col("_start"))
        & (pl.col("observed_at") >= pl.col("_start") - CLOSE_WINDOW)
    )
    sharp = (
        pre.filter(pl.col("sharp_prob").is_not_null())
        .sort("observed_at")
        .group_by("pm_token_id")
        .agg(_sharp_at=pl.col("observed_at").last(), _sharp=pl.col("sharp_prob").last())
    )
    cons = (
        pre.filter(pl.col("fair_prob").is_not_null())
        .sort("observed_at")
        .group_by("pm_token_id")
        .agg(_cons_at=pl.col("observed_at").last(), _cons=pl.col("fair_prob").last())
    )
    out = cons.join(sharp, on="pm_token_id", how="full", coalesce=True)
    return out.select(
        "pm_token_id",
        close_at=pl.coalesce("_sharp_at", "_cons_at"),
        close_prob=pl.coalesce("_sharp", "_cons"),
        close_source=pl.when(pl.col("_sharp").is_not_null())
        .then(pl.lit("sharp"))
        .otherwise(pl.lit("consensus")),
    )


def final_scores(scores: pl.DataFrame) -> pl.DataFrame:
    """The first completed score per event (ODDS_SCORES rows): event_id, home_score, away_score and
    settled_at (when it was observed)."""
    return (
        scores.filter(pl.col("completed").fill_null(False) & pl.col("home_score").is_not_null())
        .sort("observed_at")
        .unique("event_id", keep="first", maintain_order=True)
        .select("event_id", "home_score", "away_score", settled_at=pl.col("observed_at"))
    )


def settle_by(column: str, horizon: timedelta) -> pl.Expr:
    """The end of ``column``'s UTC day plus ``horizon``: scores observed later do not settle the row."""
    return pl.col(column).dt.truncate("1d") + pl.duration(days=1) + horizon


def outcome_result() -> pl.Expr:
    """1 / 0 / 0.5 for the row's outcome given home_score and away_score (h2h, spreads, totals).

    Needs outcome_name, market_key, point, home_team, away_team and sport_key (soccer's h2h is
    three-way: a draw loses both teams)."""
    hs, aw = pl.col("home_score").cast(pl.Float64), pl.col("away_score").cast(pl.Float64)
    name, key, point = pl.col("outcome_name"), pl.col("market_key"), pl.col("point").fill_null(0.0)
    is_home, is_away = name == pl.col("home_team"), name == pl.col("away_team")
    margin = pl.when(is_home).then(hs - aw).when(is_away).then(aw - hs)
    # a tie where the market has no Draw (an NFL moneyline): Polymarket resolves it 50-50
    two_way = ~pl.col("sport_key").str.starts_with("soccer_").fill_null(True)
    h2h = (
        pl.when(name == "Draw")
        .then((hs == aw).cast(pl.Float64))
        .otherwise(
            pl.when(margin > 0)
            .then(1.0)
            .when((margin == 0) & two_way)
            .then(0.5)
            .when(margin.is_not_null())
            .then(0.0)
        )
    )
    sp = margin + point
    spreads = pl.when(sp > 0).then(1.0).when(sp == 0).then(0.5).when(sp < 0).then(0.0)
    tot = pl.when(name == "Over").then(hs + aw - point).when(name == "Under").then(point - hs - aw)
    totals = pl.when(tot > 0).then(1.0).when(tot == 0).then(0.5).when(tot < 0).then(0.0)
    return (
        pl.when(key == "h2h")
        .then(h2h)
        .when(key.str.starts_with("spreads"))
        .then(spreads)
        .when(key.str.starts_with("totals"))
        .then(totals)
    )


def build_labels(
    features: pl.DataFrame, snapshots: pl.DataFrame, scores: pl.DataFrame, *, horizon: timedelta | None = None
) -> pl.DataFrame:
    """TRAINING_COLUMNS: ``features`` rows (FEATURE_COLUMNS) that are pre-game, priced and settled.

    ``snapshots``: features/features_latest rows of the same tokens from ``CLOSE_WINDOW`` before the
    rows' day up to their start (for the close); ``scores``: ODDS_SCORES rows covering the games'
    completion. ``horizon``: settle a row only from a score observed by `settle_by` (the nightly
    run's view, whatever range a run covers).
    """
    if features.height == 0:
        return pl.DataFrame(schema=TRAINING_COLUMNS)
    close = closing_lines(snapshots)
    final = final_scores(scores)
    eff = pl.col("effective_price")
    df = (
        features.filter((pl.col("observed_at") < pl.col("commence_time")) & eff.is_not_null() & (eff > 0))
        .join(close, on="pm_token_id", how="inner")
        .filter(pl.col("close_at") >= pl.col("observed_at"))
        .join(final, on="event_id", how="inner")
        .filter(pl.lit(True) if horizon is None else pl.col("settled_at") < settle_by("observed_at", horizon))
        .with_columns(result=outcome_result())
        .filter(pl.col("result").is_not_null() & pl.col("close_prob").is_not_null())
        .with_columns(
            ev_close=pl.col("close_prob") / eff - 1.0,
            clv=pl.col("close_prob") - eff,
            realized_ev=pl.col("result") / eff - 1.0,
        )
        .with_columns(valid=pl.col("ev_close") > 0)
    )
    return df.select([pl.col(c).cast(t) for c, t in TRAINING_COLUMNS.items()]).sort(
        "observed_at", "pm_token_id"
    )
