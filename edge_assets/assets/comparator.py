"""Comparator assets: features_latest and signals (upserted; each new edge alerted once)."""

import hashlib
from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from edge_assets.assets.common import (
    READS_EARLIER_HOURS,
    RUN_HOURS,
    SINGLE_WRITER,
    lake_asset,
    with_hours_before,
)
from edge_assets.comparator_resources import AlertsResource, ComparatorResource
from edge_assets.features.history import build_features
from edge_assets.features.latest import features_latest_for_hours
from edge_assets.lake.io_manager import UPSERT_MERGE, LakeResource
from edge_assets.models_resource import build_models_resource, lookback_features
from edge_assets.schemas import PM_ORDER_BOOK_SNAPSHOTS, empty
from edge_assets.signals import merge_signals


@lake_asset(
    "comparator",
    ins={
        # the news check compares each poll with the last hour's: the previous hour's polls too
        "pm_markets": with_hours_before(),
        # an hour's first runs, before its hourly book poll, price on the previous hour's books
        "pm_order_book_snapshots": with_hours_before(),
    },
    description="Per mapped Polymarket outcome: ask/bid/mid/depth, consensus and sharp fair probability, "
    "best book price, raw edge, EV after fees and slippage for the configured stake, liquidity.",
)
def features_latest(
    pm_sportsbook_lines: pl.DataFrame,
    oddsapi_live: pl.DataFrame,
    pm_order_book_snapshots: pl.DataFrame,
    market_mappings: pl.DataFrame,
    comparator: ComparatorResource,
    pm_markets: pl.DataFrame,
) -> dg.MaterializeResult:
    df = features_latest_for_hours(
        pm_sportsbook_lines,
        oddsapi_live,
        pm_order_book_snapshots if pm_order_book_snapshots.width else empty(PM_ORDER_BOOK_SNAPSHOTS),
        market_mappings,
        pm_markets,
        devig_method=comparator.devig_method,
        stake_usdc=comparator.stake_usdc,
        max_quote_age=timedelta(seconds=comparator.max_quote_age_s),
    )
    return dg.MaterializeResult(value=df, metadata={"dagster/row_count": df.height})


@lake_asset(
    "comparator",
    partition_column="created_at",
    # 24 h of features_latest from the lake (history features); one alert ledger for every hour
    metadata={
        READS_EARLIER_HOURS: True,
        SINGLE_WRITER: True,
        RUN_HOURS: 120,
        UPSERT_MERGE: "edge_assets.signals:merge_signals_at_write",
    },
    check_specs=[
        dg.AssetCheckSpec(
            "champion_decides",
            asset="signals",
            description="check (1) is decided as configured: by the champion trained for the comparator's "
            "EV bar, or by the rule confidence while no champion exists or when EDGE_CONFIDENCE_BY=rule "
            "(warns on a fallback or a mismatch)",
        )
    ],
    description="Verified edges: confidence (the champion model's P(EV at the close >= min) >= threshold; "
    "rule confidence when no champion exists), price superiority, EV after all costs (≥ min) and liquidity "
    "all pass. Each signal records the model name and version used. Deterministic signal_id per edge and "
    "hour; each edge (edge_id) is alerted once however many hours it lasts (ledger in the lake).",
)
def signals(  # type: ignore[no-untyped-def]  # no return type: see the closing line
    context: dg.AssetExecutionContext,
    features_latest: pl.DataFrame,
    comparator: ComparatorResource,
    alerts: AlertsResource,
    lake: LakeResource,
):  # returns dg.MaterializeResult; annotated so, with check_specs, Dagster types its value Nothing
    from edge_assets.ml.scoring import select_with_champion

    window = context.partition_time_window
    feats = build_features(
        lookback_features(lake.lake(), window.start, features_latest), start=window.start, end=window.end
    )
    # model settings are read at run time (like the alert channels), so the comparator needs no new resource
    found, used, warning = select_with_champion(feats, comparator, build_models_resource())
    context.log.info(f"signals: check (1) by {used}")
    if warning:
        context.log.warning(warning)
    keys = list(context.partition_keys)
    found = merge_signals(lake.lake().read_many("signals", keys, allow_missing=True), found)
    status = "no_channels"
    sent = 0
    # only edges seen within the alert age are news: a backfill of past hours alerted every old edge
    fresh = pl.col("observed_at") >= datetime.now(UTC) - timedelta(minutes=alerts.max_age_minutes)
    too_old = ~fresh & pl.col("alert_status").is_null()
    stale = found.filter(too_old).height if found.height else 0
    if stale:
        found = found.with_columns(
            alert_status=pl.when(too_old).then(pl.lit("stale")).otherwise(pl.col("alert_status"))
        )
    if found.filter(fresh).height or warning:
        try:
            from edge_assets.alerts import Alert

            batch = [Alert.from_signal_row(r) for r in found.filter(fresh).iter_rows(named=True)]
            if warning:  # once a day per problem: the comparator is not running as configured
                day = datetime.now(UTC).strftime("%Y-%m-%d")
                key = hashlib.sha1(warning.encode()).hexdigest()[:8]
                batch.append(
                    Alert.monitor(
                        f"monitor:champion_decides:{day}:{key}",
                        title="edge-assets: the comparator's model check is not decided as configured",
                        text=warning,
                    )
                )
            report = alerts.send(batch)
            sent = report.total("sent")
            status = report.summary()
            found = found.with_columns(
                # the alert key of each row (rows written before edge ids fall back to signal_id)
                alert_status=pl.when(fresh)
                .then(
                    pl.coalesce(pl.col("edge_id"), pl.col("signal_id")).map_elements(
                        report.alert_status, return_dtype=pl.String
                    )
                )
                .otherwise(pl.col("alert_status"))
            )
        except Exception as exc:  # an alert failure never fails the comparator
            context.log.warning(f"alerts not dispatched: {exc}")
            status = f"alert error: {type(exc).__name__}"
    return dg.MaterializeResult(
        value=found.sort("created_at") if found.height else found,
        metadata={
            "dagster/row_count": found.height,
            "alerts_sent": sent,
            "alerts": status,
            "signals_too_old_to_alert": stale,
            "confidence_by": used,
            **({"model_warning": warning} if warning else {}),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="champion_decides",
                passed=warning is None,
                severity=dg.AssetCheckSeverity.WARN,
                description=warning or f"check (1) by {used}",
                metadata={"confidence_by": used},
            )
        ],
    )
