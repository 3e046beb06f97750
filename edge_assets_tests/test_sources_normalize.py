"""Normalizers on small hand-built payloads with hand-computed expectations."""

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from edge_assets import schemas
from edge_assets.sources import normalize as N
from edge_assets.sources.http import MalformedResponse
from edge_assets.sources.polymarket import ClobBook, GammaEvent, GammaMarket

OBS = datetime(2026, 8, 16, 12, tzinfo=UTC)


def event(bookmakers: list[dict], eid: str = "e1") -> dict:
    return {
        "id": eid,
        "sport_key": "basketball_nba",
        "commence_time": "2026-08-17T00:10:00Z",
        "home_team": "Los Angeles Lakers",
        "away_team": "Boston Celtics",
        "bookmakers": bookmakers,
    }


def test_american_to_decimal_and_last_update_fallback() -> None:
    books = [
        {
            "key": "draftkings",
            "last_update": "2026-08-16T11:00:00Z",
            "markets": [
                {
                    "key": "h2h",
                    "last_update": "2026-08-16T11:30:00Z",
                    "outcomes": [
                        {"name": "Los Angeles Lakers", "price": 150},
                        {"name": "Boston Celtics", "price": -200},
                    ],
                },
                {  # no market-level last_update → bookmaker-level
                    "key": "totals",
                    "outcomes": [
                        {"name": "Over", "price": 100, "point": 221.5},
                        {"name": "Under", "price": -100, "point": 221.5},
                    ],
                },
            ],
        }
    ]
    df = N.odds_to_frame([event(books)], OBS, odds_format="american")
    assert dict(df.schema) == schemas.ODDS_QUOTES
    assert df["price_decimal"].to_list() == [2.5, 1.5, 2.0, 2.0]
    assert df["point"].to_list() == [None, None, 221.5, 221.5]
    assert (
        df["last_update"].to_list()
        == [datetime(2026, 8, 16, 11, 30, tzinfo=UTC)] * 2 + [datetime(2026, 8, 16, 11, tzinfo=UTC)] * 2
    )
    assert df["commence_time"].to_list() == [datetime(2026, 8, 17, 0, 10, tzinfo=UTC)] * 4
    assert df["home_team"].unique().to_list() == ["Los Angeles Lakers"]


def test_decimal_passthrough_unix_dates_and_empty_parts() -> None:
    e1 = event(
        [
            {"key": "fanduel", "last_update": 1786870800, "markets": []},  # dateFormat=unix, no markets
            {
                "key": "betmgm",
                "last_update": 1786870800,
                "markets": [{"key": "h2h", "outcomes": [{"name": "Draw", "price": 3.4}]}],
            },
        ]
    )
    e1["commence_time"] = 1786925400
    e2 = event([], eid="e2")  # no bookmakers yet
    df = N.odds_to_frame([e1, e2], "2026-08-16T12:00:00Z")
    assert df.height == 1
    row = df.row(0, named=True)
    assert (row["bookmaker"], row["outcome_name"], row["price_decimal"]) == ("betmgm", "Draw", 3.4)
    assert row["last_update"] == datetime.fromtimestamp(1786870800, tz=UTC)
    assert row["commence_time"] == datetime.fromtimestamp(1786925400, tz=UTC)
    assert row["observed_at"] == OBS


def test_empty_inputs_give_empty_contract_frames() -> None:
    assert N.odds_to_frame([], OBS).schema == pl.Schema(schemas.ODDS_QUOTES)
    assert N.scores_to_frame([], OBS).schema == pl.Schema(schemas.ODDS_SCORES)
    assert N.gamma_markets_to_frame([], OBS).schema == pl.Schema(schemas.PM_MARKETS)
    assert N.book_to_frame([], OBS).schema == pl.Schema(schemas.PM_ORDER_BOOK_SNAPSHOTS)
    wrapper = b'{"timestamp": "2026-08-16T11:55:36Z", "previous_timestamp": null, "data": []}'
    assert N.historical_to_frame(wrapper).height == 0


def test_bad_odds_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="odds_format must be"):
        N.odds_to_frame([event([])], OBS, odds_format="fractional")


def test_scores_matched_by_name_not_position() -> None:
    games = [
        {
            **event([]),
            "completed": True,
            "scores": [
                {"name": "Boston Celtics", "score": "101"},
                {"name": "Los Angeles Lakers", "score": "99"},
            ],
            "last_update": "2026-08-17T03:00:00Z",
        },
        {**event([], eid="e2"), "completed": False, "scores": None, "last_update": None},
        {
            **event([], eid="e3"),
            "completed": False,
            "scores": [
                {"name": "Los Angeles Lakers", "score": "n/a"},
                {"name": "Boston Celtics", "score": "7"},
            ],
            "last_update": "2026-08-17T01:00:00Z",
        },
    ]
    df = N.scores_to_frame(games, OBS)
    assert dict(df.schema) == schemas.ODDS_SCORES
    assert df["event_id"].to_list() == ["e1", "e2", "e3"]
    assert df["home_score"].to_list() == [99, None, None]  # "n/a" → null, not an error
    assert df["away_score"].to_list() == [101, None, 7]
    assert df["completed"].to_list() == [True, False, False]


def book(asks: list[tuple[str, str]], bids: list[tuple[str, str]], token: str = "t1") -> dict:
    return {
        "market": "0xcond",
        "asset_id": token,
        "timestamp": "1785734468581",
        "hash": "h-" + token,
        "bids": [{"price": p, "size": s} for p, s in bids],
        "asks": [{"price": p, "size": s} for p, s in asks],
        "tick_size": "0.01",
        "min_order_size": "5",
    }


def test_book_levels_depth_and_summary() -> None:
    # wire order: asks descending, bids ascending (best last) — shuffled here on purpose
    b = book(
        asks=[("0.56", "50"), ("0.50", "10"), ("0.55", "40"), ("0.52", "30"), ("0.51", "20")],
        bids=[("0.45", "7"), ("0.48", "3"), ("0.47", "5")],
    )
    parsed = ClobBook.model_validate(b)
    assert (str(parsed.best_bid), str(parsed.best_ask), str(parsed.mid)) == ("0.48", "0.50", "0.49")
    df = N.book_to_frame([b, book([], [], token="t2")], OBS)
    assert dict(df.schema) == schemas.PM_ORDER_BOOK_SNAPSHOTS
    t1 = df.filter(pl.col("token_id") == "t1")
    asks = t1.filter(pl.col("side") == "ask")
    bids = t1.filter(pl.col("side") == "bid")
    assert asks["level"].to_list() == [0, 1, 2, 3, 4]
    assert asks["price"].to_list() == [0.50, 0.51, 0.52, 0.55, 0.56]
    assert bids["price"].to_list() == [0.48, 0.47, 0.45]
    assert bids["size"].to_list() == [3.0, 5.0, 7.0]
    s = t1.row(0, named=True)
    assert (s["best_bid"], s["best_ask"], s["mid"], s["spread"]) == (0.48, 0.50, 0.49, 0.02)
    # within 1c of 0.50: 0.50+0.51 = 30; 2c: +0.52 = 60; 5c: +0.55 = 100 (0.56 is 6c away)
    assert (s["depth_1c"], s["depth_2c"], s["depth_5c"]) == (30.0, 60.0, 100.0)
    assert (s["tick_size"], s["min_order_size"], s["book_hash"]) == (0.01, 5.0, "h-t1")
    t2 = df.filter(pl.col("token_id") == "t2")
    assert t2.height == 1  # both sides empty: one row, null side
    e = t2.row(0, named=True)
    assert (e["side"], e["level"], e["price"], e["best_bid"], e["mid"]) == (None, None, None, None, None)
    assert e["book_timestamp"] == datetime(2026, 8, 3, 5, 21, 8, 581000, tzinfo=UTC)
    assert set(df["snapshot_at"].to_list()) == {OBS}


def test_gamma_league_and_fallbacks() -> None:
    nfl = GammaMarket.model_validate(
        {
            "id": "1",
            "slug": "nfl-tb-dal-2026-10-09-spread-home-9pt5",
            "outcomes": '["Cowboys", "Buccaneers"]',
            "outcomePrices": '["0.52", "0.48"]',
            "clobTokenIds": '["11", "22"]',
            "line": -9.5,
            "liquidity": "",
            "liquidityNum": 1234.5,
            "feesEnabled": False,
            "eventStartTime": "2026-10-10T00:15:00Z",
        }
    )
    other = GammaMarket.model_validate({"id": "2", "slug": "will-it-rain-tomorrow"})
    series_ev = GammaEvent.model_validate(
        {"id": "9", "slug": "x", "seriesSlug": "premier-league", "markets": [{"id": "2"}]}
    )
    df = N.gamma_markets_to_frame([nfl, other], OBS, events=[series_ev])
    r1, r2 = df.row(0, named=True), df.row(1, named=True)
    assert r1["league"] == "nfl" and r1["line"] == -9.5
    assert r1["liquidity"] == 1234.5  # "" → fall back to the numeric twin
    assert r1["fee_rate"] == 0.0  # fees disabled, no schedule
    assert r1["game_start_time"] == datetime(2026, 10, 10, 0, 15, tzinfo=UTC)
    assert r1["token_ids"] == ["11", "22"] and r1["outcome_prices"] == [0.52, 0.48]
    assert r2["league"] == "premier-league" and r2["event_id"] == "9"
    assert r2["fee_rate"] is None and r2["outcomes"] == []


def test_gamma_rejects_out_of_range_prices() -> None:
    with pytest.raises(ValueError, match=r"outcomePrices\n.*must lie in \[0, 1\], got \[1.5, 0.0\]"):
        GammaMarket.model_validate({"id": "1", "outcomePrices": '["1.5", "0"]'})


@pytest.mark.parametrize(
    ("name", "odds_format"),
    [
        ("oddsapi_v4_odds_icehockey_nhl_h2h_decimal_2024-03-21.json", "decimal"),
        ("oddsapi_v4_odds_americanfootball_nfl_us_american_2025-09-10.json", "american"),
    ],
)
def test_live_odds_from_raw_bodies_equals_the_model_path(real_dir: Path, name: str, odds_format: str) -> None:
    from edge_assets.sources.oddsapi import _EVENTS

    body = (real_dir / name).read_bytes()
    fast = N.odds_bodies_to_frame([body, b"[]"], OBS, odds_format)
    slow = N.odds_to_frame(_EVENTS.validate_json(body), OBS, odds_format)
    assert fast.height > 100
    assert_frame_equal(fast, slow)
    # two bodies (two sports) flatten into one frame, rows of each kept
    twice = N.odds_bodies_to_frame([body, body], OBS, odds_format)
    assert twice.height == 2 * fast.height


def test_live_odds_bodies_drift_and_garbage_are_malformed() -> None:
    renamed = json.dumps([{**event([]), "bookmakers": [BOOK]} | {"commence_time": None}]).encode()
    with pytest.raises(MalformedResponse, match=r"field 'commence_time' missing or invalid in 2 of 2 rows"):
        N.odds_bodies_to_frame([renamed], OBS)
    with pytest.raises(MalformedResponse, match=r"body is not a JSON array of events; starts with '<html>"):
        N.odds_bodies_to_frame([b"<html>bad gateway</html>"], OBS)
    # an object (a wrapper, an error document) used to read as one all-null event: a silent empty poll
    wrapped = json.dumps({"data": [{**event([]), "bookmakers": [BOOK]}]}).encode()
    with pytest.raises(
        MalformedResponse, match=r"not a JSON array of events; starts with '\{\"data\""
    ) as err:
        N.odds_bodies_to_frame([wrapped], OBS)
    assert err.value.endpoint == "/v4/sports/{sport}/odds"
    assert N.odds_bodies_to_frame([b"[]"], OBS).equals(schemas.empty(schemas.ODDS_QUOTES))
    assert N.odds_bodies_to_frame([b" \n[]"], OBS).equals(schemas.empty(schemas.ODDS_QUOTES))


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"ts": "2026-08-16T11:00:00Z", "data": []}', "historical wrapper without a timestamp"),
        (b"[]", "historical wrapper without a timestamp"),
        (b'{"timestamp": "not-a-date", "data": []}', r"ValueError: .*not-a-date"),
        (b'{"message": "x", "data": {"id": "a"}}', r"KeyError: 'timestamp'.*starts with '\{\"message"),
        (b"[1, 2]", r"TypeError"),
        (b"<html>bad gateway</html>", r"body is not valid JSON"),
    ],
)
def test_historical_drift_is_malformed_response(body: bytes, why: str) -> None:
    """Schema drift in a historical wrapper is the source's MalformedResponse (the asset's clear
    failure, `parse_error` on the raw row), never a bare ValueError/KeyError/TypeError."""
    with pytest.raises(MalformedResponse, match=why) as err:
        N.historical_bodies_to_frame([body])
    assert (err.value.source, err.value.endpoint) == ("oddsapi", "/v4/historical/sports/{sport}/odds")


BOOK = {
    "key": "pinnacle",
    "last_update": "2026-08-16T11:00:00Z",
    "markets": [
        {
            "key": "h2h",
            "outcomes": [
                {"name": "Los Angeles Lakers", "price": 2.5},
                {"name": "Boston Celtics", "price": 1.6},
            ],
        }
    ],
}


def test_null_lists_of_an_event_read_as_empty_on_both_parse_paths() -> None:
    """The bulk parser read `"series": null` as no series; when another event of the poll sent the
    whole poll to the models, they refused the null and the poll failed: no markets that hour."""
    import copy

    from edge_assets_tests.conftest import load_real

    obs = datetime(2026, 8, 16, tzinfo=UTC)
    real = load_real("polymarket_gamma_event_pickleball_mlp_active_2026-08-16.json")
    nulls = copy.deepcopy(real[0]) | {"series": None, "tags": None, "teams": None}
    alone = N.gamma_event_bodies_to_frame([json.dumps([nulls]).encode()], obs)
    odd = copy.deepcopy(real[0])
    odd["id"] = "999"
    for m in odd["markets"]:
        m["id"] += "9"
    odd["markets"][0]["outcomes"] = '["Team [A]", "Team B"]'  # a bracket in a name: the models parse it
    both = N.gamma_event_bodies_to_frame([json.dumps([nulls, odd]).encode()], obs)
    assert alone.height > 0 and both.height == 2 * alone.height
    assert_frame_equal(both.filter(pl.col("event_id") == real[0]["id"]), alone, check_row_order=False)
    assert GammaEvent.model_validate({"id": "1", "markets": None, "teams": None}).markets == []
