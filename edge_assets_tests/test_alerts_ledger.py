"""The dedupe ledger: exact round trip on disk and on a real local S3 server (moto)."""

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from edge_assets.alerts import LEDGER_SCHEMA, Alert, AlertLedger, s3_storage_options

T0 = datetime(2025, 3, 1, 18, 0, tzinfo=UTC)
T1 = datetime(2025, 3, 1, 18, 1, 30, tzinfo=UTC)


def _fill(ledger: AlertLedger) -> None:
    ledger.record("sig-1", "slack", kind="signal", status="failed", attempts=3, at=T0, error="HTTP 500")
    ledger.record("sig-1", "slack", kind="signal", status="sent", attempts=1, at=T1)
    ledger.record("mon-1", "email", kind="monitor", status="failed", attempts=2, at=T1, error="refused")


def test_record_accumulates_attempts_and_tracks_state(tmp_path: os.PathLike[str]) -> None:
    ledger = AlertLedger.in_lake(str(tmp_path))
    assert len(ledger) == 0 and not ledger.dirty
    _fill(ledger)
    assert ledger.dirty
    assert ledger.sent("sig-1", "slack") and not ledger.sent("sig-1", "email")
    assert not ledger.sent("mon-1", "email")
    assert ledger.attempts("sig-1", "slack") == 4
    assert ledger.attempts("nope", "slack") == 0
    assert ledger.sends_since("slack", T0) == [T1]
    assert ledger.sends_since("slack", datetime(2025, 3, 1, 18, 2, tzinfo=UTC)) == []
    with pytest.raises(ValueError, match="status must be 'sent' or 'failed', got 'rate_limited'"):
        ledger.record("x", "slack", kind="signal", status="rate_limited", attempts=0, at=T0)


def test_local_round_trip_is_exact_and_atomic(tmp_path: os.PathLike[str]) -> None:
    ledger = AlertLedger.in_lake(str(tmp_path) + "/")
    assert ledger.path == f"{tmp_path}/alert_ledger/part.parquet"
    _fill(ledger)
    ledger.save()
    assert not ledger.dirty
    folder = os.path.join(tmp_path, "alert_ledger")
    assert os.listdir(folder) == ["part.parquet"]  # the temp file was renamed, nothing left over

    on_disk = pl.read_parquet(ledger.path)
    assert on_disk.schema == pl.Schema(LEDGER_SCHEMA)
    assert on_disk.to_dicts() == [
        {
            "alert_id": "mon-1",
            "channel": "email",
            "kind": "monitor",
            "status": "failed",
            "attempts": 2,
            "sent_at": None,
            "last_attempt_at": T1,
            "error": "refused",
        },
        {
            "alert_id": "sig-1",
            "channel": "slack",
            "kind": "signal",
            "status": "sent",
            "attempts": 4,
            "sent_at": T1,
            "last_attempt_at": T1,
            "error": None,
        },
    ]
    reloaded = AlertLedger(ledger.path)
    assert reloaded.to_frame().equals(ledger.to_frame())
    assert reloaded.sent("sig-1", "slack") and reloaded.attempts("mon-1", "email") == 2


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, object]]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    options: dict[str, object] = {"key": "testing", "secret": "testing"} | s3_storage_options(
        endpoint, "us-east-1"
    )
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket="edge-lake")
    yield options
    server.stop()


def test_s3_round_trip_on_a_local_s3_server(s3: dict[str, object], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="werkzeug")  # moto's request log
    ledger = AlertLedger.in_lake("s3://edge-lake/prod", storage_options=s3)
    assert ledger.path == "s3://edge-lake/prod/alert_ledger/part.parquet"
    assert len(ledger) == 0  # no object yet: empty ledger, no error
    _fill(ledger)
    caplog.clear()
    ledger.save()
    requests = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    writes = [r for r in requests if '"PUT ' in r or '"POST ' in r or '"DELETE ' in r]
    assert len(writes) == 1 and "PUT /edge-lake/prod/alert_ledger/part.parquet " in writes[0]  # one PUT
    assert all(("HEAD /" in r or "GET /" in r) for r in requests if r not in writes), requests  # merge read

    import s3fs

    fs = s3fs.S3FileSystem(**s3)
    fs.invalidate_cache()
    assert fs.ls("edge-lake/prod/alert_ledger") == ["edge-lake/prod/alert_ledger/part.parquet"]
    reloaded = AlertLedger("s3://edge-lake/prod/alert_ledger/part.parquet", storage_options=s3)
    assert reloaded.to_frame().equals(ledger.to_frame())
    assert reloaded.sent("sig-1", "slack")


def test_s3_storage_options() -> None:
    assert s3_storage_options() == {}
    assert s3_storage_options("http://127.0.0.1:9000", "eu-west-1") == {
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1"}
    }


def test_a_save_keeps_what_another_writer_saved_since_the_load(tmp_path: os.PathLike[str]) -> None:
    """Two comparator runs load the ledger, each sends its own alert and saves: the second save
    used to write its stale copy over the first's record, so that alert went out again later."""
    first, second = AlertLedger.in_lake(str(tmp_path)), AlertLedger.in_lake(str(tmp_path))
    first.record("edge-a", "slack", kind="signal", status="sent", attempts=1, at=T0)
    second.record("edge-b", "slack", kind="signal", status="failed", attempts=1, at=T1, error="HTTP 500")
    first.save()
    second.save()
    stored = AlertLedger.in_lake(str(tmp_path))
    assert stored.sent("edge-a", "slack") and stored.attempts("edge-b", "slack") == 1
    assert second.sent("edge-a", "slack")  # the saver sees the merged state too
    # the same key from both: the later save's record wins
    first.record("edge-b", "slack", kind="signal", status="sent", attempts=1, at=T1)
    first.save()
    assert AlertLedger.in_lake(str(tmp_path)).sent("edge-b", "slack")


class _SlowSink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        time.sleep(0.5)  # a slow channel: the window in which a second process also decided to send
        with open(self.server.log_path, "a") as log:  # type: ignore[attr-defined]
            log.write("post\n")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _send_one(lake_root: str, start: Any) -> None:
    from edge_assets.comparator_resources import AlertsResource
    from edge_assets.settings import get_settings

    get_settings.cache_clear()
    alert = Alert.from_signal_row({"signal_id": "s-1", "edge_id": "edge-1", "ev_after_costs": 0.05})
    start.wait()
    AlertsResource(lake_root=lake_root).send([alert])


def test_two_processes_sending_the_same_edge_at_once_deliver_it_once(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the turn of the hour the comparator runs for both hours at once, and an edge present in both
    went out twice: each run's ledger had not seen the other's send."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowSink)
    server.log_path = str(Path(tmp_path) / "posts.log")  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("EDGE_WEBHOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/hook")
    ctx = multiprocessing.get_context("spawn")  # polars must not be forked
    start = ctx.Event()
    procs = [ctx.Process(target=_send_one, args=(str(Path(tmp_path) / "lake"), start)) for _ in range(2)]
    try:
        for proc in procs:
            proc.start()
        start.set()
        for proc in procs:
            proc.join(timeout=60)
            assert proc.exitcode == 0
    finally:
        server.shutdown()
        server.server_close()
    assert Path(server.log_path).read_text() == "post\n"  # type: ignore[attr-defined]
    assert AlertLedger.in_lake(str(Path(tmp_path) / "lake")).sent("edge-1", "webhook")


def test_ledger_lock_is_one_lock_per_local_lake_whatever_its_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative, an absolute, a symlinked and a file:// spelling of one lake exclude each other
    (two comparator runs would otherwise dispatch the same edge at once); another lake never waits."""
    from edge_assets.alerts.ledger import ledger_lock

    (tmp_path / "lake").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "lake")
    monkeypatch.chdir(tmp_path)
    spellings = [str(tmp_path / "lake"), str(tmp_path / "link"), f"file://{tmp_path}/lake"]
    got = {root: threading.Event() for root in spellings}

    def waiter(root: str) -> None:
        with ledger_lock(root):
            got[root].set()

    with ledger_lock("lake/"):
        threads = [threading.Thread(target=waiter, args=(root,), daemon=True) for root in spellings]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        assert [root for root in spellings if got[root].is_set()] == []
        with ledger_lock(str(tmp_path / "elsewhere")):  # another lake: no wait
            pass
    for thread in threads:
        thread.join(10)
    assert all(event.is_set() for event in got.values())


def test_the_ledger_and_mlflow_sign_for_the_lakes_region(monkeypatch: pytest.MonkeyPatch) -> None:
    """EDGE_S3_REGION reached pyarrow and DuckDB only: s3fs (the ledger) and boto3 (MLflow's
    artifacts) signed for us-east-1, which a store pinned to another region refuses."""
    from edge_assets.comparator_resources import AlertsResource
    from edge_assets.ml import registry

    alerts = AlertsResource(
        lake_root="s3://bucket/lake", s3_endpoint_url="http://127.0.0.1:9", s3_region="eu-west-1"
    )
    assert alerts.ledger_options() == {
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9", "region_name": "eu-west-1"}
    }
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL", raising=False)
    registry.use_s3_endpoint("http://127.0.0.1:9", "eu-west-1")
    assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
    registry.use_s3_endpoint("http://127.0.0.1:9", "ap-south-1")  # the user's own (or the first) stays
    assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
