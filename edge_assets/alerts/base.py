"""The alert value object and the channel protocol every sender implements.

An alert is small and already formatted-agnostic: channels render `title`, `text` and
`fields` their own way (Slack blocks, JSON, a plain-text email, one console line).
`alert_id` is the dedupe key: for a signal it is the signal_id, for a monitoring alert the
caller chooses it (e.g. ``monitor:freshness:oddsapi_live:2025-01-02T03``) so that one
failure is alerted once per period instead of every tick.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

AlertKind = Literal["signal", "monitor"]
FieldValue = str | float | int

REDACTED = "***"


class AlertSendError(RuntimeError):
    """A channel could not deliver an alert. The message is already scrubbed of secrets.

    `retryable=False` (e.g. HTTP 400/401/404) stops retries within the current tick: the
    next tick still tries again, up to the dispatcher's total cap.
    """

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret value in `text` so that errors and logs never carry them."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: Any) -> datetime | None:
    """Accept a datetime (naive = UTC), an ISO string or None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        raise TypeError(f"created_at must be a datetime or ISO string, got {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (isinstance(value, str) and not value.strip())


def _first(row: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if _present(row.get(key)):
            return row[key]
    return None


def format_value(value: FieldValue) -> str:
    """Render a field value for humans: floats below 100 with up to 4 decimals, larger ones with 2."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.2f}"
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return str(value)


@dataclass(frozen=True)
class Alert:
    """One notification. Immutable so that every channel sends exactly the same content."""

    alert_id: str
    kind: AlertKind
    title: str
    text: str = ""
    fields: dict[str, FieldValue] = field(default_factory=dict)
    created_at: datetime = field(default_factory=_utcnow)

    def __post_init__(self) -> None:
        if not self.alert_id:
            raise ValueError("alert_id must be a non-empty string")
        if self.kind not in ("signal", "monitor"):
            raise ValueError(f"alert kind must be 'signal' or 'monitor', got {self.kind!r}")
        created = _as_utc(self.created_at)
        object.__setattr__(self, "created_at", created)

    def field_lines(self) -> list[str]:
        """`key: value` lines, in insertion order, for plain-text channels."""
        return [f"{k}: {format_value(v)}" for k, v in self.fields.items()]

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict (raw typed field values, ISO-8601 UTC time)."""
        return {
            "alert_id": self.alert_id,
            "kind": self.kind,
            "title": self.title,
            "text": self.text,
            "fields": dict(self.fields),
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def monitor(
        cls,
        alert_id: str,
        title: str,
        text: str = "",
        fields: Mapping[str, FieldValue] | None = None,
        created_at: datetime | None = None,
    ) -> "Alert":
        """A monitoring alert (failed check, league gone missing, alias mismatch)."""
        return cls(
            alert_id=alert_id,
            kind="monitor",
            title=title,
            text=text,
            fields={k: v for k, v in (fields or {}).items() if _present(v)},
            created_at=created_at or _utcnow(),
        )

    @classmethod
    def from_signal_row(cls, row: Mapping[str, Any]) -> "Alert":
        """Format one `signals` row. Tolerant: any column but signal_id may be missing or null.

        The dedupe key is the row's `edge_id` (one alert per edge, however many hours it lasts),
        or its `signal_id` where a row has none (rows written before edge ids).
        `ev_after_costs` is read as expected profit per unit staked (0.042 = +4.2%).
        """
        signal_id = row.get("signal_id")
        if not _present(signal_id):
            raise ValueError("a signal row needs a signal_id to be alerted (it is the dedupe key)")
        edge = row.get("edge_id")
        alert_id = edge if _present(edge) else signal_id
        event = _first(row, "event", "event_name", "event_id", "odds_event_id")
        outcome = _first(row, "outcome", "odds_outcome_name", "pm_outcome")
        side = _first(row, "side")
        market = _first(row, "market_key")
        point = _first(row, "point")
        pm_price = _first(row, "pm_price", "effective_price")
        fair_prob = _first(row, "fair_prob")
        model_prob = _first(row, "model_prob")
        ev = _first(row, "ev_after_costs")
        stake = _first(row, "stake")
        liquidity = _first(row, "liquidity")
        reasons = _first(row, "reasons")
        if isinstance(reasons, list | tuple):
            reasons = "; ".join(str(r) for r in reasons if _present(r)) or None

        fields: dict[str, FieldValue] = {}
        for key, value in (
            ("event", event),
            ("outcome", outcome),
            ("side", side),
            ("market", market),
            ("point", point),
            ("pm_price", pm_price),
            ("fair_prob", fair_prob),
            ("model_prob", model_prob),
            ("ev_after_costs", ev),
            ("stake", stake),
            ("liquidity", liquidity),
            ("reasons", reasons),
        ):
            if _present(value):
                if hasattr(value, "item"):  # numpy/pandas scalars → Python numbers (JSON-ready)
                    value = value.item()
                fields[key] = value if isinstance(value, int | float | str) else str(value)

        what = " ".join(str(p) for p in (side, outcome) if _present(p)) or str(signal_id)
        title = f"Edge: {what}"
        if _present(pm_price):
            title += f" @ {float(pm_price):.3f}"
        if _present(ev):
            title += f" (EV {float(ev):+.1%})"
        parts = []
        if _present(event):
            parts.append(f"event {event}")
        if _present(fair_prob):
            parts.append(f"fair {float(fair_prob):.3f}")
        if _present(stake):
            parts.append(f"stake {format_value(float(stake))}")
        text = ", ".join(parts)
        created = _as_utc(row.get("created_at")) or _utcnow()
        return cls(
            alert_id=str(alert_id), kind="signal", title=title, text=text, fields=fields, created_at=created
        )


def alerts_from_signals(rows: Iterable[Mapping[str, Any]]) -> list[Alert]:
    """Alerts for signal rows, e.g. ``alerts_from_signals(signals_df.iter_rows(named=True))``.

    A per-row loop is fine here: signals are a handful per tick, not the quote stream.
    """
    return [Alert.from_signal_row(row) for row in rows]


@runtime_checkable
class AlertChannel(Protocol):
    """A delivery channel. `send` raises `AlertSendError` (scrubbed) when delivery failed."""

    name: str

    def send(self, alert: Alert) -> None: ...
