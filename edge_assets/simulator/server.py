"""Serve a SimulatorApp on a real loopback port (stdlib ThreadingHTTPServer in a thread).

Why: integration tests and `edge simulate --port N` need real sockets; the bytes are produced
by the same `SimulatorApp.handle` used in-process, so both paths answer identically.
"""

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseServer
from typing import cast

import httpx

from edge_assets.simulator.app import SimulatorApp

_SKIP = {"content-length", "transfer-encoding", "connection", "content-encoding"}


def _host_port(srv: BaseServer) -> tuple[str, int]:
    """The bound (host, port). Why the cast: typeshed's address union also covers AF_UNIX paths and
    bytes hosts, but after bind an AF_INET server holds `getsockname()`: (str host, int port)."""
    addr = cast(tuple[str, int], srv.server_address)
    return addr[0], addr[1]


def _handler_for(app: SimulatorApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _do(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            host, port = _host_port(self.server)
            req = httpx.Request(
                self.command,
                f"http://{host}:{port}{self.path}",
                headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                content=body,
            )
            resp = app.handle(req)
            self.send_response(resp.status_code)
            for k, v in resp.headers.items():
                if k.lower() not in _SKIP:
                    self.send_header(k, v)
            self.send_header("content-length", str(len(resp.content)))
            self.end_headers()
            self.wfile.write(resp.content)

        do_GET = _do
        do_POST = _do

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@dataclass
class RunningServer:
    server: ThreadingHTTPServer
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(app: SimulatorApp | None = None, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start serving in a daemon thread; `.url` is e.g. http://127.0.0.1:54321 (Odds API base)."""
    app = app or SimulatorApp()
    srv = ThreadingHTTPServer((host, port), _handler_for(app))
    srv.daemon_threads = True
    th = threading.Thread(target=srv.serve_forever, name="edge-simulator", daemon=True)
    th.start()
    h, p = _host_port(srv)
    return RunningServer(srv, th, f"http://{h}:{p}")


def serve_forever(port: int = 8765, host: str = "127.0.0.1", app: SimulatorApp | None = None) -> None:
    """Blocking server for `edge simulate --port N`."""
    app = app or SimulatorApp()
    srv = ThreadingHTTPServer((host, port), _handler_for(app))
    srv.daemon_threads = True
    try:
        srv.serve_forever()
    finally:
        srv.server_close()
