"""The simulator's HTTP surface: real wire shapes, quota, errors, faults, loopback server."""

import itertools
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from edge_assets.simulator import FaultConfig, SimulatorApp, World, serve
from edge_assets_tests.conftest import REPO_ROOT, load_real

T = datetime(2026, 10, 15, 18, 0, tzinfo=UTC)
K = "apiKey=sim-key"
ODDS3 = f"{K}&regions=us&markets=h2h,spreads,totals"


@pytest.fixture(scope="module")
def world() -> World:
    return World(7)


def make(world: World, **kw: Any) -> tuple[SimulatorApp, httpx.Client]:
    kw.setdefault("rate_limit_per_s", None)
    app = SimulatorApp(world, clock=lambda: T, **kw)
    return app, httpx.Client(transport=app.transport(), base_url="http://sim")


@pytest.fixture(scope="module")
def client(world: World) -> httpx.Client:
    return make(world)[1]


def key_paths(o: Any, p: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(o, dict):
        for k, v in o.items():
            out.add(f"{p}.{k}")
            out |= key_paths(v, f"{p}.{k}")
    elif isinstance(o, list):
        for x in o:
            out |= key_paths(x, f"{p}[]")
    return out


def assert_same_keys(
    sim: Any, real: Any, sim_only: dict[str, str] | None = None, real_only: dict[str, str] | None = None
) -> None:
    """Recursive key sets must agree except for the listed, explained differences."""
    a, b = key_paths(sim), key_paths(real)
    assert a - b == set(sim_only or {}), f"unexpected simulator-only keys: {sorted(a - b)}"
    assert b - a == set(real_only or {}), f"unexpected real-only keys: {sorted(b - a)}"


# ---------------------------------------------------------------------------------------- Odds API shapes
def test_sports_shape(client: httpx.Client) -> None:
    r = client.get(f"/v4/sports?{K}")
    assert r.status_code == 200 and r.headers["x-requests-last"] == "0"
    assert_same_keys(r.json(), load_real("oddsapi_v4_sports_2024-03.json"))
    keys = {s["key"] for s in r.json()}
    assert set(World.SPORT_KEYS) <= keys
    assert len(client.get(f"/v4/sports?{K}&all=true").json()) > len(r.json())


def test_odds_shapes_match_real(client: httpx.Client) -> None:
    am = client.get(f"/v4/sports/americanfootball_nfl/odds?{ODDS3}&oddsFormat=american")
    assert am.status_code == 200
    assert_same_keys(am.json(), load_real("oddsapi_v4_odds_americanfootball_nfl_us_american_2025-09-10.json"))
    prices = [
        o["price"] for e in am.json() for b in e["bookmakers"] for m in b["markets"] for o in m["outcomes"]
    ]
    assert all(isinstance(p, int) and abs(p) >= 100 for p in prices)
    dec = client.get(f"/v4/sports/icehockey_nhl/odds?{K}&regions=us")
    assert_same_keys(dec.json(), load_real("oddsapi_v4_odds_icehockey_nhl_h2h_decimal_2024-03-21.json"))
    ev = dec.json()[0]
    assert len(ev["id"]) == 32 and ev["commence_time"].endswith("Z")
    assert {b["title"] for e in dec.json() for b in e["bookmakers"]} >= {"Caesars", "DraftKings", "LowVig.ag"}
    soccer = client.get(f"/v4/sports/soccer_epl/odds?{K}&regions=eu").json()
    names = [o["name"] for o in soccer[0]["bookmakers"][0]["markets"][0]["outcomes"]]
    assert len(names) == 3 and names[2] == "Draw"


def test_events_scores_event_odds_shapes(client: httpx.Client) -> None:
    ev = client.get(f"/v4/sports/icehockey_nhl/events?{K}")
    assert ev.headers["x-requests-last"] == "0"
    assert_same_keys(ev.json(), load_real("oddsapi_v4_events_icehockey_nhl_2024-03-21.json"))
    eid = ev.json()[0]["id"]
    eo = client.get(f"/v4/sports/icehockey_nhl/events/{eid}/odds?{K}&regions=us")
    assert_same_keys(eo.json(), load_real("oddsapi_v4_event_odds_icehockey_nhl_2024-03-21.json"))
    sc = client.get(f"/v4/sports/icehockey_nhl/scores?{K}&daysFrom=3")
    assert sc.headers["x-requests-last"] == "2"
    assert_same_keys(sc.json(), load_real("oddsapi_v4_scores_icehockey_nhl_2024-03-21.json"))
    done = [s for s in sc.json() if s["completed"]]
    assert done and all(isinstance(x["score"], str) for s in done for x in s["scores"])
    assert done[0]["scores"][0]["name"] == done[0]["home_team"]
    upcoming = [s for s in sc.json() if s["scores"] is None]
    assert upcoming and all(s["last_update"] is None for s in upcoming)
    assert client.get(f"/v4/sports/icehockey_nhl/scores?{K}").headers["x-requests-last"] == "1"


def test_scores_follow_world_outcomes(world: World, client: httpx.Client) -> None:
    sc = client.get(f"/v4/sports/baseball_mlb/scores?{K}&daysFrom=2").json()
    by_id = {
        g.odds_event_id: g for d in range(4) for g in world.games_on("mlb", (T - timedelta(days=d)).date())
    }
    for s in (x for x in sc if x["completed"]):
        det = world.detail(by_id[s["id"]])
        assert [int(x["score"]) for x in s["scores"]] == [det.home_score, det.away_score]
        assert s["commence_time"] == det.game.actual_start.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_historical_shapes_and_snapshot_grid(client: httpx.Client) -> None:
    r = client.get(
        f"/v4/historical/sports/americanfootball_nfl/odds?{ODDS3}&oddsFormat=american"
        "&date=2026-10-01T12:02:00Z"
    )
    assert r.status_code == 200 and r.headers["x-requests-last"] == "30"
    body = r.json()
    assert (body["timestamp"], body["previous_timestamp"], body["next_timestamp"]) == (
        "2026-10-01T12:00:36Z",
        "2026-10-01T11:55:36Z",
        "2026-10-01T12:05:36Z",
    )
    # the 2021 sample predates market-level last_update (apis.md §3.3); 2025 live data has it
    assert_same_keys(
        body,
        load_real("oddsapi_v4_historical_odds_americanfootball_nfl_2021-11-25.json"),
        sim_only={".data[].bookmakers[].markets[].last_update": "added to the API after 2021"},
    )
    hev = client.get(f"/v4/historical/sports/americanfootball_nfl/events?{K}&date=2026-10-01T12:02:00Z")
    assert hev.headers["x-requests-last"] == "1"
    assert_same_keys(
        hev.json(), load_real("oddsapi_v4_historical_events_americanfootball_nfl_2023-10-10.json")
    )
    eid = hev.json()["data"][0]["id"]
    heo = client.get(
        f"/v4/historical/sports/americanfootball_nfl/events/{eid}/odds?{K}&regions=us"
        "&markets=spreads&date=2026-10-01T12:02:00Z"
    )
    assert heo.headers["x-requests-last"] == "10"
    assert_same_keys(
        heo.json(), load_real("oddsapi_v4_historical_event_odds_americanfootball_nfl_2023-10-10.json")
    )
    latest = client.get(
        f"/v4/historical/sports/basketball_nba/odds?{K}&regions=us&date=2030-01-01T00:00:00Z"
    ).json()
    assert latest["next_timestamp"] is None


def test_ninety_day_old_historical_request(client: httpx.Client) -> None:
    d = (T - timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = client.get(f"/v4/historical/sports/baseball_mlb/odds?{ODDS3}&date={d}")
    assert r.status_code == 200 and len(r.json()["data"]) >= 10


# ---------------------------------------------------------------------------------------- quota and errors
def test_quota_costs_and_headers(world: World) -> None:
    _, c = make(world, quota=100)
    r = c.get(f"/v4/sports/basketball_nba/odds?{K}&regions=us,eu&markets=h2h,totals")
    assert (
        r.headers["x-requests-last"],
        r.headers["x-requests-used"],
        r.headers["x-requests-remaining"],
    ) == ("4", "4", "96")
    r = c.get(f"/v4/sports/basketball_nba/odds?{K}&bookmakers=pinnacle,draftkings&markets=h2h")
    assert r.headers["x-requests-last"] == "1" and r.headers["x-requests-used"] == "5"
    far = "commenceTimeFrom=2030-01-01T00:00:00Z"
    r = c.get(f"/v4/sports/basketball_nba/odds?{K}&regions=us&{far}")
    assert r.json() == [] and r.headers["x-requests-last"] == "0"  # empty responses are free
    r = c.get(f"/v4/historical/sports/basketball_nba/odds?{ODDS3}&date=2026-10-10T00:00:00Z")
    assert r.headers["x-requests-last"] == "30" and r.headers["x-requests-remaining"] == "65"
    r = c.get(
        f"/v4/historical/sports/basketball_nba/odds?{ODDS3}&regions=us,us2,eu&date=2026-10-10T00:00:00Z"
    )
    assert r.status_code == 401 and r.json()["error_code"] == "OUT_OF_USAGE_CREDITS"
    assert r.headers["x-requests-remaining"] == "65"  # a refused call costs nothing


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("/v4/sports/basketball_nba/odds?regions=us", 401, "MISSING_KEY"),
        ("/v4/sports/basketball_nba/odds?apiKey=nope&regions=us", 401, "INVALID_KEY"),
        (f"/v4/sports/basketball_nba/odds?{K}&regions=us&markets=player_points", 422, "INVALID_MARKET"),
        (f"/v4/sports/basketball_nba/odds?{K}&regions=mars", 422, "INVALID_REGION"),
        (f"/v4/sports/basketball_nba/odds?{K}", 422, "MISSING_REGION"),
        (f"/v4/sports/basketball_nba/odds?{K}&regions=us&oddsFormat=fractional", 422, "INVALID_ODDS_FORMAT"),
        (f"/v4/sports/basketball_nba/odds?{K}&regions=us&dateFormat=rfc", 422, "INVALID_DATE_FORMAT"),
        (f"/v4/sports/basketball_nba/odds?{K}&regions=us&eventIds=abc", 422, "INVALID_EVENT_IDS"),
        (
            f"/v4/sports/basketball_nba/odds?{K}&regions=us&commenceTimeFrom=2026-10-15",
            422,
            "INVALID_COMMENCE_TIME_FROM",
        ),
        (f"/v4/sports/curling_world/odds?{K}&regions=us", 422, "UNKNOWN_SPORT"),
        (f"/v4/sports/basketball_nba_championship_winner/odds?{K}&regions=us", 422, "INVALID_MARKET_COMBO"),
        (f"/v4/sports/basketball_nba/scores?{K}&daysFrom=5", 422, "INVALID_SCORES_DAYS_FROM"),
        (f"/v4/historical/sports/basketball_nba/odds?{K}&regions=us", 422, "MISSING_HISTORICAL_TIMESTAMP"),
        (
            f"/v4/historical/sports/basketball_nba/odds?{K}&regions=us&date=yesterday",
            422,
            "INVALID_HISTORICAL_TIMESTAMP",
        ),
        (f"/v4/sports/basketball_nba/events/{'0' * 32}/odds?{K}&regions=us", 404, "EVENT_NOT_FOUND"),
    ],
)
def test_odds_api_errors(client: httpx.Client, query: str, status: int, code: str) -> None:
    r = client.get(query)
    assert r.status_code == status
    assert r.json()["error_code"] == code and r.json()["message"]


def test_frequency_limit_429(world: World) -> None:
    clock = [100.0]
    _, c = make(world, rate_limit_per_s=30, monotonic=lambda: clock[0])
    codes = [c.get(f"/v4/sports?{K}").status_code for _ in range(31)]
    assert codes[:30] == [200] * 30 and codes[30] == 429
    clock[0] += 1.01
    assert c.get(f"/v4/sports?{K}").status_code == 200


def test_unix_dates_and_event_filters(client: httpx.Client) -> None:
    evs = client.get(f"/v4/sports/basketball_nba/events?{K}&dateFormat=unix").json()
    assert isinstance(evs[0]["commence_time"], int)
    one = client.get(f"/v4/sports/basketball_nba/odds?{K}&regions=us&eventIds={evs[1]['id']}").json()
    assert [e["id"] for e in one] == [evs[1]["id"]]


# ---------------------------------------------------------------------------------------- Gamma
def test_gamma_event_shape(client: httpx.Client) -> None:
    evs = client.get("/gamma/events", params={"tag_id": "745", "closed": "false", "limit": 5}).json()
    game = next(e for e in evs if "teams" in e)
    assert_same_keys(
        [game],
        load_real("polymarket_gamma_event_pickleball_mlp_active_2026-08-16.json"),
        sim_only={
            "[].markets[].line": "US sports line field (apis.md §1.5), absent on the MLP sample",
            "[].markets[].eventStartTime": "present on many sports markets (apis.md §1.5)",
        },
        real_only={
            "[].eventMetadata.mlpMatchupId": "pickleball-only metadata",
            "[].eventMetadata.mlpScheduledEventUuid": "pickleball-only metadata",
        },
    )
    assert {t["ordering"] for t in game["teams"]} == {"home", "away"}
    m = game["markets"][0]
    assert isinstance(m["liquidity"], str) and isinstance(m["liquidityNum"], float | int)
    assert isinstance(game["liquidity"], float) and isinstance(game["gameId"], int)
    assert len(json.loads(m["outcomes"])) == len(json.loads(m["clobTokenIds"])) == 2
    assert m["gameStartTime"].endswith("+00") and "T" not in m["gameStartTime"]
    away = next(t for t in game["teams"] if t["ordering"] == "away")
    assert game["slug"].split("-")[1] == away["abbreviation"]  # away team first for the NBA


def test_gamma_market_shapes_active_and_resolved(client: httpx.Client) -> None:
    real_ev = load_real("polymarket_gamma_event_pickleball_mlp_active_2026-08-16.json")[0]
    ms = client.get("/gamma/markets", params={"tag_id": "745", "limit": 100}).json()
    ml = next(m for m in ms if m.get("sportsMarketType") == "moneyline")
    assert ml["events"][0]["id"]
    assert_same_keys(
        {k: v for k, v in ml.items() if k != "events"},
        real_ev["markets"][0],
        sim_only={
            ".line": "sports line (null on moneyline)",
            ".eventStartTime": "present on many sports markets",
            ".groupItemTitle": "absent on that MLP market only",
        },
    )
    closed = client.get("/gamma/markets", params={"tag_id": "745", "closed": "true", "limit": 3}).json()
    assert closed and all(m["closed"] and m["active"] for m in closed)
    assert json.loads(closed[0]["outcomePrices"]) in (["1", "0"], ["0", "1"])
    cs_only = {
        k: "volume windows / CS2 metadata the simulator does not model"
        for k in (
            ".customLiveness",
            ".negRiskRequestID",
            ".submitted_by",
            ".volume1mo",
            ".volume1moClob",
            ".volume1wk",
            ".volume1wkClob",
            ".volume1yr",
            ".volume1yrClob",
            ".volume24hr",
            ".volume24hrClob",
            ".events[].automaticallyResolved",
            ".events[].eventWeek",
            ".events[].volume1mo",
            ".events[].volume1wk",
            ".events[].volume1yr",
            ".events[].volume24hr",
            ".events[].eventMetadata.league",
            ".events[].eventMetadata.leagueTier",
            ".events[].eventMetadata.tournament",
        )
    }
    mlp_only = {
        k: "fields of current (2026-08) markets, as in the MLP sample"
        for k in (
            ".comboStatus",
            ".competitive",
            ".groupItemThreshold",
            ".liquidity",
            ".liquidityClob",
            ".liquidityNum",
            ".oneDayPriceChange",
            ".oneHourPriceChange",
            ".version",
            ".line",
        )
    }
    assert_same_keys(
        closed[0],
        load_real("polymarket_gamma_market_cs2_moneyline_resolved_2026-04-05.json"),
        sim_only=mlp_only,
        real_only=cs_only,
    )


def test_gamma_pagination_filters_and_closed_default(client: httpx.Client) -> None:
    page = client.get("/gamma/markets", params={"limit": 500}).json()
    assert len(page) == 100  # limit silently capped
    assert client.get("/gamma/markets", params={"offset": 10001}).status_code == 422
    p1 = client.get("/gamma/markets", params={"limit": 50, "offset": 0}).json()
    p2 = client.get("/gamma/markets", params={"limit": 50, "offset": 50}).json()
    assert not {m["id"] for m in p1} & {m["id"] for m in p2}
    assert all(not m["closed"] for m in p1 + p2)
    closed_id = client.get("/gamma/markets", params={"closed": "true", "limit": 1}).json()[0]["id"]
    assert client.get("/gamma/markets", params={"id": closed_id}).json() == []  # hidden without closed=true
    assert (
        client.get("/gamma/markets", params={"id": closed_id, "closed": "true"}).json()[0]["id"] == closed_id
    )
    nfl = client.get("/gamma/events", params={"series_id": "10187", "limit": 100}).json()
    assert nfl and all(e["seriesSlug"] == "nfl" for e in nfl)
    slug = nfl[-1]["slug"]
    assert [e["slug"] for e in client.get("/gamma/events", params={"slug": slug}).json()] == [slug]
    totals = client.get("/gamma/markets", params={"sports_market_types": "totals", "limit": 100}).json()
    assert totals and {m["sportsMarketType"] for m in totals} == {"totals"}
    soon = client.get("/gamma/events", params={"end_date_max": "2026-10-16T00:00:00Z", "limit": 100}).json()
    assert all(e["endDate"] <= "2026-10-16T00:00:00Z" for e in soon)
    tok = json.loads(p1[0]["clobTokenIds"])[1]
    assert client.get("/gamma/markets", params={"clob_token_ids": tok}).json()[0]["id"] == p1[0]["id"]
    assert client.get(f"/gamma/markets/{p1[0]['id']}").json()["slug"] == p1[0]["slug"]


# ---------------------------------------------------------------------------------------- CLOB
def _a_token(client: httpx.Client) -> str:
    ms = client.get("/gamma/markets", params={"tag_id": "899", "limit": 10}).json()
    m = next(m for m in ms if m.get("sportsMarketType") == "moneyline")
    return json.loads(m["clobTokenIds"])[0]


def test_book_shape_and_ordering(client: httpx.Client) -> None:
    tok = _a_token(client)
    b = client.get("/clob/book", params={"token_id": tok}).json()
    assert_same_keys(
        b,
        load_real("polymarket_clob_book_neg_risk_empty_asks_2026-08-03.json"),
        sim_only={
            ".asks[].price": "the real sample has an empty ask side",
            ".asks[].size": "the real sample has an empty ask side",
        },
    )
    old = load_real("polymarket_clob_book_2024-10-13.json")
    assert key_paths(old) <= key_paths(b)
    bids = [Decimal(x["price"]) for x in b["bids"]]
    asks = [Decimal(x["price"]) for x in b["asks"]]
    assert bids == sorted(bids) and asks == sorted(asks, reverse=True) and bids[-1] < asks[-1]
    assert b["asset_id"] == tok and b["timestamp"].isdigit() and len(b["timestamp"]) == 13
    assert int(b["timestamp"]) <= int(T.timestamp() * 1000)
    assert client.get("/clob/price", params={"token_id": tok, "side": "BUY"}).json() == {
        "price": b["bids"][-1]["price"]
    }
    assert client.get("/clob/price", params={"token_id": tok, "side": "SELL"}).json() == {
        "price": b["asks"][-1]["price"]
    }
    mid = (Decimal(b["bids"][-1]["price"]) + Decimal(b["asks"][-1]["price"])) / 2
    assert Decimal(client.get("/clob/midpoint", params={"token_id": tok}).json()["mid"]) == mid
    many = client.post("/clob/books", json=[{"token_id": tok}, {"token_id": "123"}]).json()
    assert [x["asset_id"] for x in many] == [tok]
    nb = client.get("/clob/book", params={"token_id": "9" * 77})
    assert nb.status_code == 404 and "No orderbook" in nb.json()["error"]


def test_complement_books_mirror(client: httpx.Client) -> None:
    ms = client.get("/gamma/markets", params={"tag_id": "745", "limit": 10}).json()
    m = next(m for m in ms if m.get("sportsMarketType") == "moneyline")
    t0, t1 = json.loads(m["clobTokenIds"])
    b0 = client.get("/clob/book", params={"token_id": t0}).json()
    b1 = client.get("/clob/book", params={"token_id": t1}).json()
    assert Decimal(b0["bids"][-1]["price"]) + Decimal(b1["asks"][-1]["price"]) == 1
    assert b0["bids"][-1]["size"] == b1["asks"][-1]["size"]
    assert m["bestBid"] == float(b0["bids"][-1]["price"]) and m["bestAsk"] == float(b0["asks"][-1]["price"])


def test_prices_history(client: httpx.Client) -> None:
    tok = _a_token(client)
    r = client.get("/clob/prices-history", params={"market": tok, "interval": "1d", "fidelity": 60}).json()
    real = {
        k: v
        for k, v in load_real("polymarket_clob_prices_history_hourly_2026-05-22.json").items()
        if k != "_request"
    }
    assert_same_keys(r, real)
    ts = [p["t"] for p in r["history"]]
    assert len(ts) >= 20 and ts == sorted(ts) and all(isinstance(p["p"], float) for p in r["history"])
    assert all(3580 <= b - a <= 3620 for a, b in itertools.pairwise(ts))
    start = int((T - timedelta(hours=3)).timestamp())
    win = client.get(
        "/clob/prices-history",
        params={"market": tok, "startTs": start, "endTs": int(T.timestamp()), "fidelity": 5},
    ).json()
    assert 30 <= len(win["history"]) <= 37 and win["history"][0]["t"] >= start


# ---------------------------------------------------------------------------------------- faults
def test_fault_knobs(world: World) -> None:
    faults = FaultConfig(fail_next=2, paths=("/clob",))
    app, c = make(world, faults=faults)
    tok = _a_token(c)
    assert [c.get("/clob/book", params={"token_id": tok}).status_code for _ in range(3)] == [503, 503, 200]
    assert c.get(f"/v4/sports?{K}").status_code == 200
    faults.rate_limit_next = 1
    r = c.get("/clob/book", params={"token_id": tok})
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    faults.truncate_next = 1
    with pytest.raises(json.JSONDecodeError):
        json.loads(c.get("/clob/book", params={"token_id": tok}).content)
    faults.malformed_next = 1
    with pytest.raises(json.JSONDecodeError):
        json.loads(c.get("/clob/book", params={"token_id": tok}).content)
    faults.drop_field = "asks"
    faults.rename_field = ("bids", "buys")
    b = c.get("/clob/book", params={"token_id": tok}).json()
    assert "asks" not in b and "bids" not in b and "buys" in b
    faults.drop_field = None
    faults.rename_field = None
    faults.error_rate = 0.5
    faults.seed = 3
    run1 = [c.get("/clob/book", params={"token_id": tok}).status_code for _ in range(40)]
    app2, c2 = make(world, faults=FaultConfig(error_rate=0.5, seed=3, paths=("/clob",)))
    app2._n = app._n - 40  # replay the same request numbers
    run2 = [c2.get("/clob/book", params={"token_id": tok}).status_code for _ in range(40)]
    assert run1 == run2 and 8 <= run1.count(503) <= 32
    faults.error_rate = 0.0
    faults.latency_ms = 30
    import time

    t0 = time.perf_counter()
    c.get("/clob/book", params={"token_id": tok})
    assert time.perf_counter() - t0 >= 0.03


# ------------------------------------------------------------------------------ determinism & server
REQ = f"/v4/sports/basketball_nba/odds?{ODDS3}"


def test_same_bytes_across_instances_seeds_and_processes(world: World, client: httpx.Client) -> None:
    a = client.get(REQ).content
    assert make(World(7))[1].get(REQ).content == a
    assert make(World(8))[1].get(REQ).content != a
    code = (
        "import sys, httpx; from datetime import datetime, UTC\n"
        "from edge_assets.simulator import SimulatorApp, World\n"
        "app = SimulatorApp(World(7), clock=lambda: datetime(2026, 10, 15, 18, 0, tzinfo=UTC))\n"
        "c = httpx.Client(transport=app.transport(), base_url='http://sim')\n"
        f"sys.stdout.buffer.write(c.get({REQ!r}).content)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, cwd=REPO_ROOT, timeout=60
    )
    assert out.stdout == a


def test_loopback_server_serves_same_bytes(world: World, client: httpx.Client) -> None:
    app = SimulatorApp(world, clock=lambda: T, rate_limit_per_s=None)
    srv = serve(app, host="127.0.0.1", port=0)
    try:
        assert srv.url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=srv.url) as real:
            for path in (REQ, "/gamma/events?tag_id=82&limit=3", f"/v4/sports/soccer_epl/events?{K}"):
                assert real.get(path).content == client.get(path).content
            tok = _a_token(client)
            r = real.post("/clob/books", json=[{"token_id": tok}])
            assert r.status_code == 200 and r.json()[0]["asset_id"] == tok
            assert real.get(REQ).headers["x-requests-last"] == "3"
    finally:
        srv.stop()


def test_encode_matches_json_dumps_byte_for_byte() -> None:
    """orjson's fast path must write exactly what json.dumps wrote: small floats (repr uses an
    exponent below 1e-4), numpy floats, non-str keys, big ints and non-ASCII text included."""
    import numpy as np

    from edge_assets.simulator.app import _encode_json, encode

    values: list[Any] = [
        1e-05,
        -2.5e-05,
        3e-06,
        1.5e-07,
        1e-10,
        5e-324,
        1e-4,
        0.30000000000000004,
        1e16,
        1.2345678901234568e17,
        -0.0,
        10.00001,
        np.float64(2.5e-05),
        np.float64(0.1),
        2**63,
        2**70,
        'Liga – Málaga 😀 \u2028 \x1f "q" \\ e-5,',
        "12:00:00.000000Z",
    ]
    bodies: list[Any] = [
        *values,
        values,
        {"a": values, "b": {"c": values}},
        {3: "int key", 2.5: "float key", True: "bool key", None: "null key"},
        [[[1e-05]]],
    ]
    for body in bodies:
        assert encode(body) == _encode_json(body), body
