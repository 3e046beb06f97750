"""Paper trading of the comparator's signals (pure polars, no Dagster).

What a bettor who followed every signal would have done, and how it went:

- **entry**: one trade per edge (``edge_id``), at its first signal, or at the first signal after
  ``reentry_gap`` without one (an edge back a week later is a new bet). Not one per hour: an edge
  lasting five hours is one bet, as it is one alert.
- **fill**: the order-book walk the comparator priced the signal with (the features_latest
  snapshot): ``filled_shares`` at ``vwap`` plus the taker fee; cost = shares * effective_price.
  Zero latency and the displayed depth are assumed, so paper PnL is an upper bound on execution.
- **settlement**: the first completed score observed within ``horizon`` after the end of the
  trade's UTC day (the label horizon): result 1 / 0 / 0.5 (push) as in the training labels,
  payout = shares * result, pnl = payout - cost. Unsettled trades keep null results.
- **closing-line value** (settled trades): the token's last pre-start sharp fair probability
  (else consensus) minus the entry price, as in the labels.
- **fills** (``paper_fills``): the levels of that order-book snapshot the trade's shares take, best
  first, each with its price, shares, notional and taker fee.

Both cut-offs are per trade day, so a day's rows do not depend on how many days a run covers.
"""

from datetime import datetime, timedelta

import polars as pl

from edge_assets.features.labels import closing_lines, final_scores, outcome_result, settle_by
from edge_assets.pricing.costs import walk_levels
from edge_assets.schemas import UTC_TS

REENTRY_GAP = timedelta(days=7)

PAPER_TRADE_COLUMNS: dict[str, pl.DataType] = {
    "trade_id": pl.String(),  # the opening signal's signal_id
    "edge_id": pl.String(),
    "placed_at": UTC_TS,  # the opening signal's snapshot (partition column)
    "event_id": pl.String(),
    "sport_key": pl.String(),
    "commence_time": UTC_TS,
    "home_team": pl.String(),
    "away_team": pl.String(),
    "market_key": pl.String(),
    "point": pl.Float64(),
    "outcome_name": pl.String(),
    "pm_market_id": pl.String(),
    "pm_token_id": pl.String(),
    "side": pl.String(),
    "model_name": pl.String(),
    "model_version": pl.String(),
    "confidence": pl.Float64(),
    "fair_prob": pl.Float64(),
    "ev_after_costs": pl.Float64(),  # expected at entry
    "shares": pl.Float64(),
    "vwap": pl.Float64(),
    "fee_per_share": pl.Float64(),
    "entry_price": pl.Float64(),  # vwap + fee per share
    "fees_usdc": pl.Float64(),
    "cost_usdc": pl.Float64(),  # shares * entry_price
    "settled": pl.Boolean(),
    "settled_at": UTC_TS,  # observation of the first completed score
    "home_score": pl.Int64(),
    "away_score": pl.Int64(),
    "result": pl.Float64(),  # 1 win, 0 loss, 0.5 push
    "payout_usdc": pl.Float64(),
    "pnl_usdc": pl.Float64(),
    "roi": pl.Float64(),  # pnl / cost
    "close_at": UTC_TS,
    "close_prob": pl.Float64(),
    "close_source": pl.String(),  # sharp | consensus
    "clv": pl.Float64(),  # close_prob - entry_price
}

_NO_CLOSES = {
    "pm_token_id": pl.String(),
    "close_at": UTC_TS,
    "close_prob": pl.Float64(),
    "close_source": pl.String(),
}
_NO_FINALS = {
    "event_id": pl.String(),
    "home_score": pl.Int64(),
    "away_score": pl.Int64(),
    "settled_at": UTC_TS,
}

# what the trades take from the signals table (SIGNAL_COLUMNS plus the walk's columns)
SIGNAL_INPUT_COLUMNS = [
    "signal_id",
    "edge_id",
    "created_at",
    "event_id",
    "sport_key",
    "commence_time",
    "home_team",
    "away_team",
    "market_key",
    "point",
    "outcome_name",
    "pm_market_id",
    "pm_token_id",
    "side",
    "model_name",
    "model_version",
    "confidence",
    "fair_prob",
    "ev_after_costs",
    "filled_shares",
    "vwap",
    "fee_per_share",
    "effective_price",
]

__all__ = [
    "BOOK_INPUT_COLUMNS",
    "PAPER_FILL_COLUMNS",
    "PAPER_TRADE_COLUMNS",
    "REENTRY_GAP",
    "SIGNAL_INPUT_COLUMNS",
    "opening_signals",
    "paper_fills",
    "paper_trades",
    "summarize",
]


def opening_signals(
    signals: pl.DataFrame, *, start: datetime, end: datetime, reentry_gap: timedelta = REENTRY_GAP
) -> pl.DataFrame:
    """The signals created in [start, end) that open a trade.

    ``signals`` (SIGNAL_COLUMNS rows) must reach back to ``start - reentry_gap``: an edge's
    previous signal decides whether this one opens a trade.
    """
    if signals.height == 0:
        return signals
    edge = pl.coalesce("edge_id", "signal_id")  # rows from before edge ids: each signal its own edge
    previous = pl.col("created_at").shift(1).over(edge)
    return (
        signals.sort("created_at", "signal_id")
        .with_columns(_previous=previous)
        .filter(
            (pl.col("created_at") >= start)
            & (pl.col("created_at") < end)
            & (pl.col("_previous").is_null() | (pl.col("created_at") - pl.col("_previous") > reentry_gap))
        )
        .drop("_previous")
    )


def paper_trades(
    opening: pl.DataFrame, snapshots: pl.DataFrame, scores: pl.DataFrame, *, horizon: timedelta
) -> pl.DataFrame:
    """PAPER_TRADE_COLUMNS for ``opening`` signals (`opening_signals`), settled where possible.

    ``snapshots``: features_latest rows (pm_token_id, observed_at, commence_time, fair_prob,
    sharp_prob) of the traded tokens from `CLOSE_WINDOW` before the first trade day to their start;
    ``scores``: ODDS_SCORES rows up to the last trade day's end + ``horizon``.
    """
    if opening.height == 0:
        return pl.DataFrame(schema=PAPER_TRADE_COLUMNS)
    # nothing read yet (no snapshots or scores): the same joins against empty frames leave trades open
    closes = closing_lines(snapshots) if snapshots.height else pl.DataFrame(schema=_NO_CLOSES)
    finals = final_scores(scores) if scores.height else pl.DataFrame(schema=_NO_FINALS)
    shares, price = pl.col("filled_shares"), pl.col("effective_price")
    df = (
        opening.with_columns(
            trade_id=pl.col("signal_id"),
            edge_id=pl.coalesce("edge_id", "signal_id"),
            placed_at=pl.col("created_at"),
            shares=shares,
            entry_price=price,
            fees_usdc=shares * pl.col("fee_per_share"),
            cost_usdc=shares * price,
        )
        .join(finals, on="event_id", how="left")
        .with_columns(
            # a score observed after this trade day's horizon does not settle it (yet)
            [
                pl.when(pl.col("settled_at") < settle_by("created_at", horizon)).then(pl.col(c)).alias(c)
                for c in ("home_score", "away_score", "settled_at")
            ]
        )
        .with_columns(result=outcome_result())
        .with_columns(settled=pl.col("result").is_not_null())
        .join(closes, on="pm_token_id", how="left")
    )
    settled = pl.col("settled")
    df = df.with_columns(
        [pl.when(settled).then(pl.col(c)).alias(c) for c in ("close_at", "close_prob", "close_source")],
        payout_usdc=shares * pl.col("result"),
    ).with_columns(
        pnl_usdc=pl.col("payout_usdc") - pl.col("cost_usdc"),
        clv=pl.col("close_prob") - price,
    )
    df = df.with_columns(roi=pl.col("pnl_usdc") / pl.col("cost_usdc"))
    return df.select([pl.col(c).cast(t) for c, t in PAPER_TRADE_COLUMNS.items()]).sort(
        "placed_at", "trade_id"
    )


PAPER_FILL_COLUMNS: dict[str, pl.DataType] = {
    "trade_id": pl.String(),
    "fill_no": pl.UInt32(),  # 1 = the best level taken
    "placed_at": UTC_TS,  # the trade's (partition column)
    "pm_token_id": pl.String(),
    "book_at": UTC_TS,  # snapshot_at of the book walked
    "book_hash": pl.String(),
    "price": pl.Float64(),
    "shares": pl.Float64(),
    "usdc": pl.Float64(),  # shares * price
    "fee_usdc": pl.Float64(),  # taker fee of this level (fee exponent 1, as features_latest)
}
BOOK_INPUT_COLUMNS = ["snapshot_at", "token_id", "side", "price", "size", "book_hash"]


def paper_fills(trades: pl.DataFrame, books: pl.DataFrame, fee_rates: pl.DataFrame) -> pl.DataFrame:
    """PAPER_FILL_COLUMNS: each trade's shares walked through the book it was priced on.

    ``trades``: paper_trades rows; ``books``: pm_order_book_snapshots rows (BOOK_INPUT_COLUMNS)
    of the traded tokens, from before the first placement; the latest snapshot at or before a
    trade's ``placed_at`` is the one features_latest priced it on. ``fee_rates``: ``signal_id``,
    ``fee_rate`` of the opening signals. The fills of a trade sum to its shares and, divided by
    them, give its ``vwap`` and ``fee_per_share``; a trade whose snapshot is not in ``books`` has none.
    """
    if trades.height == 0 or books.height == 0:
        return pl.DataFrame(schema=PAPER_FILL_COLUMNS)
    rates = (  # no signals read: fills without fees rather than no fills
        fee_rates.select(pl.col("signal_id").alias("trade_id"), "fee_rate")
        if fee_rates.width
        else pl.DataFrame(schema={"trade_id": pl.String, "fee_rate": pl.Float64})
    )
    snaps = books.select(pl.col("token_id").alias("pm_token_id"), "snapshot_at", "book_hash").unique(
        ["pm_token_id", "snapshot_at"]
    )
    walked = (
        trades.select("trade_id", "pm_token_id", "placed_at", "shares")
        .join(snaps, on="pm_token_id", how="inner")
        .filter(pl.col("snapshot_at") <= pl.col("placed_at"))
        .sort("snapshot_at")
        .group_by("trade_id", maintain_order=True)
        .last()
        .sort("placed_at", "trade_id")
        .join(rates, on="trade_id", how="left")
    )
    # each trade walks its own snapshot: the levels keyed by trade, not by token
    levels = walked.select("trade_id", "pm_token_id", "snapshot_at").join(
        books.rename({"token_id": "pm_token_id"}), on=["pm_token_id", "snapshot_at"]
    )
    fills = walk_levels(
        levels.select(pl.col("trade_id").alias("token_id"), "side", "price", "size"),
        walked.select(
            pl.col("trade_id").alias("token_id"),
            pl.col("shares").alias("stake"),
            pl.col("fee_rate").fill_null(0.0),
        ),
        stake_unit="shares",
    )
    return (
        fills.rename({"token_id": "trade_id"})
        .join(walked.drop("shares", "fee_rate"), on="trade_id")
        .rename({"snapshot_at": "book_at"})
        .select([pl.col(c).cast(t) for c, t in PAPER_FILL_COLUMNS.items()])
        .sort("placed_at", "trade_id", "fill_no")
    )


def summarize(trades: pl.DataFrame, by: tuple[str, ...] = ("model_name", "model_version")) -> pl.DataFrame:
    """Per group: trades, settled, staked and returned USDC, PnL, ROI, hit rate and mean CLV."""
    settled = pl.col("settled")
    out = trades.group_by(by).agg(
        trades=pl.len(),
        open_cost_usdc=pl.col("cost_usdc").filter(~settled).sum(),
        settled=settled.sum(),
        staked_usdc=pl.col("cost_usdc").filter(settled).sum(),
        returned_usdc=pl.col("payout_usdc").filter(settled).sum(),
        pnl_usdc=pl.col("pnl_usdc").filter(settled).sum(),
        hit_rate=(pl.col("result") == 1.0).filter(settled).mean(),
        mean_clv=pl.col("clv").filter(settled).mean(),
        mean_expected_ev=pl.col("ev_after_costs").filter(settled).mean(),
    )
    # nothing settled yet: nothing staked or won so far, no ROI
    out = out.with_columns(roi=pl.when(settled > 0).then(pl.col("pnl_usdc") / pl.col("staked_usdc")))
    return out.sort(list(by), nulls_last=True)
