"""Pure polars feature builders (no Dagster)."""

from edge_assets.features.latest import FEATURES_LATEST_COLUMNS, build_features_latest

__all__ = ["FEATURES_LATEST_COLUMNS", "build_features_latest"]
