"""Console channel: one line per alert on a stream (the local sink for `edge demo`)."""

import sys
from typing import TextIO

from edge_assets.alerts.base import Alert, format_value


def console_line(alert: Alert) -> str:
    """``<created_at> [kind] title | k=v k=v`` on a single line, or ``... title: text`` for an alert
    without fields (a monitor's message is its text; a signal's text only repeats its fields)."""
    fields = " ".join(f"{k}={format_value(v)}" for k, v in alert.fields.items())
    line = f"{alert.created_at.strftime('%Y-%m-%dT%H:%M:%SZ')} [{alert.kind}] {alert.title}"
    if fields:
        line += f" | {fields}"
    elif alert.text:
        line += f": {alert.text}"
    return line.replace("\n", " ")


class ConsoleChannel:
    """Print alerts; never fails unless the stream does."""

    def __init__(self, stream: TextIO | None = None, name: str = "console") -> None:
        self.name = name
        self._stream = stream

    def __repr__(self) -> str:
        return f"ConsoleChannel(name={self.name!r})"

    def send(self, alert: Alert) -> None:
        stream = self._stream if self._stream is not None else sys.stdout  # resolved late: pytest capsys
        print(console_line(alert), file=stream, flush=True)
