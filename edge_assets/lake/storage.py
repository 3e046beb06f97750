"""Partitioned parquet storage on a pyarrow filesystem (local or S3), with atomic writes.

Layout: <root>/<table path>/dt=YYYY-MM-DD/hour=HH/part.parquet (hourly), dt=YYYY-MM-DD/ (daily),
<root>/<table path>/part.parquet (unpartitioned): the hive layout DuckDB reads, with no ':' in keys.
"""

import contextlib
import fcntl
import hashlib
import io
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import BinaryIO
from urllib.parse import quote

import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

PART_FILE = "part.parquet"

# zstd level 1, not polars' default 3: an order-book hour writes in 1.9 instead of 3.5 ms and is 5 %
# larger (140 vs 133 KiB); reads are as fast
ZSTD_LEVEL = 1


@contextlib.contextmanager
def host_lock(kind: str, name: str) -> Iterator[None]:
    """An exclusive flock held by one process of this host at a time, per (kind, name). The lock
    file lives in the temp dir, so the lake holds only data (flock binds one host's processes anyway)."""
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    with open(os.path.join(tempfile.gettempdir(), f"edge-{kind}-{digest}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class LakeMissingPartition(FileNotFoundError):
    """A partition that was asked for has never been written."""


def partition_subpath(partition_key: str | None) -> str:
    """Map a Dagster partition key to its hive folder ('' for unpartitioned)."""
    if partition_key is None:
        return ""
    key = partition_key
    if len(key) == 16 and key[10] == "-" and key[13] == ":":  # hourly: 2026-01-01-05:00
        return f"dt={key[:10]}/hour={key[11:13]}"
    if len(key) == 10 and key[4] == "-" and key[7] == "-":  # daily: 2026-01-01
        return f"dt={key}"
    return f"key={quote(key, safe='')}"


class Lake:
    """A lake root on the local filesystem or on S3 (``s3://bucket/prefix``)."""

    def __init__(
        self,
        root: str,
        *,
        s3_endpoint_url: str | None = None,
        s3_region: str = "us-east-1",
    ) -> None:
        self.root = root.rstrip("/")
        self.is_s3 = self.root.startswith("s3://")
        if self.is_s3:
            kwargs: dict[str, object] = {"region": s3_region}
            if s3_endpoint_url:
                scheme, _, host = s3_endpoint_url.partition("://")
                kwargs["endpoint_override"] = host or scheme
                kwargs["scheme"] = scheme if host else "https"
            self.fs: pafs.FileSystem = pafs.S3FileSystem(**kwargs)
            # writes only: the upload starts at close, so an object under the part size is one
            # PutObject (a failed one leaves nothing); the eager stream's multipart uploads were
            # 3 requests an object and left billed orphan parts when a part or the completion failed
            self._put_fs = pafs.S3FileSystem(**kwargs, allow_delayed_open=True)
            self.base = self.root.removeprefix("s3://")
        else:
            self.fs = pafs.LocalFileSystem()
            self.base = os.path.abspath(self.root)
        self.s3_endpoint_url = s3_endpoint_url
        self.s3_region = s3_region

    # paths -------------------------------------------------------------------------------
    def table_dir(self, table: str | Sequence[str]) -> str:
        parts = [table] if isinstance(table, str) else list(table)
        return "/".join([self.base, *parts])

    def partition_file(self, table: str | Sequence[str], partition_key: str | None) -> str:
        sub = partition_subpath(partition_key)
        return "/".join(p for p in (self.table_dir(table), sub, PART_FILE) if p)

    def uri(self, path: str) -> str:
        return f"s3://{path}" if self.is_s3 else path

    def glob_uri(self, table: str | Sequence[str]) -> str:
        """What DuckDB reads for one table: every parquet file below its folder."""
        return self.uri(self.table_dir(table)) + "/**/*.parquet"

    # writes ------------------------------------------------------------------------------
    def write(self, table: str | Sequence[str], partition_key: str | None, df: pl.DataFrame) -> str:
        """Write one partition atomically: readers see the old file or the new one, never half."""
        path = self.partition_file(table, partition_key)
        self.write_file(path, df)
        return path

    def write_file(self, path: str, df: pl.DataFrame, *, sync: bool = True) -> None:
        """Atomic write (temp file + rename). ``sync=False`` skips the fsync (~4 ms on ext4): the file
        still survives a process crash whole, only a power cut may lose it.

        polars' own writer: ~30 % faster than pyarrow's on our tables, and it reads back equal.
        """
        self._write_atomic(
            path, lambda out: df.write_parquet(out, compression="zstd", compression_level=ZSTD_LEVEL), sync
        )

    def write_arrow_file(self, path: str, table: pa.Table, *, sync: bool = True) -> None:
        """Like `write_file` for a small pyarrow table whose bulk is compressed already (a raw response
        body): pyarrow's writer, no page compression, statistics or dictionaries. For a one-row file
        that is ~0.6 against ~1.0 ms with polars' writer at zstd, and the file is no larger."""
        self._write_atomic(
            path,
            lambda out: pq.write_table(
                table, out, compression="none", use_dictionary=False, write_statistics=False
            ),
            sync,
        )

    def _write_atomic(self, path: str, serialize: Callable[[BinaryIO], None], sync: bool) -> None:
        if self.is_s3:
            # Serialize fully first, then upload in one request: pyarrow's S3 stream would complete
            # a half-written multipart upload on close, so a crash must happen before any bytes go out.
            buffer = io.BytesIO()
            serialize(buffer)
            with self._put_fs.open_output_stream(path) as out:
                out.write(buffer.getvalue())
            return
        parent = path.rsplit("/", 1)[0]
        os.makedirs(parent, exist_ok=True)
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as out:
                serialize(out)
                if sync:
                    out.flush()
                    os.fsync(out.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def delete_files(self, paths: Sequence[str]) -> None:
        """Delete files that may be gone already. On S3 one DeleteObjects request per 1,000: pyarrow's
        delete_file is a request a file and leaves a 0-byte folder marker behind in each folder."""
        if not self.is_s3:
            for path in paths:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
            return
        import boto3  # dagster-aws's dependency; batch deletes only

        client = boto3.client("s3", endpoint_url=self.s3_endpoint_url, region_name=self.s3_region)
        by_bucket: dict[str, list[str]] = {}
        for path in paths:
            bucket, _, key = path.partition("/")
            by_bucket.setdefault(bucket, []).append(key)
        for bucket, keys in by_bucket.items():
            for i in range(0, len(keys), 1000):
                objects = [{"Key": k} for k in keys[i : i + 1000]]
                failed = client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
                if errors := failed.get("Errors"):
                    raise OSError(f"S3 delete of {len(errors)} objects failed, first: {errors[0]}")

    def write_lock(self, table: str | Sequence[str]) -> contextlib.AbstractContextManager[None]:
        """This host's lock on a local table's read-merge-writes: two runs upserting one partition
        (a poll run slower than the minute beside the next one) each wrote what it had read plus its
        own rows, and the last one lost the other's. One lock per table (a write holds it for
        milliseconds). On S3, where flock cannot reach, the last writer wins."""
        if self.is_s3:
            return contextlib.nullcontext()
        return host_lock("lake", os.path.realpath(self.table_dir(table)))

    # reads -------------------------------------------------------------------------------
    def exists(self, table: str | Sequence[str], partition_key: str | None) -> bool:
        info = self.fs.get_file_info(self.partition_file(table, partition_key))
        return info.type == pafs.FileType.File

    def read(
        self,
        table: str | Sequence[str],
        partition_key: str | None,
        columns: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        path = self.partition_file(table, partition_key)
        try:
            return self.read_file(path, columns)
        except FileNotFoundError as exc:
            name = "/".join([table] if isinstance(table, str) else table)
            where = f"partition {partition_key}" if partition_key else "its only file"
            raise LakeMissingPartition(f"lake table {name}: {where} has not been written ({path})") from exc

    def read_file(self, path: str, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """One parquet file; ``columns`` reads only those (ones the file lacks are skipped)."""
        info = self.fs.get_file_info(path)
        if info.type != pafs.FileType.File:
            raise FileNotFoundError(path)
        if columns is None:
            if not self.is_s3:  # polars reads a small local file ~2x faster than pq.read_table
                # through one open file: by path polars opens it again for the data, which may by
                # then be another writer's replacement (a footer of one file, pages of the other)
                with open(path, "rb") as handle:
                    return pl.read_parquet(handle)
            return pl.from_arrow(pq.read_table(path, filesystem=self.fs))  # type: ignore[return-value]
        with self.fs.open_input_file(path) as source:  # one open: schema, then only those columns
            parquet = pq.ParquetFile(source)
            present = set(parquet.schema_arrow.names)
            table = parquet.read(columns=[c for c in columns if c in present])
        return pl.from_arrow(table)  # type: ignore[return-value]

    def read_many(
        self,
        table: str | Sequence[str],
        partition_keys: Iterable[str],
        *,
        allow_missing: bool = False,
        columns: Sequence[str] | None = None,
        written: Mapping[str, pl.DataFrame] | None = None,
        where: pl.Expr | None = None,
    ) -> pl.DataFrame:
        """Read a window of partitions as one frame (missing ones skipped only when allowed).

        ``written``: partitions this process has just written, by key, used instead of reading
        their files back. ``where``: a row filter, pushed into the scan on a local lake (a few
        tokens' rows of a week of book snapshots: 0.38 -> 0.11 s).
        """
        keys = list(partition_keys)
        if columns is not None and not written and not self.is_s3:
            scanned = self._scan_local(table, keys, columns, allow_missing=allow_missing, where=where)
            if scanned is not None:
                return scanned
        frames = []
        for key in keys:
            if written is not None and key in written:
                part = written[key]
                frames.append(
                    part if columns is None else part.select([c for c in columns if c in part.columns])
                )
                continue
            try:
                frames.append(self.read(table, key, columns))
            except LakeMissingPartition:
                if not allow_missing:
                    raise
        frames = [f for f in frames if f.width]
        if not frames:
            return pl.DataFrame()
        out = pl.concat(frames, how="diagonal_relaxed")
        out = out if columns is None else out.select([c for c in columns if c in out.columns])
        return out if where is None else out.filter(where)

    def _scan_local(
        self,
        table: str | Sequence[str],
        keys: list[str],
        columns: Sequence[str],
        *,
        allow_missing: bool,
        where: pl.Expr | None = None,
    ) -> pl.DataFrame | None:
        """Some columns of many local partitions in one polars scan: ~7x faster than a read per
        file for hundreds of small files. None (the caller reads file by file) when a partition is
        missing and not allowed to be, or when the files' schemas differ in a way only the per-file
        read reconciles (a requested column absent from the first file, different types), or when a
        file was replaced while scanned."""
        paths = [self.partition_file(table, key) for key in keys]
        files = [path for path in paths if os.path.isfile(path)]
        if not files or (len(files) < len(paths) and not allow_missing):
            return None
        try:
            scan = pl.scan_parquet(files, missing_columns="insert", extra_columns="ignore").select(columns)
            return (scan if where is None else scan.filter(where)).collect()
        except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
            # a file replaced by a writer while scanned panics the scan: read file by file
            return None

    def day_keys(self, table: str | Sequence[str]) -> list[str]:
        """The daily partition keys (``dt=YYYY-MM-DD`` folders) a table holds, in order."""
        selector = pafs.FileSelector(self.table_dir(table), allow_not_found=True)
        return sorted(
            info.base_name[3:]
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.Directory and info.base_name.startswith("dt=")
        )

    def tables(self) -> list[str]:
        """Table paths (relative to the root) that hold at least one parquet file."""
        selector = pafs.FileSelector(self.base, recursive=True, allow_not_found=True)
        found: set[str] = set()
        for info in self.fs.get_file_info(selector):
            if info.type != pafs.FileType.File or not info.path.endswith(".parquet"):
                continue
            rel = info.path[len(self.base) :].strip("/").split("/")[:-1]
            table = [p for p in rel if "=" not in p]
            if table:
                found.add("/".join(table))
        return sorted(found)
