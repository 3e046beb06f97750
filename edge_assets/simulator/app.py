"""One HTTP app serving Gamma (`/gamma/...`), CLOB (`/clob/...`) and The Odds API (`/v4/...`).

Why: the pipeline talks HTTP to three providers; in tests and demos it talks to this app, either
in-process through an httpx transport (no port) or over a loopback server (`server.serve`).
Fault knobs make client retry/validation paths testable deterministically.
"""

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import orjson

from edge_assets.simulator.clob import Clob, ClobError
from edge_assets.simulator.gamma import Gamma, GammaError
from edge_assets.simulator.oddsapi import OddsApi
from edge_assets.simulator.world import World, h64, last_param


@dataclass
class FaultConfig:
    """Deterministic fault injection; counters ("*_next") are decremented as requests consume them.

    paths: only requests whose path starts with one of these prefixes are affected (empty = all).
    error_rate: fraction of requests answered with `fail_status`, chosen by a hash of (seed, request
    number), so a run is reproducible. drop_field / rename_field apply recursively to every JSON
    object in successful bodies (schema drift).
    """

    latency_ms: float = 0.0
    fail_next: int = 0
    fail_status: int = 503
    error_rate: float = 0.0
    rate_limit_next: int = 0
    retry_after_s: int = 2
    truncate_next: int = 0
    malformed_next: int = 0
    drop_field: str | None = None
    rename_field: tuple[str, str] | None = None
    paths: tuple[str, ...] = ()
    seed: int = 0


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _drift(obj: Any, drop: str | None, rename: tuple[str, str] | None) -> Any:
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == drop:
                continue
            nk = rename[1] if rename and k == rename[0] else k
            out[nk] = _drift(v, drop, rename)
        return out
    if isinstance(obj, list):
        return [_drift(x, drop, rename) for x in obj]
    return obj


def _encode_json(obj: Any) -> bytes:
    """The reference wire format: what every body must be byte-identical to."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# orjson writes floats below 1e-4 unlike repr (0.000025 for 2.5e-05, 3e-6 for 3e-06); everything
# else it emits for the types it accepts below matches `_encode_json` byte for byte (fuzzed over
# float bit patterns in every JSON position and over every non-surrogate code point). Such a
# number is a token starting "0.0000" (after a delimiter or a minus sign), or an exponent
# "e-<one digit>" before a delimiter; a string that merely looks like one only costs a re-encode.
_SMALL_EXPONENT = re.compile(rb"e-[0-9](?:[,}\]]|$)")  # literal prefix: a fast scan


def _orjson_may_differ(raw: bytes) -> bool:
    if _SMALL_EXPONENT.search(raw) is not None:
        return True
    i = raw.find(b"0.0000")  # mostly timestamps ("...:00.000000Z"), preceded by a digit
    while i >= 0:
        if i == 0 or raw[i - 1] in b":,[-":
            return True
        i = raw.find(b"0.0000", i + 6)
    return False


# datetimes and dataclasses go to `_orjson_default` (json.dumps refuses them too)
_ORJSON_OPTS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _orjson_default(obj: Any) -> Any:
    if isinstance(obj, float):  # float subclasses (numpy.float64): json.dumps writes float.__repr__
        return float(obj)
    raise TypeError(type(obj).__name__)


def encode(obj: Any) -> bytes:
    """Compact JSON, byte-identical to `_encode_json`, through orjson (>= 3.11.7; ~10x faster).

    orjson cannot be told to match json.dumps where they differ, so the body falls back to
    `_encode_json` when orjson refuses it (non-str keys, ints beyond 64 bits, other types, deep
    nesting) or may have written a small float its own way. NaN and infinities, which orjson would
    write as null, never occur in simulator bodies (prices, sizes and volumes are finite).
    """
    try:
        raw = orjson.dumps(obj, default=_orjson_default, option=_ORJSON_OPTS)
    except TypeError:
        return _encode_json(obj)
    if _orjson_may_differ(raw):
        return _encode_json(obj)
    return raw


class SimulatorApp:
    """The three APIs over one world; per-key quota and rate state live in the instance."""

    def __init__(
        self,
        world: World | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        api_key: str = "sim-key",
        quota: int = 100_000,
        faults: FaultConfig | None = None,
        rate_limit_per_s: float | None = 30.0,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.world = world or World()
        self.clock = clock or _utcnow
        self.faults = faults or FaultConfig()
        self.gamma = Gamma(self.world)
        self.clob = Clob(self.world)
        self.odds = OddsApi(self.world, api_key, quota)
        self.rate_limit_per_s = rate_limit_per_s
        self._mono = monotonic or time.monotonic
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._n = 0

    # ------------------------------------------------------------------ plumbing
    def transport(self) -> httpx.BaseTransport:
        """In-process transport: `httpx.Client(transport=app.transport(), base_url="http://sim")`."""
        return httpx.MockTransport(self.handle)

    def _rate_ok(self, key: str) -> bool:
        if self.rate_limit_per_s is None:
            return True
        now = self._mono()
        with self._lock:
            dq = self._hits.setdefault(key, deque())
            while dq and dq[0] <= now - 1.0:
                dq.popleft()
            if len(dq) >= self.rate_limit_per_s:
                return False
            dq.append(now)
            return True

    def _now(self) -> datetime:
        now = self.clock()
        return now if now.tzinfo else now.replace(tzinfo=UTC)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        q = parse_qs(
            request.url.query.decode() if isinstance(request.url.query, bytes) else request.url.query,
            keep_blank_values=True,
        )
        f = self.faults
        with self._lock:
            self._n += 1
            n = self._n
        applies = not f.paths or any(path.startswith(p) for p in f.paths)
        if applies and f.latency_ms > 0:
            time.sleep(f.latency_ms / 1000)
        if applies:
            with self._lock:
                fail = f.fail_next > 0
                if fail:
                    f.fail_next -= 1
                limited = not fail and f.rate_limit_next > 0
                if limited:
                    f.rate_limit_next -= 1
            if not fail and f.error_rate > 0:
                fail = (h64(f.seed, "fault", n) % 1_000_000) / 1_000_000 < f.error_rate
            if fail:
                return httpx.Response(
                    f.fail_status,
                    content=f"error code: {f.fail_status}".encode(),
                    headers={"content-type": "text/plain; charset=utf-8"},
                    request=request,
                )
            if limited:
                body = (
                    {"message": "Too many requests", "error_code": "EXCEEDED_FREQ_LIMIT"}
                    if path.startswith("/v4")
                    else {"error": "Too Many Requests"}
                )
                return httpx.Response(
                    429,
                    content=encode(body),
                    request=request,
                    headers={
                        "content-type": "application/json; charset=utf-8",
                        "retry-after": str(f.retry_after_s),
                    },
                )
        status, body, headers = self._dispatch(request, path, q)
        if status == 200 and applies and (f.drop_field or f.rename_field):
            body = _drift(body, f.drop_field, f.rename_field)
        raw = encode(body)
        if applies and status == 200:
            with self._lock:
                trunc = f.truncate_next > 0
                if trunc:
                    f.truncate_next -= 1
                bad = not trunc and f.malformed_next > 0
                if bad:
                    f.malformed_next -= 1
            if trunc:
                raw = raw[: max(len(raw) // 2, 1)]
            elif bad:
                raw = b'{"data": [' + raw[1:40] + b",,}"
        hdrs = {"content-type": "application/json; charset=utf-8", **headers}
        return httpx.Response(status, content=raw, headers=hdrs, request=request)

    def _dispatch(
        self, request: httpx.Request, path: str, q: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        now = self._now()
        try:
            if path.startswith("/v4/"):
                if request.method != "GET":
                    return 405, {"message": "Method not allowed", "error_code": "METHOD_NOT_ALLOWED"}, {}
                return self.odds.handle(path, q, now, self._rate_ok)
            if path.startswith("/gamma/"):
                return 200, self._gamma(path[len("/gamma") :], q, now), {}
            if path.startswith("/clob/"):
                return 200, self._clob(request, path[len("/clob") :], q, now), {}
        except GammaError as e:
            return e.status, e.body, {}
        except ClobError as e:
            return e.status, e.body, {}
        return 404, {"error": "not found"}, {}

    def _gamma(self, sub: str, q: dict[str, list[str]], now: datetime) -> Any:
        parts = [p for p in sub.split("/") if p]
        g = self.gamma
        if parts == ["markets"]:
            return g.list_markets(q, now)
        if parts == ["events"]:
            return g.list_events(q, now)
        if parts == ["sports"]:
            return g.sports()
        if parts == ["teams"]:
            return g.teams(q)
        if len(parts) == 3 and parts[0] == "markets" and parts[1] == "slug":
            return g.market_by_slug(parts[2], now)
        if len(parts) == 3 and parts[0] == "events" and parts[1] == "slug":
            return g.event_by_slug(parts[2], now)
        if len(parts) == 2 and parts[0] == "markets":
            return g.market_by_id(parts[1], now)
        if len(parts) == 2 and parts[0] == "events":
            return g.event_by_id(parts[1], now)
        raise GammaError(404, {"type": "not found error", "error": "not found"})

    def _clob(self, request: httpx.Request, sub: str, q: dict[str, list[str]], now: datetime) -> Any:
        c = self.clob
        tok = last_param(q, "token_id")
        if sub == "/books" and request.method == "POST":
            try:
                body = json.loads(request.content or b"null")
            except ValueError as exc:
                raise ClobError(400, {"error": "Invalid payload"}) from exc
            return c.books(body, now)
        routes: dict[str, Callable[[], Any]] = {
            "/book": lambda: c.book(tok, now),
            "/midpoint": lambda: c.midpoint(tok, now),
            "/price": lambda: c.price(tok, last_param(q, "side"), now),
            "/spread": lambda: c.spread(tok, now),
            "/last-trade-price": lambda: c.last_trade_price(tok, now),
            "/tick-size": lambda: c.tick_size(tok, now),
            "/neg-risk": lambda: c.neg_risk(tok, now),
            "/prices-history": lambda: c.prices_history(q, now),
        }
        if sub in routes:
            return routes[sub]()
        raise ClobError(404, {"error": "not found"})
