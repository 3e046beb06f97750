"""A poll's requests overlap over HTTP (`HttpSource.each`): the same bodies, credits and errors as
one at a time."""

import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import dagster as dg
import httpx
import polars as pl
import pytest

from edge_assets import cli
from edge_assets.assets import ingest
from edge_assets.connect import SourceConfig, SourceSession, open_session
from edge_assets.lake import Lake
from edge_assets.resources import build_resources
from edge_assets.runner import RANGE_END, RANGE_START
from edge_assets.settings import ODDS_API_KEY_ENV, load_settings
from edge_assets.simulator import FaultConfig, SimulatorApp, World, serve
from edge_assets.simulator.server import RunningServer
from edge_assets.sources import normalize
from edge_assets.sources.http import QuotaExhausted, RawExchange, each_request, paginate_offset
from edge_assets.sources.oddsapi import QuotaTracker, odds_cost
from edge_assets.sources.polymarket import GammaClient
from edge_assets.sources_resource import SourcesResource, build_source_resources

AT = datetime(2026, 11, 20, 19, 0, tzinfo=UTC)
KEY = "overlap-test-key-0123456789"
SPORTS = ["americanfootball_nfl", "basketball_nba", "icehockey_nhl", "baseball_mlb", "soccer_epl"]
MARKETS, REGIONS = "h2h,spreads,totals", "us,eu"


def test_each_request_overlaps_up_to_its_limit_and_keeps_item_order() -> None:
    active, most = 0, 0
    lock = threading.Lock()
    together = threading.Barrier(3, timeout=30)  # breaks unless three calls are in flight at once

    def call(x: int) -> int:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        together.wait()
        with lock:
            active -= 1
        return x * 10

    assert each_request(call, list(range(6)), max_in_flight=3) == [0, 10, 20, 30, 40, 50]
    assert most == 3

    assert each_request(lambda x: x + 1, [1, 2, 3], max_in_flight=1) == [2, 3, 4]
    assert each_request(call, [], max_in_flight=3) == []


def test_each_request_starts_nothing_after_a_failure_and_raises_the_earliest_items_error() -> None:
    """Item 1 fails first, then item 0 (already sent) fails too: item 0's error is raised, as the
    sequential loop would have raised it, and items 2-5 are never sent."""
    started: list[int] = []
    item_1_failed = threading.Event()

    def call(x: int) -> int:
        started.append(x)
        if x == 1:
            item_1_failed.set()
            raise ValueError("item 1 broke")
        if x == 0:
            assert item_1_failed.wait(30)
            raise KeyError("item 0 broke")
        return x

    with pytest.raises(KeyError, match="item 0 broke"):
        each_request(call, list(range(6)), max_in_flight=2)
    assert sorted(started) == [0, 1]


def test_the_credits_left_are_the_lowest_reported_when_answers_arrive_out_of_order() -> None:
    def answer(remaining: int, used: int) -> RawExchange:
        headers = {
            "x-requests-remaining": str(remaining),
            "x-requests-used": str(used),
            "x-requests-last": "6",
        }
        return RawExchange("oddsapi", "/v4/sports/{sport}/odds", "/x", {}, AT, 1.0, 200, headers, b"[]")

    quota = QuotaTracker(reserve=50)
    for remaining, used in [(94, 6), (82, 18), (88, 12)]:  # the third call's answer came last
        quota.update(answer(remaining, used))
    assert (quota.remaining, quota.used, quota.last) == (82, 18, 6)


def test_pages_fetched_two_at_a_time_read_what_the_sequential_walk_reads() -> None:
    """Four full pages then the end: the same items, one page past the end requested at most, and
    that page's error ignored (the sequential walk never asked for it); an error before the end raised."""
    asked: list[int] = []

    def page(limit: int, offset: int) -> list[int]:
        asked.append(offset)
        if offset == 500:
            raise RuntimeError("past the end")
        return list(range(offset, offset + limit)) if offset < 400 else []

    one_by_one = list(paginate_offset(page, limit=100, pages_at_once=1))
    assert asked == [0, 100, 200, 300, 400]
    asked.clear()
    assert list(paginate_offset(page, limit=100, pages_at_once=2)) == one_by_one == list(range(400))
    assert sorted(asked) == [0, 100, 200, 300, 400, 500]

    def broken(limit: int, offset: int) -> list[int]:
        if offset == 200:
            raise RuntimeError("page 3 broke")
        return [offset]

    with pytest.raises(RuntimeError, match="page 3 broke"):
        list(paginate_offset(broken, limit=100, pages_at_once=2))


class CountingApp(SimulatorApp):
    """The simulator, counting the requests it is answering at once."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(World(7), clock=lambda: AT, api_key=KEY, rate_limit_per_s=None, **kw)
        self.active = 0
        self.most = 0
        self.paths: list[str] = []
        self._count = threading.Lock()

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._count:
            self.active += 1
            self.most = max(self.most, self.active)
            self.paths.append(request.url.path)
        try:
            return super().handle(request)
        finally:
            with self._count:
                self.active -= 1


@pytest.fixture
def latent() -> Iterator[tuple[CountingApp, RunningServer]]:
    """A loopback simulator answering each request after 200 ms, as a remote API would."""
    app = CountingApp(faults=FaultConfig(latency_ms=200))
    server = serve(app)
    try:
        yield app, server
    finally:
        server.stop()


def live_session(url: str, max_in_flight: int, exchanges: list[RawExchange]) -> SourceSession:
    cfg = SourceConfig(
        "live", 7, None, f"{url}/gamma", f"{url}/clob", url, 50, 10.0, max_in_flight=max_in_flight
    )
    return open_session(cfg, api_key=KEY, on_response=exchanges.append)


def test_a_live_poll_overlaps_its_requests_and_equals_the_poll_one_at_a_time(
    latent: tuple[CountingApp, RunningServer],
) -> None:
    app, server = latent
    polls: dict[int, tuple[list[bytes], list[bytes], list[RawExchange]]] = {}
    for max_in_flight in (1, 5):
        exchanges: list[RawExchange] = []
        app.most = 0
        with live_session(server.url, max_in_flight, exchanges) as s:
            odds = s.odds.odds_bodies(SPORTS, regions=REGIONS, markets=MARKETS)
            assert app.most == max_in_flight  # the five sports were answered at once, or one by one
            credits = (s.odds.quota.remaining, s.odds.quota.used)
            markets = normalize.gamma_event_bodies_to_frame(
                s.gamma.events_bodies(closed=False), observed_at=AT
            )
            tokens = markets.select(pl.col("token_ids").explode()).unique().sort("token_ids")["token_ids"]
            app.most = 0
            books = s.clob.books_bodies(tokens[:250].to_list())  # three batches of up to 100
            assert app.most == min(max_in_flight, 3)
        polls[max_in_flight] = (odds, books, exchanges)
        # out-of-order answers leave the credits the server reports after the last of the five
        spent = 5 * odds_cost(MARKETS, REGIONS) * (1 if max_in_flight == 1 else 2)
        assert credits == (100_000 - spent, spent)

    (odds_1, books_1, seen_1), (odds_5, books_5, seen_5) = polls[1], polls[5]
    assert odds_5 == odds_1 and len(odds_5) == 5
    in_body = [{event["sport_key"] for event in json.loads(body)} for body in odds_5]
    assert in_body == [{sport} for sport in SPORTS]  # each sport's body in its place
    assert books_5 == books_1 and len(books_5) == 3
    # every response reached the raw hook, whatever the order they arrived in; two Gamma pages at
    # once ask one past the end (empty) that the walk one at a time never asks
    overlapped, one_by_one = (Counter((e.url_path, e.body) for e in seen) for seen in (seen_5, seen_1))
    assert not one_by_one - overlapped
    assert list((overlapped - one_by_one).elements()) == [("/events", b"[]")]
    paths = [e.url_path for e in seen_5]
    assert (paths.count("/v4/sports"), paths.count("/books")) == (1, 3)  # the probe, the batches
    assert sorted(p for p in paths if p.endswith("/odds")) == sorted(f"/v4/sports/{s}/odds" for s in SPORTS)


def test_gamma_listings_ask_two_pages_at_a_time_whatever_the_requests_in_flight(
    latent: tuple[CountingApp, RunningServer],
) -> None:
    """More pages at once would add more past the end (a raw response each, every poll)."""
    app, server = latent
    listings = {}
    for in_flight in (1, 8):
        app.most, app.paths = 0, []
        with GammaClient(f"{server.url}/gamma", max_in_flight=in_flight) as gamma:
            listings[in_flight] = (
                gamma.events(closed=False, limit=20),
                gamma.events_bodies(closed=False, limit=20),
            )
        assert app.most == min(in_flight, 2)
        pages = len(listings[in_flight][1])
        assert pages > 2 and len(app.paths) in range(2 * (pages + 1), 2 * (pages + 2) + 1)
    assert listings[8] == listings[1]


@pytest.mark.integration
def test_a_live_historical_run_writes_the_same_hours_overlapped_as_one_at_a_time(
    tmp_path: Path, latent: tuple[CountingApp, RunningServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers arrive out of order; the curated partitions are those of one request at a time, byte
    for byte, and each request's answer is in the raw lake once."""
    _, server = latent
    monkeypatch.setenv(ODDS_API_KEY_ENV, KEY)
    hours = {RANGE_START: "2026-11-20-10:00", RANGE_END: "2026-11-20-12:00"}
    for in_flight in (1, 8):
        settings = load_settings(
            lake_root=str(tmp_path / f"lake{in_flight}"),
            duckdb_path=str(tmp_path / f"w{in_flight}.duckdb"),
            source_mode="live",
            odds_base_url=server.url,
            http_max_in_flight=in_flight,
        )
        with dg.instance_for_test() as instance:
            result = dg.materialize(
                [ingest.oddsapi_historical_hourly],
                resources=build_resources(settings),
                instance=instance,
                tags=hours,
            )
            assert result.success
    for hour in ("2026-11-20-10:00", "2026-11-20-11:00", "2026-11-20-12:00"):
        one_at_a_time = Lake(str(tmp_path / "lake1")).read("oddsapi_historical_hourly", hour)
        assert one_at_a_time.height > 0
        assert Lake(str(tmp_path / "lake8")).read("oddsapi_historical_hourly", hour).equals(one_at_a_time)
    raw = pl.read_parquet(
        str(tmp_path / "lake8" / "raw_responses" / "**" / "*.parquet"), hive_partitioning=False
    )
    paid = raw.filter(pl.col("url_path").str.starts_with("/v4/historical/"))
    assert paid.height == 3 * len(SPORTS) and paid.select("url_path", "params").is_unique().all()


def test_a_poll_that_would_cross_the_reserve_sends_no_paid_call() -> None:
    """One at a time, the poll stopped at its sixth-credit call after spending on the first ones,
    and its curated rows were not written: the credits bought nothing. Now it is refused whole."""
    app = CountingApp(quota=79)
    server = serve(app)
    try:
        with live_session(server.url, 5, []) as s, pytest.raises(QuotaExhausted) as info:
            s.odds.odds_bodies(SPORTS, regions=REGIONS, markets=MARKETS)
    finally:
        server.stop()
    assert info.value.message == (
        "Odds API quota: 79 credits left, reserve 50, this poll (5 calls x 6) costs 30; stopping"
    )
    assert app.paths == ["/v4/sports"]  # the free probe only


def test_the_live_odds_client_runs_at_the_rate_set() -> None:
    """The Odds API allows 30 requests a second; the client's own bucket is the setting (10)."""
    for per_s in (10.0, 25.0):
        resource = build_source_resources(
            load_settings(source_mode="live", odds_api_key=KEY, odds_requests_per_s=per_s)
        )["sources"]
        cfg = cast(SourcesResource, resource).config()
        with open_session(cfg, api_key=KEY) as s:
            assert s.odds.limiter is not None and s.odds.limiter.rate == per_s
            assert s.gamma.limiter is not None and s.gamma.limiter.rate == 25.0  # the clients' own
    with pytest.raises(ValueError, match="EDGE_ODDS_REQUESTS_PER_S"):
        load_settings(odds_requests_per_s=31)


def test_simulate_serves_with_the_latency_asked_for(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: list[SimulatorApp] = []
    monkeypatch.setattr("edge_assets.simulator.serve_forever", lambda **kw: served.append(kw["app"]))
    assert cli.main(["simulate", "--port", "8911", "--latency-ms", "250"]) == 0
    assert served[0].faults.latency_ms == 250.0
    assert "Odds API /v4, 250 ms added to each response" in capsys.readouterr().out
