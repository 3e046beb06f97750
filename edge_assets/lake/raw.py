"""The immutable raw lake: every API response body, stored compressed before it is parsed.

One small parquet file per response under raw_responses/api=<source>/dt=/hour=/, named by the
request time and body hash, so re-running a simulated poll rewrites identical files (idempotent)
and nothing already stored is ever overwritten with different content, except that a response
whose body failed to parse gets its `parse_error` filled in (`RawStore.mark_parse_errors`). Each
night the closed hours are compacted (`compact_raw`): one `compacted-*.parquet` per API and hour
holds the same responses.

Files are renamed into place whole but not fsynced one by one (that was ~4 ms per response, a
third of a simulated backfill hour's I/O): a crashed process never loses or tears one; a power
cut may drop the last seconds, as with any OS-buffered log. Curated partitions keep the fsync.
"""

import hashlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs

from edge_assets.lake.storage import Lake
from edge_assets.schemas import RAW_RESPONSES
from edge_assets.sources.http import MalformedResponse, RawExchange, redact

RAW_TABLE = "raw_responses"
# the contract's arrow types (large_string / large_binary, as polars writes and reads them back)
RAW_ARROW_SCHEMA = pl.DataFrame(schema=RAW_RESPONSES).to_arrow().schema


def _arrow_row(row: dict[str, object]) -> pa.Table:
    """One response as an arrow table in the contract, built by polars: pyarrow's own conversion of
    Python values imports pandas (~0.2 s in every run worker that stores a response)."""
    return pl.DataFrame([row], schema=RAW_RESPONSES).to_arrow()


class RawStore:
    """The `on_response` hook of the clients: persists each exchange as it arrives."""

    def __init__(self, lake: Lake, *, on_write: Callable[[str], None] | None = None) -> None:
        self.lake = lake
        self.on_write = on_write
        self.files: list[str] = []
        self.bytes = 0
        self._lock = threading.Lock()

    def __call__(self, exchange: RawExchange) -> None:
        self.store(exchange)

    def store(self, exchange: RawExchange, parse_error: str | None = None) -> str:
        body = exchange.body or b""
        digest = hashlib.sha256(body).hexdigest()
        at = exchange.requested_at.astimezone(UTC)
        params = exchange.params_json()
        row = {
            "source": exchange.source,
            "endpoint": exchange.endpoint,
            "url_path": exchange.url_path,
            "params": params,
            "requested_at": at,
            "elapsed_ms": float(exchange.elapsed_ms),
            "status": exchange.status,
            "quota_remaining": exchange.quota_remaining,
            "quota_used": exchange.quota_used,
            "quota_last": exchange.quota_last,
            "body_zstd": compress(body),
            "body_bytes": len(body),
            "sha256": digest,
            "parse_error": parse_error,
        }
        table = _arrow_row(row)
        # the request in the name (method, path, params, body: the sport is in the path, the tokens of
        # POST /books in the body): on a pinned simulated instant two sports answering the same body
        # ([]) were one file name, and one was lost
        request = f"{exchange.method} {exchange.url_path}?{params}".encode() + (exchange.request_body or b"")
        request_hash = hashlib.sha1(request).hexdigest()[:8]
        name = f"{at:%Y%m%dT%H%M%S%fZ}-{exchange.source}-{request_hash}-{digest[:12]}.parquet"
        path = "/".join(
            [
                self.lake.table_dir(RAW_TABLE),
                f"api={exchange.source}",
                f"dt={at:%Y-%m-%d}",
                f"hour={at:%H}",
                name,
            ]
        )
        self.lake.write_arrow_file(path, table, sync=False)
        with self._lock:
            self.files.append(path)
            self.bytes += len(body)
        if self.on_write:
            self.on_write(path)
        return path

    def mark_parse_errors(self, parsers: Mapping[str, Callable[[bytes], object]]) -> list[str]:
        """After a parse failed: parse each 200 body this store wrote, one at a time, with the parser of
        its endpoint (others are skipped), and rewrite the file of each that fails with its
        `parse_error`: the same response, now saying why. The paths rewritten, in write order.

        Why: parsing runs over a poll's bodies at once, so its error does not say which response
        broke; this way `parse_error IS NOT NULL` finds it in the raw lake. Runs on the failure path only.
        """
        marked = []
        for path in self.files:
            row = self.lake.read_file(path).row(0, named=True)  # one response per file
            parse = parsers.get(row["endpoint"])
            if parse is None or row["status"] != 200 or row["parse_error"] is not None:
                continue
            try:
                parse(decompress(row["body_zstd"], row["body_bytes"]))
            except MalformedResponse as exc:
                row["parse_error"] = redact(exc.detail)  # bodies are stored with the key masked already
                table = _arrow_row(row)
                self.lake.write_arrow_file(path, table, sync=False)
                marked.append(path)
        return marked


def compress(body: bytes) -> bytes:
    return pa.compress(body, codec="zstd", asbytes=True)


def decompress(body_zstd: bytes, body_bytes: int) -> bytes:
    """The exact bytes received (zstd frames need the stored original size here)."""
    return pa.decompress(body_zstd, decompressed_size=body_bytes, codec="zstd", asbytes=True)


# --------------------------------------------------------------------------- compaction

COMPACTED_PREFIX = "compacted-"
_HOUR_DIR = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/hour=(\d{2})$")
# what makes a response itself: the fields its file name is built from
RESPONSE_KEY = ["source", "endpoint", "url_path", "params", "requested_at", "sha256"]


@dataclass(frozen=True)
class Compaction:
    hours: int  # hour folders merged
    files: int  # response files folded in (and removed)
    rows: int  # responses the merged files hold
    first_hour: datetime | None = None  # the earliest hour merged


def compact_raw_hour(lake: Lake, hour_dir: str) -> tuple[int, int]:
    """Fold an hour folder's files into one `compacted-<inputs hash>.parquet`: (response files, rows).

    A live lake writes ~7,000 response files a day (a Gamma poll every minute, live odds every 2);
    a query over a month of them opens ~200,000 files. The merged file, one row per response, is
    written whole under a new name before its inputs (response files and earlier merged files) are
    removed, and no file is ever overwritten: a crash in between, or two compactions of the same
    hour at once, leave rows twice, which the next run folds back into one; nothing is lost. A poll
    re-run later adds files the next run folds in.
    """
    inputs = sorted(
        info.path
        for info in lake.fs.get_file_info(pafs.FileSelector(hour_dir, allow_not_found=True))
        if info.type == pafs.FileType.File and info.path.endswith(".parquet")
    )
    return merge_raw_files(lake, hour_dir, inputs)


def merge_raw_files(lake: Lake, hour_dir: str, inputs: list[str]) -> tuple[int, int]:
    """`compact_raw_hour` on a given listing; an input already gone raises before anything is written."""
    responses = [f for f in inputs if not f.rsplit("/", 1)[-1].startswith(COMPACTED_PREFIX)]
    # merged files first: a response stored again since (a re-run, now with its parse_error) wins
    inputs = sorted(set(inputs) - set(responses)) + sorted(responses)
    if len(inputs) < 2 and not responses:
        return 0, 0
    name = hashlib.sha1("|".join(inputs).encode()).hexdigest()[:16]
    merged = f"{hour_dir}/{COMPACTED_PREFIX}{name}.parquet"
    import pyarrow.dataset as pads  # here: it imports pandas (~0.2 s), which polls never need

    table = pads.dataset(inputs, filesystem=lake.fs, format="parquet", schema=RAW_ARROW_SCHEMA).to_table()
    # a Table always converts to a DataFrame (pyarrow is untyped here, so mypy sees either overload)
    df = (
        cast(pl.DataFrame, pl.from_arrow(table))
        .unique(RESPONSE_KEY, keep="last", maintain_order=True)
        .sort("requested_at", "source", "url_path", "params", "sha256")
    )
    lake.write_file(merged, df)
    lake.delete_files([p for p in inputs if p != merged])  # gone already: a compaction beside this one
    return len(responses), df.height


def compact_raw(lake: Lake, start: datetime | None, end: datetime) -> Compaction:
    """Compact every raw hour folder with files to fold of the hours in [start, end) (``start`` None:
    from the first), for every API, from one recursive listing of the raw lake.

    Why one listing: a backfill writes months of past hours at once; probing each hour of a window
    for each API cost a listing per folder, and a window of the last days never reached them.
    """
    by_hour: dict[str, list[str]] = {}
    selector = pafs.FileSelector(lake.table_dir(RAW_TABLE), allow_not_found=True, recursive=True)
    for info in lake.fs.get_file_info(selector):
        if info.type == pafs.FileType.File and info.path.endswith(".parquet"):
            by_hour.setdefault(info.path.rsplit("/", 1)[0], []).append(info.path)
    hours = files = rows = 0
    first: datetime | None = None
    for hour_dir, inputs in sorted(by_hour.items()):
        found = _HOUR_DIR.search(hour_dir)
        if found is None:
            continue
        hour = datetime.strptime(f"{found[1]} {found[2]}", "%Y-%m-%d %H").replace(tzinfo=UTC)
        if hour >= end or (start is not None and hour < start):
            continue
        try:
            folded, held = merge_raw_files(lake, hour_dir, sorted(inputs))
        except FileNotFoundError:  # a compaction beside this one folded the hour since the listing
            folded, held = compact_raw_hour(lake, hour_dir)
        if held:
            hours, files, rows = hours + 1, files + folded, rows + held
            first = hour if first is None else min(first, hour)
    return Compaction(hours, files, rows, first)


def compact_closed_hours(lake: Lake, days: int | None = None) -> tuple[datetime | None, datetime, Compaction]:
    """`compact_raw` up to the previous hour, which a poll may still be writing into (a Gamma page
    requested at 13:59:59 lands in hour 13): every hour before it, or those of the last ``days``
    days. (the window's start, or the first hour compacted; its end; what was done)"""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    start = end - timedelta(days=days) if days is not None else None
    done = compact_raw(lake, start, end)
    return start if start is not None else done.first_hour, end, done
