"""Consensus across books: weights, sharp-only estimate, freshness, latest quote per book."""

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from edge_assets.pricing.consensus import (
    CONSENSUS_COLUMNS,
    DEFAULT_BOOK_WEIGHTS,
    SHARP_BOOKS,
    consensus,
    fresh_latest_quotes,
)
from edge_assets.pricing.devig import devig_frame
from edge_assets.schemas import ODDS_QUOTES

SNAP = datetime(2026, 5, 1, 18, 0, tzinfo=UTC)


def _q(
    book: str,
    outcome: str,
    fair: float,
    age_min: float,
    *,
    point: float | None = None,
    observed_shift_min: float = 0.0,
    event: str = "e1",
    last_update: bool = True,
) -> dict:
    t = SNAP - timedelta(minutes=age_min)
    return {
        "observed_at": t + timedelta(minutes=observed_shift_min),
        "event_id": event,
        "sport_key": "basketball_nba",
        "commence_time": SNAP + timedelta(hours=2),
        "home_team": "H",
        "away_team": "A",
        "bookmaker": book,
        "market_key": "h2h",
        "outcome_name": outcome,
        "point": point,
        "price_decimal": 1 / fair,
        "last_update": t if last_update else None,
        "fair_prob": fair,
    }


def _frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={**ODDS_QUOTES, "fair_prob": pl.Float64})


def test_defaults() -> None:
    assert {"pinnacle", "circasports", "betfair_ex_eu", "bookmaker"} <= SHARP_BOOKS
    assert all(DEFAULT_BOOK_WEIGHTS[b] > 1.0 for b in SHARP_BOOKS if b in DEFAULT_BOOK_WEIGHTS)
    assert "draftkings" not in DEFAULT_BOOK_WEIGHTS and "draftkings" not in SHARP_BOOKS


def test_weighted_consensus_and_sharp() -> None:
    rows = [
        _q("pinnacle", "H", 0.60, 2),
        _q("pinnacle", "A", 0.40, 2),
        _q("draftkings", "H", 0.56, 3),
        _q("draftkings", "A", 0.44, 3),
        _q("fanduel", "H", 0.50, 30),
        _q("fanduel", "A", 0.50, 30),  # stale: excluded
        _q("betmgm", "H", 0.99, -5),
        _q("betmgm", "A", 0.01, -5),  # from the future: excluded
        _q("draftkings", "H", 0.70, 8),
        _q("draftkings", "A", 0.30, 8),  # older dk quote: superseded
    ]
    out = consensus(_frame(rows), snapshot_at=SNAP, max_age=timedelta(minutes=10))
    assert out.columns == ["event_id", "market_key", "point", "outcome_name", *CONSENSUS_COLUMNS]
    h = out.filter(pl.col("outcome_name") == "H").row(0, named=True)
    assert h["consensus_prob"] == pytest.approx((3.0 * 0.60 + 1.0 * 0.56) / 4.0, abs=1e-15)
    assert h["sharp_prob"] == pytest.approx(0.60, abs=1e-15)
    assert (h["n_books"], h["n_sharp"]) == (2, 1)
    assert h["fair_std"] == pytest.approx(0.02, abs=1e-15)  # population std of 0.60, 0.56
    assert (h["fair_min"], h["fair_max"]) == (0.56, 0.60)
    assert (h["min_age_s"], h["max_age_s"]) == (120.0, 180.0)
    assert h["latest_quote_at"] == SNAP - timedelta(minutes=2)
    a = out.filter(pl.col("outcome_name") == "A").row(0, named=True)
    assert a["consensus_prob"] + h["consensus_prob"] == pytest.approx(1.0, abs=1e-15)


def test_no_sharp_custom_weights_and_fallback_time() -> None:
    rows = [
        _q("draftkings", "H", 0.56, 3),
        _q("fanduel", "H", 0.52, 1, last_update=False),
        _q("pinnacle", "H", 0.60, 20),  # too old for max_age -> no sharp
    ]
    out = consensus(
        _frame(rows),
        snapshot_at=SNAP,
        max_age=timedelta(minutes=10),
        weights={"draftkings": 1.0, "fanduel": 3.0},
    )
    r = out.row(0, named=True)
    assert r["consensus_prob"] == pytest.approx((0.56 + 3 * 0.52) / 4, abs=1e-15)
    assert r["sharp_prob"] is None and r["n_sharp"] == 0 and r["n_books"] == 2
    # observed_at stands in for a null last_update
    assert r["min_age_s"] == 60.0
    # weight 0 drops a book; a naive snapshot time is read as UTC
    out0 = consensus(
        _frame(rows),
        snapshot_at=SNAP.replace(tzinfo=None),
        max_age=timedelta(minutes=10),
        weights={"fanduel": 0.0},
    )
    assert out0.row(0, named=True)["consensus_prob"] == pytest.approx(0.56)


def test_keys_with_null_point_and_points() -> None:
    rows = [
        _q("pinnacle", "Over", 0.52, 1, point=220.5),
        _q("pinnacle", "Over", 0.48, 1, point=221.5),
        _q("draftkings", "Over", 0.50, 1, point=220.5),
        _q("pinnacle", "H", 0.6, 1),
        _q("draftkings", "H", 0.62, 1),
    ]
    out = consensus(_frame(rows), snapshot_at=SNAP, max_age=timedelta(minutes=5)).sort(
        "point", nulls_last=True
    )
    assert out["point"].to_list() == [220.5, 221.5, None]
    assert out["n_books"].to_list() == [2, 1, 2]
    assert out["consensus_prob"][0] == pytest.approx((3 * 0.52 + 0.50) / 4)


def test_end_to_end_with_devig_frame() -> None:
    rows = [
        _q("pinnacle", "H", 0.5, 1) | {"price_decimal": 1.8},
        _q("pinnacle", "A", 0.5, 1) | {"price_decimal": 2.1},
        _q("lowvig", "H", 0.5, 1) | {"price_decimal": 1.85},
        _q("lowvig", "A", 0.5, 1) | {"price_decimal": 2.0},
    ]
    df = devig_frame(_frame(rows).drop("fair_prob"), ["event_id", "bookmaker", "market_key", "point"])
    out = consensus(df, snapshot_at=SNAP, max_age=timedelta(minutes=5)).sort("outcome_name")
    pin_h = (1 / 1.8) / (1 / 1.8 + 1 / 2.1)
    low_h = (1 / 1.85) / (1 / 1.85 + 1 / 2.0)
    h = out.filter(pl.col("outcome_name") == "H").row(0, named=True)
    assert h["consensus_prob"] == pytest.approx((3 * pin_h + 1.5 * low_h) / 4.5, abs=1e-14)
    assert h["sharp_prob"] == pytest.approx(pin_h, abs=1e-15)
    assert out["consensus_prob"].sum() == pytest.approx(1.0, abs=1e-14)


def test_a_line_a_book_has_moved_from_no_longer_counts() -> None:
    """DraftKings moved its spread from -3.5 (8 minutes ago) to -4.5 (1 minute ago): its -3.5 is
    withdrawn and counts for nothing, while a book that still deals -3.5 does; another event's
    older poll is untouched."""
    rows = [
        _q("draftkings", "H", 0.50, 8, point=-3.5),
        _q("draftkings", "A", 0.50, 8, point=3.5),
        _q("draftkings", "H", 0.52, 1, point=-4.5),
        _q("draftkings", "A", 0.48, 1, point=4.5),
        _q("fanduel", "H", 0.51, 3, point=-3.5),
        _q("fanduel", "A", 0.49, 3, point=3.5),
        _q("draftkings", "H", 0.60, 8, point=-1.5, event="e2"),
    ]
    fresh = fresh_latest_quotes(
        _frame(rows).with_columns(market_key=pl.lit("spreads")),
        snapshot_at=SNAP,
        max_age=timedelta(minutes=10),
    )
    got = sorted(fresh.select("event_id", "bookmaker", "outcome_name", "point", "age_s").iter_rows())
    assert got == [
        ("e1", "draftkings", "A", 4.5, 60.0),
        ("e1", "draftkings", "H", -4.5, 60.0),
        ("e1", "fanduel", "A", 3.5, 180.0),
        ("e1", "fanduel", "H", -3.5, 180.0),
        ("e2", "draftkings", "H", -1.5, 480.0),
    ]
    # a snapshot before the move still sees the -3.5 line it had then
    before = fresh_latest_quotes(
        _frame(rows).with_columns(market_key=pl.lit("spreads")),
        snapshot_at=SNAP - timedelta(minutes=5),
        max_age=timedelta(minutes=10),
    )
    assert sorted(before.filter(pl.col("bookmaker") == "draftkings")["point"].to_list()) == [-3.5, -1.5, 3.5]
