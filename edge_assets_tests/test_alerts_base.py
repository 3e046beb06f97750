"""Alert formatting: signal rows → alerts, value rendering, secret scrubbing, config factory."""

import math
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from pydantic import SecretStr

from edge_assets.alerts import (
    Alert,
    AlertChannel,
    ConsoleChannel,
    EmailChannel,
    SlackChannel,
    WebhookChannel,
    alerts_from_signals,
    build_channels,
    format_value,
    scrub,
)

FULL_ROW = {
    "signal_id": "sig-7f3a",
    "created_at": datetime(2025, 3, 1, 18, 30, tzinfo=UTC),
    "odds_event_id": "e1b2",
    "odds_outcome_name": "Boston Celtics",
    "side": "BUY",
    "market_key": "h2h",
    "effective_price": 0.4123,
    "fair_prob": 0.45678,
    "model_prob": None,
    "ev_after_costs": 0.0421,
    "stake": 100.0,
    "liquidity": 15234.5,
    "reasons": ["ev 4.2% > 3.0%", "depth ok"],
}


def test_from_signal_row_formats_every_input() -> None:
    alert = Alert.from_signal_row(FULL_ROW)
    assert alert.alert_id == "sig-7f3a"
    assert alert.kind == "signal"
    assert alert.created_at == datetime(2025, 3, 1, 18, 30, tzinfo=UTC)
    assert alert.title == "Edge: BUY Boston Celtics @ 0.412 (EV +4.2%)"
    assert alert.text == "event e1b2, fair 0.457, stake 100.00"
    assert alert.fields == {
        "event": "e1b2",
        "outcome": "Boston Celtics",
        "side": "BUY",
        "market": "h2h",
        "pm_price": 0.4123,
        "fair_prob": 0.45678,
        "ev_after_costs": 0.0421,
        "stake": 100.0,
        "liquidity": 15234.5,
        "reasons": "ev 4.2% > 3.0%; depth ok",
    }
    assert alert.field_lines() == [
        "event: e1b2",
        "outcome: Boston Celtics",
        "side: BUY",
        "market: h2h",
        "pm_price: 0.4123",
        "fair_prob: 0.4568",
        "ev_after_costs: 0.0421",
        "stake: 100.00",
        "liquidity: 15,234.50",
        "reasons: ev 4.2% > 3.0%; depth ok",
    ]


def test_from_signal_row_prefers_short_names_and_tolerates_missing_and_nan() -> None:
    row = {
        "signal_id": 42,
        "created_at": "2025-03-01T18:30:00Z",
        "event_id": "ev-short",
        "odds_event_id": "ev-long",
        "outcome": "Over 220.5",
        "pm_price": 0.5,
        "effective_price": 0.51,
        "fair_prob": float("nan"),
        "ev_after_costs": -0.013,
        "reasons": "",
    }
    alert = Alert.from_signal_row(row)
    assert alert.alert_id == "42"
    assert alert.created_at == datetime(2025, 3, 1, 18, 30, tzinfo=UTC)
    assert alert.fields == {
        "event": "ev-short",
        "outcome": "Over 220.5",
        "pm_price": 0.5,
        "ev_after_costs": -0.013,
    }
    assert alert.title == "Edge: Over 220.5 @ 0.500 (EV -1.3%)"
    assert alert.text == "event ev-short"

    bare = Alert.from_signal_row({"signal_id": "only-id"})
    assert (bare.title, bare.text, bare.fields) == ("Edge: only-id", "", {})
    assert bare.created_at.tzinfo is UTC
    assert bare.alert_id == "only-id"  # rows without an edge id dedupe by signal_id
    assert Alert.from_signal_row({"signal_id": "row-18h", "edge_id": "edge-1"}).alert_id == "edge-1"
    assert Alert.from_signal_row({"signal_id": "row-18h", "edge_id": None}).alert_id == "row-18h"


def test_alerts_from_a_polars_signals_frame_with_numpy_scalars() -> None:
    frame = pl.DataFrame(
        {
            "signal_id": ["s1", "s2"],
            "created_at": [datetime(2025, 3, 1, 18, 30, tzinfo=UTC)] * 2,
            "outcome": ["A", "B"],
            "pm_price": [0.41, None],
            "stake": [50, 75],
        }
    )
    alerts = alerts_from_signals(frame.iter_rows(named=True))
    assert [(a.alert_id, a.title, a.fields) for a in alerts] == [
        ("s1", "Edge: A @ 0.410", {"outcome": "A", "pm_price": 0.41, "stake": 50}),
        ("s2", "Edge: B", {"outcome": "B", "stake": 75}),
    ]
    np_alert = Alert.from_signal_row({"signal_id": "n", "stake": np.int64(7), "pm_price": np.float32(0.5)})
    assert np_alert.fields == {"stake": 7, "pm_price": 0.5}
    assert type(np_alert.fields["stake"]) is int and type(np_alert.fields["pm_price"]) is float


def test_from_signal_row_needs_an_id() -> None:
    with pytest.raises(ValueError, match="needs a signal_id"):
        Alert.from_signal_row({"outcome": "x"})
    with pytest.raises(ValueError, match="needs a signal_id"):
        Alert.from_signal_row({"signal_id": "  "})


def test_created_at_is_normalised_to_utc() -> None:
    naive = Alert("a", "signal", "t", created_at=datetime(2025, 1, 1, 12, 0))
    assert naive.created_at == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    est = Alert(
        "a", "signal", "t", created_at=datetime(2025, 1, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5)))
    )
    assert est.created_at == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert est.created_at.utcoffset() == timedelta(0)


def test_alert_validation_and_monitor_helper() -> None:
    with pytest.raises(ValueError, match="kind must be 'signal' or 'monitor', got 'page'"):
        Alert("a", "page", "t")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alert_id must be a non-empty string"):
        Alert("", "signal", "t")
    mon = Alert.monitor(
        "monitor:freshness:oddsapi_live:2025-03-01T18",
        "oddsapi_live is stale",
        "last partition 2025-03-01-15:00",
        fields={"asset": "oddsapi_live", "lag_h": 3, "league": None},
    )
    assert mon.kind == "monitor"
    assert mon.fields == {"asset": "oddsapi_live", "lag_h": 3}
    payload = mon.to_payload()
    assert payload["kind"] == "monitor" and payload["fields"] == {"asset": "oddsapi_live", "lag_h": 3}
    with pytest.raises(AttributeError):
        mon.title = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.42, "0.42"),
        (0.123456, "0.1235"),
        (1.0, "1"),
        (-0.00001, "0"),
        (99.99999, "100"),
        (100.0, "100.00"),
        (15234.5, "15,234.50"),
        (-250.126, "-250.13"),
        (7, "7"),
        (True, "true"),
        ("x", "x"),
        (math.inf, "inf"),
    ],
)
def test_format_value(value: float | int | str, text: str) -> None:
    assert format_value(value) == text


def test_scrub_replaces_every_secret_and_ignores_empty() -> None:
    assert scrub("token=abc url=http://h/abc/x pw=", ["abc", None, ""]) == "token=*** url=http://h/***/x pw="


def test_build_channels_from_mapping() -> None:
    channels = build_channels(
        {
            "slack_webhook_url": "https://hooks.slack.test/services/T/B/secret",
            "webhook_url": "http://127.0.0.1:1/hook",
            "webhook_secret": "s3cr3t",
            "smtp_host": "127.0.0.1",
            "smtp_port": "2525",
            "smtp_sender": "edge@example.org",
            "smtp_recipients": "a@example.org; b@example.org,",
            "console": "true",
            "slack_bot_token": "",  # empty strings count as unset (env files)
        }
    )
    assert [type(c) for c in channels] == [SlackChannel, WebhookChannel, EmailChannel, ConsoleChannel]
    assert [c.name for c in channels] == ["slack", "webhook", "email", "console"]
    assert all(isinstance(c, AlertChannel) for c in channels)
    email = channels[2]
    assert repr(email) == (
        "EmailChannel(name='email', host='127.0.0.1', port=2525, sender='edge@example.org', "
        "recipients=['a@example.org', 'b@example.org'], login=False)"
    )
    text = " ".join(repr(c) for c in channels)
    assert "secret" not in text and "s3cr3t" not in text
    assert build_channels({}) == []


def test_build_channels_from_settings_object_with_secretstr() -> None:
    settings = SimpleNamespace(
        slack_webhook_url=None,
        slack_bot_token=SecretStr("xoxb-123"),
        slack_channel="C42",
        webhook_url=None,
        webhook_secret=None,
        smtp_host=None,
        smtp_port=25,
        smtp_sender=None,
        smtp_recipients=(),
        alert_console=True,
    )
    channels = build_channels(settings)
    assert [repr(c) for c in channels] == [
        "SlackChannel(name='slack', bot channel='C42')",
        "ConsoleChannel(name='console')",
    ]


def test_build_channels_config_errors() -> None:
    with pytest.raises(ValueError, match="either slack_webhook_url or slack_bot_token, not both"):
        build_channels({"slack_webhook_url": "https://x", "slack_bot_token": "xoxb"})
    with pytest.raises(ValueError, match="smtp_sender and smtp_recipients are required"):
        build_channels({"smtp_host": "127.0.0.1", "smtp_sender": "a@b"})


@pytest.mark.parametrize(
    ("env_value", "expected"),
    [
        ("trader@x.org", ("trader@x.org",)),
        ("a@x.org, b@x.org;c@x.org", ("a@x.org", "b@x.org", "c@x.org")),
        ('["a@x.org", "b@x.org"]', ("a@x.org", "b@x.org")),
    ],
)
def test_smtp_settings_from_the_environment_build_a_login_channel(
    monkeypatch: pytest.MonkeyPatch, env_value: str, expected: tuple[str, ...]
) -> None:
    from edge_assets.settings import load_settings

    monkeypatch.setenv("EDGE_SMTP_HOST", "smtp.example.org")
    monkeypatch.setenv("EDGE_SMTP_PORT", "587")
    monkeypatch.setenv("EDGE_SMTP_SENDER", "edge@example.org")
    monkeypatch.setenv("EDGE_SMTP_RECIPIENTS", env_value)
    monkeypatch.setenv("EDGE_SMTP_USERNAME", "edge")
    monkeypatch.setenv("EDGE_SMTP_PASSWORD", "smtp-Pa55-long-secret")
    monkeypatch.setenv("EDGE_SMTP_STARTTLS", "true")
    settings = load_settings(_env_file=None)
    assert settings.smtp_recipients == expected
    (email,) = build_channels(settings)
    assert isinstance(email, EmailChannel)
    assert repr(email) == (
        f"EmailChannel(name='email', host='smtp.example.org', port=587, sender='edge@example.org', "
        f"recipients={list(expected)!r}, login=True)"
    )
    assert email._starttls and not email._use_ssl and email._password == "smtp-Pa55-long-secret"
    assert "smtp-Pa55-long-secret" not in repr(settings)


def test_smtp_starttls_and_ssl_together_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_assets.settings import SettingsError, load_settings

    monkeypatch.setenv("EDGE_SMTP_STARTTLS", "1")
    monkeypatch.setenv("EDGE_SMTP_SSL", "1")
    with pytest.raises(SettingsError, match="EDGE_SMTP_STARTTLS and EDGE_SMTP_SSL exclude each other"):
        load_settings(_env_file=None)
