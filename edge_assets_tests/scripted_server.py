"""A real 127.0.0.1 HTTP server scripted per test: per path, a queue of replies."""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # bytes/str sent as is, anything else JSON-encoded
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    raw_query: str
    body: bytes


Responder = Callable[[Seen], Reply]


class ScriptedServer:
    """127.0.0.1 HTTP server: per path, a queue of replies (or a function of the request)."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[Reply | Responder]] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                seen = Seen(
                    self.command, parts.path, parse_qs(parts.query), parts.query, self.rfile.read(length)
                )
                with server._lock:
                    server.requests.append(seen)
                    queue = server.scripts.get(parts.path, [])
                    item = (
                        (queue.pop(0) if len(queue) > 1 else queue[0])
                        if queue
                        else Reply(404, {"message": "no"})
                    )
                reply = item(seen) if callable(item) else item
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                body = reply.body
                if not isinstance(body, bytes | str):
                    body = json.dumps(body)
                data = body.encode() if isinstance(body, str) else body
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", reply.headers.get("content-type", "application/json"))
                    for k, v in reply.headers.items():
                        if k != "content-type":
                            self.send_header(k, v)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # client timed out first
                    pass

            do_GET = _serve
            do_POST = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def script(self, path: str, *replies: Reply | Responder) -> None:
        """Replies are served in order; the last one repeats."""
        self.scripts[path] = list(replies)

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)
