"""Fees, fee tables, book walks on real CLOB captures, liquidity rule, fill probability."""

import math
from datetime import datetime

import numpy as np
import polars as pl
import pytest

from edge_assets.pricing.costs import (
    WALK_COLUMNS,
    cost_model_for,
    fee_per_share,
    fee_schedule_for,
    fill_probability,
    liquidity_ok,
    load_cost_models,
    load_fee_tables,
    maker_rebate,
    size_at_or_better,
    taker_fee,
    walk_book,
    walk_books,
    walk_levels,
)
from edge_assets.pricing.seeds import DATA_DIR
from edge_assets_tests.conftest import load_real

OLD_BOOK = "polymarket_clob_book_2024-10-13.json"
EMPTY_ASKS = "polymarket_clob_book_neg_risk_empty_asks_2026-08-03.json"


# ------------------------------------------------------------------ fees


def test_taker_fee_hand_values() -> None:
    assert taker_fee(100, 0.5, 0.03) == pytest.approx(0.75, abs=1e-12)
    assert taker_fee(10, 0.37, 0.05) == pytest.approx(0.11655, abs=1e-12)  # 10*0.05*0.37*0.63
    assert taker_fee(100, 0.5, 0.25, exponent=2) == pytest.approx(1.5625, abs=1e-12)
    assert taker_fee(100, 0.5, 0.0) == 0.0  # fees off
    # 5-decimal rounding, half up: 1 * 0.0005 * 0.25 = 0.000125 -> 0.00013
    assert taker_fee(1, 0.5, 0.0005) == pytest.approx(0.00013, abs=1e-15)
    # 0.0000099 < 0.00001 -> charged as zero
    assert taker_fee(1, 0.01, 0.001) == 0.0
    assert taker_fee(1, 0.5, 0.00004) == pytest.approx(0.00001, abs=1e-15)  # exactly the minimum
    assert fee_per_share(0.37, 0.05) == pytest.approx(0.05 * 0.37 * 0.63, abs=1e-16)  # unrounded
    assert fee_per_share(0.5, 0.03) == pytest.approx(0.0075, abs=1e-16)


def test_fee_vectorized_kinds_agree() -> None:
    shares = np.array([100.0, 10.0, 1.0, 1.0])
    price = np.array([0.5, 0.37, 0.5, 0.01])
    rate = np.array([0.03, 0.05, 0.0005, 0.001])
    expected = [0.75, 0.11655, 0.00013, 0.0]
    np.testing.assert_allclose(taker_fee(shares, price, rate), expected, atol=1e-15)
    s = taker_fee(pl.Series("shares", shares), pl.Series(price), pl.Series(rate))
    assert isinstance(s, pl.Series) and s.name == "shares"
    np.testing.assert_allclose(s.to_numpy(), expected, atol=1e-15)
    df = pl.DataFrame({"s": shares, "p": price, "r": rate}).with_columns(
        fee=taker_fee(pl.col("s"), pl.col("p"), pl.col("r")),
        fps=fee_per_share(pl.col("p"), pl.col("r")),
        reb=maker_rebate(pl.col("s"), pl.col("p"), pl.col("r"), 0.25),
    )
    np.testing.assert_allclose(df["fee"].to_numpy(), expected, atol=1e-15)
    np.testing.assert_allclose(df["fps"].to_numpy(), rate * price * (1 - price), atol=1e-16)
    np.testing.assert_allclose(df["reb"].to_numpy(), 0.25 * shares * rate * price * (1 - price), atol=1e-16)


def test_maker_rebate() -> None:
    assert maker_rebate(100, 0.5, 0.03, 0.25) == pytest.approx(0.1875, abs=1e-15)
    assert maker_rebate(100, 0.4, 0.05, 0.15) == pytest.approx(100 * 0.05 * 0.24 * 0.15, abs=1e-15)


def test_fee_tables_seed_and_lookup() -> None:
    table = load_fee_tables()
    assert (DATA_DIR / "fee_tables.csv").is_file()
    assert table.schema["valid_from"] == pl.Datetime("us", "UTC")
    before = fee_schedule_for("polymarket", "sports", datetime(2026, 3, 29, 23, 59), table)
    assert before is not None and before["fee_type"] == "none" and before["rate"] == 0.0
    v2 = fee_schedule_for("polymarket", "sports", datetime(2026, 3, 30), table)
    assert v2 is not None and (v2["fee_type"], v2["rate"], v2["rebate_rate"]) == (
        "sports_fees_v2",
        0.03,
        0.25,
    )
    v2b = fee_schedule_for("polymarket", "sports", datetime(2026, 7, 9, 23), table)
    assert v2b is not None and v2b["fee_type"] == "sports_fees_v2"
    v3 = fee_schedule_for("polymarket", "sports", datetime(2026, 7, 10), table)
    assert v3 is not None and (v3["fee_type"], v3["rate"], v3["rebate_rate"]) == (
        "sports_fees_v3",
        0.05,
        0.15,
    )
    assert v3["exponent"] == 1.0 and v3["min_trade_size"] == 5.0
    pin = fee_schedule_for("pinnacle", "h2h", datetime(2026, 1, 1), table)  # "*" market type
    assert pin is not None and pin["vig"] == 0.025
    assert fee_schedule_for("nowhere", "sports", datetime(2026, 1, 1), table) is None
    assert fee_schedule_for("polymarket", "sports", datetime(2019, 1, 1), table) is None


def test_cost_models_seed() -> None:
    models = load_cost_models()
    row = cost_model_for("polymarket", "sports", datetime(2026, 5, 1), models)
    assert row is not None and row["model"] == "exp_age_depth" and row["half_life_s"] == 120.0
    other = cost_model_for("polymarket", "crypto", datetime(2026, 5, 1), models)
    assert other is not None and other["market_type"] == "*"


def test_seed_loader_rejects_bad_csv(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "fees.csv"
    bad.write_text("venue,market_type\npolymarket,sports\n")
    with pytest.raises(ValueError, match="missing columns"):
        load_fee_tables(bad)


# ------------------------------------------------------------------ book walks (real captures)


def test_walk_old_book_usdc_buy() -> None:
    book = load_real(OLD_BOOK)
    assert float(book["asks"][0]["price"]) == 0.98  # asks arrive descending: worst first
    r = walk_book(book["bids"], book["asks"], 100.0)
    # 705 shares at 0.14 = 98.70 USDC, then 1.30 USDC at 0.20 = 6.5 shares
    assert r["filled_shares"] == pytest.approx(711.5, abs=1e-9)
    assert r["filled_usdc"] == pytest.approx(100.0, abs=1e-9)
    assert r["vwap"] == pytest.approx(100.0 / 711.5, abs=1e-12)
    assert (r["best_price"], r["worst_price"], r["levels_used"], r["fully_filled"]) == (0.14, 0.2, 2, True)
    assert r["available_shares"] == pytest.approx(6057.3, abs=1e-9)


def test_walk_old_book_deeper_and_ordering_independent() -> None:
    book = load_real(OLD_BOOK)
    r = walk_book(book["bids"], book["asks"], 200.0)
    # 98.7 + 14 + 73.074 + 4.6 = 190.374 USDC, last 9.626 USDC at 0.47
    shares = 705 + 70 + 192.3 + 10 + 9.626 / 0.47
    assert r["filled_shares"] == pytest.approx(shares, abs=1e-9)
    assert (r["worst_price"], r["levels_used"]) == (0.47, 5)
    rev = walk_book(list(reversed(book["bids"])), list(reversed(book["asks"])), 200.0)
    assert rev == r
    sh = walk_book(book["bids"], book["asks"], 1000.0, stake_unit="shares")
    assert sh["filled_usdc"] == pytest.approx(98.7 + 14 + 73.074 + 4.6 + 22.7 * 0.47, abs=1e-9)
    assert sh["vwap"] == pytest.approx(sh["filled_usdc"] / 1000.0, abs=1e-12)
    big = walk_book(book["bids"], book["asks"], 10_000.0)
    assert big["fully_filled"] is False and big["levels_used"] == 7 and big["worst_price"] == 0.98
    assert big["filled_usdc"] == pytest.approx(5128.874, abs=1e-9)


def test_walk_old_book_sell_and_fees() -> None:
    book = load_real(OLD_BOOK)
    r = walk_book(book["bids"], book["asks"], 500.0, side="sell", stake_unit="shares")
    # bids best first: 125 @ 0.10, 294 @ 0.09, 81 of 120 @ 0.08
    assert r["filled_usdc"] == pytest.approx(12.5 + 26.46 + 6.48, abs=1e-9)
    assert r["vwap"] == pytest.approx(45.44 / 500, abs=1e-12)
    assert (r["best_price"], r["worst_price"], r["levels_used"]) == (0.1, 0.08, 3)
    f = walk_book(book["bids"], book["asks"], 100.0, fee_rate=0.03)
    fee = 0.03 * (705 * 0.14 * 0.86 + 6.5 * 0.2 * 0.8)
    assert f["fee_usdc"] == pytest.approx(fee, abs=1e-12)
    assert f["fee_per_share"] == pytest.approx(fee / 711.5, abs=1e-15)


def test_walk_empty_asks_book() -> None:
    book = load_real(EMPTY_ASKS)
    assert book["asks"] == []
    r = walk_book(
        book["bids"], book["asks"], 10.0, tick_size=book["tick_size"], min_order_size=book["min_order_size"]
    )
    assert r["vwap"] is None and r["worst_price"] is None and r["fee_per_share"] is None
    assert (r["filled_shares"], r["levels_used"], r["fully_filled"], r["meets_min_size"]) == (
        0.0,
        0,
        False,
        False,
    )
    s = walk_book(
        book["bids"],
        book["asks"],
        600.0,
        side="sell",
        stake_unit="shares",
        tick_size=book["tick_size"],
        min_order_size=book["min_order_size"],
    )
    assert s["filled_usdc"] == pytest.approx(6.99 * 0.002 + 593.01 * 0.001, abs=1e-12)
    assert (s["worst_price"], s["limit_price"], s["levels_used"], s["fully_filled"]) == (
        0.001,
        0.001,
        2,
        True,
    )
    assert s["min_order_size"] == 5.0 and s["meets_min_size"] is True


def test_tick_and_min_order_size() -> None:
    asks = [{"price": "0.4715", "size": "10"}, {"price": "0.45", "size": "2"}]
    r = walk_book([], asks, 5.0, stake_unit="shares", tick_size=0.01, min_order_size=5)
    assert r["worst_price"] == 0.4715 and r["limit_price"] == 0.48  # moved onto the tick, away from touch
    assert r["meets_min_size"] is True
    small = walk_book([], asks, 0.5, tick_size="0.01", min_order_size="5")  # 0.5 USDC = 1.11 shares
    assert small["filled_shares"] == pytest.approx(0.5 / 0.45) and small["meets_min_size"] is False
    assert small["limit_price"] == 0.45
    zero = walk_book([], asks, 0.0)
    assert zero["fully_filled"] is True and zero["filled_shares"] == 0.0


def _reference_walk(asks: list[tuple[float, float]], stake: float) -> tuple[float, float, int]:
    """Plain per-level loop (USDC stake, buy) used as an oracle."""
    shares = spent = 0.0
    used = 0
    for price, size in sorted(asks):
        if spent >= stake:
            break
        take = min(size * price, stake - spent)
        spent += take
        shares += take / price
        used += take > 1e-12 * max(stake, 1.0)
    return shares, spent, used


def test_walk_books_vectorized_matches_loop_and_real_books() -> None:
    rng = np.random.default_rng(11)
    rows, targets, oracle = [], [], {}
    for b in range(300):
        n = int(rng.integers(0, 12))
        prices = (
            rng.choice(np.arange(1, 100), size=n, replace=False) / 100
        )  # one level per price, as the CLOB
        sizes = np.round(rng.uniform(1, 500, n), 2)
        asks = list(zip(prices.tolist(), sizes.tolist(), strict=True))
        for p, s in asks:
            rows.append((f"t{b}", "ask", p, s))
            rows.append((f"t{b}", "bid", round(p / 2, 3), s))  # bids must be ignored by buys
        stake = float(rng.uniform(1, 400))
        targets.append((f"t{b}", stake))
        oracle[f"t{b}"] = _reference_walk(asks, stake)
    # the two real books in the same call
    for name, tok in ((OLD_BOOK, "old"), (EMPTY_ASKS, "empty")):
        book = load_real(name)
        rows += [(tok, "ask", float(x["price"]), float(x["size"])) for x in book["asks"]]
        rows += [(tok, "bid", float(x["price"]), float(x["size"])) for x in book["bids"]]
        targets.append((tok, 100.0))
    levels = pl.DataFrame(rows, schema=["token_id", "side", "price", "size"], orient="row").sample(
        fraction=1.0, shuffle=True, seed=1
    )
    tg = pl.DataFrame(targets, schema=["token_id", "stake"], orient="row")
    out = walk_books(levels, tg)
    assert out.columns == list(WALK_COLUMNS) and out.height == tg.height
    assert out["token_id"].to_list() == tg["token_id"].to_list()
    for tok, shares, usdc, used in out.select(
        "token_id", "filled_shares", "filled_usdc", "levels_used"
    ).iter_rows():
        if tok in oracle:
            es, eu, ev = oracle[tok]
            assert shares == pytest.approx(es, rel=1e-12, abs=1e-12)
            assert usdc == pytest.approx(eu, rel=1e-12, abs=1e-12)
            assert used == ev
    real = {
        r["token_id"]: r for r in out.filter(pl.col("token_id").is_in(["old", "empty"])).iter_rows(named=True)
    }
    assert real["old"]["filled_shares"] == pytest.approx(711.5) and real["empty"]["vwap"] is None
    # walk_levels lists the levels those walks took: their sums are walk_books' figures
    sums = (
        walk_levels(levels, tg)
        .group_by("target")
        .agg(pl.len().alias("n"), pl.col("shares").sum(), pl.col("usdc").sum(), pl.col("price").max())
    )
    both = out.with_row_index("target").join(sums, on="target", how="left")
    assert both["n"].fill_null(0).to_list() == both["levels_used"].to_list()
    taken = both.filter(pl.col("levels_used") > 0)
    assert taken["shares"].to_list() == pytest.approx(taken["filled_shares"].to_list(), rel=1e-12)
    assert taken["usdc"].to_list() == pytest.approx(taken["filled_usdc"].to_list(), rel=1e-12)
    assert taken["price"].to_list() == taken["worst_price"].to_list()


def test_walk_books_same_token_several_targets_and_errors() -> None:
    levels = pl.DataFrame(
        {
            "token_id": ["a", "a", "a"],
            "side": ["ask", "ask", "bid"],
            "price": [0.5, 0.4, 0.3],
            "size": [10.0, 10.0, 5.0],
            "tick_size": [0.01, 0.01, 0.01],
            "min_order_size": [5.0, 5.0, 5.0],
        }
    )
    tg = pl.DataFrame(
        {
            "token_id": ["a", "a", "a", "zz"],
            "stake": [15.0, 5.0, 3.0, 1.0],
            "side": ["buy", "buy", "sell", "buy"],
        }
    )
    out = walk_books(levels, tg, stake_unit="shares")
    assert out["vwap"].to_list()[:3] == pytest.approx([(4 + 2.5) / 15, 0.4, 0.3])
    assert out["meets_min_size"].to_list() == [True, True, False, False]
    assert out["fully_filled"].to_list() == [True, True, True, False]
    assert out["levels_used"].to_list() == [2, 1, 1, 0]
    # the fills of those walks: best level first, a target taking nothing has none
    fills = walk_levels(levels, tg.with_columns(fee_rate=pl.lit(0.02)), stake_unit="shares")
    assert fills.select("target", "fill_no", "price", "shares").rows() == [
        (0, 1, 0.4, 10.0),
        (0, 2, 0.5, 5.0),
        (1, 1, 0.4, 5.0),
        (2, 1, 0.3, 3.0),
    ]
    assert fills["usdc"].to_list() == pytest.approx([4.0, 2.5, 2.0, 0.9])
    assert fills["fee_usdc"].to_list() == pytest.approx(
        [10 * 0.02 * 0.24, 5 * 0.02 * 0.25, 5 * 0.02 * 0.24, 3 * 0.02 * 0.21]
    )
    with pytest.raises(ValueError, match="stake_unit"):
        walk_books(levels, tg, stake_unit="usd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lacks column 'size'"):
        walk_books(levels.drop("size"), tg)
    with pytest.raises(ValueError, match="buy/sell"):
        walk_books(levels, tg.with_columns(side=pl.lit("long")))


def test_size_at_or_better_and_liquidity_rule() -> None:
    book = load_real(OLD_BOOK)
    levels = pl.DataFrame(
        [("old", "ask", float(x["price"]), float(x["size"])) for x in book["asks"]]
        + [("old", "bid", float(x["price"]), float(x["size"])) for x in book["bids"]],
        schema=["token_id", "side", "price", "size"],
        orient="row",
    )
    asks = size_at_or_better(levels, 0.38)
    assert asks["size_available"][0] == pytest.approx(705 + 70 + 192.3)
    assert asks["notional_available"][0] == pytest.approx(98.7 + 14 + 73.074)
    bids = size_at_or_better(levels, 0.08, side="bid")
    assert bids["size_available"][0] == pytest.approx(120 + 294 + 125)
    per_token = size_at_or_better(
        levels, pl.DataFrame({"token_id": ["old", "other"], "price_limit": [0.13, 0.5]})
    )
    assert per_token["size_available"].to_list() == [0.0, 0.0]
    ok = liquidity_ok(levels, 0.2, 775.0)
    assert ok["liquidity_ok"][0] is True
    assert liquidity_ok(levels, 0.2, 775.1)["liquidity_ok"][0] is False
    assert liquidity_ok(levels, 0.2, 112.7, unit="usdc")["liquidity_ok"][0] is True


def test_size_at_or_better_sums_from_the_best_level_whatever_the_row_order() -> None:
    """Float sums depend on their order ((0.1 + 0.2) + 0.3 != (0.3 + 0.2) + 0.1): the levels are
    added from the best price outwards, so a book gives the same bits however its rows arrive
    (a batch of many snapshots must equal one snapshot at a time)."""
    levels = pl.DataFrame(
        {
            "token_id": ["t"] * 4,
            "side": ["ask"] * 4,
            "price": [0.30, 0.31, 0.32, 0.90],
            "size": [0.1, 0.2, 0.3, 5.0],
        }
    )
    by_level = (0.1 + 0.2) + 0.3
    assert by_level != (0.3 + 0.2) + 0.1  # the orders really differ in the last bit
    for frame in (levels, levels.reverse(), levels.sample(fraction=1.0, shuffle=True, seed=3)):
        got = size_at_or_better(frame, 0.5)
        assert got["size_available"][0] == by_level
        assert got["notional_available"][0] == (0.1 * 0.30 + 0.2 * 0.31) + 0.3 * 0.32


def test_fill_probability() -> None:
    params = {"p_max": 0.95, "half_life_s": 120.0, "depth_scale_shares": 200.0}
    assert fill_probability(200.0, 120.0, params) == pytest.approx(0.95 * 0.5 * (1 - math.exp(-1)), abs=1e-15)
    assert fill_probability(0.0, 0.0, params) == 0.0
    assert fill_probability(1e9, 0.0, params) == pytest.approx(0.95)
    assert fill_probability(1e9, -5.0, params) == pytest.approx(0.95)  # negative age counts as fresh
    arr = fill_probability(np.array([100.0, 400.0]), np.array([0.0, 240.0]), params)
    np.testing.assert_allclose(arr, [0.95 * (1 - math.exp(-0.5)), 0.95 * 0.25 * (1 - math.exp(-2))])
    df = pl.DataFrame({"d": [100.0, 400.0], "a": [0.0, 240.0]}).with_columns(
        p=fill_probability(pl.col("d"), pl.col("a"), params)
    )
    np.testing.assert_allclose(df["p"].to_numpy(), arr, atol=1e-15)
    row = cost_model_for("polymarket", "sports", datetime(2026, 5, 1), load_cost_models())
    assert row is not None and fill_probability(200.0, 120.0, row) == pytest.approx(0.3002572655, abs=1e-9)
    with pytest.raises(ValueError, match="must be > 0"):
        fill_probability(1.0, 1.0, {"p_max": 1, "half_life_s": 0, "depth_scale_shares": 1})
