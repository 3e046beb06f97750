"""Send alerts once per channel, rate-limited and retried, without ever raising.

Per tick: for each channel and each alert not yet sent there (the ledger says), send with
retries and exponential backoff. Over the per-channel rate limit the alert is deferred (not
marked sent, so a later tick sends it). Failures are logged (scrubbed), recorded as failed
and retried on later ticks until `max_total_attempts`. When a channel exhausts its retries
once in a tick it is considered down for the rest of that tick, so a dead endpoint costs
at most `max_attempts` requests per tick instead of stalling the comparator.
"""

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from edge_assets.alerts.base import Alert, AlertChannel, AlertSendError
from edge_assets.alerts.console import ConsoleChannel
from edge_assets.alerts.email import EmailChannel
from edge_assets.alerts.ledger import AlertLedger
from edge_assets.alerts.slack import SlackChannel
from edge_assets.alerts.webhook import WebhookChannel

logger = logging.getLogger("edge_assets.alerts")

OUTCOMES = ("sent", "skipped_duplicate", "failed", "rate_limited", "deferred", "abandoned")
_WINDOW = timedelta(minutes=1)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class DispatchReport:
    """Counts per channel for each outcome, plus the outcome of every (alert_id, channel).

    sent: delivered now. skipped_duplicate: delivered earlier (ledger). failed: retries
    exhausted this tick (retried next tick). rate_limited: over the per-minute limit, left for
    a later tick. deferred: not tried because the channel failed earlier in this tick.
    abandoned: failed `max_total_attempts` times across ticks, no longer tried.
    """

    sent: dict[str, int] = field(default_factory=dict)
    skipped_duplicate: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    rate_limited: dict[str, int] = field(default_factory=dict)
    deferred: dict[str, int] = field(default_factory=dict)
    abandoned: dict[str, int] = field(default_factory=dict)
    outcomes: dict[tuple[str, str], str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def _add(self, alert_id: str, channel: str, outcome: str) -> None:
        counts: dict[str, int] = getattr(self, outcome)
        counts[channel] = counts.get(channel, 0) + 1
        self.outcomes[(alert_id, channel)] = outcome

    def total(self, outcome: str) -> int:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; one of {OUTCOMES}")
        return sum(getattr(self, outcome).values())

    def alert_status(self, alert_id: str) -> str:
        """One word for the signals table: sent (on every channel, now or before), failed,
        pending (rate-limited/deferred somewhere), abandoned, or none (no channel/unknown id)."""
        results = {o for (a, _), o in self.outcomes.items() if a == alert_id}
        if not results:
            return "none"
        if results <= {"sent", "skipped_duplicate"}:
            return "sent"
        if "failed" in results:
            return "failed"
        if results & {"rate_limited", "deferred"}:
            return "pending"
        return "abandoned"

    def summary(self) -> str:
        parts = [f"{o}={self.total(o)}" for o in OUTCOMES if self.total(o)]
        return ", ".join(parts) or "nothing to send"


class AlertDispatcher:
    """Deliver alerts to every channel at most once, never raising into the caller."""

    def __init__(
        self,
        channels: Sequence[AlertChannel],
        ledger: AlertLedger,
        *,
        max_per_minute: int = 30,
        max_attempts: int = 3,
        backoff_s: float = 0.5,
        max_total_attempts: int = 9,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        names = [c.name for c in channels]
        if len(set(names)) != len(names):
            raise ValueError(f"channel names must be unique (they key the ledger), got {names}")
        if max_per_minute < 1 or max_attempts < 1 or max_total_attempts < 1:
            raise ValueError("max_per_minute, max_attempts and max_total_attempts must be >= 1")
        self.channels = list(channels)
        self.ledger = ledger
        self.max_per_minute = max_per_minute
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_total_attempts = max_total_attempts
        self._sleep = sleep
        self._clock = clock
        now = clock()
        # seeded from the ledger so a restart does not reset the per-minute budget
        self._windows: dict[str, deque[datetime]] = {
            c.name: deque(ledger.sends_since(c.name, now - _WINDOW)) for c in self.channels
        }

    def __repr__(self) -> str:
        return f"AlertDispatcher(channels={self.channels!r}, ledger={self.ledger!r})"

    def dispatch(self, alerts: Iterable[Alert]) -> DispatchReport:
        """Send what is due; order of `alerts` is the priority under the rate limit."""
        report = DispatchReport()
        try:
            unique: dict[str, Alert] = {}
            for alert in alerts:
                unique.setdefault(alert.alert_id, alert)
            for channel in self.channels:
                self._dispatch_channel(channel, list(unique.values()), report)
        except Exception as exc:  # never fail the comparator
            logger.error("alert dispatch aborted: %s: %s", type(exc).__name__, exc)
            report.errors.append(f"dispatch: {type(exc).__name__}: {exc}")
        if self.ledger.dirty:
            try:
                self.ledger.save()
            except Exception as exc:
                logger.error(
                    "alert ledger save failed (%s): %s: %s", self.ledger.path, type(exc).__name__, exc
                )
                report.errors.append(f"ledger save: {type(exc).__name__}: {exc}")
        if report.outcomes:
            logger.info("alerts dispatched: %s", report.summary())
        return report

    def _dispatch_channel(self, channel: AlertChannel, alerts: list[Alert], report: DispatchReport) -> None:
        name = channel.name
        window = self._windows.setdefault(name, deque())
        down = False
        for alert in alerts:
            if self.ledger.sent(alert.alert_id, name):
                report._add(alert.alert_id, name, "skipped_duplicate")
                continue
            budget = self.max_total_attempts - self.ledger.attempts(alert.alert_id, name)
            if budget <= 0:
                report._add(alert.alert_id, name, "abandoned")
                continue
            if down:
                report._add(alert.alert_id, name, "deferred")
                continue
            now = self._clock()
            while window and window[0] <= now - _WINDOW:
                window.popleft()
            if len(window) >= self.max_per_minute:
                report._add(alert.alert_id, name, "rate_limited")
                continue
            ok, attempts, error = self._send_with_retries(channel, alert, min(budget, self.max_attempts))
            at = self._clock()
            if ok:
                window.append(at)
                self.ledger.record(
                    alert.alert_id, name, kind=alert.kind, status="sent", attempts=attempts, at=at
                )
                report._add(alert.alert_id, name, "sent")
            else:
                self.ledger.record(
                    alert.alert_id,
                    name,
                    kind=alert.kind,
                    status="failed",
                    attempts=attempts,
                    at=at,
                    error=error,
                )
                report._add(alert.alert_id, name, "failed")
                report.errors.append(f"{name} {alert.alert_id}: {error}")
                logger.warning(
                    "alert %s on %s failed after %d attempt(s) (%d in total): %s",
                    alert.alert_id,
                    name,
                    attempts,
                    self.ledger.attempts(alert.alert_id, name),
                    error,
                )
                down = True

    def _send_with_retries(self, channel: AlertChannel, alert: Alert, tries: int) -> tuple[bool, int, str]:
        error = ""
        attempts = 0
        for i in range(tries):
            if i:
                self._sleep(self.backoff_s * 2 ** (i - 1))
            attempts += 1
            try:
                channel.send(alert)
                return True, attempts, ""
            except AlertSendError as exc:
                error = str(exc)
                if not exc.retryable:
                    break
            except Exception as exc:  # a channel that does not wrap its errors: still never raise
                error = f"{type(exc).__name__}: {exc}"
        return False, attempts, error

    def close(self) -> None:
        for channel in self.channels:
            closer = getattr(channel, "close", None)
            if callable(closer):
                closer()


# -- configuration -------------------------------------------------------------------------------


def _get(config: Any, key: str, default: Any = None) -> Any:
    value = config.get(key, default) if isinstance(config, Mapping) else getattr(config, key, default)
    if hasattr(value, "get_secret_value"):  # pydantic SecretStr
        value = value.get_secret_value()
    if isinstance(value, str) and not value.strip():
        return default
    return value


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
    return [str(v).strip() for v in value if str(v).strip()]


def build_channels(config: Any) -> list[AlertChannel]:
    """Channels from plain config values (a mapping or a settings object); unset → not built.

    Keys: slack_webhook_url | slack_bot_token (+ slack_channel, slack_base_url), webhook_url
    (+ webhook_secret, webhook_timeout), smtp_host (+ smtp_port, smtp_sender, smtp_recipients,
    smtp_username, smtp_password, smtp_starttls, smtp_ssl), console (or alert_console, as in
    `Settings`). pydantic `SecretStr` values are unwrapped here and nowhere else.
    """
    channels: list[AlertChannel] = []
    webhook_url = _get(config, "slack_webhook_url")
    bot_token = _get(config, "slack_bot_token")
    if webhook_url and bot_token:
        raise ValueError("set either slack_webhook_url or slack_bot_token, not both")
    if webhook_url or bot_token:
        channels.append(
            SlackChannel(
                webhook_url=webhook_url,
                bot_token=bot_token,
                channel=_get(config, "slack_channel"),
                base_url=_get(config, "slack_base_url"),
            )
        )
    url = _get(config, "webhook_url")
    if url:
        channels.append(
            WebhookChannel(
                url,
                secret=_get(config, "webhook_secret"),
                timeout=float(_get(config, "webhook_timeout", 10.0)),
            )
        )
    host = _get(config, "smtp_host")
    if host:
        sender = _get(config, "smtp_sender")
        recipients = _as_list(_get(config, "smtp_recipients"))
        if not sender or not recipients:
            raise ValueError("smtp_host is set: smtp_sender and smtp_recipients are required too")
        channels.append(
            EmailChannel(
                host=host,
                port=int(_get(config, "smtp_port", 25)),
                sender=sender,
                recipients=recipients,
                username=_get(config, "smtp_username"),
                password=_get(config, "smtp_password"),
                starttls=_as_bool(_get(config, "smtp_starttls", False)),
                use_ssl=_as_bool(_get(config, "smtp_ssl", False)),
            )
        )
    if _as_bool(_get(config, "console", _get(config, "alert_console", False))):
        channels.append(ConsoleChannel())
    return channels
