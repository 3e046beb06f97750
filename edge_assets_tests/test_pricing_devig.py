"""De-vig: exact hand values, invariants, randomized agreement with penaltyblog, devig_frame."""

import importlib
import inspect

import numpy as np
import polars as pl
import pytest

from edge_assets.pricing.devig import (
    BASE_METHODS,
    METHODS,
    devig,
    devig_all,
    devig_frame,
    overround,
    power_k,
    shin_z,
)

TWO = np.array([[0.55, 0.50]])  # booksum 1.05
THREE = np.array([[0.50, 0.30, 0.25]])  # booksum 1.05

# Power and Shin references solved with mpmath at 40 digits (root of sum(p) = 1).
EXPECTED_TWO = {
    "multiplicative": [0.55 / 1.05, 0.50 / 1.05],
    "additive": [0.525, 0.475],
    "power": [0.52561273091273944, 0.47438726908726056],
    "shin": [0.525, 0.475],  # two outcomes: Shin coincides with additive
}
EXPECTED_THREE = {
    "multiplicative": [0.50 / 1.05, 0.30 / 1.05, 0.25 / 1.05],
    "additive": [0.50 - 0.05 / 3, 0.30 - 0.05 / 3, 0.25 - 0.05 / 3],
    "power": [0.48340413985392921, 0.28291629771815364, 0.23367956242791715],
    "shin": [0.48149531117980216, 0.28393365459255959, 0.23457103422763824],
}


@pytest.mark.parametrize("method", BASE_METHODS)
def test_two_way_hand_values(method: str) -> None:
    np.testing.assert_allclose(devig(TWO, method)[0], EXPECTED_TWO[method], rtol=0, atol=1e-14)


@pytest.mark.parametrize("method", BASE_METHODS)
def test_three_way_hand_values(method: str) -> None:
    np.testing.assert_allclose(devig(THREE, method)[0], EXPECTED_THREE[method], rtol=0, atol=1e-14)


def test_worst_case_hand_values() -> None:
    # outcome-wise minimum over the four methods
    np.testing.assert_allclose(devig(TWO, "worst_case")[0], [0.55 / 1.05, 0.47438726908726056], atol=1e-14)
    np.testing.assert_allclose(
        devig(THREE, "worst_case")[0], [0.50 / 1.05, 0.28291629771815364, 0.25 - 0.05 / 3], atol=1e-14
    )


def test_parameters_hand_values() -> None:
    assert shin_z(TWO)[0] == pytest.approx(0.050005967299200382, abs=1e-15)
    assert shin_z(THREE)[0] == pytest.approx(0.025064344110992453, abs=1e-14)
    assert power_k(TWO)[0] == pytest.approx(1.075862801426557, abs=1e-13)
    assert power_k(THREE)[0] == pytest.approx(1.0486982665477077, abs=1e-13)
    np.testing.assert_allclose(overround(np.vstack([TWO[:, :2].repeat(1, 0)])), [0.05], atol=1e-15)
    assert overround(THREE)[0] == pytest.approx(0.05, abs=1e-15)
    # -110 / -110: the textbook 4.76% margin
    p = 110 / 210
    assert overround(np.array([[p, p]]))[0] == pytest.approx(2 * p - 1, abs=1e-15)
    np.testing.assert_allclose(devig(np.array([[p, p]]), "shin")[0], [0.5, 0.5], atol=1e-15)


def test_no_margin_market_is_unchanged() -> None:
    fair = np.array([[0.6, 0.4], [0.25, 0.75]])
    for method in METHODS:
        np.testing.assert_allclose(devig(fair, method), fair, atol=1e-13)
    np.testing.assert_array_equal(shin_z(fair), [0.0, 0.0])


def _random_markets(rng: np.random.Generator, n_markets: int, n_out: int, margin: tuple[float, float]):
    fair = rng.dirichlet(np.full(n_out, 1.5), size=n_markets)
    fair = np.clip(fair, 0.01, None)
    fair /= fair.sum(axis=1, keepdims=True)
    m = rng.uniform(*margin, size=(n_markets, 1))
    return np.clip(fair * (1 + m), 1e-3, 0.995)


@pytest.mark.parametrize("n_out", [2, 3, 4])
def test_invariants_randomized(n_out: int) -> None:
    rng = np.random.default_rng(100 + n_out)
    imp = _random_markets(rng, 20_000, n_out, (0.0005, 0.25))
    res = devig_all(imp)
    for method in BASE_METHODS:
        np.testing.assert_allclose(res[method].sum(axis=1), 1.0, rtol=0, atol=1e-12)
    z = shin_z(imp)
    assert np.all(z >= 0.0) and np.all(z < 1.0)
    assert np.all(power_k(imp) > 1.0)
    for method in BASE_METHODS:
        assert np.all(res["worst_case"] <= res[method])
    # multiplicative, power and shin keep probabilities in (0, 1)
    for method in ("multiplicative", "power", "shin"):
        assert np.all((res[method] > 0) & (res[method] < 1))
    np.testing.assert_array_equal(devig(imp, "worst_case"), res["worst_case"])


def test_underround_markets() -> None:
    rng = np.random.default_rng(5)
    imp = _random_markets(rng, 2000, 3, (-0.04, -0.001))
    for method in BASE_METHODS:
        np.testing.assert_allclose(devig(imp, method).sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(shin_z(imp), 0.0)
    np.testing.assert_allclose(devig(imp, "shin"), devig(imp, "multiplicative"), atol=1e-15)
    assert np.all(power_k(imp) < 1.0)


def test_bad_rows_are_nan_and_errors() -> None:
    imp = np.array([[0.55, 0.5], [np.nan, 0.5], [1.2, 0.3], [0.0, 0.9]])
    for method in METHODS:
        out = devig(imp, method)
        np.testing.assert_allclose(out[0], devig(imp[:1], method)[0])
        assert np.isnan(out[1:]).all()
    with pytest.raises(ValueError, match="unknown de-vig method"):
        devig(TWO, "bogus")
    with pytest.raises(ValueError, match="n_outcomes>=2"):
        devig(np.array([[0.5]]), "multiplicative")
    # 1-D input is one market
    np.testing.assert_allclose(devig(np.array([0.55, 0.5]), "additive"), [EXPECTED_TWO["additive"]])


@pytest.mark.parametrize("n_out", [2, 3])
def test_agrees_with_penaltyblog(n_out: int) -> None:
    """Independent implementation: penaltyblog.implied (scipy root finders), to 1e-9."""
    pb = pytest.importorskip("penaltyblog.implied", reason="penaltyblog (optional `ref` extra) not installed")
    rng = np.random.default_rng(42 + n_out)
    imp = _random_markets(rng, 250, n_out, (0.001, 0.2))
    ours = devig_all(imp)
    for i in range(imp.shape[0]):
        odds = list(1.0 / imp[i])
        for method in BASE_METHODS:
            ref = pb.calculate_implied(odds, method=method)
            np.testing.assert_allclose(ours[method][i], ref.probabilities, rtol=0, atol=1e-9)
            assert overround(imp[i])[0] == pytest.approx(ref.margin, abs=1e-12)
            if method == "shin":
                assert shin_z(imp[i])[0] == pytest.approx(ref.method_params["z"], abs=1e-9)
            if method == "power":
                assert power_k(imp[i])[0] == pytest.approx(ref.method_params["k"], abs=1e-9)


def test_convergence_tight_at_scale() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0.02, 0.98, 200_000)
    imp = np.column_stack([p, 1 - p]) * rng.uniform(1.0001, 1.2, (200_000, 1))
    imp = np.clip(imp, 1e-4, 0.9999)
    for method in ("power", "shin"):
        assert np.abs(devig(imp, method).sum(axis=1) - 1).max() <= 1e-12


def _frame() -> pl.DataFrame:
    # Shuffled rows: a 2-way, a 3-way, a 1-outcome group and a group with an impossible price.
    return pl.DataFrame(
        {
            "event_id": ["e1", "s1", "e1", "s1", "x1", "s1", "b1", "b1"],
            "bookmaker": ["pin", "pin", "pin", "pin", "pin", "pin", "pin", "pin"],
            "point": [None, None, None, None, None, None, 2.5, 2.5],
            "outcome_name": ["A", "Home", "B", "Draw", "Solo", "Away", "Over", "Under"],
            "price_decimal": [1 / 0.55, 1 / 0.5, 1 / 0.5, 1 / 0.3, 1.9, 1 / 0.25, 0.95, 1.9],
        }
    )


@pytest.mark.parametrize("method", BASE_METHODS)
def test_devig_frame_mixed_outcome_counts(method: str) -> None:
    df = _frame()
    out = devig_frame(df, ["event_id", "bookmaker", "point"], method=method)
    assert out.columns == [*df.columns, "fair_prob", "overround"]
    assert out["outcome_name"].to_list() == df["outcome_name"].to_list()  # order kept
    fair = dict(zip(out["outcome_name"], out["fair_prob"], strict=True))
    assert fair["A"] == pytest.approx(EXPECTED_TWO[method][0], abs=1e-12)
    assert fair["B"] == pytest.approx(EXPECTED_TWO[method][1], abs=1e-12)
    for name, exp in zip(["Home", "Draw", "Away"], EXPECTED_THREE[method], strict=True):
        assert fair[name] == pytest.approx(exp, abs=1e-12)
    assert fair["Solo"] is None and fair["Over"] is None and fair["Under"] is None
    ov = dict(zip(out["outcome_name"], out["overround"], strict=True))
    assert ov["A"] == pytest.approx(0.05, abs=1e-12) and ov["Draw"] == pytest.approx(0.05, abs=1e-12)
    assert ov["Solo"] is None and ov["Over"] is None


def test_devig_frame_custom_columns_and_empty() -> None:
    df = _frame().rename({"price_decimal": "px"})
    out = devig_frame(
        df, ["event_id", "bookmaker", "point"], price_col="px", method="worst_case", out_col="wc"
    )
    assert out.filter(pl.col("outcome_name") == "B")["wc"][0] == pytest.approx(0.47438726908726056, abs=1e-12)
    empty = devig_frame(df.clear(), ["event_id"], price_col="px")
    assert empty.height == 0 and {"fair_prob", "overround"} <= set(empty.columns)
    with pytest.raises(ValueError, match="missing columns"):
        devig_frame(df, ["nope"], price_col="px")


def test_devig_frame_matches_matrix_at_scale() -> None:
    rng = np.random.default_rng(3)
    imp2 = _random_markets(rng, 3000, 2, (0.01, 0.1))
    imp3 = _random_markets(rng, 2000, 3, (0.01, 0.1))
    rows = [(f"m2_{i}", j, 1 / imp2[i, j]) for i in range(3000) for j in range(2)]
    rows += [(f"m3_{i}", j, 1 / imp3[i, j]) for i in range(2000) for j in range(3)]
    df = pl.DataFrame(rows, schema=["market", "k", "price_decimal"], orient="row").sample(
        fraction=1.0, shuffle=True, seed=9
    )
    out = devig_frame(df, ["market"], method="shin").sort(["market", "k"])
    fair2, fair3 = devig(imp2, "shin"), devig(imp3, "shin")
    exp = {f"m2_{i}": fair2[i] for i in range(3000)} | {f"m3_{i}": fair3[i] for i in range(2000)}
    got = out.group_by("market", maintain_order=True).agg(pl.col("fair_prob"))
    for market, probs in got.iter_rows():
        np.testing.assert_allclose(probs, exp[market], atol=1e-15)


def test_no_dagster_in_pricing() -> None:
    for mod in ("odds", "devig", "consensus", "costs", "ev", "seeds"):
        src = inspect.getsource(importlib.import_module(f"edge_assets.pricing.{mod}"))
        assert "import dagster" not in src and "from dagster" not in src, mod


def test_power_two_way_retry_and_fallback_rows() -> None:
    """Wide margins and prices near 0/1 leave rows unconverged after the fixed two-outcome steps;
    they are re-iterated on their own and must match the safeguarded Halley loop on g(k)."""
    devig_mod = importlib.import_module("edge_assets.pricing.devig")
    rng = np.random.default_rng(11)
    p = rng.uniform(0.001, 0.999, 50_000)
    imp = np.clip(np.column_stack([p, 1 - p]) * rng.uniform(0.7, 1.6, (50_000, 1)), 1e-6, 1 - 1e-6)
    cols = [np.ascontiguousarray(imp[:, j]) for j in range(2)]
    _, _, ok = devig_mod._power2_block(cols)
    assert (~ok).sum() > 100  # the retry path is exercised
    ref = devig_mod._power_k_safeguarded([np.log(c) for c in cols], np.ones(imp.shape[0]))
    # k is ill-conditioned where one price is ~1e-6 (sum(p) barely moves with k): compare loosely,
    # and the probabilities tightly
    np.testing.assert_allclose(power_k(imp), ref, rtol=1e-8)
    fair = devig(imp, "power")
    np.testing.assert_allclose(fair, np.exp(ref[:, None] * np.log(imp)), rtol=0, atol=1e-12)
    assert np.abs(fair.sum(axis=1) - 1).max() <= 1e-12
