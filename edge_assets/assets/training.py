"""ML assets: features (hourly), training_sets (daily), edge_models (MLflow-versioned)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import cast

import dagster as dg
import polars as pl

from edge_assets.assets.common import RUN_HOURS, WARM_UP, lake_asset, with_hours_before
from edge_assets.assets.ingest import oddsapi_scores
from edge_assets.comparator_resources import AlertsResource, ComparatorResource
from edge_assets.features.history import HISTORY_HOURS, build_features
from edge_assets.features.labels import CLOSE_WINDOW, TRAINING_COLUMNS, build_labels
from edge_assets.lake.io_manager import LakeResource
from edge_assets.models_resource import ModelsResource
from edge_assets.partitions import DAILY, hours_between

TRAINING_TABLE = "ml/training_sets"


@lake_asset(
    "ml",
    ins={
        # history features look back HISTORY_HOURS hours before the run's first hour
        "features_latest": with_hours_before(HISTORY_HOURS)
    },
    metadata={RUN_HOURS: 120},
    description="Model features per mapped outcome and hour: the features_latest snapshot plus point-in-time "
    "history (line deltas 1/6/24 h, drift, liquidity decay, volatility, mean-reversion z, time to start). "
    "Same code as the comparator's scoring (features.history.build_features).",
)
def features(context: dg.AssetExecutionContext, features_latest: pl.DataFrame) -> dg.MaterializeResult:
    window = context.partition_time_window
    df = build_features(features_latest, start=window.start, end=window.end)
    return dg.MaterializeResult(value=df, metadata={"dagster/row_count": df.height})


@lake_asset(
    "ml",
    partitions_def=DAILY,
    key_prefix=["ml"],
    deps=[
        dg.AssetDep(features, partition_mapping=dg.TimeWindowPartitionMapping()),
        oddsapi_scores,
    ],
    description="Labelled feature rows observed on the day whose game has settled: closing-line value vs the "
    "sharp close, result from scores, EV after fees and slippage at the entry price; valid = EV > 0 at the "
    "close. Lake: ml/training_sets (DuckDB view training_sets).",
)
def training_sets(
    context: dg.AssetExecutionContext, lake: LakeResource, models: ModelsResource
) -> dg.MaterializeResult:
    store = lake.lake()
    window = context.partition_time_window
    horizon = timedelta(days=models.label_horizon_days)
    # from a close window before the first day (a row's close may be the day before) to the last
    # day's settlement horizon
    feats = store.read_many(
        "features", hours_between(window.start - CLOSE_WINDOW, window.end + horizon), allow_missing=True
    )
    days = [k for k in store.day_keys("oddsapi_scores") if window.start.strftime("%Y-%m-%d") <= k]
    last_day = (window.end + horizon).strftime("%Y-%m-%d")
    scores = store.read_many("oddsapi_scores", [d for d in days if d <= last_day], allow_missing=True)
    if feats.height == 0 or scores.height == 0:
        df = pl.DataFrame(schema=TRAINING_COLUMNS)
    else:
        rows = feats.filter((pl.col("observed_at") >= window.start) & (pl.col("observed_at") < window.end))
        df = build_labels(rows, feats, scores, horizon=horizon)
    valid = int(df["valid"].sum() or 0) if df.height else 0
    return dg.MaterializeResult(
        value=df,
        metadata={"dagster/row_count": df.height, "valid": valid, "days": len(context.partition_keys)},
    )


@dg.asset(
    group_name="ml",
    kinds={"sklearn", "xgboost", "mlflow"},
    deps=[training_sets],
    output_required=False,
    metadata={WARM_UP: "edge_assets.ml.registry:warm_up"},
    description="Validity classifier (logistic) + EV regressor (XGBoost), trained walk-forward on all "
    "training sets, logged to MLflow and registered; the alias `champion` moves only when the new version "
    "beats it on the same held-out window. Waits (no materialization) while history < the minimum.",
)
def edge_models(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    models: ModelsResource,
    comparator: ComparatorResource,
    alerts: AlertsResource,
) -> Iterator[dg.Output[None]]:  # nothing while history is short (output_required=False)
    from edge_assets.ml.registry import log_and_promote
    from edge_assets.ml.train import (
        TRAINING_READ_COLUMNS,
        Comparators,
        candidate_mask,
        fit_models,
        versus_rule,
        walk_forward_split,
    )

    store = lake.lake()
    days = store.day_keys(TRAINING_TABLE)
    span = 0
    if days:
        span = (datetime.fromisoformat(days[-1]) - datetime.fromisoformat(days[0])).days + 1
    if span < models.min_history_days:
        context.log.warning(
            f"edge_models: waiting for history: {span} day(s) of training_sets, the minimum is "
            f"{models.min_history_days} (EDGE_MODEL_MIN_HISTORY_DAYS); no model trained"
        )
        return
    data = store.read_many(TRAINING_TABLE, days, allow_missing=True, columns=TRAINING_READ_COLUMNS)
    split = walk_forward_split(data, models.holdout_days) if data.height else None
    if split is None or split[0].height == 0:
        context.log.warning(
            f"edge_models: waiting for history: {span} day(s) of training_sets leave no settled rows "
            f"before the {models.holdout_days}-day held-out window (EDGE_MODEL_HOLDOUT_DAYS); "
            "no model trained"
        )
        return
    train, hold, cutoff = split
    if not candidate_mask(hold).any():  # a quiet fortnight: nothing to judge a new model against
        context.log.warning(
            f"edge_models: waiting: the {models.holdout_days}-day held-out window ({hold.height} rows) has "
            "no candidate edge to judge a model on (EDGE_MODEL_HOLDOUT_DAYS); no model trained"
        )
        return
    end = cast(datetime, data["observed_at"].max())  # data has rows (split is not None)
    # the threshold is tuned against the comparator's own bars (EV, size): what it will be used with
    cfg = Comparators(
        model_threshold=models.model_threshold,
        min_confidence=comparator.min_confidence,
        min_ev=comparator.min_ev,
        min_size_usdc=comparator.min_trade_usdc,
    )
    fitted = fit_models(train, holdout_range=(cutoff, end), n_holdout=hold.height, cfg=cfg)
    outcome = log_and_promote(
        fitted,
        hold,
        tracking_uri=models.tracking_uri,
        artifact_root=models.artifact_root,
        partition_range=(days[0], days[-1]),
        cfg=cfg,
        s3_endpoint_url=models.s3_endpoint_url,
        s3_region=models.s3_region,
    )
    context.log.info(f"edge_models: {outcome.reason}")
    # what the comparator runs on from now, against the rule on the same held-out rows
    passed, account = versus_rule(
        outcome.champion_stats, outcome.metrics["rule"], f"champion v{outcome.champion_version}"
    )
    (context.log.info if passed else context.log.warning)(f"edge_models: {account}")
    if not passed and models.confidence_by == "champion":
        _alert_worse_than_rule(context, alerts, outcome.run_id, outcome.champion_version, account)
    m = outcome.metrics
    yield dg.Output(
        None,
        metadata={
            "run_id": outcome.run_id,
            "classifier_version": outcome.classifier_version,
            "regressor_version": outcome.regressor_version,
            "promoted": outcome.promoted,
            "champion_decision": outcome.reason,
            "champion_vs_rule": account,
            "train_rows": fitted.n_train,
            "holdout_rows": fitted.n_holdout,
            "partitions": f"{days[0]}..{days[-1]}",
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **{f"{who}_{k}": float(v) for who in ("model", "rule") for k, v in m[who].items() if v == v},
        },
    )


def _alert_worse_than_rule(
    context: dg.AssetExecutionContext, alerts: AlertsResource, run_id: str, version: str, account: str
) -> None:
    """One monitor alert per training run that leaves the comparator on a champion worse than the rule."""
    from edge_assets.alerts import Alert

    try:
        report = alerts.send(
            [
                Alert.monitor(
                    f"monitor:champion_beats_rule:{run_id}",
                    title=f"edge-assets: champion v{version} is not better than the rule",
                    text=account,
                )
            ]
        )
        context.log.info(f"edge_models: champion alert {report.summary()}")
    except Exception as exc:  # an alert failure never fails the training run
        context.log.warning(f"edge_models: champion alert not dispatched: {exc}")


__all__ = ["edge_models", "features", "training_sets"]
