"""Slack channel (slack-sdk): an incoming-webhook URL or a bot token + channel.

Both the webhook URL (it embeds a secret) and the bot token are secrets: they never appear
in `repr`, in raised errors, or in slack-sdk's own debug logs (we hand it a quiet logger).
"""

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from edge_assets.alerts.base import Alert, AlertSendError, format_value, scrub

# slack-sdk logs request headers (with the bearer token) and URLs at DEBUG; keep it above that.
_QUIET = logging.getLogger("edge_assets.alerts.slack_sdk")
_QUIET.setLevel(logging.WARNING)

_HEADER_MAX = 150  # Slack header block limit (plain_text)
_FIELDS_MAX = 10  # Slack section block limit
_TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


def slack_blocks(alert: Alert) -> list[dict[str, Any]]:
    """Header (title), the short text, then the inputs as a two-column field grid."""
    title = alert.title if len(alert.title) <= _HEADER_MAX else alert.title[: _HEADER_MAX - 1] + "…"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title}}]
    if alert.text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": alert.text}})
    items = list(alert.fields.items())
    for start in range(0, len(items), _FIELDS_MAX):
        chunk = items[start : start + _FIELDS_MAX]
        blocks.append(
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{format_value(v)}"} for k, v in chunk],
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{alert.kind} · {alert.alert_id} · {alert.created_at.isoformat()}",
                }
            ],
        }
    )
    return blocks


def fallback_text(alert: Alert) -> str:
    """Notification text shown where blocks are not rendered (push notifications)."""
    return f"{alert.title} — {alert.text}" if alert.text else alert.title


class SlackChannel:
    """Post alerts to Slack through an incoming webhook or `chat.postMessage` with a bot token."""

    def __init__(
        self,
        webhook_url: str | None = None,
        bot_token: str | None = None,
        channel: str | None = None,
        base_url: str | None = None,
        timeout: int = 10,
        name: str = "slack",
    ) -> None:
        if bool(webhook_url) == bool(bot_token):
            raise ValueError("SlackChannel needs exactly one of webhook_url or bot_token")
        if bot_token and not channel:
            raise ValueError("SlackChannel with a bot_token needs a channel (id or #name)")
        self.name = name
        self._webhook_url = webhook_url
        self._bot_token = bot_token
        self._channel = channel
        self._webhook: WebhookClient | None = None
        self._web: WebClient | None = None
        if webhook_url:
            self._webhook = WebhookClient(webhook_url, timeout=timeout, logger=_QUIET, retry_handlers=[])
        else:
            kwargs: dict[str, Any] = {
                "token": bot_token,
                "timeout": timeout,
                "logger": _QUIET,
                "retry_handlers": [],
            }
            if base_url:
                kwargs["base_url"] = base_url if base_url.endswith("/") else base_url + "/"
            self._web = WebClient(**kwargs)

    def __repr__(self) -> str:
        mode = "webhook" if self._webhook else f"bot channel={self._channel!r}"
        return f"SlackChannel(name={self.name!r}, {mode})"

    def _secrets(self) -> tuple[str | None, ...]:
        return (self._webhook_url, self._bot_token)

    def send(self, alert: Alert) -> None:
        blocks = slack_blocks(alert)
        text = fallback_text(alert)
        try:
            if self._webhook is not None:
                resp = self._webhook.send(text=text, blocks=blocks, unfurl_links=False)
                if resp.status_code != 200:
                    raise AlertSendError(
                        f"slack webhook answered HTTP {resp.status_code}: {resp.body[:200]}",
                        retryable=resp.status_code >= 500 or resp.status_code == 429,
                    )
            else:
                # __init__ refuses a bot_token without a channel
                assert self._web is not None and self._channel is not None
                self._web.chat_postMessage(
                    channel=self._channel, text=text, blocks=blocks, unfurl_links=False
                )
        except AlertSendError as exc:
            raise AlertSendError(scrub(str(exc), self._secrets()), retryable=exc.retryable) from None
        except SlackApiError as exc:
            resp = exc.response
            error = resp.get("error") if isinstance(resp.data, dict) else None
            detail = f"HTTP {resp.status_code} error={error}"
            retryable = resp.status_code >= 500 or resp.status_code == 429 or error in _TRANSIENT_ERRORS
            raise AlertSendError(
                scrub(f"slack chat.postMessage failed: {detail}", self._secrets()), retryable=retryable
            ) from None
        except Exception as exc:  # network errors from urllib: scrub the URL out of the message
            raise AlertSendError(
                scrub(f"slack send failed: {type(exc).__name__}: {exc}", self._secrets())
            ) from None
