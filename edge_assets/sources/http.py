"""Resilient HTTP base shared by the Gamma, CLOB and Odds API clients.

Why a wrapper rather than bare httpx: every client needs the same things, done the same way —
retries with jittered exponential backoff on transient failures, honouring 429 `Retry-After`,
a client-side token bucket, a raw-response hook called before any parsing (so the raw lake
keeps bodies that later fail to parse), typed errors, and the guarantee that an API key
never leaks into logs, exceptions, reprs or recorded exchanges.
"""

import email.utils
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pydantic

log = logging.getLogger("edge_assets.sources")

T = TypeVar("T")

SECRET_PARAM_NAMES = frozenset({"apiKey", "api_key", "apikey"})
SELECTED_HEADERS = (
    "x-requests-remaining",
    "x-requests-used",
    "x-requests-last",
    "retry-after",
    "content-type",
)
# 408 and Cloudflare's 520-524 (Gamma and the CLOB sit behind it) are transient origin failures
RETRYABLE_STATUS = frozenset({408, 500, 502, 503, 504, 520, 521, 522, 523, 524})


# --------------------------------------------------------------------------- redaction


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace every secret value and every `apiKey=...` query value in `text` with `***`."""
    out = text
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    return re.sub(r"(?i)(api_?key=)[^&\s\"'#]+", r"\1***", out)


class _RedactingFilter(logging.Filter):
    """Rewrites records on third-party loggers (httpx logs full URLs at INFO) to hide secrets."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        with self._lock:
            self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        cleaned = redact(message, self._secrets)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


_FILTER = _RedactingFilter()
for _name in ("httpx", "httpcore.http11", "httpcore.http2", "httpcore.connection", "httpcore.proxy"):
    logging.getLogger(_name).addFilter(_FILTER)
log.addFilter(_FILTER)


def register_secret(secret: str) -> None:
    """Make the logging filters hide `secret` wherever httpx/httpcore/our loggers would print it."""
    if secret:
        _FILTER.add(secret)


# --------------------------------------------------------------------------- errors


class SourceError(Exception):
    """Base class of every error raised by the source clients."""


class ApiError(SourceError):
    """The API answered with an error status (body mapped to error_code/message when JSON)."""

    def __init__(
        self, source: str, endpoint: str, status: int | None, error_code: str | None, message: str
    ) -> None:
        self.source = source
        self.endpoint = endpoint
        self.status = status
        self.error_code = error_code
        self.message = message
        code = f" {error_code}" if error_code else ""
        status_txt = f"HTTP {status}" if status is not None else "not sent"
        super().__init__(f"{source} {endpoint}: {status_txt}{code}: {message}")


class RateLimited(ApiError):
    """429 that persisted through every attempt, or asked us to wait longer than we allow."""

    def __init__(
        self,
        source: str,
        endpoint: str,
        status: int | None,
        error_code: str | None,
        message: str,
        retry_after_s: float | None = None,
    ) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(source, endpoint, status, error_code, message)


class QuotaExhausted(ApiError):
    """The credit budget is spent (server said so, or the call would cross our reserve)."""


class MalformedResponse(SourceError):
    """The body is not JSON, or does not match the wire model (schema drift)."""

    def __init__(self, source: str, endpoint: str, detail: str) -> None:
        self.source = source
        self.endpoint = endpoint
        self.detail = detail
        super().__init__(f"{source} {endpoint}: malformed response: {detail}")


class RetriesExhausted(SourceError):
    """Transient failures (5xx, connection errors, timeouts) on every allowed attempt, or a Retry-After
    too long to wait for."""

    def __init__(self, source: str, endpoint: str, attempts: int, last_error: str) -> None:
        self.source = source
        self.endpoint = endpoint
        self.attempts = attempts
        self.last_error = last_error
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        super().__init__(f"{source} {endpoint}: gave up after {tries}; last error: {last_error}")


def validation_detail(exc: pydantic.ValidationError, limit: int = 5) -> str:
    """Summarise a pydantic error as `field.path: message` items so drift names the field."""
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "<root>"
        parts.append(f"field '{loc}': {err.get('msg', 'invalid')}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"... and {more} more errors")
    return "; ".join(parts)


# --------------------------------------------------------------------------- exchange record


@dataclass(frozen=True)
class RawExchange:
    """One HTTP response exactly as received, recorded before parsing (raw lake input)."""

    source: str
    endpoint: str  # path template, e.g. /v4/sports/{sport}/odds
    url_path: str  # concrete path relative to the client's base URL
    params: dict[str, Any]  # query params with the API key removed
    requested_at: datetime  # UTC
    elapsed_ms: float
    status: int
    headers: dict[str, str]  # lower-case names, SELECTED_HEADERS only
    body: bytes = field(repr=False)  # as received (an echoed API key is the one thing replaced)
    method: str = "GET"
    request_body: bytes | None = field(default=None, repr=False)

    def header_int(self, name: str) -> int | None:
        value = self.headers.get(name)
        try:
            return int(float(value)) if value is not None else None
        except ValueError:
            return None

    @property
    def quota_remaining(self) -> int | None:
        return self.header_int("x-requests-remaining")

    @property
    def quota_used(self) -> int | None:
        return self.header_int("x-requests-used")

    @property
    def quota_last(self) -> int | None:
        return self.header_int("x-requests-last")

    def params_json(self) -> str:
        return json.dumps(self.params, sort_keys=True, default=str)


OnResponse = Callable[[RawExchange], None]


# --------------------------------------------------------------------------- policies


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits uniform(d/2, d), d = min(max, base·2^(n-1))."""

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0  # a longer Retry-After raises RateLimited instead of sleeping

    def backoff(self, attempt: int, rng: random.Random) -> float:
        delay = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return rng.uniform(delay / 2, delay)


class TokenBucket:
    """Client-side rate limiter: `rate_per_s` tokens per second, bursts up to `burst`."""

    def __init__(
        self,
        rate_per_s: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        self.rate = rate_per_s
        self.capacity = burst if burst is not None else max(1.0, rate_per_s)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; returns the time waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            wait = (1 - self._tokens) / self.rate
            self._sleep(wait)
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            # the token we waited for is ours even when the clock did not move (injected sleep)
            self._tokens = max(0.0, self._tokens - 1)
            return wait


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date (relative to `now`)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


# --------------------------------------------------------------------------- pagination


def paginate_offset(
    fetch_page: Callable[[int, int], Sequence[T]],
    *,
    limit: int = 100,
    max_offset: int = 10_000,
    pages_at_once: int = 1,
    page_items: Callable[[Sequence[T]], int] = len,
) -> Iterator[T]:
    """Yield items from `fetch_page(limit, offset)` until an empty page or past `max_offset`.

    An empty page is the only reliable end signal: servers cap `limit` silently, so a short
    page does not mean the last one. A first page shorter than `limit` (`page_items` counts its
    items) is taken as that cap: the walk goes on from there with it, so no window is skipped; a
    listing that fits in one short page costs one more (empty) page. `pages_at_once` > 1 requests
    that many pages together (`each_request`): a listing takes fewer round trips, for at most that
    many pages past the end. Those pages count for nothing, not even their errors: the pages read
    are the sequential ones.
    """

    def attempt(offset: int) -> tuple[Sequence[T], BaseException | None]:
        try:
            return fetch_page(limit, offset), None
        except BaseException as exc:  # raised below only if the sequential walk reaches it
            return [], exc

    offset, first = 0, True
    end = max_offset + 1  # no items from this offset on: past the cap, or a page past the end read empty
    while offset < end:
        offsets = [o for o in range(offset, offset + pages_at_once * limit, limit) if o < end]
        pages = each_request(attempt, offsets, pages_at_once)
        end = min(
            [end, *(o for o, (page, error) in zip(offsets, pages, strict=True) if not page and not error)]
        )
        for page, error in pages:
            if error is not None:
                raise error
            if not page:
                return
            yield from page
            if first:
                first, got = False, page_items(page)
                if got < limit:  # the server's cap (or the whole listing): the batch's other pages are off
                    log.info("page of %d items for limit %d: paging by %d", got, limit, got)
                    limit = offset = got
                    break
        else:
            offset += len(offsets) * limit
    if end > max_offset:
        log.warning("pagination stopped at offset cap %d; narrow the filters to see everything", max_offset)


def paginate_cursor(
    fetch_page: Callable[[str | None], tuple[Sequence[T], str | None]], *, max_pages: int = 10_000
) -> Iterator[T]:
    """Yield items from keyset pages: `fetch_page(cursor) -> (items, next_cursor)`."""
    cursor: str | None = None
    for _ in range(max_pages):
        items, cursor = fetch_page(cursor)
        yield from items
        if not cursor or not items:
            return


# --------------------------------------------------------------------------- concurrency

X = TypeVar("X")


def each_request(fn: Callable[[X], T], items: Sequence[X], max_in_flight: int = 1) -> list[T]:
    """`[fn(x) for x in items]` with up to `max_in_flight` calls at once; results in item order.

    Why: a live poll's requests (one per sport, hour or book batch) each wait a network round
    trip; overlapped, a poll takes about one. Once a call has failed no further call starts, the
    calls already sent finish (their responses reach the raw hook), and the error of the earliest
    failed item is raised, as the sequential loop would have raised it.
    """
    if max_in_flight <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    results: list[Any] = [None] * len(items)
    errors: dict[int, BaseException] = {}
    running: dict[Future[T], int] = {}

    def settle(done: Iterable[Future[T]]) -> None:
        for future in done:
            i = running.pop(future)
            try:
                results[i] = future.result()
            except BaseException as exc:  # re-raised below, the earliest item's first
                errors[i] = exc

    with ThreadPoolExecutor(max_workers=min(max_in_flight, len(items))) as pool:
        for i, item in enumerate(items):
            if len(running) >= max_in_flight:
                settle(wait(running, return_when=FIRST_COMPLETED).done)
            settle([future for future in running if future.done()])
            if errors:
                break
            running[pool.submit(fn, item)] = i
        settle(wait(running).done)
    if errors:
        raise errors[min(errors)]
    return results


# --------------------------------------------------------------------------- client


class ErrorMapper:
    """Turns a non-2xx response into an exception; clients override for API-specific bodies."""

    def __call__(self, source: str, endpoint: str, response: httpx.Response, body: bytes) -> ApiError:
        code, message = extract_error(body)
        return ApiError(source, endpoint, response.status_code, code, message or response.reason_phrase)


def extract_error(body: bytes) -> tuple[str | None, str]:
    """(error_code, message) from a JSON error body, else (None, first 200 chars of the text)."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, body[:200].decode("utf-8", "replace").strip()
    if isinstance(payload, dict):
        code = payload.get("error_code") or payload.get("code")
        message = payload.get("message") or payload.get("error") or payload.get("detail") or ""
        return (str(code) if code is not None else None), str(message)
    return None, str(payload)[:200]


class HttpSource:
    """httpx.Client wrapper: retries, 429 handling, rate limit, raw hook, typed errors, redaction."""

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        on_response: OnResponse | None = None,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        rate_per_s: float | None = None,
        burst: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        secrets: Iterable[str] = (),
        error_mapper: ErrorMapper | None = None,
        headers: Mapping[str, str] | None = None,
        max_in_flight: int = 1,
        timed: bool = True,
    ) -> None:
        """``timed`` False stores every response's elapsed_ms as 0: on a pinned simulated clock a
        re-run rewrites each raw file under the same name, which must then hold the same bytes."""
        self.source = source
        self.max_in_flight = max_in_flight
        self._timed = timed
        self.base_url = base_url.rstrip("/")
        self.on_response = on_response
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._now = now
        self._rng = rng or random.Random()
        self._secrets = tuple(s for s in secrets if s)
        for s in self._secrets:
            register_secret(s)
        self._map_error = error_mapper or ErrorMapper()
        self.limiter = TokenBucket(rate_per_s, burst, clock=clock, sleep=sleep) if rate_per_s else None
        self._client = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout_s,
            headers={"accept": "application/json", **(headers or {})},
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(source={self.source!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "HttpSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers

    def each(self, fn: Callable[[X], T], items: Sequence[X]) -> list[T]:
        """One request per item, up to `max_in_flight` at once (`each_request`), in item order."""
        return each_request(fn, items, self.max_in_flight)

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    @staticmethod
    def _clean_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Drop None, keep lists (sent as repeated keys), booleans as 'true'/'false'."""
        out: dict[str, Any] = {}
        for key, value in (params or {}).items():
            if value is None:
                continue
            if isinstance(value, bool):
                out[key] = "true" if value else "false"
            elif isinstance(value, list | tuple):
                out[key] = [str(v).lower() if isinstance(v, bool) else v for v in value]
            else:
                out[key] = value
        return out

    def _public_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in params.items() if k not in SECRET_PARAM_NAMES}

    # -- the one request path

    def request_bytes(
        self,
        method: str,
        endpoint: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> RawExchange:
        """Send with retries; return the (key-free) exchange of the first 2xx; typed errors otherwise.

        `endpoint` is the path template RawExchange records; `path` the concrete path errors name.
        """
        sent_params = self._clean_params(params)
        public_params = self._public_params(sent_params)
        request_body = json.dumps(json_body).encode() if json_body is not None else None
        where = path  # errors name the concrete path: which sport or market failed, not its template
        last_error = ""
        policy = self.retry
        for attempt in range(1, policy.max_attempts + 1):
            if self.limiter is not None:
                self.limiter.acquire()
            requested_at = self._now()
            started = time.perf_counter()
            try:
                response = self._client.request(
                    method,
                    path,
                    params=sent_params,
                    content=request_body,
                    headers={"content-type": "application/json"} if request_body is not None else None,
                )
                body = response.read()
            except (httpx.TimeoutException, httpx.TransportError, httpx.DecodingError) as exc:
                # a body that fails its Content-Encoding is a garbled transfer: retried like one
                kind = (
                    "timeout"
                    if isinstance(exc, httpx.TimeoutException)
                    else "undecodable body"
                    if isinstance(exc, httpx.DecodingError)
                    else "connection error"
                )
                last_error = self.redact(f"{kind}: {type(exc).__name__}: {exc}")
                self._back_off(where, attempt, policy, last_error)
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000.0 if self._timed else 0.0
            for secret in self._secrets:  # a server echoing the key must not put it in the lake
                if secret.encode() in body:
                    body = body.replace(secret.encode(), b"***")
            exchange = RawExchange(
                source=self.source,
                endpoint=endpoint,
                url_path=path,
                params=public_params,
                requested_at=requested_at,
                elapsed_ms=elapsed_ms,
                status=response.status_code,
                headers={h: response.headers[h] for h in SELECTED_HEADERS if h in response.headers},
                body=body,
                method=method,
                request_body=request_body,
            )
            self._observe(exchange)
            if self.on_response is not None:
                self.on_response(exchange)
            status = response.status_code
            if 200 <= status < 300:
                return exchange
            if status == 429:
                wait = parse_retry_after(response.headers.get("retry-after"), self._now())
                code, message = extract_error(body)
                message = self.redact(message or "rate limited")
                if wait is not None and wait > policy.max_retry_after_s:
                    raise RateLimited(
                        self.source,
                        where,
                        status,
                        code,
                        f"{message}; Retry-After {wait:.0f}s exceeds the "
                        f"{policy.max_retry_after_s:.0f}s we are willing to wait",
                        wait,
                    )
                if attempt >= policy.max_attempts:
                    raise RateLimited(
                        self.source,
                        where,
                        status,
                        code,
                        f"{message}; still rate limited after {attempt} attempts",
                        wait,
                    )
                delay = wait if wait is not None else policy.backoff(attempt, self._rng)
                log.warning(
                    "%s %s rate limited (429); waiting %.2fs (attempt %d/%d)",
                    self.source,
                    where,
                    delay,
                    attempt,
                    policy.max_attempts,
                )
                self._sleep(delay)
                continue
            if status in RETRYABLE_STATUS:
                _, message = extract_error(body)
                last_error = self.redact(f"HTTP {status}: {message or response.reason_phrase}")
                # a 503's Retry-After says when the origin is back: wait that long, or stop if too long
                wait = parse_retry_after(response.headers.get("retry-after"), self._now())
                if wait is not None and wait > policy.max_retry_after_s:
                    limit = policy.max_retry_after_s
                    last_error += f"; Retry-After {wait:.0f}s exceeds the {limit:.0f}s we are willing to wait"
                    raise RetriesExhausted(self.source, where, attempt, last_error)
                self._back_off(where, attempt, policy, last_error, wait)
                continue
            error = self._map_error(self.source, where, response, body)
            error.message = self.redact(error.message)
            error.args = (self.redact(str(error)),)
            raise error
        raise RetriesExhausted(self.source, where, policy.max_attempts, last_error)

    def _back_off(
        self, endpoint: str, attempt: int, policy: RetryPolicy, last_error: str, wait: float | None = None
    ) -> None:
        """Wait before the next attempt after a retryable failure (none after the last one): the
        server's Retry-After when it sent one, else the policy's jittered backoff."""
        if attempt >= policy.max_attempts:
            return
        delay = wait if wait is not None else policy.backoff(attempt, self._rng)
        log.warning(
            "%s %s attempt %d/%d failed (%s); retrying in %.2fs",
            self.source,
            endpoint,
            attempt,
            policy.max_attempts,
            last_error,
            delay,
        )
        self._sleep(delay)

    def _observe(self, exchange: RawExchange) -> None:
        """Subclass hook run on every response before the user hook (e.g. quota headers)."""

    def request_json(
        self,
        method: str,
        endpoint: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        body = self.request_bytes(method, endpoint, path, params, json_body).body
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise self._not_json(endpoint, body, str(exc)) from None

    def _not_json(self, endpoint: str, body: bytes, why: str) -> MalformedResponse:
        return not_json(self.source, endpoint, body, why, self._secrets)

    def get_model(
        self,
        endpoint: str,
        path: str,
        adapter: pydantic.TypeAdapter[T],
        params: Mapping[str, Any] | None = None,
        *,
        method: str = "GET",
        json_body: Any = None,
    ) -> T:
        """Request, parse JSON and validate into the wire model (`validate_body`)."""
        body = self.request_bytes(method, endpoint, path, params, json_body).body
        return validate_body(self.source, endpoint, adapter, body, self._secrets)

    def validate(self, endpoint: str, adapter: pydantic.TypeAdapter[T], payload: Any) -> T:
        try:
            return adapter.validate_python(payload)
        except pydantic.ValidationError as exc:
            raise MalformedResponse(self.source, endpoint, validation_detail(exc)) from None


def body_snippet(body: bytes, secrets: Iterable[str] = ()) -> str:
    """How a body starts, for an error message: its first 80 bytes as text, secrets masked."""
    return redact(body[:80].decode("utf-8", "replace"), secrets)


def not_json(
    source: str, endpoint: str, body: bytes, why: str, secrets: Iterable[str] = ()
) -> MalformedResponse:
    snippet = body_snippet(body, secrets)
    return MalformedResponse(source, endpoint, f"body is not valid JSON ({why}); starts with {snippet!r}")


def validate_body(
    source: str, endpoint: str, adapter: pydantic.TypeAdapter[T], body: bytes, secrets: Iterable[str] = ()
) -> T:
    """A body through its wire model, parsed by pydantic-core straight from the bytes (about 2x
    json.loads + validate_python); drift or a body that is not JSON becomes MalformedResponse."""
    try:
        return adapter.validate_json(body)
    except pydantic.ValidationError as exc:
        bad_json = [e for e in exc.errors() if e["type"] == "json_invalid"]
        if bad_json:
            raise not_json(source, endpoint, body, str(bad_json[0]["ctx"]["error"]), secrets) from None
        raise MalformedResponse(source, endpoint, validation_detail(exc)) from None


# --------------------------------------------------------------------------- wire value helpers


def parse_utc(value: Any) -> datetime | None:
    """Any timestamp the three APIs emit → aware UTC datetime.

    Handles ISO `...Z`, Gamma's `2026-08-14 21:00:00+00` (space, hour-only offset), naive
    strings (taken as UTC), epoch seconds and epoch milliseconds (numbers or digit strings).
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        number = float(value)
        if number > 1e11:  # milliseconds (1e11 s is the year 5138)
            number /= 1000.0
        return datetime.fromtimestamp(number, tz=UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"unrecognised timestamp {value!r}") from exc
    else:
        raise ValueError(f"unrecognised timestamp {value!r}")
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
