"""build_features_latest on small hand-built frames with hand-computed values."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from edge_assets.features.latest import FEATURES_LATEST_COLUMNS, build_features_latest
from edge_assets.schemas import MARKET_MAPPINGS, ODDS_QUOTES, PM_ORDER_BOOK_SNAPSHOTS, PM_SPORTSBOOK_LINES

SNAP = datetime(2026, 5, 1, 18, 0, tzinfo=UTC)
RATE = 0.03


def _odds_row(
    event: str, book: str, market: str, outcome: str, point: float | None, dec: float, age_s: float
):
    t = SNAP - timedelta(seconds=age_s)
    return {
        "observed_at": t,
        "event_id": event,
        "sport_key": "basketball_nba",
        "commence_time": SNAP + timedelta(hours=1),
        "home_team": "Home",
        "away_team": "Away",
        "bookmaker": book,
        "market_key": market,
        "outcome_name": outcome,
        "point": point,
        "price_decimal": dec,
        "last_update": t,
    }


def _odds() -> pl.DataFrame:
    rows = [
        _odds_row("ev1", "pinnacle", "h2h", "Home", None, 1 / 0.55, 60),
        _odds_row("ev1", "pinnacle", "h2h", "Away", None, 1 / 0.50, 60),
        _odds_row("ev1", "draftkings", "h2h", "Home", None, 1 / 0.60, 120),
        _odds_row("ev1", "draftkings", "h2h", "Away", None, 1 / 0.45, 120),
        _odds_row("ev1", "fanduel", "h2h", "Home", None, 1.2, 1200),  # stale (> 10 min): ignored
        _odds_row("ev1", "fanduel", "h2h", "Away", None, 9.0, 1200),
        _odds_row("ev2", "pinnacle", "spreads", "Home", -3.5, 1.95, 30),
        _odds_row("ev2", "pinnacle", "spreads", "Away", 3.5, 1.95, 30),
    ]
    return pl.DataFrame(rows, schema=ODDS_QUOTES)


def _mappings() -> pl.DataFrame:
    base = {
        "observed_at": SNAP,
        "sport_key": "basketball_nba",
        "confidence": 1.0,
        "method": "exact",
        "reason": None,
    }
    rows = [
        base
        | {
            "pm_market_id": "m1",
            "pm_token_id": "tH",
            "pm_outcome": "Home",
            "odds_event_id": "ev1",
            "odds_outcome_name": "Home",
            "market_key": "h2h",
            "point": None,
        },
        base
        | {
            "pm_market_id": "m1",
            "pm_token_id": "tA",
            "pm_outcome": "Away",
            "odds_event_id": "ev1",
            "odds_outcome_name": "Away",
            "market_key": "h2h",
            "point": None,
        },
        base
        | {
            "pm_market_id": "m2",
            "pm_token_id": "tS",
            "pm_outcome": "Home -3.5",
            "odds_event_id": "ev2",
            "odds_outcome_name": "Home",
            "market_key": "spreads",
            "point": -3.5,
        },
        base
        | {
            "pm_market_id": "m3",
            "pm_token_id": "tX",
            "pm_outcome": "X",
            "odds_event_id": None,
            "odds_outcome_name": None,
            "market_key": None,
            "point": None,
            "method": "unmatched",
            "reason": "no event",
        },
        base
        | {
            "pm_market_id": "m4",
            "pm_token_id": "tN",
            "pm_outcome": "Home",
            "odds_event_id": "ev1",
            "odds_outcome_name": "Home",
            "market_key": "h2h",
            "point": None,
        },  # no book at all
    ]
    return pl.DataFrame(rows, schema=MARKET_MAPPINGS)


def _books() -> pl.DataFrame:
    snap_at = SNAP - timedelta(seconds=20)
    levels = [
        ("tA", "ask", 0, 0.40, 100.0),
        ("tA", "ask", 1, 0.42, 200.0),
        ("tA", "bid", 0, 0.38, 50.0),
        ("tH", "ask", 0, 0.56, 500.0),
        ("tH", "bid", 0, 0.54, 100.0),
        ("tS", "ask", 0, 0.45, 1000.0),
        ("tS", "bid", 0, 0.44, 10.0),
    ]
    rows = [
        {
            "snapshot_at": snap_at,
            "token_id": t,
            "market_id": "c",
            "side": s,
            "level": lv,
            "price": p,
            "size": sz,
            "book_timestamp": SNAP - timedelta(minutes=5),
            "tick_size": 0.01,
            "min_order_size": 5.0,
        }
        for t, s, lv, p, sz in levels
    ]
    # an older snapshot of tA that must be ignored (latest per token wins)
    rows.append(
        {
            "snapshot_at": SNAP - timedelta(minutes=30),
            "token_id": "tA",
            "market_id": "c",
            "side": "ask",
            "level": 0,
            "price": 0.10,
            "size": 1e6,
            "book_timestamp": SNAP - timedelta(minutes=31),
            "tick_size": 0.01,
            "min_order_size": 5.0,
        }
    )
    return pl.DataFrame(rows, schema=PM_ORDER_BOOK_SNAPSHOTS)


def _lines() -> pl.DataFrame:
    rows = []
    for tok, ask, outcome, event, market, point in (
        ("tA", 0.40, "Away", "ev1", "h2h", None),
        ("tH", 0.56, "Home", "ev1", "h2h", None),
        ("tS", 0.45, "Home", "ev2", "spreads", -3.5),
    ):
        fee = RATE * ask * (1 - ask)
        rows.append(
            {
                "observed_at": SNAP,
                "event_id": event,
                "bookmaker": "polymarket",
                "market_key": market,
                "outcome_name": outcome,
                "point": point,
                "price_decimal": 1 / (ask + fee),
                "last_update": SNAP - timedelta(minutes=5),
                "pm_market_id": "m",
                "pm_token_id": tok,
                "best_ask": ask,
                "fee_per_share": fee,
                "size_available": 100.0,
            }
        )
    return pl.DataFrame(rows, schema=PM_SPORTSBOOK_LINES)


def build(**kw) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    return build_features_latest(_lines(), _odds(), _books(), _mappings(), snapshot_at=SNAP, **kw)


def test_one_row_per_mapped_token_with_contract() -> None:
    f = build()
    assert f.columns == list(FEATURES_LATEST_COLUMNS)
    assert sorted(f["pm_token_id"].to_list()) == ["tA", "tH", "tN", "tS"]  # unmatched tX dropped
    assert f.schema == pl.Schema(FEATURES_LATEST_COLUMNS)
    assert (f["observed_at"] == SNAP).all()


def test_away_token_hand_values() -> None:
    r = build().filter(pl.col("pm_token_id") == "tA").row(0, named=True)
    pin_a, dk_a = 0.50 / 1.05, 0.45 / 1.05
    fair = (3.0 * pin_a + 1.0 * dk_a) / 4.0
    assert r["fair_prob"] == pytest.approx(fair, abs=1e-14)
    assert r["sharp_prob"] == pytest.approx(pin_a, abs=1e-14)
    assert (r["n_books"], r["n_sharp"]) == (2, 1)
    assert r["fair_std"] == pytest.approx(abs(pin_a - dk_a) / 2, abs=1e-14)
    assert (r["book_min_age_s"], r["book_max_age_s"]) == (60.0, 120.0)
    assert (r["best_book"], r["best_book_decimal"]) == ("draftkings", pytest.approx(1 / 0.45))
    assert (r["ask"], r["bid"], r["depth_at_ask"]) == (0.40, 0.38, 100.0)
    assert r["mid"] == pytest.approx(0.39) and r["spread"] == pytest.approx(0.02)
    assert r["pm_quote_age_s"] == 20.0 and r["pm_book_at"] == SNAP - timedelta(minutes=5)
    assert r["raw_edge"] == pytest.approx(fair - 0.40, abs=1e-14)
    assert r["fee_rate"] == pytest.approx(RATE, abs=1e-14)
    # 100 USDC: 100 shares at 0.40 (40 USDC) + 60 USDC at 0.42
    shares = 100 + 60 / 0.42
    fee = RATE * (100 * 0.4 * 0.6 + (60 / 0.42) * 0.42 * 0.58)
    eff = 100 / shares + fee / shares
    assert r["filled_shares"] == pytest.approx(shares, abs=1e-9)
    assert r["vwap"] == pytest.approx(100 / shares, abs=1e-14)
    assert (r["worst_price"], r["levels_used"], r["fully_filled"]) == (0.42, 2, True)
    assert r["fee_per_share"] == pytest.approx(fee / shares, abs=1e-14)
    assert r["effective_price"] == pytest.approx(eff, abs=1e-14)
    assert r["ev_after_costs"] == pytest.approx(fair / eff - 1, abs=1e-12)
    assert r["ev_sharp"] == pytest.approx(pin_a / eff - 1, abs=1e-12)
    assert r["pm_decimal"] == pytest.approx(1 / eff) and r["beats_book"] is True
    assert r["kelly_full"] == pytest.approx((fair - eff) / (1 - eff), abs=1e-12)
    be = r["break_even_price"]
    assert be + RATE * be * (1 - be) == pytest.approx(fair, abs=1e-14)
    assert (r["liquidity_shares"], r["liquidity_usdc"]) == (300.0, pytest.approx(40 + 84))
    assert r["fill_prob"] == pytest.approx(0.95 * 0.5 ** (20 / 120) * (1 - 2.718281828459045 ** (-100 / 200)))


def test_home_token_negative_edge_and_no_book_token() -> None:
    f = build()
    h = f.filter(pl.col("pm_token_id") == "tH").row(0, named=True)
    fair_h = (3 * 0.55 / 1.05 + 0.60 / 1.05) / 4
    eff_h = 0.56 + RATE * 0.56 * 0.44
    assert h["ev_after_costs"] == pytest.approx(fair_h / eff_h - 1, abs=1e-12) and h["ev_after_costs"] < 0
    assert h["beats_book"] is False and h["kelly_full"] == 0.0
    assert h["liquidity_usdc"] == 0.0  # nothing rests below break-even
    n = f.filter(pl.col("pm_token_id") == "tN").row(0, named=True)
    assert n["fair_prob"] == pytest.approx(fair_h) and n["ask"] is None and n["vwap"] is None
    assert n["ev_after_costs"] is None and n["fully_filled"] is False


def test_spreads_devig_on_abs_point_and_method_choice() -> None:
    s = build().filter(pl.col("pm_token_id") == "tS").row(0, named=True)
    assert s["point"] == -3.5 and s["fair_prob"] == pytest.approx(0.5, abs=1e-15) and s["n_books"] == 1
    w = (
        build(devig_method="worst_case", stake_usdc=10.0)
        .filter(pl.col("pm_token_id") == "tA")
        .row(0, named=True)
    )
    # worst case for a two-way market: min(multiplicative, additive, power, shin) per book
    assert w["devig_method"] == "worst_case" and w["fair_prob"] < (3 * 0.5 / 1.05 + 0.45 / 1.05) / 4
    assert w["filled_shares"] == pytest.approx(25.0) and w["levels_used"] == 1
    with pytest.raises(ValueError, match="unknown de-vig method"):
        build(devig_method="magic")


def test_max_age_and_weights() -> None:
    f = build(max_quote_age=timedelta(seconds=90)).filter(pl.col("pm_token_id") == "tA").row(0, named=True)
    assert f["n_books"] == 1 and f["fair_prob"] == pytest.approx(0.5 / 1.05)  # draftkings (120 s) too old
    g = (
        build(weights={"pinnacle": 1.0, "draftkings": 1.0})
        .filter(pl.col("pm_token_id") == "tA")
        .row(0, named=True)
    )
    assert g["fair_prob"] == pytest.approx((0.5 / 1.05 + 0.45 / 1.05) / 2, abs=1e-14)


def test_empty_inputs() -> None:
    f = build_features_latest(
        _lines().clear(), _odds().clear(), _books().clear(), _mappings().clear(), snapshot_at=SNAP
    )
    assert f.height == 0 and f.columns == list(FEATURES_LATEST_COLUMNS)


def test_retarget_lines_moves_books_onto_the_polymarket_line() -> None:
    """Each book's nearest line is moved to the target with the normal model; h2h passes through."""
    from edge_assets.features.latest import retarget_lines

    def q(book: str, key: str, name: str, point: float | None, p: float) -> dict:
        return {"event_id": "e", "sport_key": "basketball_nba", "bookmaker": book, "market_key": key,
                "outcome_name": name, "point": point, "fair_prob": p}  # fmt: skip

    fair = pl.DataFrame(
        [
            q("b1", "totals", "Over", 220.5, 0.5),
            q("b1", "totals", "Under", 220.5, 0.5),
            q("b2", "totals", "Over", 222.5, 0.47),  # exact line: kept as is
            q("b2", "totals", "Over", 230.5, 0.30),  # farther than b2's exact line: not used
            q("b3", "totals", "Over", 240.5, 0.2),  # 18 points away > 0.5 sd: dropped
            q("b1", "spreads", "Boston Celtics", -3.5, 0.5),
            q("b1", "h2h", "Boston Celtics", None, 0.6),
        ]
    )
    targets = pl.DataFrame(
        {
            "event_id": ["e", "e", "e"],
            "market_key": ["totals", "totals", "spreads"],
            "outcome_name": ["Over", "Under", "Boston Celtics"],
            "_target": [222.5, 222.5, -2.5],
        }
    )
    out = retarget_lines(fair, targets).sort("market_key", "outcome_name", "bookmaker")
    rows = [
        (r["bookmaker"], r["market_key"], r["outcome_name"], r["point"]) for r in out.iter_rows(named=True)
    ]
    assert rows == [
        ("b1", "h2h", "Boston Celtics", None),
        ("b1", "spreads", "Boston Celtics", -2.5),
        ("b1", "totals", "Over", 222.5),
        ("b2", "totals", "Over", 222.5),
        ("b1", "totals", "Under", 222.5),
    ]
    # Phi(0 + 1/12), Phi(0 - 2/18), exact 0.47, Phi(0 + 2/18)
    assert out["fair_prob"].to_list() == pytest.approx(
        [0.6, 0.5332067519, 0.4557641190, 0.47, 0.5442358810], abs=1e-9
    )


def test_pm_news_counts_markets_of_the_event_that_moved_and_dates_the_move() -> None:
    """Two markets of event e1 move >= NEWS_MOVE (news); e2's single mover is not news."""
    from edge_assets.features.latest import pm_news

    t0 = datetime(2026, 11, 19, 18, 5, tzinfo=UTC)
    polls = [t0, t0 + timedelta(minutes=15), t0 + timedelta(minutes=30), t0 + timedelta(minutes=45)]
    mids = {  # first-token mid per poll
        "m1": [0.50, 0.50, 0.49, 0.43],  # moves at the 4th poll
        "m2": [0.40, 0.35, 0.34, 0.34],  # moves at the 2nd poll
        "m3": [0.60, 0.61, 0.60, 0.62],  # quiet
        "m4": [0.30, 0.30, 0.24, 0.24],  # e2, alone
    }
    hist = pl.DataFrame(
        [
            {
                "observed_at": at,
                "market_id": m,
                "token_ids": [f"{m}-a", f"{m}-b"],
                "outcome_prices": [p[i], round(1 - p[i], 4)],
            }
            for m, p in mids.items()
            for i, at in enumerate(polls)
        ],
        schema={
            "observed_at": pl.Datetime("us", "UTC"),
            "market_id": pl.String,
            "token_ids": pl.List(pl.String),
            "outcome_prices": pl.List(pl.Float64),
        },
    )
    maps = pl.DataFrame(
        {
            "pm_token_id": [f"{m}-{s}" for m in mids for s in "ab"],
            "pm_market_id": [m for m in mids for _ in "ab"],
            "event_id": ["e1"] * 6 + ["e2"] * 2,
        }
    )
    out = {r["pm_token_id"]: r for r in pm_news(hist, maps, polls[-1]).iter_rows(named=True)}
    assert out["m1-a"]["pm_move_1h"] == pytest.approx(-0.07)
    assert out["m1-b"]["pm_move_1h"] == pytest.approx(0.07)
    assert out["m3-a"]["event_moved_markets"] == 2  # m1 and m2 moved; m3 sits in the same event
    assert out["m3-a"]["pm_news_at"] == polls[3]  # the latest of the movers' first polls showing it
    assert out["m4-a"]["event_moved_markets"] == 1
    assert out["m4-a"]["pm_news_at"] == polls[2]


def test_retarget_lines_moneyline_anchor_and_poisson_soccer_totals() -> None:
    """An MLB book quoting the favourite's -1.5 is 3 runs (> 0.5 sd) from Polymarket's +1.5 on the
    same team: its moneyline (a spread at 0) is moved 1.5 runs instead. A soccer Over/Under 2.5
    at 50% implies a Poisson mean of 2.67406 goals, which prices 3.5 (one goal away)."""
    from edge_assets.features.latest import retarget_lines

    def q(ev: str, sport: str, key: str, name: str, point: float | None, p: float) -> dict:
        return {"event_id": ev, "sport_key": sport, "bookmaker": "b1", "market_key": key,
                "outcome_name": name, "point": point, "fair_prob": p}  # fmt: skip

    mlb, epl = "baseball_mlb", "soccer_epl"
    fair = pl.DataFrame(
        [
            q("m", mlb, "h2h", "Home", None, 0.6),
            q("m", mlb, "h2h", "Away", None, 0.4),
            q("m", mlb, "spreads", "Home", -1.5, 0.4),
            q("m", mlb, "spreads", "Away", 1.5, 0.6),
            q("s", epl, "h2h", "Home", None, 0.45),  # three-way: no anchor
            q("s", epl, "h2h", "Draw", None, 0.27),
            q("s", epl, "h2h", "Away", None, 0.28),
            q("s", epl, "totals", "Over", 2.5, 0.5),
            q("s", epl, "totals", "Under", 2.5, 0.5),
        ]
    )
    targets = pl.DataFrame(
        {
            "event_id": ["m", "m", "s", "s", "s"],
            "market_key": ["spreads", "spreads", "totals", "totals", "spreads"],
            "outcome_name": ["Home", "Away", "Over", "Under", "Home"],
            "_target": [1.5, -1.5, 3.5, 3.5, 0.5],
        }
    )
    out = retarget_lines(fair, targets).filter(pl.col("market_key") != "h2h").sort("event_id", "outcome_name")
    rows = [(r["event_id"], r["outcome_name"], r["point"]) for r in out.iter_rows(named=True)]
    assert rows == [("m", "Away", -1.5), ("m", "Home", 1.5), ("s", "Over", 3.5), ("s", "Under", 3.5)]
    # Phi(Phi^-1(0.4) - 1.5/4.3), Phi(Phi^-1(0.6) + 1.5/4.3); P(X <= 3 | Poisson(2.674060313723559))
    assert out["fair_prob"].to_list() == pytest.approx(
        [0.2735257284416699, 0.7264742715583301, 1 - 0.7198025400657415, 0.7198025400657415], abs=1e-9
    )


def test_event_margin_sd_from_each_books_moneyline_and_spread() -> None:
    """Each book's moneyline (point 0) and spread line L give sd_b = L / (Phi^-1(p_L) - Phi^-1(p_0)).
    Books built with sd 10, 12, 15 (and expected margins that differ, as books' views do) give the
    median 12 and SE 1.2533 * 1.4826 * MAD(=2) / sqrt(3); a book implying sd 30 (> 2x the NBA's 12)
    is dropped; an event with two usable books has no measured sd. retarget_lines then moves the
    event's lines with sd 12 from the measured frame, even when the league sd given is 20."""
    from scipy.stats import norm

    from edge_assets.features.latest import event_margin_sd, retarget_lines

    rows = []

    def book(ev: str, bk: str, mu: float, line: float, sd: float) -> None:
        p0, pl_ = norm.cdf(mu / sd), norm.cdf((mu + line) / sd)
        for name, key, point, p in (
            ("Home", "h2h", None, p0), ("Away", "h2h", None, 1 - p0),
            ("Home", "spreads", line, pl_), ("Away", "spreads", -line, 1 - pl_),
        ):  # fmt: skip
            rows.append({"event_id": ev, "sport_key": "basketball_nba", "bookmaker": bk, "market_key": key,
                         "outcome_name": name, "point": point, "fair_prob": float(p)})  # fmt: skip

    book("e", "b1", 4.0, -3.5, 10.0)
    book("e", "b2", 5.2, -5.5, 12.0)
    book("e", "b3", 6.1, -6.5, 15.0)
    book("e", "b4", 5.0, -4.5, 30.0)  # implausible for the NBA: dropped
    book("f", "b1", 4.0, -3.5, 12.0)
    book("f", "b2", 4.0, -3.5, 12.0)
    fair = pl.DataFrame(rows)
    esd = event_margin_sd(fair)
    assert esd["event_id"].to_list() == ["e"]
    assert esd["market_key"].to_list() == ["spreads"]
    assert esd["_esd"][0] == pytest.approx(12.0, abs=1e-9)
    assert esd["_esd_se"][0] == pytest.approx(1.2533 * 1.4826 * 2.0 / 3**0.5, abs=1e-9)

    targets = pl.DataFrame(
        {"event_id": ["e"], "market_key": ["spreads"], "outcome_name": ["Home"], "_target": [-5.5]}
    )
    out = retarget_lines(fair, targets, line_sd={("basketball_nba", "spreads"): 20.0}, event_sd=esd)
    got = out.filter(pl.col("market_key") == "spreads").sort("bookmaker")
    # b1: -3.5 -> -5.5 with sd 12; b2 exact; b3 -6.5 -> -5.5; b4's nearest is its -4.5
    p = {r["bookmaker"]: r["fair_prob"] for r in got.iter_rows(named=True)}
    assert p["b1"] == pytest.approx(norm.cdf(norm.ppf(norm.cdf(0.5 / 10)) - 2.0 / 12), abs=1e-9)
    assert p["b2"] == pytest.approx(norm.cdf(-0.3 / 12), abs=1e-12)
    assert p["b3"] == pytest.approx(norm.cdf(norm.ppf(norm.cdf(-0.4 / 15)) + 1.0 / 12), abs=1e-9)
    assert p["b4"] == pytest.approx(norm.cdf(norm.ppf(norm.cdf(0.5 / 30)) - 1.0 / 12), abs=1e-9)


def test_line_haircut_uses_the_measured_margin_sd_when_books_quote_moneyline_and_spread() -> None:
    """Three books price ev2 from the same margin model (mean 4, sd 12) at Home -1.5; Polymarket's
    line is Home -3.5 (2 points away). Spreads only: the league sd (12) moves them to
    Phi(2.5/12 - 2/12) and the haircut is that minus the sd / 1.35 end, Phi(2.5/12 - 2 x 1.35/12).
    With each book's moneyline too, the measured sd is 12 with SE 0: same fair, no haircut."""
    from scipy.stats import norm

    def two(book: str, market: str, p: float, home_pt: float | None) -> list[dict]:
        away_pt = None if home_pt is None else -home_pt
        return [
            _odds_row("ev2", book, market, "Home", home_pt, 1 / p, 30),
            _odds_row("ev2", book, market, "Away", away_pt, 1 / (1 - p), 30),
        ]

    books = ("pinnacle", "draftkings", "fanduel")
    spreads = [r for b in books for r in two(b, "spreads", float(norm.cdf(2.5 / 12)), -1.5)]
    mls = [r for b in books for r in two(b, "h2h", float(norm.cdf(4.0 / 12)), None)]
    base = _odds().filter(pl.col("event_id") != "ev2")
    fair = float(norm.cdf(0.5 / 12))
    for extra, haircut in ((spreads, fair - float(norm.cdf((2.5 - 2.0 * 1.35) / 12))), (spreads + mls, 0.0)):
        odds = pl.concat([base, pl.DataFrame(extra, schema=ODDS_QUOTES)])
        f = build_features_latest(_lines(), odds, _books(), _mappings(), snapshot_at=SNAP)
        r = f.filter(pl.col("pm_token_id") == "tS").row(0, named=True)
        assert r["fair_prob"] == pytest.approx(fair, abs=1e-9)
        assert r["line_haircut"] == pytest.approx(haircut, abs=1e-9)


def _pm_poll(at: datetime, prices: dict[str, list[float]]) -> pl.DataFrame:
    from edge_assets.schemas import PM_MARKETS

    tokens = {"m1": ["tH", "tA"], "m2": ["tS", "tS-no"]}
    rows = [
        {c: None for c in PM_MARKETS}
        | {"observed_at": at, "market_id": m, "token_ids": tokens[m], "outcome_prices": p}
        for m, p in prices.items()
    ]
    return pl.DataFrame(rows, schema=PM_MARKETS)


@pytest.mark.parametrize("previous_hour", [True, False])
def test_features_latest_asset_measures_moves_against_the_previous_hours_polls(
    tmp_path: Path, previous_hour: bool
) -> None:
    """The news check spans a full hour: a backfill polls once an hour (:50), so the asset reads the
    previous hour's pm_markets too; without it every move would read 0 in the training history."""
    import dagster as dg
    from dagster_duckdb import DuckDBResource

    from edge_assets.assets.comparator import features_latest
    from edge_assets.comparator_resources import ComparatorResource
    from edge_assets.lake import Lake
    from edge_assets.lake.io_manager import LakeResource, ParquetLakeIOManager
    from edge_assets.partitions import HOURLY

    lake = Lake(str(tmp_path / "lake"))
    hour = "2026-05-01-18:00"
    for table, frame in (
        ("pm_sportsbook_lines", _lines()),
        ("oddsapi_live", _odds()),
        ("pm_order_book_snapshots", _books()),
        ("market_mappings", _mappings()),
    ):
        lake.write(table, hour, frame)
    lake.write("pm_markets", hour, _pm_poll(SNAP, {"m1": [0.56, 0.44], "m2": [0.45, 0.55]}))
    if previous_hour:
        earlier = SNAP - timedelta(minutes=50)
        before = _pm_poll(earlier, {"m1": [0.50, 0.50], "m2": [0.45, 0.55]})
        lake.write("pm_markets", "2026-05-01-17:00", before)
    lake_res = LakeResource(root=str(tmp_path / "lake"))
    names = ["pm_sportsbook_lines", "oddsapi_live", "pm_order_book_snapshots", "market_mappings"]
    names.append("pm_markets")
    upstream = [dg.AssetSpec(k, partitions_def=HOURLY) for k in names]
    with dg.instance_for_test() as instance:
        res = dg.materialize(
            [features_latest, *upstream],
            selection=[features_latest],
            partition_key=hour,
            instance=instance,
            resources={
                "lake": lake_res,
                "comparator": ComparatorResource(),
                "io_manager": ParquetLakeIOManager(
                    lake_resource=lake_res, catalog_db=DuckDBResource(database=str(tmp_path / "w.duckdb"))
                ),
            },
        )
        assert res.success
    out = {r["pm_token_id"]: r for r in lake.read("features_latest", hour).iter_rows(named=True)}
    if previous_hour:
        assert out["tA"]["pm_move_1h"] == pytest.approx(-0.06)
        assert out["tH"]["pm_move_1h"] == pytest.approx(0.06)
        assert out["tS"]["pm_move_1h"] == pytest.approx(0.0)
        assert out["tH"]["event_moved_markets"] == 1  # m1 moved; tN (ev1) has no Polymarket history
        assert out["tN"]["event_moved_markets"] == 1
        assert out["tS"]["event_moved_markets"] == 0
    else:  # the first hour of a history: no earlier poll, no move
        assert out["tA"]["pm_move_1h"] == pytest.approx(0.0)
        assert out["tH"]["event_moved_markets"] == 0
