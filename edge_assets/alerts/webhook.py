"""Generic webhook channel: a JSON POST, optionally signed with HMAC-SHA256.

Receivers verify `X-Edge-Signature: sha256=<hex>` = HMAC(secret, raw request body). The body
carries `sent_at`, so the timestamp (also in `X-Edge-Timestamp`) is covered by the signature
and a receiver can reject replays.
"""

import hashlib
import hmac
import json
import time
from urllib.parse import urlsplit

import httpx

from edge_assets.alerts.base import Alert, AlertSendError, scrub

SIGNATURE_HEADER = "X-Edge-Signature"
TIMESTAMP_HEADER = "X-Edge-Timestamp"


def sign(secret: str, body: bytes) -> str:
    """Header value for a body: ``sha256=`` + hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header_value: str) -> bool:
    """Constant-time check a receiver can use (and the tests do)."""
    return hmac.compare_digest(sign(secret, body), header_value)


def _retryable_status(status: int) -> bool:
    """Server errors, timeouts and throttling may pass on retry; other client errors will not."""
    return status >= 500 or status in (408, 425, 429)


class WebhookChannel:
    """POST each alert as JSON to one URL; a non-2xx answer is a failure."""

    def __init__(
        self,
        url: str,
        secret: str | None = None,
        timeout: float = 10.0,
        name: str = "webhook",
    ) -> None:
        if not url:
            raise ValueError("WebhookChannel needs a url")
        self.name = name
        self._url = url
        self._secret = secret
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def __repr__(self) -> str:
        parts = urlsplit(self._url)
        return (
            f"WebhookChannel(name={self.name!r}, host={parts.hostname!r}, signed={self._secret is not None})"
        )

    def _secrets(self) -> tuple[str | None, ...]:
        # the URL may embed a token (path or query), so treat it as secret in messages too
        return (self._secret, self._url)

    def body(self, alert: Alert, sent_at: float) -> bytes:
        """Exact bytes that are signed and sent (compact, sorted keys: stable across runs)."""
        payload = alert.to_payload() | {"sent_at": int(sent_at)}
        return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")

    def send(self, alert: Alert) -> None:
        now = time.time()
        body = self.body(alert, now)
        headers = {"Content-Type": "application/json", "User-Agent": "edge-assets-alerts/1"}
        if self._secret:
            headers[TIMESTAMP_HEADER] = str(int(now))
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        try:
            resp = self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise AlertSendError(
                scrub(f"webhook POST failed: {type(exc).__name__}: {exc}", self._secrets())
            ) from None
        if not 200 <= resp.status_code < 300:
            raise AlertSendError(
                scrub(f"webhook answered HTTP {resp.status_code}: {resp.text[:200]}", self._secrets()),
                retryable=_retryable_status(resp.status_code),
            )

    def close(self) -> None:
        self._client.close()
