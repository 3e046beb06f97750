"""Expected value and sizing of buying a Polymarket outcome share (pays 1 if it wins).

A share bought at effective price ``e`` (walked VWAP plus taker fee per share) is a bet at
decimal odds ``1/e``. With fair win probability ``q``:

- EV per dollar staked: ``q / e - 1``.
- Kelly fraction of bankroll: ``(q - e) / (1 - e)`` (the usual ``(b q - (1 - q)) / b`` with
  net odds ``b = (1 - e) / e``), floored at 0 (never bet a negative edge), times
  ``fraction`` (e.g. 0.25 for quarter Kelly), then capped.

All functions are plain arithmetic and accept scalars, numpy arrays, polars Series or
polars expressions (``pl.col(...)``), so they run inside ``with_columns`` on millions of rows.
"""

from typing import Any

import numpy as np
import polars as pl

Num = Any  # float | np.ndarray | pl.Series | pl.Expr

__all__ = [
    "beats_book",
    "break_even_price",
    "effective_price",
    "ev_per_dollar",
    "kelly_fraction",
    "pm_decimal_odds",
]


def _is_polars(*xs: Num) -> bool:
    return any(isinstance(x, pl.Expr | pl.Series) for x in xs)


def effective_price(vwap: Num, fee_per_share: Num) -> Num:
    """All-in cost of one share: VWAP of the book walk plus the taker fee per share."""
    return vwap + fee_per_share


def ev_per_dollar(fair_prob: Num, effective_price: Num) -> Num:
    """Expected profit per dollar spent buying at ``effective_price``: ``fair / effective - 1``."""
    return fair_prob / effective_price - 1.0


def pm_decimal_odds(effective_price: Num) -> Num:
    """The Polymarket buy expressed as sportsbook decimal odds: ``1 / effective_price``."""
    return 1.0 / effective_price


def beats_book(pm_effective_price: Num, best_book_decimal: Num) -> Num:
    """True where buying on Polymarket pays strictly more than the best sportsbook price."""
    return pm_decimal_odds(pm_effective_price) > best_book_decimal


def kelly_fraction(
    fair_prob: Num,
    effective_price: Num,
    *,
    fraction: float = 1.0,
    cap: float | None = None,
) -> Num:
    """Kelly stake as a fraction of bankroll for a binary share at ``effective_price``.

    ``fraction`` scales full Kelly (0.25 = quarter Kelly); ``cap`` bounds the result
    (e.g. 0.05). A non-positive edge gives 0.
    """
    if fraction < 0.0:
        raise ValueError(f"kelly fraction must be >= 0, got {fraction}")
    raw = (fair_prob - effective_price) / (1.0 - effective_price)
    if _is_polars(fair_prob, effective_price):
        out_p = raw.clip(0.0, None) * fraction
        return out_p.clip(None, cap) if cap is not None else out_p
    out_n = np.clip(raw, 0.0, None) * fraction
    if cap is not None:
        out_n = np.minimum(out_n, cap)
    return float(out_n) if np.ndim(out_n) == 0 else out_n


def break_even_price(fair_prob: Num, rate: Num = 0.0, exponent: float = 1.0) -> Num:
    """Highest share price ``p`` whose all-in cost ``p + rate (p (1 - p))**exponent`` is still
    <= ``fair_prob`` (EV >= 0). Exponent 1 has the closed form
    ``2 q / ((1 + r) + sqrt((1 + r)^2 - 4 r q))``; other exponents are solved by bisection.
    Used to ask how much size sits at or better than fair value.
    """
    if exponent == 1.0:
        # smaller root of r p^2 - (1 + r) p + q = 0 in the cancellation-free form; r = 0 gives q
        if _is_polars(fair_prob, rate):
            r = rate if isinstance(rate, pl.Expr | pl.Series) else pl.lit(rate)
            q = fair_prob if isinstance(fair_prob, pl.Expr | pl.Series) else pl.lit(fair_prob)
            root = 2.0 * q / ((1.0 + r) + ((1.0 + r) ** 2 - 4.0 * r * q).sqrt())
            return root if isinstance(root, pl.Expr) else pl.select(root).to_series()
        q_a = np.asarray(fair_prob, dtype=np.float64)
        r_a = np.asarray(rate, dtype=np.float64)
        out = 2.0 * q_a / ((1.0 + r_a) + np.sqrt((1.0 + r_a) ** 2 - 4.0 * r_a * q_a))
        return float(out) if out.ndim == 0 else out
    if _is_polars(fair_prob, rate):
        raise TypeError("break_even_price with exponent != 1 takes numpy/scalars only")
    q_a = np.asarray(fair_prob, dtype=np.float64)
    r_a = np.asarray(rate, dtype=np.float64)
    lo = np.zeros(np.broadcast(q_a, r_a).shape)
    hi = np.broadcast_to(q_a, lo.shape).copy()
    for _ in range(60):  # cost(p) is increasing on [0, q]; 60 halvings reach ~1e-18
        mid = 0.5 * (lo + hi)
        cost = mid + r_a * np.power(mid * (1.0 - mid), exponent)
        ok = cost <= q_a
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    return float(lo) if lo.ndim == 0 else lo
