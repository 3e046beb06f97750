"""Signal selection: rule confidence, the five checks, deterministic ids, reasons."""

import hashlib
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from edge_assets.features.latest import FEATURES_LATEST_COLUMNS
from edge_assets.signals import (
    SIGNAL_COLUMNS,
    edge_id,
    passes_checks,
    rule_confidence,
    select_signals,
    signal_checks,
    signal_columns,
    signal_id,
)

SNAP = datetime(2026, 5, 1, 18, 5, tzinfo=UTC)


def _row(token: str, **over: object) -> dict:
    base: dict = dict.fromkeys(FEATURES_LATEST_COLUMNS)
    base |= {
        "observed_at": SNAP,
        "pm_market_id": "m1",
        "pm_token_id": token,
        "pm_outcome": "Away",
        "event_id": "ev1",
        "market_key": "h2h",
        "point": None,
        "outcome_name": "Away",
        "fair_prob": 0.48,
        "sharp_prob": 0.47,
        "n_books": 4,
        "n_sharp": 1,
        "fair_std": 0.006,
        "book_max_age_s": 400.0,
        "book_min_age_s": 120.0,
        "minutes_to_start": 240.0,
        "best_book": "draftkings",
        "best_book_decimal": 2.2,
        "effective_price": 0.42,
        "pm_decimal": 1 / 0.42,
        "ev_after_costs": 0.48 / 0.42 - 1,
        "liquidity_usdc": 124.0,
        "filled_usdc": 100.0,
    }
    return base | over


def _frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=FEATURES_LATEST_COLUMNS)


def test_rule_confidence_hand_values() -> None:
    f = _frame(
        [
            _row("a"),  # agreement 1 - 0.006/0.05 = 0.88, freshness 1 - 120/600 = 0.8, coverage 1.0
            _row("b", fair_std=0.05, book_min_age_s=600.0, n_books=2, n_sharp=0),  # 0, 0, 0.25
            _row("c", fair_std=None, book_min_age_s=None, n_books=None, n_sharp=None),
            _row("d", fair_std=0.0, book_min_age_s=0.0, n_books=9, n_sharp=3),
            # one book: its std of 0 is not agreement (it used to score 1.0 here)
            _row("e", fair_std=0.0, book_min_age_s=0.0, n_books=1, n_sharp=0),
        ]
    )
    conf = rule_confidence(f)
    assert conf.to_list() == pytest.approx(
        [0.5 * 0.88 + 0.3 * 0.8 + 0.2 * 1.0, 0.2 * 0.25, 0.0, 1.0, 0.3 + 0.2 * 0.125], abs=1e-12
    )


def test_five_checks_each_can_fail() -> None:
    f = _frame(
        [
            _row("ok"),
            _row("low_conf", fair_std=0.05, book_min_age_s=600.0, n_sharp=0),
            _row("book_better", best_book_decimal=2.5),
            _row("book_equal", best_book_decimal=1 / 0.42),  # equal price does not beat the book
            _row("low_ev", fair_prob=0.43, ev_after_costs=0.43 / 0.42 - 1),
            _row("thin", liquidity_usdc=24.99),
            _row("no_price", effective_price=None, pm_decimal=None, ev_after_costs=None),
            _row("near_start", minutes_to_start=29.9),
            _row("live", minutes_to_start=-5.0),
            _row("no_start", minutes_to_start=None),
        ]
    )
    s = select_signals(f, min_size_usdc=25.0)
    assert s["pm_token_id"].to_list() == ["ok"]
    r = s.row(0, named=True)
    assert r["confidence"] == pytest.approx(0.88, abs=1e-12)
    assert r["side"] == "buy" and r["pm_price"] == 0.42 and r["fair_prob"] == 0.48
    assert r["stake"] == 100.0 and r["liquidity"] == 124.0 and r["created_at"] == SNAP
    assert r["model_prob"] is None and r["alert_status"] is None
    assert r["reasons"] == (
        "confidence=0.88>=0.6; pm_decimal=2.381>best_book=2.2 (draftkings); ev=0.1429>=0.03; "
        "liquidity_usdc=124.0>=25.0; minutes_to_start=240.0>=30.0"
    )
    failed = dict(signal_checks(f, min_size_usdc=25.0).select("pm_token_id", "failed").iter_rows())
    assert failed["ok"] == ""
    assert failed["thin"] == "liquidity_usdc=24.99"
    assert failed["live"] == "minutes_to_start=-5.0"
    assert failed["book_equal"] == "pm_decimal=2.381"
    assert "near_start" in select_signals(f, min_minutes_to_start=20.0)["pm_token_id"].to_list()
    # lowering thresholds lets the others through check by check
    assert "thin" in select_signals(f, min_size_usdc=20.0)["pm_token_id"].to_list()
    assert "low_conf" in select_signals(f, min_confidence=0.1)["pm_token_id"].to_list()
    assert "low_ev" in select_signals(f, min_ev=0.0)["pm_token_id"].to_list()
    # the mask-only path (threshold tuning, model evaluation) passes exactly the same rows
    for kw in (
        {},
        {"min_size_usdc": 20.0},
        {"min_confidence": 0.1, "min_ev": 0.0},
        {"min_minutes_to_start": 20.0},
    ):
        checked = signal_checks(f, **kw)
        mask = passes_checks(f, rule_confidence(f), **kw)
        assert mask.to_list() == (checked["failed"] == "").to_list()
    stale = f.with_columns(stale_consensus=pl.lit(True))
    assert not passes_checks(stale, rule_confidence(stale)).any()


def test_columns_contract_and_inputs_kept() -> None:
    s = select_signals(_frame([_row("ok")]))
    assert s.columns[: len(SIGNAL_COLUMNS)] == list(SIGNAL_COLUMNS)
    assert signal_columns is SIGNAL_COLUMNS
    for col in FEATURES_LATEST_COLUMNS:
        assert col in s.columns
    empty = select_signals(_frame([]))
    assert empty.height == 0 and list(SIGNAL_COLUMNS) == empty.columns[: len(SIGNAL_COLUMNS)]
    bare = select_signals(pl.DataFrame({"observed_at": []}, schema={"observed_at": pl.Datetime("us", "UTC")}))
    assert bare.height == 0 and "signal_id" in bare.columns


def test_signal_id_deterministic_per_hour() -> None:
    a = select_signals(_frame([_row("ok")]))["signal_id"][0]
    b = select_signals(_frame([_row("ok", observed_at=SNAP + timedelta(minutes=50))]))["signal_id"][0]
    c = select_signals(_frame([_row("ok", observed_at=SNAP + timedelta(minutes=55))]))["signal_id"][0]
    assert a == b and a != c  # 18:05 and 18:55 share the hour; 19:00 does not
    expected = hashlib.sha1(b"ev1|h2h||Away|ok|2026-05-01T18").hexdigest()
    assert a == expected == signal_id("ev1", "h2h", None, "Away", "ok", SNAP)
    assert (
        signal_id("ev1", "spreads", -3.5, "Away", "ok", SNAP)
        == hashlib.sha1(b"ev1|spreads|-3.5|Away|ok|2026-05-01T18").hexdigest()
    )
    other = select_signals(_frame([_row("ok2")]))["signal_id"][0]
    assert other != a


def test_edge_id_is_the_same_edge_in_every_hour_and_alerts_once() -> None:
    from edge_assets.alerts import Alert

    hours = [SNAP, SNAP + timedelta(minutes=50), SNAP + timedelta(hours=5)]
    found = pl.concat([select_signals(_frame([_row("ok", observed_at=at)])) for at in hours])
    assert found["signal_id"].n_unique() == 2  # 18:05 and 18:55 are one hour's row, 23:05 another
    assert found["edge_id"].to_list() == [hashlib.sha1(b"ev1|h2h||Away|ok").hexdigest()] * 3
    assert found["edge_id"][0] == edge_id("ev1", "h2h", None, "Away", "ok")
    assert edge_id("ev1", "spreads", -3.5, "Away", "ok") != edge_id("ev1", "spreads", 3.5, "Away", "ok")
    assert {Alert.from_signal_row(r).alert_id for r in found.iter_rows(named=True)} == {found["edge_id"][0]}


def test_model_confidence_and_metadata() -> None:
    f = _frame([_row("ok"), _row("x")]).with_columns(
        model_score=pl.Series([0.9, 0.1]), model_p=pl.Series([0.5, 0.5])
    )
    s = select_signals(
        f, confidence_col="model_score", model_name="edge_clf", model_version="3", model_prob_col="model_p"
    )
    assert s["pm_token_id"].to_list() == ["ok"]
    r = s.row(0, named=True)
    assert (r["confidence"], r["model_name"], r["model_version"], r["model_prob"]) == (
        0.9,
        "edge_clf",
        "3",
        0.5,
    )
    assert "model_score" in s.columns
