"""Benchmark the pricing core on 1,000,000 two-way markets.

Run: .venv/bin/python bench/pricing.py [--markets N] [--loop-sample N]

For each de-vig method (and EV after costs) it prints vectorized rows per second and the
speed-up over a plain per-row Python loop computing the same thing in the same run. The
loop is timed on a subsample (default 20,000 markets) and extrapolated linearly to the
full size. Like the vectorized call, the loop starts from the numpy input and ends with a
numpy array (``tolist()`` in, ``np.array`` out, both timed). It uses the same algorithms
(math module, no numpy per element; Shin = additive for two outcomes, the same fixed power
steps and check), so the ratio measures vectorization, not a better algorithm. Each loop
result is checked against the vectorized one (1e-12). Both sides report the best of
``--repeat`` runs.
"""

import argparse
import math
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import polars as pl

from edge_assets.pricing.costs import fee_per_share
from edge_assets.pricing.devig import BASE_METHODS, devig, devig_frame
from edge_assets.pricing.ev import beats_book, effective_price, ev_per_dollar, kelly_fraction

FEE_RATE = 0.03


# ---------------------------------------------------------------- per-row Python reference loops


def _loop_mult(a: float, b: float) -> tuple[float, float]:
    s = a + b
    return a / s, b / s


def _loop_add(a: float, b: float) -> tuple[float, float]:
    d = (a + b - 1.0) / 2.0
    return a - d, b - d


def _loop_power(a: float, b: float) -> tuple[float, float]:
    """The vectorized algorithm per row: free Halley step on g(k) = a^k + b^k - 1 from k = 1, two
    Halley steps on F(k) = k lb - log(1 - exp(k la)), one evaluation with a first-order Newton
    correction, check; a row that fails it iterates further (as the vectorized retry does)."""
    la, lb = math.log(a), math.log(b)
    if la < lb:
        la, lb = lb, la
    ua, ub = a * la, b * lb
    g, g1, g2 = a + b - 1.0, ua + ub, ua * la + ub * lb
    k = 1.0 - 2.0 * g * g1 / (2.0 * g1 * g1 - g * g2)
    for i in range(22):
        if i >= 2:  # the convergence check after the fixed steps
            pa, pb = math.exp(k * la), math.exp(k * lb)
            g = pa + pb - 1.0
            dk = g / (pa * la + pb * lb)
            pa, pb, k = pa - dk * pa * la, pb - dk * pb * lb, k - dk
            if abs(g) <= 1e-10 and abs(pa + pb - 1.0) <= 1e-14:
                break
        one_m_e = -math.expm1(k * la)
        f = k * lb - math.log(one_m_e)
        r = la * (1.0 - one_m_e) / one_m_e
        f1, f2 = r + lb, r * r + r * la
        k -= 2.0 * f * f1 / (2.0 * f1 * f1 - f * f2)
    return (pa, pb) if math.log(a) >= math.log(b) else (pb, pa)


def _loop_shin(a: float, b: float) -> tuple[float, float]:
    """Two outcomes: Shin's z has a closed form and the probabilities reduce to additive's
    (the vectorized kernel uses the same identity); no margin: multiplicative."""
    s = a + b
    if s <= 1.0:
        return a / s, b / s
    d = (s - 1.0) / 2.0
    return a - d, b - d


def _loop_worst(a: float, b: float) -> tuple[float, float]:
    (m0, m1), (a0, a1), (p0, p1), (s0, s1) = (
        f(a, b) for f in (_loop_mult, _loop_add, _loop_power, _loop_shin)
    )
    return min(m0, a0, p0, s0), min(m1, a1, p1, s1)


LOOPS: dict[str, Callable[[float, float], tuple[float, float]]] = {
    "multiplicative": _loop_mult,
    "additive": _loop_add,
    "power": _loop_power,
    "shin": _loop_shin,
    "worst_case": _loop_worst,
}


def _loop_ev(fair: float, ask: float, book_dec: float) -> tuple[float, float, bool]:
    eff = ask + FEE_RATE * ask * (1.0 - ask)
    ev = fair / eff - 1.0
    k = max((fair - eff) / (1.0 - eff), 0.0) * 0.25
    return ev, min(k, 0.05), 1.0 / eff > book_dec


# ---------------------------------------------------------------- benchmark


def _per_row(f: Callable[[float, float], tuple[float, float]], pairs: np.ndarray) -> np.ndarray:
    """The per-row Python baseline the vectorized form is measured against."""
    return np.array([f(a, b) for a, b in pairs.tolist()])


def _best_of(fn: Callable[[], object], repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", type=int, default=1_000_000)
    ap.add_argument("--loop-sample", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n, n_loop = args.markets, min(args.loop_sample, args.markets)

    rng = np.random.default_rng(2026)
    fair_true = rng.uniform(0.05, 0.95, n)
    margin = rng.uniform(0.01, 0.08, n)
    implied = np.column_stack([fair_true, 1.0 - fair_true]) * (1.0 + margin)[:, None]
    implied = np.clip(implied, 1e-4, 0.9999)
    ask = np.clip(fair_true + rng.normal(0.0, 0.03, n), 0.01, 0.99).round(2)
    book_dec = 1.0 / implied[:, 0]
    sample_arr = implied[:n_loop]

    print(f"pricing bench: {n:,} two-way markets; loop on {n_loop:,}, extrapolated x{n / n_loop:,.0f}")
    print(f"{'step':<34}{'vectorized s':>13}{'rows/s':>15}{'loop s (extrap.)':>18}{'speed-up':>10}")

    def report(name: str, vec_s: float, loop_s_sample: float) -> None:
        loop_s = loop_s_sample * n / n_loop
        print(f"{name:<34}{vec_s:>13.3f}{n / vec_s:>15,.0f}{loop_s:>18.2f}{loop_s / vec_s:>9.0f}x")

    fair_mult = devig(implied, "multiplicative")
    for method in (*BASE_METHODS, "worst_case"):
        vec = _best_of(partial(devig, implied, method), args.repeat)
        f = LOOPS[method]
        loop = _best_of(partial(_per_row, f, sample_arr), args.repeat)
        twin = _per_row(f, sample_arr)
        gap = float(np.abs(twin - devig(sample_arr, method)).max())
        if gap > 1e-12:
            raise SystemExit(f"loop and vectorized {method} differ by {gap:.2e} on the sample")
        report(f"devig {method}", vec, loop)

    def ev_vec() -> None:
        eff = effective_price(ask, fee_per_share(ask, FEE_RATE))
        ev_per_dollar(fair_mult[:, 0], eff)
        kelly_fraction(fair_mult[:, 0], eff, fraction=0.25, cap=0.05)
        beats_book(eff, book_dec)

    def ev_loop() -> None:
        cols = (fair_mult[:n_loop, 0].tolist(), ask[:n_loop].tolist(), book_dec[:n_loop].tolist())
        np.array([_loop_ev(*r) for r in zip(*cols, strict=True)])

    report("EV + Kelly + beats_book", _best_of(ev_vec, args.repeat), _best_of(ev_loop, args.repeat))

    def mult_path() -> None:
        fair = devig(implied, "multiplicative")
        eff = effective_price(ask, fee_per_share(ask, FEE_RATE))
        ev_per_dollar(fair[:, 0], eff)

    def mult_loop() -> None:
        out = []
        for (a, b), p, d in zip(
            sample_arr.tolist(), ask[:n_loop].tolist(), book_dec[:n_loop].tolist(), strict=True
        ):
            fa, _ = _loop_mult(a, b)
            out.append(_loop_ev(fa, p, d))
        np.array(out)

    report(
        "multiplicative path (devig + EV)", _best_of(mult_path, args.repeat), _best_of(mult_loop, args.repeat)
    )

    long = pl.DataFrame(
        {
            "market": np.repeat(np.arange(n, dtype=np.int64), 2),
            "price_decimal": (1.0 / implied).ravel(),
        }
    )
    frame_s = _best_of(lambda: devig_frame(long, ["market"], method="multiplicative"), args.repeat)
    name = "devig_frame long format (2 rows/mkt)"
    print(f"{name:<34}{frame_s:>13.3f}{n / frame_s:>15,.0f}   (polars group + sort, no loop twin)")


if __name__ == "__main__":
    main()
