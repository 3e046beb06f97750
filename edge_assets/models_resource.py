"""The models resource (MLflow store, training and scoring settings) and the comparator's lookback read."""

from datetime import datetime, timedelta

import dagster as dg
import polars as pl

from edge_assets.features.history import HISTORY_HOURS
from edge_assets.lake.storage import Lake
from edge_assets.partitions import hours_between
from edge_assets.settings import Settings, get_settings


class ModelsResource(dg.ConfigurableResource):
    """Where models are tracked and how they are trained and used (EDGE_MLFLOW_*, EDGE_MODEL_*)."""

    tracking_uri: str = "sqlite:///data/mlflow.db"
    artifact_root: str = "data/lake/mlflow-artifacts"
    s3_endpoint_url: str | None = None  # the lake's S3-compatible endpoint, for artifacts on s3://
    s3_region: str | None = None  # the lake's region (EDGE_S3_REGION) when it is on S3
    min_history_days: int = 60
    holdout_days: int = 14
    label_horizon_days: int = 4
    model_threshold: float | None = None  # None: tuned at training (ml.train.tune_threshold)
    confidence_by: str = "champion"  # "rule": the rule confidence decides check (1) whatever the champion

    def has_store(self) -> bool:
        """Cheap check (no mlflow import): a sqlite store that does not exist holds no champion."""
        if self.tracking_uri.startswith("sqlite:///"):
            from pathlib import Path

            return Path(self.tracking_uri.removeprefix("sqlite:///")).is_file()
        return True


def build_models_resource(s: Settings | None = None) -> ModelsResource:
    s = s or get_settings()
    return ModelsResource(
        tracking_uri=s.mlflow_tracking_uri,
        artifact_root=s.mlflow_artifact_root or f"{s.lake_root}/mlflow-artifacts",
        s3_endpoint_url=s.s3_endpoint_url,
        s3_region=s.s3_region if s.is_s3 else None,
        min_history_days=s.model_min_history_days,
        holdout_days=s.model_holdout_days,
        label_horizon_days=s.model_label_horizon_days,
        model_threshold=s.model_threshold,
        confidence_by=s.confidence_by,
    )


def lookback_features(lake: Lake, window_start: datetime, window: pl.DataFrame) -> pl.DataFrame:
    """The window's features_latest rows plus the HISTORY_HOURS hours before it, read from the lake."""
    keys = hours_between(window_start - timedelta(hours=HISTORY_HOURS), window_start)
    before = lake.read_many("features_latest", keys, allow_missing=True)
    frames = [f for f in (before, window) if f.height]
    return pl.concat(frames, how="diagonal_relaxed") if frames else window
