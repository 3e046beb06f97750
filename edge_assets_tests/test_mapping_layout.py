"""pm_sportsbook_lines: executable ask + taker fee → decimal price, depth at the ask, event fields."""

from datetime import datetime, timedelta
from typing import Any

import polars as pl
import pytest

from edge_assets import schemas
from edge_assets.mapping.aliases import AliasResolver
from edge_assets.mapping.layout import pm_sportsbook_lines
from edge_assets.mapping.matcher import match_markets
from edge_assets.pricing.costs import load_fee_tables
from edge_assets_tests.test_mapping_matcher import KICK, OBS, TB_DAL, odds_frame, pm_frame, pm_row

BOOK_TS = OBS - timedelta(minutes=7)


def book_rows(
    token: str, snap: datetime, asks: list[tuple[float, float]], bids: list[tuple[float, float]]
) -> list:
    best_ask = min(p for p, _ in asks) if asks else None
    best_bid = max(p for p, _ in bids) if bids else None
    common: dict[str, Any] = {
        "snapshot_at": snap,
        "token_id": token,
        "market_id": "0xcond",
        "best_bid": best_bid,
        "best_ask": best_ask,
        "mid": None,
        "spread": None,
        "depth_1c": None,
        "depth_2c": None,
        "depth_5c": None,
        "book_hash": "h",
        "book_timestamp": snap - timedelta(minutes=7),
        "tick_size": 0.01,
        "min_order_size": 5.0,
    }
    # Levels numbered from the best price outward on each side.
    out = [
        {**common, "side": "ask", "level": i, "price": p, "size": s} for i, (p, s) in enumerate(sorted(asks))
    ]
    out += [
        {**common, "side": "bid", "level": i, "price": p, "size": s}
        for i, (p, s) in enumerate(sorted(bids, reverse=True))
    ]
    return out


def books_frame(*rows: list) -> pl.DataFrame:
    return pl.DataFrame([r for rs in rows for r in rs], schema=schemas.PM_ORDER_BOOK_SNAPSHOTS)


@pytest.fixture(scope="module")
def setup() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    resolver = AliasResolver.from_csv()
    pm = pm_frame(
        pm_row(
            "ml",
            "Buccaneers vs. Cowboys",
            ["Buccaneers", "Cowboys"],
            fees_enabled=True,
            fee_rate=0.03,
            fee_exponent=1.0,
            best_ask=0.99,
        ),
        pm_row(
            "tot",
            "Buccaneers vs. Cowboys: O/U 47.5",
            ["Over", "Under"],
            fees_enabled=False,
            fee_rate=0.03,
            best_ask=0.40,
        ),
    )
    odds = odds_frame(TB_DAL)
    maps = match_markets(pm, odds, resolver, observed_at=OBS)
    return pm, odds, maps


def test_prices_sizes_fees_and_event_fields(setup: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    pm, odds, maps = setup
    snap = OBS - timedelta(minutes=1)
    books = books_frame(
        book_rows("ml-t0", snap, asks=[(0.55, 100.0), (0.56, 200.0)], bids=[(0.53, 50.0)]),
        # An older snapshot with a better ask must be ignored, and so must a later one.
        book_rows("ml-t0", snap - timedelta(hours=1), asks=[(0.40, 10.0)], bids=[]),
        book_rows("ml-t0", OBS + timedelta(minutes=5), asks=[(0.30, 10.0)], bids=[]),
        book_rows("ml-t1", snap, asks=[(0.47, 80.0)], bids=[(0.44, 10.0)]),
    )
    lines = pm_sportsbook_lines(pm, books, maps, observed_at=OBS, odds=odds)
    assert lines.schema == pl.Schema(schemas.PM_SPORTSBOOK_LINES)
    got = {r["pm_token_id"]: r for r in lines.iter_rows(named=True)}
    # ml-t0: fee = 0.03 * 0.55 * 0.45 = 0.007425 per share; 1 / 0.557425 = 1.79396...
    r = got["ml-t0"]
    assert r["best_ask"] == 0.55 and r["size_available"] == 100.0
    assert r["fee_per_share"] == pytest.approx(0.007425, abs=1e-12)
    assert r["price_decimal"] == pytest.approx(1 / 0.557425, rel=1e-12)
    assert (r["bookmaker"], r["event_id"], r["market_key"], r["outcome_name"], r["point"]) == (
        "polymarket",
        "ev_tb_dal",
        "h2h",
        "Tampa Bay Buccaneers",
        None,
    )
    assert (r["sport_key"], r["commence_time"], r["home_team"], r["away_team"]) == (
        "americanfootball_nfl",
        KICK,
        "Dallas Cowboys",
        "Tampa Bay Buccaneers",
    )
    assert r["last_update"] == snap - timedelta(minutes=7)  # the CLOB's own book timestamp
    assert r["observed_at"] == OBS and r["pm_market_id"] == "ml"
    # ml-t1: fee = 0.03 * 0.47 * 0.53 = 0.007473
    assert got["ml-t1"]["price_decimal"] == pytest.approx(1 / (0.47 + 0.007473), rel=1e-12)
    # tot: no books at all -> Gamma best_ask only for the first outcome (Over), no depth; fees disabled.
    assert set(got) == {"ml-t0", "ml-t1", "tot-t0"}
    t = got["tot-t0"]
    assert (t["outcome_name"], t["point"], t["best_ask"], t["fee_per_share"], t["price_decimal"]) == (
        "Over",
        47.5,
        0.40,
        0.0,
        2.5,
    )
    assert t["size_available"] is None and t["last_update"] == OBS


def test_empty_ask_side_and_unusable_mappings_give_no_row(
    setup: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    pm, _, maps = setup
    books = books_frame(book_rows("ml-t0", OBS, asks=[], bids=[(0.5, 10.0)]))
    lines = pm_sportsbook_lines(pm, books, maps.filter(pl.col("pm_market_id") == "ml"), observed_at=OBS)
    assert lines.height == 0  # ml-t0 has a book with no asks; ml-t1 has no book and is not token 0
    unmatched = maps.with_columns(method=pl.lit("unmatched"))
    assert pm_sportsbook_lines(pm, books, unmatched, observed_at=OBS).height == 0


def test_without_odds_event_fields_fall_back_to_polymarket(
    setup: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    pm, _, maps = setup
    pm2 = pm.with_columns(home_team=pl.lit("Cowboys"), away_team=pl.lit("Buccaneers"))
    lines = pm_sportsbook_lines(pm2, books_frame(), maps, observed_at=OBS)
    r = lines.row(0, named=True)
    assert (r["commence_time"], r["home_team"], r["away_team"]) == (KICK, "Cowboys", "Buccaneers")


def test_closed_or_not_accepting_markets_have_no_executable_price(
    setup: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    pm, _, maps = setup
    books = books_frame(book_rows("ml-t0", OBS, asks=[(0.55, 100.0)], bids=[]))
    open_rows = pm_sportsbook_lines(pm, books, maps, observed_at=OBS)
    assert sorted(open_rows["pm_token_id"]) == ["ml-t0", "tot-t0"]
    # A resolved market's book or Gamma ask (0.001 on the loser) is no price anyone can take.
    closed = pm.with_columns(closed=pl.col("market_id") == "tot")
    assert pm_sportsbook_lines(closed, books, maps, observed_at=OBS)["pm_token_id"].to_list() == ["ml-t0"]
    halted = pm.with_columns(accepting_orders=pl.col("market_id") != "ml")
    assert pm_sportsbook_lines(halted, books, maps, observed_at=OBS)["pm_token_id"].to_list() == ["tot-t0"]


@pytest.mark.parametrize(
    ("observed_at", "rate"),
    [
        (OBS, 0.05),  # sports_fees_v3 is in force
        (datetime(2026, 5, 1, tzinfo=OBS.tzinfo), 0.03),  # sports_fees_v2
        (datetime(2025, 11, 1, tzinfo=OBS.tzinfo), 0.03),  # fee-free era, yet the market says it charges
    ],
)
def test_fees_enabled_without_a_schedule_is_priced_with_the_seed_rate(
    setup: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], observed_at: datetime, rate: float
) -> None:
    pm, _, maps = setup
    pm = pm.with_columns(observed_at=pl.lit(observed_at).cast(schemas.UTC_TS))
    unscheduled = pm.with_columns(
        fee_rate=pl.when(pl.col("market_id") == "ml").then(None).otherwise("fee_rate"),
        fee_exponent=pl.lit(None, pl.Float64),
    )
    books = books_frame(book_rows("ml-t0", observed_at, asks=[(0.55, 100.0)], bids=[]))
    got = pm_sportsbook_lines(unscheduled, books, maps, observed_at=observed_at)
    r = got.filter(pl.col("pm_token_id") == "ml-t0").row(0, named=True)
    assert r["fee_per_share"] == pytest.approx(rate * 0.55 * 0.45, abs=1e-15)
    assert r["price_decimal"] == pytest.approx(1 / (0.55 + rate * 0.55 * 0.45), rel=1e-12)
    # Fees off stays free, and a market with its own schedule keeps it.
    assert got.filter(pl.col("pm_token_id") == "tot-t0")["fee_per_share"].to_list() == [0.0]
    scheduled = pm_sportsbook_lines(pm, books, maps, observed_at=observed_at)
    assert scheduled.filter(pl.col("pm_token_id") == "ml-t0")["fee_per_share"].item() == pytest.approx(
        0.03 * 0.55 * 0.45, abs=1e-15
    )


def test_fees_enabled_without_any_known_rate_gives_no_row(
    setup: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    pm, _, maps = setup
    unscheduled = pm.with_columns(
        fee_rate=pl.when(pl.col("market_id") == "ml").then(None).otherwise("fee_rate")
    )
    books = books_frame(book_rows("ml-t0", OBS, asks=[(0.55, 100.0)], bids=[]))
    only_free = load_fee_tables().filter(~pl.col("fees_enabled"))
    got = pm_sportsbook_lines(unscheduled, books, maps, observed_at=OBS, fee_table=only_free)
    assert got["pm_token_id"].to_list() == ["tot-t0"]
