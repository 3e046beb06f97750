"""Gamma /events fast path (`GammaClient.events_bodies` + `normalize.gamma_event_bodies_to_frame`)
against the model path (`GammaClient.events` + `gamma_events_to_frame`): equal frames on the real
recordings and on simulator pages, the same MalformedResponse on drift, the same page requests.

`python -m edge_assets_tests.test_sources_gamma_fast` times both paths for one simulated hour.
"""

import copy
import json
import logging
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pydantic import TypeAdapter

from edge_assets import schemas
from edge_assets.simulator import SimulatorApp, World
from edge_assets.sources import normalize as N
from edge_assets.sources.http import MalformedResponse, RawExchange
from edge_assets.sources.polymarket import GammaClient, GammaEvent

OBS = datetime(2026, 8, 16, 12, tzinfo=UTC)
PICKLEBALL = "polymarket_gamma_event_pickleball_mlp_active_2026-08-16.json"
CS2 = "polymarket_gamma_market_cs2_moneyline_resolved_2026-04-05.json"
EVENTS = TypeAdapter(list[GammaEvent])  # the model path's own validation, independent of the client
DECLINED = "gamma /events fast path declined"


def model_frame(bodies: list[bytes], observed_at: datetime = OBS) -> pl.DataFrame:
    return N.gamma_events_to_frame([e for b in bodies for e in EVENTS.validate_json(b)], observed_at)


def fast_frame(
    bodies: list[bytes], caplog: pytest.LogCaptureFixture, observed_at: datetime = OBS
) -> pl.DataFrame:
    """The fast path, asserting it did not hand the pages to the models."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="edge_assets.sources"):
        frame = N.gamma_event_bodies_to_frame(bodies, observed_at)
    assert DECLINED not in caplog.text
    return frame


def page(events: list[dict[str, Any]]) -> bytes:
    return json.dumps(events).encode()


# --------------------------------------------------------------------------- (a) real recordings


def test_real_pickleball_event_page(real_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    body = (real_dir / PICKLEBALL).read_bytes()  # GET /events?slug=... : an array of one event
    fast = fast_frame([body], caplog)
    assert_frame_equal(fast, model_frame([body]))
    assert fast["market_id"].to_list() == ["3524358", "3554041"]
    assert fast["league"].to_list() == ["mlp", "mlp"]
    assert fast["home_team"].to_list() == ["St. Louis Shock"] * 2
    assert fast["outcome_prices"].to_list() == [[0.525, 0.475], [0.5255, 0.4745]]
    assert fast["game_start_time"].to_list() == [
        datetime(2026, 8, 14, 21, tzinfo=UTC),  # gameStartTime '2026-08-14 21:00:00+00'
        datetime(2026, 8, 16, 0, 30, tzinfo=UTC),
    ]


def test_real_cs2_market_in_a_synthetic_event(real_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The resolved market (string volume, no liquidity, fee schedule) under its own nested event,
    which has no sport, series or teams: league from the slug, teams unknown."""
    market = json.loads((real_dir / CS2).read_text(encoding="utf-8"))
    body = page([{**market["events"][0], "markets": [market]}])
    fast = fast_frame([body], caplog)
    assert_frame_equal(fast, model_frame([body]))
    row = fast.row(0, named=True)
    assert (row["league"], row["event_id"], row["home_team"]) == ("cs2", "346898", None)
    assert (row["volume"], row["liquidity"], row["fee_rate"], row["fee_rebate_rate"]) == (
        26458.188064999995,
        None,
        0.03,
        0.25,
    )
    assert (row["closed"], row["accepting_orders"], row["tick_size"]) == (True, False, 0.001)


# --------------------------------------------------------------------------- (b) simulator pages


@pytest.fixture(scope="module")
def world() -> World:
    return World(7)


def sim_client(world: World, at: datetime, hook: Callable[[RawExchange], None] | None = None) -> GammaClient:
    app = SimulatorApp(world, clock=lambda: at, rate_limit_per_s=None)
    return GammaClient("http://sim/gamma", transport=app.transport(), on_response=hook, rate_per_s=None)


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 11, 19, 18, 50, tzinfo=UTC),
        datetime(2026, 10, 15, 18, 5, tzinfo=UTC),  # three pages: 100, 1, empty
        datetime(2026, 11, 22, 23, 35, tzinfo=UTC),  # Sunday: KBO and MLB All-Star decoys
        datetime(2026, 4, 5, 19, 20, tzinfo=UTC),
    ],
)
def test_simulator_pages_equal_model_path(
    world: World, at: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    gamma = sim_client(world, at)
    expected = N.gamma_events_to_frame(gamma.events(closed=False, tag_id=1), at)
    fast = fast_frame(gamma.events_bodies(closed=False, tag_id=1), caplog, at)
    assert_frame_equal(fast, expected)
    assert fast.height > 500
    games = fast.filter(pl.col("home_team").is_not_null())  # game markets, with teams[]
    assert set(games["league"]) == {"nba", "nfl", "nhl", "mlb", "epl"}
    assert set(fast["league"]) >= {"nba", "nfl", "nhl", "mlb", "epl", "kbo"}
    assert fast["game_start_time"].null_count() < fast.height


def test_a_market_listed_twice_takes_its_last_event(caplog: pytest.LogCaptureFixture) -> None:
    """Pagination can shift between pages: the model path's by_market keeps the LAST event listing a
    market for every copy of it, so the first copy here gets the second event's columns."""
    market = {"id": "7", "slug": "nba-bos-lal-2026-11-20", "outcomes": '["Celtics", "Lakers"]'}
    first = {"id": "1", "title": "old", "startTime": "2026-11-20T00:00:00Z", "markets": [market]}
    second = {
        "id": "2",
        "title": "new",
        "teams": [{"name": "Lakers", "ordering": "home"}],
        "markets": [market],
    }
    bodies = [page([first]), page([second])]
    fast = fast_frame(bodies, caplog)
    assert_frame_equal(fast, model_frame(bodies))
    assert fast["event_title"].to_list() == ["new", "new"]
    assert fast["home_team"].to_list() == ["Lakers", "Lakers"]
    assert fast["game_start_time"].to_list() == [None, None]


def test_wire_variants_the_fast_path_parses(caplog: pytest.LogCaptureFixture) -> None:
    """Numbers as strings or numbers, '' as null, integer ids, epoch and hour-offset timestamps,
    fee schedule defaults, league from series when the slug is not game-shaped."""
    event = {
        "id": 5,
        "slug": "x",
        "seriesSlug": "Premier-League",
        "series": [{"id": 10, "slug": ""}],
        "sport": {"sport": ""},
        "teams": [{"name": "A", "ordering": "away"}, {"name": "B"}, {"name": "C", "ordering": "home"}],
        "startTime": 1786925400,
        "markets": [
            {
                "id": 11,
                "liquidity": "",
                "liquidityNum": 12.5,
                "volume": "1e3",
                "bestBid": "0.41",
                "bestAsk": 0.43,
                "line": "-1.5",
                "outcomes": "",
                "outcomePrices": '["0.4", 0.6]',
                "clobTokenIds": None,
                "gameStartTime": "2026-08-17 00:10:00+00",
                "feeSchedule": {"rate": "0.02"},
                "feesEnabled": True,
            },
            {"id": "12", "eventStartTime": "1786925400000", "feesEnabled": False, "orderMinSize": 5},
        ],
    }
    fast = fast_frame([page([event])], caplog)
    assert_frame_equal(fast, model_frame([page([event])]))
    r1, r2 = fast.row(0, named=True), fast.row(1, named=True)
    assert (r1["event_id"], r1["league"], r1["home_team"], r1["away_team"]) == (
        "5",
        "premier-league",
        "C",
        "A",
    )
    assert (r1["liquidity"], r1["volume"], r1["line"], r1["outcomes"], r1["token_ids"]) == (
        12.5,
        1000.0,
        -1.5,
        [],
        [],
    )
    assert (r1["fee_rate"], r1["fee_exponent"], r1["fee_taker_only"], r1["fee_rebate_rate"]) == (
        0.02,
        1.0,
        True,
        0.0,
    )
    assert r1["game_start_time"] == datetime(2026, 8, 17, 0, 10, tzinfo=UTC)
    assert r2["game_start_time"] == datetime(2026, 8, 17, 0, 10, tzinfo=UTC)  # epoch ms
    assert (r2["fee_rate"], r2["fee_exponent"], r2["min_order_size"]) == (0.0, None, 5.0)


def test_no_pages_or_no_markets_give_the_empty_contract(caplog: pytest.LogCaptureFixture) -> None:
    for bodies in ([], [page([{"id": "1"}, {"id": "2", "markets": []}])]):
        fast = fast_frame(bodies, caplog)
        assert fast.schema == pl.Schema(schemas.PM_MARKETS) and fast.height == 0
        assert_frame_equal(fast, model_frame(bodies))


@pytest.mark.parametrize(
    ("variant", "reason"),
    [
        ({"outcomes": ["Celtics", "Lakers"]}, 'cannot read a page: error deserializing value "Array'),
        ({"outcomes": ' ["Celtics", "Lakers"]'}, "outcomes not a flat JSON array"),
        ({"bestBid": " 0.41"}, "bestBid not a number"),
        ({"volume": "1_000"}, "volume not a number"),
        ({"acceptingOrders": "true"}, 'value "String("true")" as boolean'),
        ({"best_bid": 0.41}, "snake_case market keys"),  # the models also accept field names
        ({"gameStartTime": 1786925400.5}, "timestamp '1786925400.5'"),  # an epoch number with a fraction
        ({"outcomePrices": "[NaN, 0.5]"}, "json parsing error"),  # Python's json.loads reads NaN
    ],
)
def test_what_the_fast_path_declines_the_models_decide(
    variant: dict[str, Any], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Values the models accept but polars does not parse the same way: the pages go to the models
    (with a warning naming why), so the frame is still the model path's."""
    market = {"id": "1", "slug": "nba-bos-lal-2026-11-20", "outcomes": '["Celtics", "Lakers"]', **variant}
    bodies = [page([{"id": "9", "markets": [market]}])]
    with caplog.at_level(logging.WARNING, logger="edge_assets.sources"):
        fast = N.gamma_event_bodies_to_frame(bodies, OBS)
    assert DECLINED in caplog.text and reason in caplog.text
    assert_frame_equal(fast, model_frame(bodies))
    assert fast.height == 1


# --------------------------------------------------------------------------- (c) drift


def mock_gamma(
    handler: Callable[[httpx.Request], httpx.Response], hook: Callable[[RawExchange], None] | None = None
) -> GammaClient:
    return GammaClient("http://g", transport=httpx.MockTransport(handler), on_response=hook, rate_per_s=None)


def serve(*bodies: bytes) -> tuple[GammaClient, list[RawExchange]]:
    """A Gamma whose /events pages are `bodies` in order, then empty pages."""
    seen: list[RawExchange] = []

    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params["offset"]) // int(request.url.params["limit"])
        return httpx.Response(200, content=bodies[n] if n < len(bodies) else b"[]")

    return mock_gamma(handler, seen.append), seen


def fast_path(gamma: GammaClient) -> pl.DataFrame:
    return N.gamma_event_bodies_to_frame(gamma.events_bodies(closed=False, tag_id=1), OBS)


GOOD = {"id": "1", "slug": "nba-bos-lal-2026-11-20", "markets": [{"id": "m1", "outcomes": '["A", "B"]'}]}


def drifted(change: Callable[[dict[str, Any]], None]) -> bytes:
    event = copy.deepcopy(GOOD)
    change(event)
    return page([GOOD, event])


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            b"<html>upstream error page</html>",
            "body is not valid JSON (expected value at line 1 column 1); "
            "starts with '<html>upstream error page</html>'",
        ),
        (b'{"error": "rate limited"}', "field '<root>': Input should be a valid array"),
        (
            b'[{"id": "1", "markets": [',  # truncated
            "body is not valid JSON (EOF while parsing a list at line 1 column 25); "
            'starts with \'[{"id": "1", "markets": [\'',
        ),
        (
            b'[{"id": "1",]',  # an array on the outside, not JSON inside
            "body is not valid JSON (key must be a string at line 1 column 13); "
            'starts with \'[{"id": "1",]\'',
        ),
        (drifted(lambda e: e.update(eventId=e.pop("id"))), "field '1.id': Field required"),  # renamed
        (drifted(lambda e: e["markets"][0].pop("id")), "field '1.markets.0.id': Field required"),
        (drifted(lambda e: e.update(markets="none")), "field '1.markets': Input should be a valid array"),
        (
            drifted(lambda e: e["markets"][0].update(bestBid="n/a")),
            "field '1.markets.0.bestBid': Input should be a valid number, unable to parse string as a number",
        ),
        (
            drifted(lambda e: e["markets"][0].update(outcomes="[not json")),
            "field '1.markets.0.outcomes': Value error, Expecting value: line 1 column 2 (char 1)",
        ),
        (
            drifted(lambda e: e["markets"][0].update(outcomePrices='["1.5", "0"]')),
            "field '1.markets.0.outcomePrices': Value error, "
            "outcome prices must lie in [0, 1], got [1.5, 0.0]",
        ),
        (
            drifted(lambda e: e["markets"][0].update(gameStartTime="next tuesday")),
            "field '1.markets.0.gameStartTime': Value error, unrecognised timestamp 'next tuesday'",
        ),
        (
            drifted(lambda e: e["markets"][0].update(feeSchedule={"exponent": 1})),
            "field '1.markets.0.feeSchedule.rate': Field required",
        ),
        (drifted(lambda e: e.update(teams=[{"ordering": "home"}])), "field '1.teams.0.name': Field required"),
        (drifted(lambda e: e.update(sport={"name": "Basketball"})), "field '1.sport.sport': Field required"),
    ],
)
def test_drift_raises_what_the_model_path_raises(body: bytes, detail: str) -> None:
    expected = f"gamma /events: malformed response: {detail}"
    gamma, _ = serve(body)
    with pytest.raises(MalformedResponse) as model_error:
        gamma.events(closed=False, tag_id=1)
    with pytest.raises(MalformedResponse) as fast_error:
        fast_path(gamma)
    assert str(model_error.value) == str(fast_error.value) == expected
    assert (fast_error.value.source, fast_error.value.endpoint) == ("gamma", "/events")


# --------------------------------------------------------------------------- (d) pagination


def requests_of(exchanges: list[RawExchange]) -> list[tuple[str, str, str]]:
    return [(x.endpoint, x.url_path, x.params_json()) for x in exchanges]


def test_simulator_pagination_sends_the_same_requests(world: World) -> None:
    at = datetime(2026, 10, 15, 18, 5, tzinfo=UTC)
    model_seen: list[RawExchange] = []
    fast_seen: list[RawExchange] = []
    sim_client(world, at, model_seen.append).events(closed=False, limit=40, tag_id=1)
    bodies = sim_client(world, at, fast_seen.append).events_bodies(closed=False, limit=40, tag_id=1)
    assert requests_of(fast_seen) == requests_of(model_seen)
    assert [json.loads(x.params_json())["offset"] for x in fast_seen] == [0, 40, 80, 120]
    assert [x.body for x in fast_seen] == [x.body for x in model_seen]
    assert bodies == [x.body for x in fast_seen[:-1]]  # the empty last page is not returned
    assert fast_seen[-1].body == b"[]"


def test_short_pages_do_not_stop_and_limit_is_capped() -> None:
    """A server capping `limit` silently: only an empty page ends the listing, and every event is
    read, on both paths."""
    universe = [{"id": str(i), "markets": [{"id": f"m{i}"}]} for i in range(130)]

    def handler(request: httpx.Request) -> httpx.Response:
        limit, offset = int(request.url.params["limit"]), int(request.url.params["offset"])
        return httpx.Response(200, content=page(universe[offset : offset + min(limit, 50)]))

    runs: list[list[RawExchange]] = [[], []]
    model, fast = (mock_gamma(handler, seen.append) for seen in runs)
    events = model.events(limit=500)
    bodies = fast.events_bodies(limit=500)
    assert requests_of(runs[1]) == requests_of(runs[0])
    # the first page's 50 events set the paging: moving by the 100 asked would skip ids 50-99
    asked = [(json.loads(x.params_json())["offset"], json.loads(x.params_json())["limit"]) for x in runs[1]]
    assert asked == [(0, 100), (50, 50), (100, 50), (150, 50)]
    assert len(bodies) == 3 and [e.id for e in events] == [str(i) for i in range(130)]
    fast_ids = N.gamma_event_bodies_to_frame(bodies, OBS)["market_id"].to_list()
    assert fast_ids == [e.markets[0].id for e in events]


def test_offset_cap_and_a_bad_page_stop_both_paths_alike(caplog: pytest.LogCaptureFixture) -> None:
    one = page([{"id": "1"}])
    never_empty = mock_gamma(
        lambda request: httpx.Response(200, content=page([{"id": "1"}] * int(request.url.params["limit"])))
    )
    with caplog.at_level(logging.WARNING, logger="edge_assets.sources"):
        assert len(never_empty.events_bodies(closed=True)) == 101
        assert len(never_empty.events(closed=True)) == 101 * 100
    assert caplog.text.count("pagination stopped at offset cap 10000") == 2
    # a page that is not an array ends both listings at that page, with the same error
    counts = []
    for run in ("model", "fast"):
        gamma, seen = serve(one, b'{"error": "upstream"}', one)
        with pytest.raises(MalformedResponse, match=r"field '<root>': Input should be a valid array"):
            gamma.events() if run == "model" else gamma.events_bodies()
        counts.append(len(seen))
    assert counts == [2, 2]


# --------------------------------------------------------------------------- timing (not a test)


def _time_one_hour(runs: int = 15) -> None:
    """Median cost of one simulated hour's pm_markets poll, model path vs fast path. The simulator's
    pages are recorded once and replayed, so only the client side is timed."""
    at = datetime(2026, 11, 19, 18, 50, tzinfo=UTC)
    recorded: list[RawExchange] = []
    sim_client(World(7), at, recorded.append).events(closed=False, tag_id=1)
    replies = {x.params_json(): x.body for x in recorded}

    def replay(request: httpx.Request) -> httpx.Response:
        params = {k: int(v) if v.isdigit() else v for k, v in request.url.params.items()}
        return httpx.Response(200, content=replies[json.dumps(params, sort_keys=True)])

    gamma = mock_gamma(replay)
    paths = {
        "model (events + gamma_events_to_frame)": lambda: N.gamma_events_to_frame(
            gamma.events(closed=False, tag_id=1), at
        ),
        "fast  (events_bodies + gamma_event_bodies_to_frame)": lambda: N.gamma_event_bodies_to_frame(
            gamma.events_bodies(closed=False, tag_id=1), at
        ),
    }
    assert_frame_equal(*(fn() for fn in paths.values()))
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(runs):  # interleaved, so load on the machine hits both alike
        for name, fn in paths.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    pages = len(recorded)
    body_mb = sum(len(x.body) for x in recorded) / 1e6
    print(f"one simulated hour {at:%Y-%m-%dT%H:%MZ}: {pages} pages, {body_mb:.1f} MB, median of {runs} runs")
    medians = {name: statistics.median(ts) * 1000 for name, ts in times.items()}
    for name, ms in medians.items():
        print(f"  {name}: {ms:.1f} ms")
    model_ms, fast_ms = medians.values()
    print(f"  speed-up: {model_ms / fast_ms:.2f}x")


if __name__ == "__main__":
    _time_one_hour()
