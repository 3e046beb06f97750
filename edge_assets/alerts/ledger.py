"""Which alert went out on which channel, and when: the dedupe memory, kept in the lake.

One row per (alert_id, channel) with its latest state, persisted as a single parquet file
(`<lake_root>/alert_ledger/part.parquet`, the lake's unpartitioned layout, so the DuckDB
catalog can expose it as a view) so dedupe survives restarts. Writes are atomic:
locally a temp file renamed over the target; on S3 (or any fsspec URL) one PUT of the whole
object. Writers: comparator runs (two at once at the turn of the hour, or beside a backfill)
and the alert sensors. On one host `ledger_lock` makes load, send and save one step per
process; `save` also merges what others wrote since `load` (object stores have no lock).
"""

import io
import os
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from edge_assets.lake.storage import host_lock

UTC_TS = pl.Datetime("us", "UTC")

LEDGER_SCHEMA: dict[str, pl.DataType] = {
    "alert_id": pl.String(),
    "channel": pl.String(),
    "kind": pl.String(),  # signal | monitor
    "status": pl.String(),  # sent | failed
    "attempts": pl.Int32(),  # delivery attempts so far, across ticks
    "sent_at": UTC_TS,  # when delivered; null while failed
    "last_attempt_at": UTC_TS,
    "error": pl.String(),  # last error (scrubbed of secrets); null once sent
}

LEDGER_DIR = "alert_ledger"
LEDGER_FILE = "part.parquet"


def s3_storage_options(endpoint_url: str | None = None, region: str | None = None) -> dict[str, Any]:
    """fsspec/s3fs options from the lake settings (EDGE_S3_ENDPOINT_URL, EDGE_S3_REGION)."""
    client_kwargs: dict[str, Any] = {}
    if endpoint_url:
        client_kwargs["endpoint_url"] = endpoint_url
    if region:
        client_kwargs["region_name"] = region
    return {"client_kwargs": client_kwargs} if client_kwargs else {}


@dataclass
class LedgerEntry:
    alert_id: str
    channel: str
    kind: str
    status: str
    attempts: int
    sent_at: datetime | None
    last_attempt_at: datetime | None
    error: str | None


def _is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def ledger_lock(lake_root: str) -> AbstractContextManager[None]:
    """Hold this host's lock on the lake's ledger: two comparator runs of adjacent hours both sent an
    edge present in both when they dispatched at once. A local lake is named by its real path, so
    `data/lake` and its absolute or symlinked spelling share one lock."""
    root = str(lake_root).rstrip("/")
    if not _is_remote(root):
        root = os.path.realpath(root.removeprefix("file://"))
    return host_lock("alert-ledger", root)


class AlertLedger:
    """In-memory map of (alert_id, channel) → state, loaded from and saved to one parquet file."""

    def __init__(self, path: str, storage_options: dict[str, Any] | None = None, load: bool = True) -> None:
        self.path = path
        self.storage_options = dict(storage_options or {})
        self._entries: dict[tuple[str, str], LedgerEntry] = {}
        self._changed: set[tuple[str, str]] = set()  # recorded here since the last load or save
        self._dirty = False
        if load:
            self.load()

    @classmethod
    def in_lake(cls, lake_root: str, storage_options: dict[str, Any] | None = None) -> "AlertLedger":
        """The ledger at its standard place under the lake root (local path or s3://bucket/prefix)."""
        return cls(f"{str(lake_root).rstrip('/')}/{LEDGER_DIR}/{LEDGER_FILE}", storage_options)

    def __repr__(self) -> str:
        return f"AlertLedger(path={self.path!r}, rows={len(self._entries)})"

    def __len__(self) -> int:
        return len(self._entries)

    # -- queries -------------------------------------------------------------------------------

    def get(self, alert_id: str, channel: str) -> LedgerEntry | None:
        return self._entries.get((alert_id, channel))

    def sent(self, alert_id: str, channel: str) -> bool:
        entry = self._entries.get((alert_id, channel))
        return entry is not None and entry.status == "sent"

    def attempts(self, alert_id: str, channel: str) -> int:
        entry = self._entries.get((alert_id, channel))
        return 0 if entry is None else entry.attempts

    def sends_since(self, channel: str, since: datetime) -> list[datetime]:
        """Delivery times on a channel at or after `since` (seeds the rate limiter after a restart)."""
        return sorted(
            e.sent_at
            for e in self._entries.values()
            if e.channel == channel and e.sent_at is not None and e.sent_at >= since
        )

    @property
    def dirty(self) -> bool:
        return self._dirty

    # -- updates -------------------------------------------------------------------------------

    def record(
        self,
        alert_id: str,
        channel: str,
        *,
        kind: str,
        status: str,
        attempts: int,
        at: datetime,
        error: str | None = None,
    ) -> LedgerEntry:
        """Record the outcome of `attempts` new delivery attempts (added to the running count)."""
        if status not in ("sent", "failed"):
            raise ValueError(f"ledger status must be 'sent' or 'failed', got {status!r}")
        prev = self._entries.get((alert_id, channel))
        entry = LedgerEntry(
            alert_id=alert_id,
            channel=channel,
            kind=kind,
            status=status,
            attempts=(prev.attempts if prev else 0) + attempts,
            sent_at=at if status == "sent" else None,
            last_attempt_at=at,
            error=None if status == "sent" else error,
        )
        self._entries[(alert_id, channel)] = entry
        self._changed.add((alert_id, channel))
        self._dirty = True
        return entry

    # -- persistence ---------------------------------------------------------------------------

    def to_frame(self) -> pl.DataFrame:
        rows = sorted(self._entries.values(), key=lambda e: (e.alert_id, e.channel))
        return pl.DataFrame(
            {name: [getattr(e, name) for e in rows] for name in LEDGER_SCHEMA},
            schema=LEDGER_SCHEMA,
        )

    def _stored(self) -> dict[tuple[str, str], LedgerEntry]:
        frame = self._read()
        entries: dict[tuple[str, str], LedgerEntry] = {}
        if frame is not None:
            frame = frame.select([pl.col(c).cast(t) for c, t in LEDGER_SCHEMA.items()])
            for row in frame.iter_rows(named=True):  # ledger rows are few (alerts, not quotes)
                entry = LedgerEntry(**row)
                entries[(entry.alert_id, entry.channel)] = entry
        return entries

    def load(self) -> None:
        """Replace the in-memory state with the file's (empty when the file does not exist yet)."""
        self._entries = self._stored()
        self._changed.clear()
        self._dirty = False

    def save(self) -> None:
        """Write the file's current entries with this ledger's new records over them, atomically:
        another writer's records since `load` are kept, not overwritten by this process's old copy."""
        merged = self._stored()
        merged.update({key: self._entries[key] for key in self._changed})
        self._entries = merged
        frame = self.to_frame()
        if _is_remote(self.path):
            from upath import UPath

            buf = io.BytesIO()
            frame.write_parquet(buf)
            target = UPath(self.path, **self.storage_options)  # object stores need no folders
            target.write_bytes(buf.getvalue())  # one PUT: readers see the old or the new object
        else:
            target = Path(self.path.removeprefix("file://"))
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            try:
                with open(tmp, "wb") as out:
                    frame.write_parquet(out)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
        self._changed.clear()
        self._dirty = False

    def _read(self) -> pl.DataFrame | None:
        if _is_remote(self.path):
            from upath import UPath

            source = UPath(self.path, **self.storage_options)
            if not source.exists():
                return None
            return pl.read_parquet(io.BytesIO(source.read_bytes()))
        local = Path(self.path.removeprefix("file://"))
        return pl.read_parquet(local) if local.is_file() else None
