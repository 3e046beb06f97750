"""Odds conversions: exact boundaries, round trips, invalid handling on every input kind."""

import math

import numpy as np
import polars as pl
import pytest

from edge_assets.pricing.odds import (
    InvalidOddsError,
    american_to_decimal,
    american_to_prob,
    decimal_to_american,
    decimal_to_prob,
    prob_to_american,
    prob_to_decimal,
)


def test_even_money_boundaries_are_exact() -> None:
    assert american_to_decimal(100) == 2.0
    assert american_to_decimal(-100) == 2.0
    assert american_to_prob(100) == 0.5
    assert american_to_prob(-100) == 0.5
    assert decimal_to_american(2.0) == 100.0
    assert decimal_to_prob(2.0) == 0.5
    assert prob_to_decimal(0.5) == 2.0
    assert prob_to_american(0.5) == 100.0


@pytest.mark.parametrize(
    ("american", "decimal", "prob"),
    [
        (150, 2.5, 0.4),
        (-150, 1 + 100 / 150, 0.6),
        (-110, 1 + 100 / 110, 110 / 210),
        (250, 3.5, 100 / 350),
        (-400, 1.25, 0.8),
        (100, 2.0, 0.5),
    ],
)
def test_hand_values(american: float, decimal: float, prob: float) -> None:
    assert american_to_decimal(american) == pytest.approx(decimal, abs=1e-15)
    assert decimal_to_american(decimal) == pytest.approx(american, abs=1e-9)
    assert american_to_prob(american) == pytest.approx(prob, abs=1e-15)
    assert decimal_to_prob(decimal) == pytest.approx(prob, abs=1e-15)
    assert prob_to_decimal(prob) == pytest.approx(decimal, abs=1e-12)
    assert prob_to_american(prob) == pytest.approx(american, abs=1e-9)


def test_types_are_preserved() -> None:
    assert isinstance(american_to_decimal(150), float)
    arr = american_to_decimal(np.array([150.0, -200.0]))
    assert isinstance(arr, np.ndarray)
    np.testing.assert_array_equal(arr, [2.5, 1.5])
    np.testing.assert_array_equal(american_to_decimal([150, -200]), [2.5, 1.5])
    s = american_to_decimal(pl.Series("us", [150, -200]))
    assert isinstance(s, pl.Series) and s.name == "us" and s.dtype == pl.Float64
    assert s.to_list() == [2.5, 1.5]
    df = pl.DataFrame({"a": [150, -200]}).with_columns(d=american_to_decimal(pl.col("a")))
    assert df["d"].to_list() == [2.5, 1.5]


def test_round_trip_random() -> None:
    rng = np.random.default_rng(7)
    dec = rng.uniform(1.001, 50.0, 10_000)
    np.testing.assert_allclose(american_to_decimal(decimal_to_american(dec)), dec, rtol=0, atol=1e-12)
    np.testing.assert_allclose(prob_to_decimal(decimal_to_prob(dec)), dec, rtol=1e-14)
    am = np.concatenate([rng.uniform(100, 5000, 5000), -rng.uniform(100, 5000, 5000)])
    np.testing.assert_allclose(decimal_to_american(american_to_decimal(am)), am, rtol=1e-12)
    np.testing.assert_allclose(american_to_prob(am), 1 / american_to_decimal(am), rtol=1e-14)


@pytest.mark.parametrize(
    ("fn", "bad"),
    [
        (american_to_decimal, 50),
        (american_to_decimal, -99.5),
        (american_to_decimal, 0),
        (american_to_prob, 99.99),
        (decimal_to_prob, 1.0),
        (decimal_to_prob, 0.5),
        (decimal_to_american, -3.0),
        (prob_to_decimal, 0.0),
        (prob_to_decimal, 1.0),
        (prob_to_american, 1.2),
        (decimal_to_prob, math.nan),
        (american_to_decimal, math.inf),
    ],
)
def test_impossible_odds_raise_or_null(fn, bad: float) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidOddsError, match="impossible"):
        fn(bad)
    assert fn(bad, invalid="null") is None
    assert isinstance(InvalidOddsError("x"), ValueError)


def test_invalid_in_vectors() -> None:
    with pytest.raises(InvalidOddsError, match=r"50\.0 at position 1 \(2 invalid"):
        american_to_decimal(np.array([150.0, 50.0, np.nan]))
    out = american_to_decimal(np.array([150.0, 50.0, np.nan]), invalid="null")
    assert out[0] == 2.5 and np.isnan(out[1]) and np.isnan(out[2])
    s = decimal_to_prob(pl.Series([2.0, 0.9, None, 4.0]), invalid="null")
    assert s.to_list() == [0.5, None, None, 0.25]
    # polars nulls are missing values, not impossible odds: no error in raise mode
    assert decimal_to_prob(pl.Series([2.0, None])).to_list() == [0.5, None]
    with pytest.raises(InvalidOddsError):
        decimal_to_prob(pl.Series([2.0, 1.0]))
    with pytest.raises(ValueError, match="invalid must be"):
        decimal_to_prob(2.0, invalid="ignore")  # type: ignore[arg-type]
