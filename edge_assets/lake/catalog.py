"""DuckDB catalog: one view per lake table over its hive-partitioned parquet.

`data/warehouse.duckdb` holds only views, so the parquet lake stays the system of record and
`duckdb data/warehouse.duckdb "select ..."` works on it.
"""

import re
from collections.abc import Iterable
from pathlib import Path

import duckdb
import polars as pl

from edge_assets.lake.raw import RAW_TABLE, RESPONSE_KEY
from edge_assets.lake.s3 import aws_credentials
from edge_assets.lake.storage import Lake

_IDENT = re.compile(r"[^A-Za-z0-9_]")


def view_name(table_path: str) -> str:
    """`ml/training_sets` -> `training_sets`: users query tables by their asset name."""
    return _IDENT.sub("_", table_path.rsplit("/", 1)[-1])


def _load_httpfs(con: duckdb.DuckDBPyConnection) -> None:
    """Load httpfs from the duckdb-extension-httpfs wheel: no download, works offline."""
    import duckdb_extension_httpfs

    version = con.execute("PRAGMA version").fetchall()[0][0]
    ext = Path(duckdb_extension_httpfs.__file__).parent / "extensions" / version / "httpfs.duckdb_extension"
    con.execute(f"INSTALL '{ext}'")
    con.execute("LOAD httpfs")


def configure(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """Make the connection able to read the lake (S3 secret: the credentials pyarrow would use)."""
    if not lake.is_s3:
        return
    _load_httpfs(con)

    def quoted(value: str) -> str:  # a SQL string literal: secrets may hold quotes
        return "'" + value.replace("'", "''") + "'"

    creds = aws_credentials()
    opts = [
        "TYPE s3",
        f"KEY_ID {quoted(creds.key_id)}",
        f"SECRET {quoted(creds.secret)}",
        f"REGION {quoted(lake.s3_region)}",
    ]
    if creds.token:  # temporary credentials (STS, SSO, roles) need it
        opts.append(f"SESSION_TOKEN {quoted(creds.token)}")
    if lake.s3_endpoint_url:
        scheme, _, host = lake.s3_endpoint_url.partition("://")
        opts += [
            f"ENDPOINT '{host}'",
            "URL_STYLE 'path'",
            f"USE_SSL {'true' if scheme == 'https' else 'false'}",
        ]
    con.execute(f"CREATE OR REPLACE TEMPORARY SECRET edge_lake ({', '.join(opts)})")


def connect(duckdb_path: str, lake: Lake, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    Path(duckdb_path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        duckdb_path,
        read_only=read_only,
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    configure(con, lake)
    return con


# The raw view shows each response once: compaction writes the merged file before it deletes its
# inputs, so a crash (or a query) in between would see the hour's responses twice. Duplicates share
# their hour folder, so its columns lead the window's partition and filters on them still prune files.
_RAW_ONCE = (
    " QUALIFY row_number() OVER (PARTITION BY api, dt, hour, "
    + ", ".join(RESPONSE_KEY)
    + " ORDER BY parse_error NULLS LAST) = 1"
)


def view_sql(lake: Lake, table_path: str) -> str:
    return (
        f'CREATE OR REPLACE VIEW "{view_name(table_path)}" AS SELECT * FROM read_parquet('
        f"'{lake.glob_uri(table_path)}', hive_partitioning = true, union_by_name = true)"
        + (_RAW_ONCE if table_path == RAW_TABLE else "")
    )


def refresh(con: duckdb.DuckDBPyConnection, lake: Lake, tables: Iterable[str] | None = None) -> list[str]:
    """Make sure the given tables (default: every table in the lake) have their views.

    A view that already reads the same glob is kept: DuckDB expands the glob and merges the files'
    schemas when the view is queried, so new partitions and new columns show without it, while
    creating a view binds it, reading every file's footer (~0.25 s for 2,160 hourly partitions,
    2.4 s for the raw responses of 90 simulated days) in every process that writes the table.
    """
    names = list(tables) if tables is not None else lake.tables()
    existing = dict(con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall())
    for table in names:
        if not _same_view(existing.get(view_name(table)), lake.glob_uri(table), once=table == RAW_TABLE):
            con.execute(view_sql(lake, table))
    return [view_name(t) for t in names]


def _same_view(sql: str | None, glob: str, *, once: bool = False) -> bool:
    """Whether a stored view definition is `view_sql`'s for this glob (as DuckDB normalizes it)."""
    return (
        sql is not None
        and f"read_parquet('{glob}'," in sql
        and "hive_partitioning = CAST('t' AS BOOLEAN)" in sql
        and "union_by_name = CAST('t' AS BOOLEAN)" in sql
        and ("row_number()" in sql) == once
    )


def query(duckdb_path: str, lake: Lake, sql: str) -> pl.DataFrame:
    """Refresh the catalog, then run one query and return its result."""
    con = connect(duckdb_path, lake)
    try:
        refresh(con, lake)
        return con.execute(sql).pl()
    finally:
        con.close()
