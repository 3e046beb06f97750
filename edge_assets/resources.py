"""Settings -> Dagster resources. Secrets never enter resource config (only env var names)."""

from dagster_duckdb import DuckDBResource

from edge_assets.comparator_resources import build_comparator_resources
from edge_assets.lake.io_manager import LakeResource, ParquetLakeIOManager
from edge_assets.models_resource import build_models_resource
from edge_assets.settings import Settings, get_settings
from edge_assets.sources_resource import build_source_resources


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    s = settings or get_settings()
    lake = LakeResource(root=s.lake_root, s3_endpoint_url=s.s3_endpoint_url, s3_region=s.s3_region)
    catalog_db = DuckDBResource(
        database=s.duckdb_path,
        connection_config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    return {
        "lake": lake,
        "catalog_db": catalog_db,
        "io_manager": ParquetLakeIOManager(lake_resource=lake, catalog_db=catalog_db),
        **build_source_resources(s),
        **build_comparator_resources(s),
        "models": build_models_resource(s),
    }
