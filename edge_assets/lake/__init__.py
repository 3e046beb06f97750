"""The lake: partitioned parquet on local disk or S3, and a DuckDB catalog of views over it."""

from edge_assets.lake.storage import Lake, LakeMissingPartition, partition_subpath

__all__ = ["Lake", "LakeMissingPartition", "partition_subpath"]
