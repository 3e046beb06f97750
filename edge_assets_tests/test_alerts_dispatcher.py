"""Dispatcher: once per channel across ticks and restarts, retries, rate limit, never raising."""

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller

from edge_assets.alerts import (
    Alert,
    AlertDispatcher,
    AlertLedger,
    AlertSendError,
    ConsoleChannel,
    EmailChannel,
    WebhookChannel,
)
from edge_assets_tests.test_alerts_channels import (
    CapturingHandler,
    RecordingServer,
    free_port,
    start_smtp_server,
)

T0 = datetime(2025, 3, 1, 18, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def alert(i: int | str, kind: str = "signal") -> Alert:
    return Alert(alert_id=f"sig-{i}", kind=kind, title=f"Edge {i}", fields={"n": i}, created_at=T0)  # type: ignore[arg-type]


def ids(server: RecordingServer) -> list[str]:
    import json

    return [json.loads(r.body)["alert_id"] for r in server.requests]


@pytest.fixture
def http_server() -> Iterator[RecordingServer]:
    server = RecordingServer()
    yield server
    server.stop()


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, CapturingHandler]]:
    controller, handler = start_smtp_server()
    yield controller, handler
    controller.stop()


@pytest.fixture
def lake(tmp_path: os.PathLike[str]) -> str:
    return str(tmp_path)


def make(
    channels: list, lake: str, clock: FakeClock | None = None, sleeps: list[float] | None = None, **kw: object
) -> AlertDispatcher:
    return AlertDispatcher(
        channels,
        AlertLedger.in_lake(lake),
        sleep=(sleeps if sleeps is not None else []).append,
        clock=clock or FakeClock(),
        **kw,  # type: ignore[arg-type]
    )


def test_each_alert_is_sent_once_across_ticks_and_restarts(http_server: RecordingServer, lake: str) -> None:
    hook = WebhookChannel(http_server.url + "/h")
    first = make([hook], lake)
    r1 = first.dispatch([alert(1), alert(2), alert(1)])  # a duplicate inside one batch too
    assert r1.sent == {"webhook": 2} and r1.total("skipped_duplicate") == 0
    r2 = first.dispatch([alert(1), alert(2), alert(3)])
    assert r2.sent == {"webhook": 1} and r2.skipped_duplicate == {"webhook": 2}
    assert ids(http_server) == ["sig-1", "sig-2", "sig-3"]

    restarted = make([WebhookChannel(http_server.url + "/h")], lake)  # new process: ledger from disk
    r3 = restarted.dispatch([alert(1), alert(2), alert(3)])
    assert r3.sent == {} and r3.skipped_duplicate == {"webhook": 3}
    assert ids(http_server) == ["sig-1", "sig-2", "sig-3"]
    assert r3.alert_status("sig-2") == "sent"
    assert r3.summary() == "skipped_duplicate=3"


def test_retries_with_exponential_backoff_then_sends_once(http_server: RecordingServer, lake: str) -> None:
    http_server.responses = [(500, "busy"), (500, "busy")]
    sleeps: list[float] = []
    d = make([WebhookChannel(http_server.url + "/h")], lake, sleeps=sleeps, backoff_s=0.5)
    report = d.dispatch([alert(1)])
    assert report.sent == {"webhook": 1} and report.total("failed") == 0
    assert sleeps == [0.5, 1.0]
    assert ids(http_server) == ["sig-1", "sig-1", "sig-1"]
    entry = d.ledger.get("sig-1", "webhook")
    assert entry is not None and (entry.status, entry.attempts, entry.error) == ("sent", 3, None)
    d.dispatch([alert(1)])
    assert len(http_server.requests) == 3


def test_server_down_is_reported_never_raised_and_retried_next_tick(
    lake: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    secret_url = f"http://127.0.0.1:{port}/h?token=url-secret-123"
    sleeps: list[float] = []
    d = make([WebhookChannel(secret_url, secret="hmac-secret-456", timeout=2)], lake, sleeps=sleeps)
    with caplog.at_level(logging.DEBUG):
        report = d.dispatch([alert(1), alert(2), alert(3)])
    # alert 1 used the 3 attempts; the channel is then down for this tick: 2 and 3 wait, untried
    assert report.failed == {"webhook": 1} and report.deferred == {"webhook": 2}
    assert sleeps == [0.5, 1.0]
    assert report.alert_status("sig-1") == "failed" and report.alert_status("sig-2") == "pending"
    assert len(report.errors) == 1 and report.errors[0].startswith(
        "webhook sig-1: webhook POST failed: ConnectError"
    )
    entry = AlertLedger.in_lake(lake).get("sig-1", "webhook")  # persisted
    assert entry is not None and (entry.status, entry.attempts, entry.sent_at) == ("failed", 3, None)
    assert "failed after 3 attempt(s) (3 in total)" in caplog.text
    for secret in ("url-secret-123", "hmac-secret-456"):
        assert secret not in caplog.text and secret not in entry.error and secret not in str(report.errors)

    server = RecordingServer(port=port)  # the endpoint comes back
    try:
        again = d.dispatch([alert(1), alert(2), alert(3)])
        assert again.sent == {"webhook": 3}
        assert ids(server) == ["sig-1", "sig-2", "sig-3"]
        assert d.ledger.get("sig-1", "webhook").attempts == 4  # type: ignore[union-attr]
    finally:
        server.stop()


def test_total_attempt_cap_abandons_and_non_retryable_is_not_retried(
    http_server: RecordingServer, lake: str
) -> None:
    http_server.default = (500, "down")
    d = make([WebhookChannel(http_server.url + "/h")], lake, max_attempts=3, max_total_attempts=4)
    assert d.dispatch([alert(1)]).failed == {"webhook": 1}
    assert d.dispatch([alert(1)]).failed == {"webhook": 1}  # only 1 attempt left in the budget
    assert len(http_server.requests) == 4
    third = d.dispatch([alert(1)])
    assert third.abandoned == {"webhook": 1} and third.alert_status("sig-1") == "abandoned"
    assert len(http_server.requests) == 4

    http_server.default = (400, "bad")
    sleeps: list[float] = []
    d2 = make([WebhookChannel(http_server.url + "/h")], lake + "/other", sleeps=sleeps)
    assert d2.dispatch([alert(9)]).failed == {"webhook": 1}
    assert len(http_server.requests) == 5 and sleeps == []  # a 400 will not pass on retry


def test_rate_limit_defers_and_sends_after_the_window(http_server: RecordingServer, lake: str) -> None:
    clock = FakeClock()
    d = make([WebhookChannel(http_server.url + "/h")], lake, clock=clock, max_per_minute=2)
    alerts = [alert(i) for i in range(5)]
    r1 = d.dispatch(alerts)
    assert r1.sent == {"webhook": 2} and r1.rate_limited == {"webhook": 3}
    assert r1.alert_status("sig-2") == "pending"
    assert not d.ledger.sent("sig-2", "webhook")  # deferred, not marked sent

    clock.advance(30)
    assert d.dispatch(alerts).rate_limited == {"webhook": 3}
    # a restart inside the window does not reset the budget (seeded from the ledger)
    restarted = make([WebhookChannel(http_server.url + "/h")], lake, clock=clock, max_per_minute=2)
    assert restarted.dispatch(alerts).rate_limited == {"webhook": 3}

    clock.advance(31)  # 61 s after the first two sends
    r3 = restarted.dispatch(alerts)
    assert (
        r3.sent == {"webhook": 2}
        and r3.rate_limited == {"webhook": 1}
        and r3.skipped_duplicate == {"webhook": 2}
    )
    clock.advance(60)
    r4 = restarted.dispatch(alerts)
    assert r4.sent == {"webhook": 1} and r4.skipped_duplicate == {"webhook": 4}
    assert ids(http_server) == ["sig-0", "sig-1", "sig-2", "sig-3", "sig-4"]


class Exploding:
    """A channel that does not wrap its errors: the dispatcher must still not raise."""

    name = "exploding"

    def __init__(self) -> None:
        self.calls = 0

    def send(self, alert: Alert) -> None:
        self.calls += 1
        raise KeyError("surprise")


class Flaky:
    name = "flaky"

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.sent: list[str] = []

    def send(self, alert: Alert) -> None:
        if self.fail:
            self.fail -= 1
            raise AlertSendError("temporarily unavailable")
        self.sent.append(alert.alert_id)


def test_channels_are_independent_and_nothing_raises(
    lake: str, smtp_server: tuple[Controller, CapturingHandler], capsys: pytest.CaptureFixture[str]
) -> None:
    controller, handler = smtp_server
    boom = Exploding()
    email = EmailChannel("127.0.0.1", controller.port, "edge@example.org", ["ops@example.org"])
    d = make([boom, email, ConsoleChannel()], lake, max_attempts=2)
    report = d.dispatch([alert(1), alert("m", kind="monitor")])
    assert report.failed == {"exploding": 1} and report.deferred == {"exploding": 1}
    assert report.sent == {"email": 2, "console": 2}
    assert boom.calls == 2
    assert report.errors == ["exploding sig-1: KeyError: 'surprise'"]
    assert [e.rcpt_tos for e in handler.envelopes] == [["ops@example.org"], ["ops@example.org"]]
    assert capsys.readouterr().out.splitlines() == [
        "2025-03-01T18:00:00Z [signal] Edge 1 | n=1",
        "2025-03-01T18:00:00Z [monitor] Edge m | n=m",
    ]
    assert d.ledger.get("sig-m", "email").kind == "monitor"  # type: ignore[union-attr]
    assert report.alert_status("sig-1") == "failed" and report.alert_status("nope") == "none"


def test_ledger_save_failure_is_reported_not_raised(tmp_path: os.PathLike[str]) -> None:
    blocker = os.path.join(tmp_path, "not_a_dir")
    with open(blocker, "w") as f:
        f.write("x")
    flaky = Flaky(fail=0)
    d = AlertDispatcher([flaky], AlertLedger.in_lake(blocker), sleep=lambda s: None)
    report = d.dispatch([alert(1)])
    assert report.sent == {"flaky": 1}
    assert len(report.errors) == 1 and report.errors[0].startswith("ledger save: ")
    # in-memory state still dedupes inside this process, and the next save is retried
    assert d.dispatch([alert(1)]).skipped_duplicate == {"flaky": 1} and flaky.sent == ["sig-1"]
    assert d.ledger.dirty


def test_dispatcher_config_errors(lake: str) -> None:
    with pytest.raises(ValueError, match="channel names must be unique"):
        make([Flaky(0), Flaky(0)], lake)
    with pytest.raises(ValueError, match="must be >= 1"):
        make([Flaky(0)], lake, max_per_minute=0)
    with pytest.raises(ValueError, match="unknown outcome 'lost'"):
        make([Flaky(0)], lake).dispatch([]).total("lost")
