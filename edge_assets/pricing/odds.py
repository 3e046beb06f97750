"""Odds conversions: American, decimal and implied probability.

Every function accepts a Python scalar, a sequence, a numpy array, a polars Series or a
polars expression and returns the same kind (scalar -> float, list/array -> float64
array, Series -> Float64 Series, Expr -> Expr), so the same code prices one quote or a
column of millions.

Invalid input ("impossible odds"): decimal <= 1, American strictly between -100 and +100,
a probability outside (0, 1), NaN or +-inf. With ``invalid="raise"`` (default) such a value
raises :class:`InvalidOddsError` naming the first offender and how many there are; with
``invalid="null"`` it becomes a missing value instead: ``None`` for a scalar, ``NaN`` in a
numpy array (numpy has no null), ``null`` in a polars Series/Expr. Polars nulls are missing
values, not impossible odds: they stay null in both modes.

Boundaries are exact: +100 and -100 both map to decimal 2.0 and probability 0.5, and
decimal 2.0 maps back to +100 (the convention for even money).
"""

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import polars as pl

Invalid = Literal["raise", "null"]
OddsLike = Any  # float | int | Sequence[float] | np.ndarray | pl.Series | pl.Expr

__all__ = [
    "InvalidOddsError",
    "american_to_decimal",
    "american_to_prob",
    "decimal_to_american",
    "decimal_to_prob",
    "prob_to_american",
    "prob_to_decimal",
]


_VALID_PLACEHOLDER = {"probability": 0.5, "American odds": 100.0, "decimal odds": 2.0}


class InvalidOddsError(ValueError):
    """Impossible odds (decimal <= 1, |American| < 100, probability outside (0, 1), NaN)."""


def _apply(
    x: OddsLike,
    kernel: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    what: str,
    invalid: Invalid,
) -> OddsLike:
    """Run a numpy kernel returning (values, invalid_mask) on any supported input kind."""
    if invalid not in ("raise", "null"):
        raise ValueError(f"invalid must be 'raise' or 'null', got {invalid!r}")
    if isinstance(x, pl.Expr):
        return x.map_batches(
            lambda s: _apply(s, kernel, what, invalid), return_dtype=pl.Float64, is_elementwise=True
        )
    if isinstance(x, pl.Series):
        null_mask = x.is_null().to_numpy()
        arr = x.cast(pl.Float64).to_numpy().astype(np.float64, copy=True)
        arr[null_mask] = _VALID_PLACEHOLDER[what]  # nulls stay null; keep them out of the check
        out, bad = kernel(arr)
        _check(arr, bad, what, invalid)
        return pl.Series(x.name, out, dtype=pl.Float64).scatter(np.flatnonzero(null_mask | bad), None)
    if np.isscalar(x) or isinstance(x, np.generic):
        arr = np.asarray([x], dtype=np.float64)
        out, bad = kernel(arr)
        _check(arr, bad, what, invalid)
        return None if bad[0] else float(out[0])
    if x is None:
        if invalid == "raise":
            raise InvalidOddsError(f"{what} is None")
        return None
    arr = np.asarray(x, dtype=np.float64)
    out, bad = kernel(arr)
    _check(arr, bad, what, invalid)
    out = np.where(bad, np.nan, out)
    return out


def _check(arr: np.ndarray, bad: np.ndarray, what: str, invalid: Invalid) -> None:
    if invalid == "raise" and bad.any():
        idx = np.flatnonzero(bad.ravel())
        first = arr.ravel()[idx[0]]
        raise InvalidOddsError(
            f"impossible {what}: {float(first)!r} at position {int(idx[0])} ({idx.size} invalid value(s)); "
            "pass invalid='null' to get nulls instead"
        )


def _american_to_decimal_k(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bad = ~np.isfinite(a) | ((a > -100.0) & (a < 100.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(a >= 100.0, 1.0 + a / 100.0, 1.0 + 100.0 / np.abs(a))
    return out, bad


def _decimal_to_american_k(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bad = ~np.isfinite(d) | (d <= 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(d >= 2.0, (d - 1.0) * 100.0, -100.0 / (d - 1.0))
    return out, bad


def _decimal_to_prob_k(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bad = ~np.isfinite(d) | (d <= 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 / d, bad


def _prob_to_decimal_k(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bad = ~np.isfinite(p) | (p <= 0.0) | (p >= 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 / p, bad


def _american_to_prob_k(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bad = ~np.isfinite(a) | ((a > -100.0) & (a < 100.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        # 100/(A+100) for underdogs, |A|/(|A|+100) for favourites: exact 0.5 at +-100.
        out = np.where(a >= 100.0, 100.0 / (a + 100.0), np.abs(a) / (np.abs(a) + 100.0))
    return out, bad


def _prob_to_american_k(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bad = ~np.isfinite(p) | (p <= 0.0) | (p >= 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(p <= 0.5, 100.0 * (1.0 - p) / p, -100.0 * p / (1.0 - p))
    return out, bad


def american_to_decimal(x: OddsLike, *, invalid: Invalid = "raise") -> OddsLike:
    """American -> decimal: +A -> 1 + A/100, -A -> 1 + 100/A; +-100 -> 2.0 exactly."""
    return _apply(x, _american_to_decimal_k, "American odds", invalid)


def decimal_to_american(x: OddsLike, *, invalid: Invalid = "raise") -> OddsLike:
    """Decimal -> American: d >= 2 -> +(d-1)*100 (2.0 -> +100), d < 2 -> -100/(d-1)."""
    return _apply(x, _decimal_to_american_k, "decimal odds", invalid)


def decimal_to_prob(x: OddsLike, *, invalid: Invalid = "raise") -> OddsLike:
    """Decimal -> implied probability 1/d (vig included)."""
    return _apply(x, _decimal_to_prob_k, "decimal odds", invalid)


def prob_to_decimal(x: OddsLike, *, invalid: Invalid = "raise") -> OddsLike:
    """Probability in (0, 1) -> decimal 1/p. 0 and 1 are invalid (no finite price / no payout)."""
    return _apply(x, _prob_to_decimal_k, "probability", invalid)


def american_to_prob(x: OddsLike, *, invalid: Invalid = "raise") -> OddsLike:
    """American -> implied probability, computed directly (not via decimal) for exactness."""
    return _apply(x, _american_to_prob_k, "American odds", invalid)


def prob_to_american(x: OddsLike, *, invalid: Invalid = "raise") -> OddsLike:
    """Probability in (0, 1) -> American; 0.5 -> +100."""
    return _apply(x, _prob_to_american_k, "probability", invalid)
