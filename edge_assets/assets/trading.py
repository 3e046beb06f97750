"""Paper trading assets: each edge's trade, filled at the comparator's book walk, settled from scores,
and the book levels each trade's fill took."""

from datetime import timedelta

import dagster as dg
import polars as pl

from edge_assets.assets.common import lake_asset
from edge_assets.assets.comparator import features_latest, signals
from edge_assets.assets.ingest import oddsapi_scores, pm_order_book_snapshots
from edge_assets.features.labels import CLOSE_WINDOW
from edge_assets.lake.io_manager import LakeResource
from edge_assets.models_resource import ModelsResource
from edge_assets.partitions import DAILY, hours_between
from edge_assets.trading import paper

CLOSE_COLUMNS = ["pm_token_id", "observed_at", "commence_time", "fair_prob", "sharp_prob"]


@lake_asset(
    "trading",
    partitions_def=DAILY,
    partition_column="placed_at",
    deps=[
        dg.AssetDep(signals, partition_mapping=dg.TimeWindowPartitionMapping()),
        dg.AssetDep(features_latest, partition_mapping=dg.TimeWindowPartitionMapping()),
        oddsapi_scores,
    ],
    description="Paper trades of the day's new edges: one per edge at its first signal, filled at the "
    "comparator's order-book walk (VWAP + taker fee), settled from the first completed score within the "
    "label horizon: payout, PnL, ROI and closing-line value. Rebuilt hourly for today, daily for the days "
    "still settling (paper_trades_hourly).",
)
def paper_trades(
    context: dg.AssetExecutionContext, lake: LakeResource, models: ModelsResource
) -> dg.MaterializeResult:
    store = lake.lake()
    window = context.partition_time_window
    horizon = timedelta(days=models.label_horizon_days)
    history = store.read_many(
        "signals",
        hours_between(window.start - paper.REENTRY_GAP, window.end),
        allow_missing=True,
        columns=paper.SIGNAL_INPUT_COLUMNS,
    )
    opening = paper.opening_signals(history, start=window.start, end=window.end)
    snapshots = scores = pl.DataFrame()
    if opening.height:
        tokens = opening["pm_token_id"].unique().implode()
        snapshots = store.read_many(
            "features_latest",
            hours_between(window.start - CLOSE_WINDOW, window.end + horizon),
            allow_missing=True,
            columns=CLOSE_COLUMNS,
        ).filter(pl.col("pm_token_id").is_in(tokens))
        days = (window.end + horizon - window.start).days
        day_keys = [(window.start + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)]
        scores = store.read_many("oddsapi_scores", day_keys, allow_missing=True)
    df = paper.paper_trades(opening, snapshots, scores, horizon=horizon)
    settled = df.filter(pl.col("settled"))
    return dg.MaterializeResult(
        value=df,
        metadata={
            "dagster/row_count": df.height,
            "settled": settled.height,
            "staked_usdc": round(float(settled["cost_usdc"].sum()), 2),
            "pnl_usdc": round(float(settled["pnl_usdc"].sum()), 2),
        },
    )


# a trade's book is the latest snapshot at or before it: in the hour or, at an hour's start, the one before
BOOK_LOOKBACK = timedelta(hours=1)


@lake_asset(
    "trading",
    partitions_def=DAILY,
    partition_column="placed_at",
    deps=[
        paper_trades,
        dg.AssetDep(signals, partition_mapping=dg.TimeWindowPartitionMapping()),
        dg.AssetDep(pm_order_book_snapshots, partition_mapping=dg.TimeWindowPartitionMapping()),
    ],
    description="Fills of the day's paper trades: the levels of the order-book snapshot each trade was "
    "priced on, walked for its shares, best first (price, shares, USDC, taker fee). A trade's fills sum to "
    "its shares, VWAP and fee.",
)
def paper_fills(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    store = lake.lake()
    window = context.partition_time_window
    trades = store.read_many("paper_trades", list(context.partition_keys), allow_missing=True)
    books = fees = pl.DataFrame()
    if trades.height:
        books = store.read_many(
            "pm_order_book_snapshots",
            hours_between(window.start - BOOK_LOOKBACK, window.end),
            allow_missing=True,
            columns=paper.BOOK_INPUT_COLUMNS,
            where=pl.col("token_id").is_in(trades["pm_token_id"].unique().implode()),
        )
        fees = store.read_many(
            "signals",
            hours_between(window.start, window.end),
            allow_missing=True,
            columns=["signal_id", "fee_rate"],
        )
    df = paper.paper_fills(trades, books, fees)
    unfilled = trades.height - df["trade_id"].n_unique()
    if unfilled:
        context.log.warning(
            f"paper_fills: {unfilled} of {trades.height} trades have no book snapshot in the lake"
        )
    return dg.MaterializeResult(
        value=df,
        metadata={"dagster/row_count": df.height, "trades": trades.height, "trades_without_book": unfilled},
    )


__all__ = ["paper_fills", "paper_trades"]
