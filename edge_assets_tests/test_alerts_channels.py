"""Channels against real loopback servers: an HTTP server (webhook, Slack) and an SMTP server."""

import json
import logging
import smtplib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from edge_assets.alerts import (
    Alert,
    AlertSendError,
    ConsoleChannel,
    EmailChannel,
    SlackChannel,
    WebhookChannel,
)
from edge_assets.alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify

BOT_TOKEN = "xoxb-111-222-SuperSecretBotToken"
HOOK_SECRET = "whsec-TopSecretSigningKey"
SMTP_PASSWORD = "smtp-Pa55word-Secret"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class RecordingServer:
    """A real HTTP server on 127.0.0.1 that records every request and answers from a script.

    `responses` is consumed in order, one per request; once empty every request gets `default`.
    """

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Recorded] = []
        self.responses: list[tuple[int, str]] = []
        self.default: tuple[int, str] = (200, "ok")
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with server._lock:
                    server.requests.append(Recorded("POST", self.path, dict(self.headers.items()), body))
                    status, text = server.responses.pop(0) if server.responses else server.default
                payload = text.encode("utf-8")
                self.send_response(status)
                ctype = "application/json" if text.startswith("{") else "text/plain"
                self.send_header("Content-Type", f"{ctype}; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[RecordingServer]:
    server = RecordingServer()
    yield server
    server.stop()


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CapturingHandler:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"edge"
        and (auth_data.password == SMTP_PASSWORD.encode())
    )
    return AuthResult(success=ok, handled=False)  # handled=False: the server itself answers 535


def start_smtp_server() -> tuple[Controller, CapturingHandler]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 with LOGIN/PLAIN auth allowed without TLS."""
    handler = CapturingHandler()
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), authenticator=_authenticator, auth_require_tls=False
    )
    controller.start()
    return controller, handler


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, CapturingHandler]]:
    controller, handler = start_smtp_server()
    yield controller, handler
    controller.stop()


def make_alert(alert_id: str = "sig-001") -> Alert:
    return Alert(
        alert_id=alert_id,
        kind="signal",
        title="Edge: YES Lakers @ 0.420 (EV +4.2%)",
        text="event ev-9, fair 0.470, stake 100",
        fields={"event": "ev-9", "pm_price": 0.42, "fair_prob": 0.47, "stake": 100.0, "reasons": "ev>min"},
        created_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


# -- webhook -------------------------------------------------------------------------------------


def test_webhook_posts_json_signed_with_hmac_of_the_raw_body(http_server: RecordingServer) -> None:
    channel = WebhookChannel(f"{http_server.url}/hooks/edge", secret=HOOK_SECRET)
    channel.send(make_alert())
    channel.close()

    assert len(http_server.requests) == 1
    req = http_server.requests[0]
    assert req.path == "/hooks/edge"
    assert req.headers["Content-Type"] == "application/json"
    # the signature is exactly HMAC-SHA256(secret, raw body), computed here independently
    import hashlib
    import hmac

    expected = "sha256=" + hmac.new(HOOK_SECRET.encode(), req.body, hashlib.sha256).hexdigest()
    assert req.headers[SIGNATURE_HEADER] == expected
    assert verify(HOOK_SECRET, req.body, req.headers[SIGNATURE_HEADER])
    assert not verify("wrong-secret", req.body, req.headers[SIGNATURE_HEADER])
    payload = json.loads(req.body)
    assert payload["sent_at"] == int(req.headers[TIMESTAMP_HEADER])  # timestamp covered by the signature
    assert payload == {
        "alert_id": "sig-001",
        "kind": "signal",
        "title": "Edge: YES Lakers @ 0.420 (EV +4.2%)",
        "text": "event ev-9, fair 0.470, stake 100",
        "fields": {"event": "ev-9", "pm_price": 0.42, "fair_prob": 0.47, "stake": 100.0, "reasons": "ev>min"},
        "created_at": "2025-01-02T03:04:05+00:00",
        "sent_at": payload["sent_at"],
    }
    assert HOOK_SECRET not in repr(channel)


def test_webhook_without_secret_sends_no_signature(http_server: RecordingServer) -> None:
    channel = WebhookChannel(http_server.url + "/h")
    channel.send(make_alert())
    headers = http_server.requests[0].headers
    assert SIGNATURE_HEADER not in headers and TIMESTAMP_HEADER not in headers


def test_sign_known_vector() -> None:
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
    assert sign("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_webhook_http_errors_raise_scrubbed_and_classified(http_server: RecordingServer) -> None:
    url = f"{http_server.url}/hook?token=url-embedded-secret"
    channel = WebhookChannel(url, secret=HOOK_SECRET)
    http_server.responses = [(500, "boom"), (400, "bad payload")]
    with pytest.raises(AlertSendError, match=r"^webhook answered HTTP 500: boom$") as err500:
        channel.send(make_alert())
    assert err500.value.retryable is True
    with pytest.raises(AlertSendError, match="HTTP 400") as err400:
        channel.send(make_alert())
    assert err400.value.retryable is False

    down = WebhookChannel(f"http://127.0.0.1:{free_port()}/hook?token=url-embedded-secret", timeout=2)
    with pytest.raises(AlertSendError, match="ConnectError") as err:
        down.send(make_alert())
    assert "url-embedded-secret" not in str(err.value)
    assert err.value.__suppress_context__  # the httpx error (with the URL) is not chained into logs


# -- slack ---------------------------------------------------------------------------------------


def test_slack_incoming_webhook_posts_blocks(
    http_server: RecordingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    channel = SlackChannel(webhook_url=f"{http_server.url}/services/T000/B000/XXXX")
    channel.send(make_alert())
    # slack-sdk's WebhookClient logs the full URL (it embeds the secret) at DEBUG unless quietened
    assert "/services/T000/B000/XXXX" not in caplog.text

    req = http_server.requests[0]
    assert req.path == "/services/T000/B000/XXXX"
    body = json.loads(req.body)
    assert body["text"] == "Edge: YES Lakers @ 0.420 (EV +4.2%) — event ev-9, fair 0.470, stake 100"
    assert body["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Edge: YES Lakers @ 0.420 (EV +4.2%)"},
    }
    assert body["blocks"][1] == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "event ev-9, fair 0.470, stake 100"},
    }
    assert [f["text"] for f in body["blocks"][2]["fields"]] == [
        "*event*\nev-9",
        "*pm_price*\n0.42",
        "*fair_prob*\n0.47",
        "*stake*\n100.00",
        "*reasons*\nev>min",
    ]
    assert body["blocks"][3]["elements"][0]["text"] == "signal · sig-001 · 2025-01-02T03:04:05+00:00"
    assert "XXXX" not in repr(channel)


def test_slack_webhook_error_is_scrubbed(http_server: RecordingServer) -> None:
    http_server.responses = [(404, "no_service")]
    channel = SlackChannel(webhook_url=f"{http_server.url}/services/T0/B0/hook-secret-part")
    with pytest.raises(AlertSendError, match=r"^slack webhook answered HTTP 404: no_service$") as err:
        channel.send(make_alert())
    assert err.value.retryable is False

    down = SlackChannel(webhook_url=f"http://127.0.0.1:{free_port()}/services/T0/B0/hook-secret-part")
    with pytest.raises(AlertSendError) as err_down:
        down.send(make_alert())
    assert "hook-secret-part" not in str(err_down.value)
    assert "***" in str(err_down.value) or "refused" in str(err_down.value).lower()


def test_slack_bot_token_uses_chat_post_message_and_never_logs_token(
    http_server: RecordingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http_server.default = (200, '{"ok": true, "channel": "C123", "ts": "1700000000.000100"}')
    channel = SlackChannel(bot_token=BOT_TOKEN, channel="#edges", base_url=f"{http_server.url}/api")
    channel.send(make_alert())

    req = http_server.requests[0]
    assert req.path == "/api/chat.postMessage"
    assert req.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    body = json.loads(req.body)
    assert body["channel"] == "#edges"
    assert body["blocks"][0]["text"]["text"] == "Edge: YES Lakers @ 0.420 (EV +4.2%)"

    http_server.default = (200, '{"ok": false, "error": "invalid_auth"}')
    with pytest.raises(
        AlertSendError, match=r"^slack chat.postMessage failed: HTTP 200 error=invalid_auth$"
    ) as e:
        channel.send(make_alert())
    assert e.value.retryable is False
    http_server.default = (503, '{"ok": false, "error": "service_unavailable"}')
    with pytest.raises(AlertSendError, match="HTTP 503") as e503:
        channel.send(make_alert())
    assert e503.value.retryable is True

    assert BOT_TOKEN not in caplog.text
    assert BOT_TOKEN not in repr(channel)


def test_slack_config_errors() -> None:
    with pytest.raises(ValueError, match="exactly one of webhook_url or bot_token"):
        SlackChannel()
    with pytest.raises(ValueError, match="exactly one of webhook_url or bot_token"):
        SlackChannel(webhook_url="http://127.0.0.1/x", bot_token="xoxb-1")
    with pytest.raises(ValueError, match="needs a channel"):
        SlackChannel(bot_token="xoxb-1")


# -- email ---------------------------------------------------------------------------------------


def _parsed(envelope: Any) -> Message:
    return message_from_bytes(envelope.content)


def test_email_is_delivered_to_a_real_smtp_server(smtp_server: tuple[Controller, CapturingHandler]) -> None:
    controller, handler = smtp_server
    channel = EmailChannel(
        "127.0.0.1", controller.port, sender="edge@example.org", recipients=["a@example.org", "b@example.org"]
    )
    channel.send(make_alert())

    assert len(handler.envelopes) == 1
    env = handler.envelopes[0]
    assert env.mail_from == "edge@example.org"
    assert env.rcpt_tos == ["a@example.org", "b@example.org"]
    msg = _parsed(env)
    assert msg["Subject"] == "[edge signal] Edge: YES Lakers @ 0.420 (EV +4.2%)"
    assert msg["To"] == "a@example.org, b@example.org"
    assert msg["X-Edge-Alert-Id"] == "sig-001"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_payload(decode=True).decode().replace("\r\n", "\n") == (
        "event ev-9, fair 0.470, stake 100\n"
        "\n"
        "event: ev-9\n"
        "pm_price: 0.42\n"
        "fair_prob: 0.47\n"
        "stake: 100.00\n"
        "reasons: ev>min\n"
        "\n"
        "alert_id: sig-001\n"
        "created_at: 2025-01-02T03:04:05+00:00\n"
    )


def test_email_login_and_password_never_in_errors(smtp_server: tuple[Controller, CapturingHandler]) -> None:
    controller, handler = smtp_server
    good = EmailChannel(
        "127.0.0.1",
        controller.port,
        "edge@example.org",
        ["a@example.org"],
        username="edge",
        password=SMTP_PASSWORD,
    )
    good.send(make_alert("sig-login"))
    assert _parsed(handler.envelopes[0])["X-Edge-Alert-Id"] == "sig-login"
    assert SMTP_PASSWORD not in repr(good)

    bad = EmailChannel(
        "127.0.0.1",
        controller.port,
        "edge@example.org",
        ["a@example.org"],
        username="edge",
        password="nope-" + "x",
    )
    with pytest.raises(AlertSendError, match="SMTPAuthenticationError"):
        bad.send(make_alert())
    assert len(handler.envelopes) == 1

    down = EmailChannel(
        "127.0.0.1",
        free_port(),
        "edge@example.org",
        ["a@example.org"],
        username="edge",
        password=SMTP_PASSWORD,
    )
    with pytest.raises(AlertSendError, match="ConnectionRefusedError") as err:
        down.send(make_alert())
    assert SMTP_PASSWORD not in str(err.value)


def test_email_config_errors() -> None:
    with pytest.raises(ValueError, match="at least one recipient"):
        EmailChannel("127.0.0.1", 25, "edge@example.org", [])
    with pytest.raises(ValueError, match="starttls or use_ssl"):
        EmailChannel("127.0.0.1", 25, "edge@example.org", ["a@b"], starttls=True, use_ssl=True)
    assert issubclass(smtplib.SMTPAuthenticationError, smtplib.SMTPException)


# -- console -------------------------------------------------------------------------------------


def test_console_prints_one_line_per_alert(capsys: pytest.CaptureFixture[str]) -> None:
    channel = ConsoleChannel()
    channel.send(make_alert())
    at = datetime(2025, 1, 2, 4, 0, tzinfo=UTC)
    channel.send(Alert.monitor("monitor:freshness:oddsapi_live", "oddsapi_live is stale", created_at=at))
    channel.send(Alert.monitor("monitor:x", "leagues_present", "leagues missing:\nsoccer_epl", created_at=at))
    assert capsys.readouterr().out.splitlines() == [
        "2025-01-02T03:04:05Z [signal] Edge: YES Lakers @ 0.420 (EV +4.2%) | event=ev-9 pm_price=0.42 "
        "fair_prob=0.47 stake=100.00 reasons=ev>min",
        "2025-01-02T04:00:00Z [monitor] oddsapi_live is stale",
        "2025-01-02T04:00:00Z [monitor] leagues_present: leagues missing: soccer_epl",
    ]


class RefusingHandler(CapturingHandler):
    """Refuses one mailbox at RCPT, as a server does for an address that no longer exists."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_email_with_one_refused_recipient_is_sent_once(caplog: pytest.LogCaptureFixture) -> None:
    handler = RefusingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        channel = EmailChannel(
            "127.0.0.1", controller.port, "edge@example.org", ["a@example.org", "gone@x.org"]
        )
        with caplog.at_level("WARNING", logger="edge_assets.alerts.email"):
            channel.send(make_alert("sig-partial"))  # no AlertSendError: a retry would mail a@ again
        assert [e.rcpt_tos for e in handler.envelopes] == [["a@example.org"]]
        assert "delivered ['a@example.org'] but refused recipients ['gone@x.org']" in caplog.text

        everyone_gone = EmailChannel("127.0.0.1", controller.port, "edge@example.org", ["gone@x.org"])
        with pytest.raises(AlertSendError, match="SMTPRecipientsRefused"):
            everyone_gone.send(make_alert("sig-none"))
        assert len(handler.envelopes) == 1
    finally:
        controller.stop()
