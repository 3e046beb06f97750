"""The dedupe ledger: exact round trip on disk and on a real local S3 server (moto)."""

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import polars as pl
import pytest

from edge_assets.alerts import LEDGER_SCHEMA, AlertLedger, s3_storage_options

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
    assert len(requests) == 1 and "PUT /edge-lake/prod/alert_ledger/part.parquet " in requests[0]  # one PUT

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
