"""EV per dollar, Kelly sizing, Polymarket-vs-book comparison, break-even price."""

import numpy as np
import polars as pl
import pytest

from edge_assets.pricing.costs import fee_per_share
from edge_assets.pricing.ev import (
    beats_book,
    break_even_price,
    effective_price,
    ev_per_dollar,
    kelly_fraction,
    pm_decimal_odds,
)


def test_hand_values() -> None:
    eff = effective_price(0.5, fee_per_share(0.5, 0.03))
    assert eff == pytest.approx(0.5075, abs=1e-15)
    assert ev_per_dollar(0.55, 0.5) == pytest.approx(0.1, abs=1e-15)
    assert ev_per_dollar(0.55, eff) == pytest.approx(0.55 / 0.5075 - 1, abs=1e-15)
    assert ev_per_dollar(0.4, 0.5) == pytest.approx(-0.2, abs=1e-15)
    assert pm_decimal_odds(0.5) == 2.0
    assert pm_decimal_odds(0.4) == pytest.approx(2.5)


def test_kelly() -> None:
    assert kelly_fraction(0.55, 0.5) == pytest.approx(0.1, abs=1e-15)  # (0.55-0.5)/(1-0.5)
    assert kelly_fraction(0.6, 0.4) == pytest.approx(0.2 / 0.6, abs=1e-15)
    assert kelly_fraction(0.55, 0.5, fraction=0.25) == pytest.approx(0.025, abs=1e-15)
    assert kelly_fraction(0.55, 0.5, fraction=0.5, cap=0.02) == 0.02
    assert kelly_fraction(0.45, 0.5) == 0.0  # negative edge: no bet
    # equals the textbook (b q - (1-q)) / b with b = (1-e)/e
    q, e = 0.62, 0.55
    b = (1 - e) / e
    assert kelly_fraction(q, e) == pytest.approx((b * q - (1 - q)) / b, abs=1e-15)
    arr = kelly_fraction(np.array([0.55, 0.45, 0.9]), np.array([0.5, 0.5, 0.5]), cap=0.5)
    np.testing.assert_allclose(arr, [0.1, 0.0, 0.5])
    df = pl.DataFrame({"q": [0.55, 0.45], "e": [0.5, 0.5]}).with_columns(
        k=kelly_fraction(pl.col("q"), pl.col("e"), fraction=0.5, cap=0.04),
        ev=ev_per_dollar(pl.col("q"), pl.col("e")),
    )
    assert df["k"].to_list() == pytest.approx([0.04, 0.0])
    assert df["ev"].to_list() == pytest.approx([0.1, -0.1])
    s = kelly_fraction(pl.Series([0.55]), pl.Series([0.5]))
    assert isinstance(s, pl.Series) and s.to_list() == pytest.approx([0.1])
    with pytest.raises(ValueError, match=">= 0"):
        kelly_fraction(0.5, 0.4, fraction=-1)


def test_beats_book_strict() -> None:
    assert beats_book(0.5, 1.95) is True or bool(beats_book(0.5, 1.95))
    assert not beats_book(0.5, 2.0)  # equal price does not beat
    assert not beats_book(0.52, 1.95)
    np.testing.assert_array_equal(beats_book(np.array([0.5, 0.5]), np.array([1.9, 2.1])), [True, False])
    df = pl.DataFrame({"e": [0.5, 0.5], "d": [1.9, 2.1]}).with_columns(b=beats_book(pl.col("e"), pl.col("d")))
    assert df["b"].to_list() == [True, False]


def test_break_even_price() -> None:
    q, r = 0.55, 0.03
    p = break_even_price(q, r)
    # textbook root; it loses ~1e-15 to cancellation, the library uses the stable form
    assert p == pytest.approx(((1 + r) - np.sqrt((1 + r) ** 2 - 4 * r * q)) / (2 * r), abs=1e-13)
    assert p + fee_per_share(p, r) == pytest.approx(q, abs=1e-15)
    assert break_even_price(0.55, 0.0) == 0.55
    arr = break_even_price(np.array([0.3, 0.7]), np.array([0.05, 0.0]))
    assert arr[0] + fee_per_share(arr[0], 0.05) == pytest.approx(0.3, abs=1e-15) and arr[1] == 0.7
    p2 = break_even_price(0.5, 0.25, exponent=2.0)
    assert p2 + fee_per_share(p2, 0.25, 2.0) == pytest.approx(0.5, abs=1e-12)
    df = pl.DataFrame({"q": [0.55, 0.4], "r": [0.03, 0.0]}).with_columns(
        be=break_even_price(pl.col("q"), pl.col("r"))
    )
    assert df["be"].to_list() == pytest.approx([p, 0.4], abs=1e-15)
