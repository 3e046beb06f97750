"""Email channel (smtplib): one plain-text message per alert.

One SMTP connection per alert keeps failure handling simple (a dropped connection affects
one alert, and the dispatcher retries it); alert volume is rate-limited well below where a
persistent connection would matter. The password never appears in `repr` or errors.
"""

import logging
import smtplib
import ssl
from collections.abc import Collection, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from edge_assets.alerts.base import Alert, AlertSendError, scrub

log = logging.getLogger(__name__)


def build_message(alert: Alert, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """Subject ``[edge signal] <title>``; body = text, then one `key: value` line per field."""
    msg = EmailMessage()
    msg["Subject"] = f"[edge {alert.kind}] {alert.title}"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(alert.created_at.timestamp(), usegmt=True)
    msg["Message-ID"] = make_msgid(domain="edge-assets")
    msg["X-Edge-Alert-Id"] = alert.alert_id
    lines = [alert.text, ""] if alert.text else []
    lines += alert.field_lines()
    lines += ["", f"alert_id: {alert.alert_id}", f"created_at: {alert.created_at.isoformat()}"]
    msg.set_content("\n".join(lines) + "\n")
    return msg


class EmailChannel:
    """Send alerts through an SMTP server (optional STARTTLS or implicit TLS, optional login)."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        use_ssl: bool = False,
        timeout: float = 10.0,
        name: str = "email",
    ) -> None:
        if not recipients:
            raise ValueError("EmailChannel needs at least one recipient")
        if starttls and use_ssl:
            raise ValueError("choose starttls or use_ssl, not both")
        self.name = name
        self._host = host
        self._port = int(port)
        self._sender = sender
        self._recipients = list(recipients)
        self._username = username
        self._password = password
        self._starttls = starttls
        self._use_ssl = use_ssl
        self._timeout = timeout

    def __repr__(self) -> str:
        return (
            f"EmailChannel(name={self.name!r}, host={self._host!r}, port={self._port}, "
            f"sender={self._sender!r}, recipients={self._recipients!r}, login={self._username is not None})"
        )

    def send(self, alert: Alert) -> None:
        msg = build_message(alert, self._sender, self._recipients)
        try:
            smtp: smtplib.SMTP
            if self._use_ssl:
                smtp = smtplib.SMTP_SSL(
                    self._host, self._port, timeout=self._timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            with smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username and self._password:
                    smtp.login(self._username, self._password)
                refused = smtp.send_message(msg, from_addr=self._sender, to_addrs=self._recipients)
        except (smtplib.SMTPException, OSError) as exc:
            raise AlertSendError(
                scrub(f"smtp send failed: {type(exc).__name__}: {exc}", (self._password,))
            ) from None
        if refused:
            # Delivered to the others already (smtplib raises when every recipient is refused): a
            # retry would mail them the same alert again, so this alert counts as sent.
            log.warning(
                "smtp delivered %s but refused recipients %s", self._accepted(refused), sorted(refused)
            )

    def _accepted(self, refused: Collection[str]) -> list[str]:
        return [r for r in self._recipients if r not in refused]
