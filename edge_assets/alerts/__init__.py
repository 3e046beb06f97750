"""Alerts behind one interface: Slack, a signed webhook, email and the console.

No dagster here: the comparator builds `Alert`s (`Alert.from_signal_row`), and an
`AlertDispatcher` delivers each once per channel, with the dedupe ledger kept in the lake.
"""

from edge_assets.alerts.base import (
    Alert,
    AlertChannel,
    AlertKind,
    AlertSendError,
    alerts_from_signals,
    format_value,
    scrub,
)
from edge_assets.alerts.console import ConsoleChannel
from edge_assets.alerts.dispatcher import AlertDispatcher, DispatchReport, build_channels
from edge_assets.alerts.email import EmailChannel
from edge_assets.alerts.ledger import LEDGER_SCHEMA, AlertLedger, s3_storage_options
from edge_assets.alerts.slack import SlackChannel
from edge_assets.alerts.webhook import WebhookChannel

__all__ = [
    "LEDGER_SCHEMA",
    "Alert",
    "AlertChannel",
    "AlertDispatcher",
    "AlertKind",
    "AlertLedger",
    "AlertSendError",
    "ConsoleChannel",
    "DispatchReport",
    "EmailChannel",
    "SlackChannel",
    "WebhookChannel",
    "alerts_from_signals",
    "build_channels",
    "format_value",
    "s3_storage_options",
    "scrub",
]
