"""Contract tests: every real recorded response parses with the wire models and normalizes.

Expected values are read off the recordings by hand or recomputed here with plain loops over
the raw JSON, independently of the polars flattening under test.
"""

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from pydantic import TypeAdapter

from edge_assets import schemas
from edge_assets.sources import normalize as N
from edge_assets.sources.http import MalformedResponse
from edge_assets.sources.oddsapi import (
    HistoricalEvents,
    HistoricalOdds,
    OddsEvent,
    ScoreEvent,
    Sport,
)
from edge_assets.sources.polymarket import ClobBook, GammaEvent, GammaMarket, PriceHistory
from edge_assets_tests.conftest import load_real

NFL_AMERICAN = "oddsapi_v4_odds_americanfootball_nfl_us_american_2025-09-10.json"
NFL_HIST_2021 = "oddsapi_v4_historical_odds_americanfootball_nfl_2021-11-25.json"
NHL_DECIMAL = "oddsapi_v4_odds_icehockey_nhl_h2h_decimal_2024-03-21.json"
NHL_EVENT_ODDS = "oddsapi_v4_event_odds_icehockey_nhl_2024-03-21.json"
NHL_SCORES = "oddsapi_v4_scores_icehockey_nhl_2024-03-21.json"
OBS = datetime(2026, 1, 1, 12, tzinfo=UTC)


def american(p: float) -> float:
    return 1 + p / 100 if p > 0 else 1 + 100 / -p


def expected_quotes(events: list[dict], fmt: str) -> dict[tuple, tuple]:
    """Plain-loop reference: (event, book, market, outcome, point) → (price_decimal, last_update)."""
    out = {}
    for e in events:
        for b in e["bookmakers"]:
            for m in b["markets"]:
                for o in m["outcomes"]:
                    price = american(o["price"]) if fmt == "american" else o["price"]
                    key = (e["id"], b["key"], m["key"], o["name"], o.get("point"))
                    out[key] = (price, m.get("last_update") or b.get("last_update"))
    return out


def assert_quotes_match(df: pl.DataFrame, events: list[dict], fmt: str) -> None:
    assert dict(df.schema) == schemas.ODDS_QUOTES
    ref = expected_quotes(events, fmt)
    assert df.height == len(ref)  # also proves the keys are unique
    got = {
        (r["event_id"], r["bookmaker"], r["market_key"], r["outcome_name"], r["point"]): r
        for r in df.iter_rows(named=True)
    }
    assert got.keys() == ref.keys()
    for key, (price, last_update) in ref.items():
        row = got[key]
        assert row["price_decimal"] == pytest.approx(price, abs=1e-12)
        assert row["last_update"] == datetime.fromisoformat(last_update.replace("Z", "+00:00"))


def test_all_real_fixtures_parse(real_dir: Path) -> None:
    """Every file in the recordings directory maps to a model that accepts it."""
    models = {
        "oddsapi_v4_event_odds_": OddsEvent,
        "oddsapi_v4_events_": list[OddsEvent],
        "oddsapi_v4_historical_event_odds_": HistoricalOdds,
        "oddsapi_v4_historical_events_": HistoricalEvents,
        "oddsapi_v4_historical_odds_": HistoricalOdds,
        "oddsapi_v4_odds_": list[OddsEvent],
        "oddsapi_v4_scores_": list[ScoreEvent],
        "oddsapi_v4_sports_": list[Sport],
        "polymarket_clob_book_": ClobBook,
        "polymarket_clob_prices_history_": PriceHistory,
        "polymarket_gamma_event_": list[GammaEvent],
        "polymarket_gamma_market_": GammaMarket,
    }
    files = sorted(p for p in real_dir.glob("*.json"))
    assert len(files) == 14
    for path in files:
        model = next(m for prefix, m in models.items() if path.name.startswith(prefix))
        TypeAdapter(model).validate_json(path.read_bytes())


# --------------------------------------------------------------------------- The Odds API


def test_nfl_american_odds_normalize() -> None:
    raw = load_real(NFL_AMERICAN)
    events = [OddsEvent.model_validate(e) for e in raw]
    assert len(events) == 32
    first = events[0]
    assert (first.home_team, first.away_team) == ("Green Bay Packers", "Washington Commanders")
    assert first.commence_time == datetime(2025, 9, 12, 0, 16, tzinfo=UTC)
    assert first.bookmakers[0].markets[1].outcomes[0].point == -3.5
    df = N.odds_to_frame(raw, OBS, odds_format="american")
    assert_quotes_match(df, raw, "american")
    packers = df.filter(
        (pl.col("event_id") == "0c6e5d9821ce0d3e82f3e792879776a6")
        & (pl.col("bookmaker") == "draftkings")
        & (pl.col("market_key") == "h2h")
    )
    assert packers["price_decimal"].to_list() == pytest.approx([1 + 100 / 180, 2.5])  # -180, +150
    assert set(df["observed_at"].to_list()) == {OBS}
    assert set(df["market_key"].unique()) == {"h2h", "spreads", "totals"}
    # models and dicts give the same frame
    assert N.odds_to_frame(events, OBS, odds_format="american").equals(df)


def test_nfl_historical_2021_normalize(real_dir: Path) -> None:
    raw = load_real(NFL_HIST_2021)
    wrapper = HistoricalOdds.model_validate(raw)
    assert wrapper.timestamp == datetime(2021, 11, 25, 11, 55, tzinfo=UTC)
    assert wrapper.previous_timestamp == datetime(2021, 11, 25, 11, 45, tzinfo=UTC)
    assert wrapper.next_timestamp == datetime(2021, 11, 25, 12, 5, tzinfo=UTC)
    df = N.historical_to_frame(raw, odds_format="american")
    assert_quotes_match(df, raw["data"], "american")  # 2021: no market-level last_update → book-level
    assert set(df["observed_at"].to_list()) == {wrapper.timestamp}
    assert df.height == 1636
    lions = df.filter(
        (pl.col("bookmaker") == "betonlineag")
        & (pl.col("market_key") == "spreads")
        & (pl.col("event_id") == "b6b7f177d3f5cee88b630f09c287453c")
    ).sort("outcome_name")
    assert lions["point"].to_list() == [-3.0, 3.0]
    assert lions["price_decimal"].to_list() == pytest.approx([2.04, 1.8])  # +104, -125
    # the three input forms agree: raw bytes (polars fast path), dict, model
    raw_bytes = (real_dir / NFL_HIST_2021).read_bytes()
    assert N.historical_to_frame(raw_bytes, odds_format="american").equals(df)
    assert N.historical_to_frame(wrapper, odds_format="american").equals(df)


def test_historical_event_odds_object_data(real_dir: Path) -> None:
    name = "oddsapi_v4_historical_event_odds_americanfootball_nfl_2023-10-10.json"
    raw = load_real(name)
    df = N.historical_to_frame((real_dir / name).read_bytes())
    assert df.height == 6
    assert df["market_key"].unique().to_list() == ["alternate_spreads"]
    assert df["point"].to_list() == [-23.0, -22.5, -22.0, 23.0, 22.5, 22.0]
    assert df["price_decimal"].to_list() == [5.08, 4.82, 4.66, 1.15, 1.17, 1.17]
    assert set(df["last_update"].to_list()) == {datetime(2023, 10, 10, 12, 10, 29, tzinfo=UTC)}
    assert set(df["observed_at"].to_list()) == {datetime(2023, 10, 10, 12, 10, 39, tzinfo=UTC)}
    assert N.historical_to_frame(raw).equals(df)
    events = HistoricalEvents.model_validate(
        load_real("oddsapi_v4_historical_events_americanfootball_nfl_2023-10-10.json")
    )
    assert events.data[0].home_team == "Houston Texans"


def test_nhl_decimal_odds_normalize() -> None:
    raw = load_real(NHL_DECIMAL)
    df = N.odds_to_frame(raw, OBS)
    assert_quotes_match(df, raw, "decimal")
    assert len({e["id"] for e in raw}) == 15
    assert df["event_id"].n_unique() == 15


def test_nhl_event_odds_uses_market_level_last_update() -> None:
    raw = load_real(NHL_EVENT_ODDS)
    assert "last_update" not in raw["bookmakers"][0]
    df = N.odds_to_frame(raw, OBS)
    assert_quotes_match(df, [raw], "decimal")
    first = df.row(0, named=True)
    assert (first["bookmaker"], first["outcome_name"], first["price_decimal"]) == (
        "unibet_us",
        "Boston Bruins",
        1.7,
    )
    assert first["last_update"] == datetime(2024, 3, 21, 14, 10, 14, tzinfo=UTC)


def test_nhl_scores_normalize() -> None:
    raw = load_real(NHL_SCORES)
    parsed = [ScoreEvent.model_validate(e) for e in raw]
    assert parsed[0].scores is not None and parsed[0].scores[1].score == "5"
    df = N.scores_to_frame(parsed, OBS)
    assert dict(df.schema) == schemas.ODDS_SCORES
    assert df.height == 33
    first = df.row(0, named=True)
    assert first["event_id"] == "2aeab0a9d68f90299e8f38870d1d816c"
    assert (first["home_team"], first["home_score"], first["away_team"], first["away_score"]) == (
        "Calgary Flames",
        2,
        "Washington Capitals",
        5,
    )
    assert first["completed"] is True
    assert first["commence_time"] == datetime(2024, 3, 19, 0, 41, 10, tzinfo=UTC)
    # reference by plain loops: every score is attributed to the team of the same name
    for e, row in zip(raw, df.iter_rows(named=True), strict=True):
        by_name = {s["name"]: int(s["score"]) for s in e["scores"] or []}
        assert row["home_score"] == by_name.get(e["home_team"])
        assert row["away_score"] == by_name.get(e["away_team"])
        assert row["completed"] == e["completed"]
    upcoming = df.filter(~pl.col("completed"))
    assert upcoming["home_score"].null_count() == upcoming.height > 0
    assert upcoming["last_update"].null_count() == upcoming.height
    assert N.scores_to_frame(raw, OBS).equals(df)


def test_sports_and_events_parse() -> None:
    sports = [Sport.model_validate(s) for s in load_real("oddsapi_v4_sports_2024-03.json")]
    assert len(sports) == 102
    nhl = next(s for s in sports if s.key == "icehockey_nhl")
    assert (nhl.group, nhl.title, nhl.has_outrights) == ("Ice Hockey", "NHL", False)
    events = [
        OddsEvent.model_validate(e) for e in load_real("oddsapi_v4_events_icehockey_nhl_2024-03-21.json")
    ]
    assert events[0].id == "b33f30ad5541b19794da293edee78bd3" and events[0].bookmakers == []
    assert N.odds_to_frame(events, OBS).height == 0  # events without odds yield no quotes


# --------------------------------------------------------------------------- Polymarket


def test_gamma_market_cs2_resolved() -> None:
    m = GammaMarket.model_validate(
        load_real("polymarket_gamma_market_cs2_moneyline_resolved_2026-04-05.json")
    )
    assert m.outcomes == ["FaZe", "illwill"]
    assert m.outcome_prices == [1.0, 0.0]
    assert (
        m.clob_token_ids[1] == "90510951248295963583566830308208121966213462932425555585207203442852394431867"
    )
    assert m.game_start_time == datetime(2026, 4, 5, 15, 10, tzinfo=UTC)
    assert m.closed_time == datetime(2026, 4, 5, 19, 37, 33, tzinfo=UTC)
    assert m.volume == 26458.188064999995 and m.liquidity is None
    assert m.fee_schedule is not None and (m.fee_schedule.rate, m.fee_schedule.rebate_rate) == (0.03, 0.25)
    assert m.question_id is not None and m.question_id.startswith("0xb084")
    assert m.events[0].id == "346898" and m.events[0].game_id == "1427074"  # int on the wire
    assert m.active is True and m.closed is True and not m.tradable
    df = N.gamma_markets_to_frame([m], OBS)
    assert dict(df.schema) == schemas.PM_MARKETS
    row = df.row(0, named=True)
    assert row["league"] == "cs2"  # slug prefix (no sport object on this event)
    assert (row["event_id"], row["event_slug"]) == ("346898", "cs2-faze-ill-2026-04-05")
    assert (row["home_team"], row["away_team"]) == (None, None)  # no teams[] → unknown, not guessed
    assert (row["fee_rate"], row["fee_exponent"], row["fee_taker_only"]) == (0.03, 1.0, True)
    assert (row["tick_size"], row["min_order_size"]) == (0.001, 5.0)
    assert (row["best_bid"], row["best_ask"], row["last_trade_price"]) == (0.999, 1.0, 0.999)
    assert row["sports_market_type"] == "moneyline" and row["group_item_title"] == "Match Winner"
    assert row["accepting_orders"] is False


def test_gamma_event_pickleball_teams_and_league() -> None:
    raw = load_real("polymarket_gamma_event_pickleball_mlp_active_2026-08-16.json")
    ev = GammaEvent.model_validate(raw[0])
    assert (ev.home_team, ev.away_team) == ("St. Louis Shock", "Texas Ranchers")
    assert ev.sport is not None and ev.sport.sport == "mlp"
    assert ev.game_id == "287011684" and ev.start_time == datetime(2026, 8, 14, 21, tzinfo=UTC)
    assert [s.slug for s in ev.series] == ["mlp"] and ev.tags[0].label == "Sports"
    df = N.gamma_events_to_frame(raw, OBS)
    assert dict(df.schema) == schemas.PM_MARKETS
    assert df["market_id"].to_list() == ["3524358", "3554041"]
    assert df["league"].to_list() == ["mlp", "mlp"]
    assert df["home_team"].to_list() == ["St. Louis Shock"] * 2
    assert df["away_team"].to_list() == ["Texas Ranchers"] * 2
    assert df["sports_market_type"].to_list() == ["moneyline", "soccer_team_to_advance"]
    assert df["liquidity"].to_list() == [29.0194, 2.11599]
    assert df["outcome_prices"].to_list() == [[0.525, 0.475], [0.5255, 0.4745]]
    assert df["game_start_time"].to_list() == [
        datetime(2026, 8, 14, 21, tzinfo=UTC),
        datetime(2026, 8, 16, 0, 30, tzinfo=UTC),
    ]
    assert df["fee_rate"].to_list() == [0.05, 0.05] and df["tick_size"].to_list() == [0.01, 0.001]
    # the same markets passed separately with their events give the same frame
    assert N.gamma_markets_to_frame(raw[0]["markets"], OBS, events=raw).equals(df)


def test_clob_book_old_format_best_prices_not_by_position() -> None:
    raw = load_real("polymarket_clob_book_2024-10-13.json")
    book = ClobBook.model_validate(raw)
    assert raw["bids"][0]["price"] == "0.01" and raw["asks"][0]["price"] == "0.98"  # worst first on the wire
    assert (book.best_bid, book.best_ask, book.mid) == (Decimal("0.1"), Decimal("0.14"), Decimal("0.12"))
    assert book.timestamp == datetime(2024, 10, 13, 6, 3, 38, 260000, tzinfo=UTC)
    assert book.tick_size is None and book.min_order_size is None and book.neg_risk is None
    df = N.book_to_frame([book], OBS)
    assert dict(df.schema) == schemas.PM_ORDER_BOOK_SNAPSHOTS
    assert df.height == 12
    bids = df.filter(pl.col("side") == "bid").sort("level")
    asks = df.filter(pl.col("side") == "ask").sort("level")
    assert bids["price"].to_list() == [0.1, 0.09, 0.08, 0.06, 0.01]
    assert asks["price"].to_list() == [0.14, 0.2, 0.38, 0.46, 0.47, 0.5, 0.98]
    assert asks["size"].to_list()[:3] == [705.0, 70.0, 192.3]
    row = df.row(0, named=True)
    assert (row["best_bid"], row["best_ask"], row["mid"], row["spread"]) == (0.1, 0.14, 0.12, 0.04)
    assert (row["depth_1c"], row["depth_2c"], row["depth_5c"]) == (705.0, 705.0, 705.0)  # next ask is 0.20
    assert row["book_hash"] == "2fc4a3d6a98bc164e057589bcb74981852b87412"
    assert row["market_id"] == raw["market"] and row["token_id"] == raw["asset_id"]


def test_clob_book_neg_risk_empty_asks() -> None:
    raw = load_real("polymarket_clob_book_neg_risk_empty_asks_2026-08-03.json")
    book = ClobBook.model_validate(raw)
    assert (book.best_bid, book.best_ask, book.mid) == (Decimal("0.002"), None, None)
    assert (book.tick_size, book.min_order_size, book.neg_risk) == (Decimal("0.001"), Decimal("5"), True)
    assert book.last_trade_price is None  # "" on the wire
    df = N.book_to_frame([raw], OBS)
    assert df["side"].to_list() == ["bid", "bid"]
    assert df["level"].to_list() == [0, 1]
    assert df["price"].to_list() == [0.002, 0.001]
    row = df.row(0, named=True)
    assert (row["best_bid"], row["best_ask"], row["mid"], row["spread"], row["depth_1c"]) == (
        0.002,
        None,
        None,
        None,
        None,
    )
    assert (row["tick_size"], row["min_order_size"]) == (0.001, 5.0)
    assert row["book_timestamp"] == datetime(2026, 8, 3, 5, 21, 8, 581000, tzinfo=UTC)


def test_prices_history_parses() -> None:
    hist = PriceHistory.model_validate(load_real("polymarket_clob_prices_history_hourly_2026-05-22.json"))
    assert len(hist.history) == 12
    assert hist.history[0].t == datetime.fromtimestamp(1779465615, tz=UTC)
    assert [p.p for p in hist.history[:3]] == [0.9705, 0.97, 0.9695]


def test_fixture_json_roundtrip_through_bytes(real_dir: Path) -> None:
    """Live odds bytes parsed with json and normalized equal the model path (raw-lake replay)."""
    body = (real_dir / NHL_DECIMAL).read_bytes()
    assert N.odds_to_frame(json.loads(body), OBS).equals(
        N.odds_to_frame([OddsEvent.model_validate(e) for e in json.loads(body)], OBS)
    )


NFL_EVENT_ODDS_2023 = "oddsapi_v4_historical_event_odds_americanfootball_nfl_2023-10-10.json"


def test_historical_bodies_in_one_pass_equal_one_frame_per_body(real_dir: Path) -> None:
    list_shaped = (real_dir / NFL_HIST_2021).read_bytes()
    object_shaped = (
        real_dir / "oddsapi_v4_historical_event_odds_americanfootball_nfl_2023-10-10.json"
    ).read_bytes()
    empty = b'{"timestamp":"2021-11-25T12:05:00Z","previous_timestamp":null,"next_timestamp":null,"data":[]}'
    later = list_shaped.replace(
        b'"timestamp": "2021-11-25T11:55:00Z"', b'"timestamp": "2021-11-25T12:55:00Z"'
    )
    assert later != list_shaped
    bodies = [list_shaped, empty, object_shaped, later]
    batch = N.historical_bodies_to_frame(bodies, odds_format="american")
    one_by_one = pl.concat([N.historical_to_frame(b, odds_format="american") for b in bodies])
    assert batch.height == 2 * 1636 + 6
    key = ["observed_at", "event_id", "bookmaker", "market_key", "outcome_name", "point"]
    assert batch.sort(key).equals(one_by_one.sort(key))
    assert batch["observed_at"].unique().sort().to_list() == [
        datetime(2021, 11, 25, 11, 55, tzinfo=UTC),
        datetime(2021, 11, 25, 12, 55, tzinfo=UTC),
        datetime(2023, 10, 10, 12, 10, 39, tzinfo=UTC),
    ]
    assert N.historical_bodies_to_frame([empty]).equals(N.historical_to_frame(empty))
    with pytest.raises(MalformedResponse, match="not valid JSON"):
        N.historical_bodies_to_frame([list_shaped, b"<html>502</html>"])
