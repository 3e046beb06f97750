"""Settings -> Dagster resources. Secrets never enter resource config (only env var names)."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from edge_assets.lake.io_manager import LakeResource, ParquetLakeIOManager
from edge_assets.settings import Settings, get_settings


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    s = settings or get_settings()
    lake = LakeResource(root=s.lake_root, s3_endpoint_url=s.s3_endpoint_url, s3_region=s.s3_region)
    catalog_db = DuckDBResource(
        database=s.duckdb_path,
        connection_config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    resources: dict[str, object] = {
        "lake": lake,
        "catalog_db": catalog_db,
        "io_manager": ParquetLakeIOManager(lake_resource=lake, catalog_db=catalog_db),
    }
    try:
        from edge_assets.sources_resource import build_source_resources
    except ImportError:  # sources not wired yet
        return resources
    resources.update(build_source_resources(s))
    return resources


__all__ = ["build_resources", "dg"]
