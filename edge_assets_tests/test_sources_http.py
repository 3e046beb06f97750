"""Fault and client behaviour against a real loopback HTTP server (stdlib, scripted per test)."""

import json
import logging
import random
import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from edge_assets.connect import SourceConfig, open_session
from edge_assets.sources.http import (
    ApiError,
    HttpSource,
    MalformedResponse,
    QuotaExhausted,
    RateLimited,
    RawExchange,
    RetriesExhausted,
    RetryPolicy,
    TokenBucket,
    paginate_cursor,
    parse_retry_after,
    parse_utc,
    redact,
)
from edge_assets.sources.oddsapi import OddsApiClient, odds_cost
from edge_assets.sources.polymarket import ClobClient, GammaClient
from edge_assets_tests.scripted_server import Reply, ScriptedServer, Seen

SECRET = "k3y-5ecret-abcdef0123456789"


class Recorder:
    """Injected sleep + response hook that remember what happened."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.exchanges: list[RawExchange] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def hook(self, exchange: RawExchange) -> None:
        self.exchanges.append(exchange)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def make_source(server: ScriptedServer, rec: Recorder, **kw: Any) -> HttpSource:
    kw.setdefault("retry", RetryPolicy(max_attempts=4, base_delay_s=0.5, max_delay_s=4.0))
    return HttpSource(
        "test", server.url + "/api", on_response=rec.hook, sleep=rec.sleep, rng=random.Random(7), **kw
    )


def odds_client(server: ScriptedServer, rec: Recorder, **kw: Any) -> OddsApiClient:
    kw.setdefault("retry", RetryPolicy(max_attempts=3, base_delay_s=0.1, max_delay_s=1.0))
    return OddsApiClient(
        server.url, SECRET, on_response=rec.hook, sleep=rec.sleep, rate_per_s=None, rng=random.Random(1), **kw
    )


EVENT = {
    "id": "e1",
    "sport_key": "icehockey_nhl",
    "commence_time": "2024-03-21T23:00:00Z",
    "home_team": "Boston Bruins",
    "away_team": "New York Rangers",
    "bookmakers": [],
}


# --------------------------------------------------------------------------- retries and faults


def test_5xx_then_success_is_retried_with_backoff(server: ScriptedServer, rec: Recorder) -> None:
    server.script("/api/x", Reply(503, {"message": "busy"}), Reply(502, "bad gateway"), Reply(200, {"ok": 1}))
    src = make_source(server, rec)
    assert src.request_json("GET", "/x", "/x", {"a": 1}) == {"ok": 1}
    assert server.count("/api/x") == 3  # two failures + success, base path prefix kept
    assert [e.status for e in rec.exchanges] == [503, 502, 200]  # hook saw every response
    # attempt n waits uniform(d/2, d) with d = 0.5·2^(n-1)
    assert len(rec.sleeps) == 2
    assert 0.25 <= rec.sleeps[0] <= 0.5
    assert 0.5 <= rec.sleeps[1] <= 1.0


def test_5xx_on_every_attempt_raises_retries_exhausted(server: ScriptedServer, rec: Recorder) -> None:
    server.script("/api/x", Reply(500, {"message": "boom"}))
    src = make_source(server, rec, retry=RetryPolicy(max_attempts=3, base_delay_s=0.1))
    with pytest.raises(RetriesExhausted) as info:
        src.request_json("GET", "/x", "/x")
    assert server.count("/api/x") == 3
    assert info.value.attempts == 3
    assert str(info.value) == "test /x: gave up after 3 attempts; last error: HTTP 500: boom"
    assert len(rec.sleeps) == 2  # no sleep after the last attempt


@pytest.mark.parametrize("status", [408, 520, 521, 522, 523, 524])
def test_cloudflare_and_timeout_statuses_are_retried(
    server: ScriptedServer, rec: Recorder, status: int
) -> None:
    """Gamma and the CLOB sit behind Cloudflare: its origin errors (520-524) and a 408 are transient."""
    server.script("/api/x", Reply(status, f"error code: {status}"), Reply(200, {"ok": 1}))
    src = make_source(server, rec)
    assert src.request_json("GET", "/x", "/x") == {"ok": 1}
    assert [e.status for e in rec.exchanges] == [status, 200]
    assert len(rec.sleeps) == 1


def test_a_body_failing_its_content_encoding_is_retried_then_exhausted(
    server: ScriptedServer, rec: Recorder
) -> None:
    """A garbled gzip body raised httpx's DecodingError straight out of the client (not a SourceError)."""
    garbled = Reply(200, b"not gzip at all", {"Content-Encoding": "gzip"})
    server.script("/api/x", garbled, Reply(200, {"ok": 1}))
    src = make_source(server, rec)
    assert src.request_json("GET", "/x", "/x") == {"ok": 1}
    assert len(rec.sleeps) == 1
    server.script("/api/y", garbled)
    with pytest.raises(
        RetriesExhausted, match=r"gave up after 4 attempts; last error: undecodable body: DecodingError"
    ):
        src.request_json("GET", "/y", "/y")


def test_503_retry_after_is_honoured_and_too_long_gives_up(server: ScriptedServer, rec: Recorder) -> None:
    server.script("/api/x", Reply(503, {"message": "maintenance"}, {"Retry-After": "9"}), Reply(200, [1]))
    src = make_source(server, rec)
    assert src.request_json("GET", "/x", "/x") == [1]
    assert rec.sleeps == [9.0]  # the server's wait, not the 0.25-0.5 s backoff

    server.script("/api/y", Reply(503, {"message": "maintenance"}, {"Retry-After": "600"}))
    with pytest.raises(RetriesExhausted) as info:
        src.request_json("GET", "/y", "/y")
    assert server.count("/api/y") == 1 and rec.sleeps == [9.0]  # no sleep, no second attempt
    assert str(info.value) == (
        "test /y: gave up after 1 attempt; last error: HTTP 503: maintenance; "
        "Retry-After 600s exceeds the 120s we are willing to wait"
    )


def test_timeout_is_retried(server: ScriptedServer, rec: Recorder) -> None:
    server.script("/api/slow", Reply(200, {"late": True}, delay_s=0.6), Reply(200, {"ok": True}))
    src = make_source(server, rec, timeout_s=0.2)
    assert src.request_json("GET", "/slow", "/slow") == {"ok": True}
    assert server.count("/api/slow") == 2
    assert len(rec.sleeps) == 1
    assert [e.status for e in rec.exchanges] == [200]  # the timed-out attempt had no response


def test_connection_error_retried_then_exhausted(rec: Recorder) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    src = HttpSource(
        "test",
        f"http://127.0.0.1:{port}",
        sleep=rec.sleep,
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.01),
    )
    with pytest.raises(RetriesExhausted, match="gave up after 3 attempts; last error: connection error"):
        src.request_json("GET", "/x", "/x")
    assert len(rec.sleeps) == 2


def test_429_retry_after_seconds_is_honoured(server: ScriptedServer, rec: Recorder) -> None:
    server.script("/api/x", Reply(429, {"message": "slow down"}, {"Retry-After": "7"}), Reply(200, [1]))
    src = make_source(server, rec)
    assert src.request_json("GET", "/x", "/x") == [1]
    assert rec.sleeps == [7.0]
    assert rec.exchanges[0].headers["retry-after"] == "7"


def test_429_retry_after_http_date_is_honoured(server: ScriptedServer, rec: Recorder) -> None:
    now = datetime(2026, 8, 16, 12, 0, 0, tzinfo=UTC)
    when = format_datetime(now + timedelta(seconds=30), usegmt=True)
    server.script("/api/x", Reply(429, "", {"Retry-After": when}), Reply(200, {"ok": 1}))
    src = make_source(server, rec, now=lambda: now)
    assert src.request_json("GET", "/x", "/x") == {"ok": 1}
    assert rec.sleeps == [30.0]
    assert rec.exchanges[0].requested_at == now


def test_429_retry_after_too_long_raises_rate_limited(server: ScriptedServer, rec: Recorder) -> None:
    server.script(
        "/api/x", Reply(429, {"error_code": "EXCEEDED_FREQ_LIMIT", "message": "x"}, {"Retry-After": "3600"})
    )
    src = make_source(server, rec)
    with pytest.raises(RateLimited) as info:
        src.request_json("GET", "/x", "/x")
    assert rec.sleeps == []
    assert info.value.retry_after_s == 3600.0
    assert info.value.error_code == "EXCEEDED_FREQ_LIMIT"
    assert "Retry-After 3600s exceeds the 120s" in str(info.value)


def test_malformed_body_raises_after_hook_received_raw_body(server: ScriptedServer, rec: Recorder) -> None:
    body = b"<html>upstream error page</html>"
    server.script("/api/x", Reply(200, body, {"content-type": "text/html"}))
    src = make_source(server, rec)
    with pytest.raises(MalformedResponse) as info:
        src.request_json("GET", "/x", "/x")
    msg = str(info.value)
    assert msg.startswith("test /x: malformed response: body is not valid JSON")
    assert "'<html>upstream error page</html>'" in msg
    assert len(rec.exchanges) == 1
    ex = rec.exchanges[0]
    assert ex.body == body
    assert ex.status == 200
    assert ex.headers["content-type"] == "text/html"
    assert ex.url_path == "/x"


def test_truncated_json_through_a_wire_model_is_malformed_not_a_crash(
    server: ScriptedServer, rec: Recorder
) -> None:
    body = b'[{"id": "e1", "sport_key": "icehockey_nhl", "commence_time": "2024-03-21T23:00:00Z"'
    server.script("/v4/sports/icehockey_nhl/events", Reply(200, body))
    client = odds_client(server, rec)
    with pytest.raises(MalformedResponse) as info:
        client.events("icehockey_nhl")
    msg = str(info.value)
    assert msg.startswith("oddsapi /v4/sports/{sport}/events: malformed response: body is not valid JSON (")
    assert "EOF" in msg and 'starts with \'[{"id": "e1"' in msg
    assert rec.exchanges[0].body == body  # the raw body reached the hook before parsing


def test_schema_drift_names_the_field(server: ScriptedServer, rec: Recorder) -> None:
    drifted = dict(EVENT)
    drifted["start_time"] = drifted.pop("commence_time")  # renamed upstream
    server.script("/v4/sports/icehockey_nhl/events", Reply(200, [EVENT, drifted]))
    client = odds_client(server, rec)
    with pytest.raises(MalformedResponse) as info:
        client.events("icehockey_nhl")
    assert str(info.value) == (
        "oddsapi /v4/sports/{sport}/events: malformed response: field '1.commence_time': Field required"
    )
    assert json.loads(rec.exchanges[0].body)[1]["start_time"] == "2024-03-21T23:00:00Z"


def test_gamma_stringified_array_drift_is_malformed(server: ScriptedServer, rec: Recorder) -> None:
    server.script("/gamma/markets", Reply(200, [{"id": "1", "outcomes": "[not json"}]), Reply(200, []))
    gamma = GammaClient(server.url + "/gamma", on_response=rec.hook, rate_per_s=None)
    with pytest.raises(MalformedResponse, match=r"field '0\.outcomes'"):
        gamma.markets()


# --------------------------------------------------------------------------- Odds API quota and errors


def quota_headers(remaining: int, used: int, last: int) -> dict[str, str]:
    return {
        "x-requests-remaining": str(remaining),
        "x-requests-used": str(used),
        "x-requests-last": str(last),
    }


def test_quota_reserve_blocks_call_without_sending(server: ScriptedServer, rec: Recorder) -> None:
    server.script("/v4/sports/icehockey_nhl/odds", Reply(200, [EVENT], quota_headers(8, 492, 1)))
    server.script("/v4/sports/icehockey_nhl/events", Reply(200, [EVENT], quota_headers(8, 492, 0)))
    client = odds_client(server, rec, quota_reserve=5)
    client.odds("icehockey_nhl", markets="h2h")  # first call: remaining unknown → allowed
    assert (client.quota.remaining, client.quota.used, client.quota.last) == (8, 492, 1)
    client.quota.reserve = 10
    with pytest.raises(QuotaExhausted) as info:
        client.odds("icehockey_nhl", markets=["h2h", "spreads", "totals"])
    assert info.value.message == "Odds API quota: 8 credits left, reserve 10, this call costs 3; stopping"
    assert info.value.status is None
    assert server.count("/v4/sports/icehockey_nhl/odds") == 1  # the refused call was never sent
    client.events("icehockey_nhl")  # free endpoints still work below the reserve
    assert server.count("/v4/sports/icehockey_nhl/events") == 1


def test_a_new_client_reads_the_credits_left_before_its_first_paid_call(
    server: ScriptedServer, rec: Recorder
) -> None:
    """Each scheduled run opens a new client: the reserve must hold for its first call too."""
    server.script("/v4/sports", Reply(200, [], quota_headers(40, 460, 0)))
    server.script("/v4/sports/icehockey_nhl/odds", Reply(200, [EVENT], quota_headers(34, 466, 6)))
    low = odds_client(server, rec, quota_reserve=50, probe_quota=True)
    with pytest.raises(QuotaExhausted, match="40 credits left, reserve 50, this call costs 6; stopping"):
        low.odds("icehockey_nhl", markets="h2h,spreads,totals", regions="us,eu")
    assert [r.path for r in server.requests] == ["/v4/sports"]  # the paid call was never sent

    ok = odds_client(server, rec, quota_reserve=10, probe_quota=True)
    ok.odds("icehockey_nhl", markets="h2h,spreads,totals", regions="us,eu")
    ok.odds("icehockey_nhl", markets="h2h,spreads,totals", regions="us,eu")  # credits known: no probe
    assert [r.path for r in server.requests[1:]] == ["/v4/sports", *["/v4/sports/icehockey_nhl/odds"] * 2]
    assert ok.quota.remaining == 34

    # a live session probes; the embedded simulator's credits start afresh per session: it does not
    server.requests.clear()
    cfg = SourceConfig("live", 7, None, server.url, server.url, server.url, quota_reserve=50, timeout_s=5)
    with open_session(cfg, api_key=SECRET) as live, pytest.raises(QuotaExhausted):
        live.odds.odds("icehockey_nhl", markets="h2h,spreads,totals", regions="us,eu")
    assert [r.path for r in server.requests] == ["/v4/sports"]
    embedded = replace(cfg, mode="simulator", odds_base_url="unused")
    with open_session(embedded, api_key="sim-key", as_of=datetime(2026, 11, 20, 12, tzinfo=UTC)) as sim:
        sim.odds.odds("icehockey_nhl", markets="h2h")
        assert sim.odds.quota.remaining == 100_000 - 1


def test_quota_costs() -> None:
    assert odds_cost("h2h,spreads,totals", "us") == 3
    assert odds_cost(["h2h", "totals"], "us,uk") == 4
    assert odds_cost("h2h,spreads,totals", "us", historical=True) == 30
    assert odds_cost("h2h", None, bookmakers=[f"b{i}" for i in range(11)]) == 2  # 11 books = 2 regions


def test_historical_cost_checked_against_reserve(server: ScriptedServer, rec: Recorder) -> None:
    server.script("/v4/sports", Reply(200, [], quota_headers(35, 0, 0)))
    client = odds_client(server, rec, quota_reserve=10)
    client.sports()
    with pytest.raises(QuotaExhausted, match="35 credits left, reserve 10, this call costs 30; stopping"):
        client.historical_odds("americanfootball_nfl", "2021-11-25T12:00:00Z", markets="h2h,spreads,totals")
    assert server.count("/v4/historical/sports/americanfootball_nfl/odds") == 0


def test_401_out_of_credits_is_quota_exhausted(server: ScriptedServer, rec: Recorder) -> None:
    body = {
        "message": "Usage quota has been reached.",
        "error_code": "OUT_OF_USAGE_CREDITS",
        "details_url": "https://the-odds-api.com/liveapi/guides/v4/api-error-codes.html",
    }
    server.script("/v4/sports/icehockey_nhl/odds", Reply(401, body))
    client = odds_client(server, rec)
    with pytest.raises(QuotaExhausted) as info:
        client.odds("icehockey_nhl")
    err = info.value
    assert (err.status, err.error_code, err.message) == (
        401,
        "OUT_OF_USAGE_CREDITS",
        "Usage quota has been reached.",
    )
    assert str(err) == (  # the sport that failed, not the path template
        "oddsapi /v4/sports/icehockey_nhl/odds: HTTP 401 OUT_OF_USAGE_CREDITS: Usage quota has been reached."
    )
    assert server.count("/v4/sports/icehockey_nhl/odds") == 1  # 4xx is not retried


def test_401_invalid_key_and_422_map_to_api_error(server: ScriptedServer, rec: Recorder) -> None:
    server.script(
        "/v4/sports/icehockey_nhl/odds",
        Reply(401, {"message": "API key is not valid", "error_code": "INVALID_KEY"}),
        Reply(422, {"message": "Markets not supported by this endpoint", "error_code": "INVALID_MARKET"}),
    )
    client = odds_client(server, rec)
    with pytest.raises(ApiError) as info:
        client.odds("icehockey_nhl")
    assert not isinstance(info.value, QuotaExhausted)
    assert (info.value.status, info.value.error_code) == (401, "INVALID_KEY")
    with pytest.raises(ApiError, match="HTTP 422 INVALID_MARKET: Markets not supported by this endpoint"):
        client.odds("icehockey_nhl", markets="player_points")


def test_api_key_never_leaks(server: ScriptedServer, rec: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.script(
        "/v4/sports/icehockey_nhl/odds",
        Reply(500, {"message": f"internal error for apiKey={SECRET}"}),
        Reply(200, [EVENT], quota_headers(400, 100, 1)),
    )
    server.script(
        "/v4/sports/icehockey_nhl/scores",
        Reply(401, {"message": f"key {SECRET} is deactivated", "error_code": "DEACTIVATED_KEY"}),
    )
    server.script("/v4/sports", Reply(200, f"not json {SECRET}"))
    client = odds_client(server, rec)
    errors: list[str] = []
    client.odds("icehockey_nhl", markets="h2h")
    for call in (lambda: client.scores("icehockey_nhl", days_from=2), client.sports):
        try:
            call()
        except Exception as exc:  # collect the messages users would see
            errors.append(str(exc))
            errors.append(repr(exc))
    # the key really was sent on the wire, so the checks below mean something
    assert all(r.query["apiKey"] == [SECRET] for r in server.requests)
    assert len(errors) == 4
    assert "DEACTIVATED_KEY: key *** is deactivated" in errors[0]
    assert any("HTTP Request: GET" in r.getMessage() for r in caplog.records)  # httpx did log the URL
    assert SECRET not in caplog.text
    for r in caplog.records:
        assert SECRET not in r.getMessage()
    for text in errors:
        assert SECRET not in text
    assert SECRET not in repr(client)
    assert len(rec.exchanges) == 4
    for ex in rec.exchanges:
        assert "apiKey" not in ex.params
        assert SECRET not in repr(ex)
        assert SECRET.encode() not in ex.body
        assert SECRET not in ex.url_path + ex.params_json() + json.dumps(ex.headers)
    assert rec.exchanges[0].params == {
        "regions": "us",
        "markets": "h2h",
        "oddsFormat": "decimal",
        "dateFormat": "iso",
    }


def test_redact_helper() -> None:
    url = "https://api.the-odds-api.com/v4/sports?apiKey=abc123&all=true"
    assert redact(url) == "https://api.the-odds-api.com/v4/sports?apiKey=***&all=true"
    assert redact("token xyz and xyz again", ["xyz"]) == "token *** and *** again"
    assert redact("api_key=zz", []) == "api_key=***"


# --------------------------------------------------------------------------- limiter, parsing helpers


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s


def test_token_bucket_spaces_requests() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, burst=2, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(4)]
    assert waits == [0.0, 0.0, 0.5, 0.5]  # burst of 2, then one every 1/2 s
    clock.t += 10  # idle refills up to the burst only
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.5]


def test_client_uses_rate_limiter(server: ScriptedServer) -> None:
    clock = FakeClock()
    server.script("/clob/midpoint", Reply(200, {"mid": "0.515"}))
    clob = ClobClient(server.url + "/clob", rate_per_s=4.0, burst=1, clock=clock, sleep=clock.sleep)
    assert [str(clob.midpoint("t1")) for _ in range(3)] == ["0.515"] * 3
    assert clock.sleeps == [0.25, 0.25]


def test_parse_retry_after_and_utc() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("12", now) == 12.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now) == 60.0
    assert parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_utc("2026-08-14 21:00:00+00") == datetime(2026, 8, 14, 21, tzinfo=UTC)
    assert parse_utc("2026-04-05T14:02:57.37498Z") == datetime(2026, 4, 5, 14, 2, 57, 374980, tzinfo=UTC)
    assert parse_utc("1728799418260") == datetime(2024, 10, 13, 6, 3, 38, 260000, tzinfo=UTC)
    assert parse_utc(1779465615) == datetime(2026, 5, 22, 16, 0, 15, tzinfo=UTC)
    assert parse_utc("2026-01-01 05:00:00-05:00") == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_paginate_cursor() -> None:
    pages = {None: ([1, 2], "c1"), "c1": ([3], "c2"), "c2": ([], None)}
    assert list(paginate_cursor(lambda c: pages[c])) == [1, 2, 3]


# --------------------------------------------------------------------------- Gamma / CLOB clients


def test_gamma_markets_paginates_until_empty_page(server: ScriptedServer, rec: Recorder) -> None:
    universe = [{"id": str(i), "slug": f"m-{i}", "outcomes": '["Yes", "No"]'} for i in range(250)]

    def page(seen: Seen) -> Reply:
        limit, offset = int(seen.query["limit"][0]), int(seen.query["offset"][0])
        return Reply(200, universe[offset : offset + min(limit, 100)])

    server.script("/gamma/markets", page)
    gamma = GammaClient(server.url + "/gamma", on_response=rec.hook, rate_per_s=None)
    markets = gamma.markets(tag_id=100639, sports_market_types=["moneyline", "totals"])
    assert [m.id for m in markets] == [str(i) for i in range(250)]
    assert markets[0].outcomes == ["Yes", "No"]
    assert [r.query["offset"] for r in server.requests] == [["0"], ["100"], ["200"], ["300"]]
    for r in server.requests:
        assert r.query["closed"] == ["false"]  # always explicit
        assert (r.query["order"], r.query["ascending"]) == (["id"], ["true"])  # pages in a stable order
        assert r.query["limit"] == ["100"]
        assert r.query["sports_market_types"] == ["moneyline", "totals"]  # repeated keys
    assert rec.exchanges[0].endpoint == "/markets"
    assert rec.exchanges[0].params["closed"] == "false"


def test_gamma_pagination_stops_at_offset_cap(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    def full_page(seen: Seen) -> Reply:
        offset, limit = int(seen.query["offset"][0]), int(seen.query["limit"][0])
        return Reply(200, [{"id": f"{offset + i}"} for i in range(limit)])

    server.script("/gamma/events", full_page)
    gamma = GammaClient(server.url + "/gamma", rate_per_s=None)
    events = gamma.events(closed=True, limit=500)  # limit is capped to 100
    offsets = [int(r.query["offset"][0]) for r in server.requests]
    assert offsets == list(range(0, 10_001, 100))
    assert len(events) == 10_100
    assert server.requests[0].query["closed"] == ["true"]
    assert "offset cap 10000" in caplog.text


@pytest.mark.parametrize("in_flight", [1, 8])
def test_gamma_listing_pages_by_a_limit_the_server_caps_silently(
    server: ScriptedServer, in_flight: int
) -> None:
    """A server that answers 50 items to limit=100 would have every page skip its second half if
    the offset moved by the limit asked: the first short page sets the paging, both listings."""
    total, cap = 230, 50

    def capped(seen: Seen) -> Reply:
        offset, limit = int(seen.query["offset"][0]), int(seen.query["limit"][0])
        return Reply(200, [{"id": str(i)} for i in range(offset, min(offset + min(limit, cap), total))])

    server.script("/gamma/events", capped)
    gamma = GammaClient(server.url + "/gamma", rate_per_s=None, max_in_flight=in_flight)
    assert [e.id for e in gamma.events()] == [str(i) for i in range(total)]
    bodies = gamma.events_bodies()
    assert [e["id"] for body in bodies for e in json.loads(body)] == [str(i) for i in range(total)]
    asked = sorted({(int(r.query["offset"][0]), int(r.query["limit"][0])) for r in server.requests})
    expected = {(0, 100), (50, 50), (100, 50), (150, 50), (200, 50), (250, 50)}
    if in_flight > 1:  # two pages at once: the first batch's second page, and one past the end
        expected |= {(100, 100), (300, 50)}
    assert set(asked) == expected


def test_clob_books_batched_post_and_points(server: ScriptedServer, rec: Recorder) -> None:
    def books(seen: Seen) -> Reply:
        ids = [b["token_id"] for b in json.loads(seen.body)]
        return Reply(
            200,
            [
                {
                    "market": "0xm",
                    "asset_id": t,
                    "timestamp": "1785734468581",
                    "bids": [{"price": "0.4", "size": "10"}],
                    "asks": [],
                }
                for t in ids
            ],
        )

    server.script("/clob/books", books)
    server.script(
        "/clob/price", lambda seen: Reply(200, {"price": "0.51" if seen.query["side"] == ["BUY"] else "0.53"})
    )
    server.script("/clob/prices-history", Reply(200, {"history": [{"t": 1779465615, "p": 0.97}]}))
    clob = ClobClient(server.url + "/clob", on_response=rec.hook, rate_per_s=None)
    ids = [str(10**70 + i) for i in range(250)]
    got = clob.books(ids, batch_size=100)
    assert [b.asset_id for b in got] == ids
    posts = [r for r in server.requests if r.path == "/clob/books"]
    assert [r.method for r in posts] == ["POST"] * 3
    assert [len(json.loads(r.body)) for r in posts] == [100, 100, 50]
    assert rec.exchanges[0].request_body is not None and rec.exchanges[0].method == "POST"
    assert str(clob.price("t", "BUY")) == "0.51"
    assert str(clob.price("t", "SELL")) == "0.53"
    hist = clob.prices_history(
        "tok", start_ts=datetime(2026, 5, 22, tzinfo=UTC), end_ts=1779505206, fidelity=60
    )
    assert hist.history[0].p == 0.97
    q = server.requests[-1].query
    assert q == {"market": ["tok"], "startTs": ["1779408000"], "endTs": ["1779505206"], "fidelity": ["60"]}
    with pytest.raises(ValueError, match="side must be BUY or SELL"):
        clob.price("t", "buy")  # type: ignore[arg-type]


def test_raw_exchange_fields(server: ScriptedServer, rec: Recorder) -> None:
    server.script("/v4/sports/icehockey_nhl/scores", Reply(200, [], quota_headers(99, 401, 2)))
    client = odds_client(server, rec)
    assert client.scores("icehockey_nhl", days_from=2) == []
    ex = rec.exchanges[0]
    assert ex.source == "oddsapi"
    assert ex.endpoint == "/v4/sports/{sport}/scores"
    assert ex.url_path == "/v4/sports/icehockey_nhl/scores"
    assert ex.params == {"daysFrom": 2, "dateFormat": "iso"}
    assert (ex.quota_remaining, ex.quota_used, ex.quota_last) == (99, 401, 2)
    assert ex.requested_at.tzinfo is not None and ex.elapsed_ms > 0
    assert ex.body == b"[]"


def test_historical_odds_frame_fast_path(server: ScriptedServer, rec: Recorder) -> None:
    market = {
        "key": "h2h",
        "outcomes": [{"name": "Boston Bruins", "price": -120}, {"name": "X", "price": 110}],
    }
    snap = {
        "timestamp": "2024-03-21T11:55:36Z",
        "previous_timestamp": "2024-03-21T11:50:36Z",
        "next_timestamp": "2024-03-21T12:00:36Z",
        "data": [
            {
                **EVENT,
                "bookmakers": [
                    {"key": "fanduel", "last_update": "2024-03-21T11:50:00Z", "markets": [market]}
                ],
            }
        ],
    }
    drifted = json.loads(json.dumps(snap))
    drifted["data"][0]["bookmakers"][0]["markets"][0]["outcomes"][0]["odds"] = drifted["data"][0][
        "bookmakers"
    ][0]["markets"][0]["outcomes"][0].pop("price")
    path = "/v4/historical/sports/icehockey_nhl/odds"
    server.script(
        path, Reply(200, snap, quota_headers(480, 20, 10)), Reply(200, drifted, quota_headers(470, 30, 10))
    )
    client = odds_client(server, rec)
    df = client.historical_odds_frame(
        "icehockey_nhl", datetime(2024, 3, 21, 12, tzinfo=UTC), odds_format="american"
    )
    assert df["price_decimal"].to_list() == pytest.approx([1 + 100 / 120, 2.1])
    assert df["observed_at"].to_list() == [datetime(2024, 3, 21, 11, 55, 36, tzinfo=UTC)] * 2
    assert server.requests[0].query["date"] == ["2024-03-21T12:00:00Z"]
    assert client.quota.remaining == 480
    with pytest.raises(MalformedResponse) as info:
        client.historical_odds_frame("icehockey_nhl", "2024-03-21T12:05:00Z", odds_format="american")
    assert str(info.value) == (
        "oddsapi /v4/historical/sports/{sport}/odds: malformed response: "
        "field 'bookmakers[].markets[].outcomes[].price' missing or invalid in 1 of 2 rows"
    )
    assert len(rec.exchanges) == 2 and b'"odds": -120' in rec.exchanges[1].body
