"""Remove the bookmaker margin (de-vig) from implied probabilities, vectorized over markets.

Input is a matrix ``implied`` of shape (n_markets, n_outcomes) with implied probabilities
``pi_i = 1 / decimal_odds_i`` of one bookmaker's market; ``S = sum(pi)`` is the booksum.
Definitions (identical to penaltyblog 1.13 ``penaltyblog.implied``, checked to 1e-9 in tests):

- multiplicative: ``p_i = pi_i / S``.
- additive:       ``p_i = pi_i - (S - 1) / n``. Can go negative for long shots in a
  high-margin market; kept as is (like penaltyblog) so the method stays a pure shift.
- power:          ``p_i = pi_i ** k`` with ``k`` solving ``sum(pi_i ** k) = 1``
  (k > 1 when S > 1, k < 1 when S < 1).
- shin:           ``p_i = (sqrt(z**2 + 4 (1 - z) pi_i**2 / S) - z) / (2 (1 - z))`` with
  Shin's insider share ``z`` in [0, 1) solving ``sum(p_i) = 1`` (Jullien & Salanié form).
  Convention difference: for a market without margin (S <= 1) Shin's model has no
  positive solution (penaltyblog raises there); we return z = 0 and the multiplicative
  probabilities.
- worst_case:     per outcome, the minimum over the four methods above: the most
  conservative fair probability for a bet on that outcome. Its rows do NOT sum to 1.

Iterative methods (Halley for power, closed form or safeguarded Newton for Shin) run on all
markets at once, column-wise, and stop when ``|sum(p) - 1| <= 1e-14`` (acceptance: 1e-12) for every market.
Rows with a non-finite value or a probability outside (0, 1) give NaN.

``overround`` is the margin ``S - 1`` (0.0476 for a -110/-110 market), matching
penaltyblog's ``margin``.
"""

from collections.abc import Sequence

import numpy as np
import polars as pl

METHODS: tuple[str, ...] = ("multiplicative", "additive", "power", "shin", "worst_case")
BASE_METHODS: tuple[str, ...] = ("multiplicative", "additive", "power", "shin")
TOL = 1e-12
_MAX_ITER = 200
# Stop once |sum(p) - 1| is at rounding-noise level; the step already taken then lands on the
# root to ~1e-16 (the acceptance bound is TOL = 1e-12).
_F_TOL = 1e-14
# Two-outcome power method: Halley steps on every row before the convergence check (enough for
# margins up to ~10%; larger ones take one or two more steps on their own rows).
_POWER_STEPS2 = 2
_MAX_RETRY = 20
_BLOCK = 32_768

__all__ = [
    "BASE_METHODS",
    "METHODS",
    "devig",
    "devig_all",
    "devig_frame",
    "overround",
    "power_k",
    "shin_z",
]


Cols = list[np.ndarray]


def _as_matrix(implied: np.ndarray | Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Return (matrix, valid_row_mask); a 1-D input is one market."""
    m = np.asarray(implied, dtype=np.float64)
    if m.ndim == 1:
        m = m[None, :]
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError(f"implied must have shape (n_markets, n_outcomes>=2), got {m.shape}")
    if m.size and m.min() > 0.0 and m.max() < 1.0:  # common case: two reductions, no mask passes
        return m, np.ones(m.shape[0], dtype=bool)
    # NaN fails both comparisons, +-inf fails one: no separate isfinite pass needed
    valid = np.logical_and.reduce([(m[:, j] > 0.0) & (m[:, j] < 1.0) for j in range(m.shape[1])])
    return m, valid


def _columns(m: np.ndarray) -> Cols:
    """Outcome columns as contiguous arrays: with few outcomes, column-wise loops beat axis=1
    reductions (numpy's row reductions over 2-3 elements are ~10x slower than a column add)."""
    return [np.ascontiguousarray(m[:, j]) for j in range(m.shape[1])]


def _rowsum(cols: Cols) -> np.ndarray:
    total = cols[0].copy()
    for c in cols[1:]:
        total += c
    return total


def overround(implied: np.ndarray) -> np.ndarray:
    """Bookmaker margin per market: sum of implied probabilities minus 1 (NaN for bad rows)."""
    m, valid = _as_matrix(implied)
    return np.where(valid, _rowsum(_columns(m)) - 1.0, np.nan)


def _multiplicative(cols: Cols) -> Cols:
    s = _rowsum(cols)
    return [c / s for c in cols]


def _additive(cols: Cols) -> Cols:
    shift = (_rowsum(cols) - 1.0) / len(cols)
    return [c - shift for c in cols]


def _solve_power_k(cols: Cols) -> np.ndarray:
    """The power exponent k per market: closed-form start plus a fixed number of vectorized
    steps, then a convergence check that re-iterates only the (few) unconverged rows."""
    return _power_solve(cols)[0]


def _power_solve(cols: Cols) -> tuple[np.ndarray, Cols]:
    """(k, fair columns) of the power method from the log implied probabilities.

    Start: one Halley step on g(k) = sum(pi^k) - 1 from k = 1, free because pi^1 = pi (no exp).
    Two outcomes: then ``_POWER_STEPS2`` Halley steps on F(k) = k lb - log(1 - exp(k la)) (a =
    the larger outcome): F is nearly linear in k even where g is not (one price near 1, the
    other a long shot), so two steps reach ~1e-10 on realistic markets where Halley on g needs
    5-8. More outcomes: the safeguarded Halley loop on g. Last, one evaluation p = exp(k log pi)
    with a Newton correction done to first order (p += dk p log pi: no further exp; exact to
    O(dk^2) ~ 1e-20 once |g| <= 1e-10), and the check ``|sum(p) - 1| <= _F_TOL``; rows that fail
    it are iterated again on their own, and in the worst case handed to the safeguarded loop.
    """
    n = cols[0].shape[0]
    if len(cols) != 2:
        logs = [np.log(c) for c in cols]
        k = _power_k_safeguarded(logs, np.ones(n))
        return k, _power_finish(logs, k)[0]
    k = np.empty(n)
    p = [np.empty(n), np.empty(n)]
    ok = np.empty(n, dtype=bool)
    # blocks that stay in cache: the ~60 array operations per block then run from L2, not RAM
    for lo in range(0, n, _BLOCK):
        sl = slice(lo, lo + _BLOCK)
        k[sl], p_b, ok[sl] = _power2_block([c[sl] for c in cols])
        p[0][sl], p[1][sl] = p_b
    if ok.all():
        return k, p
    # retry only the unconverged rows (wide margins, extreme prices)
    idx = np.flatnonzero(~ok)
    logs = [np.log(c[idx]) for c in cols]
    la, lb = np.maximum(logs[0], logs[1]), np.minimum(logs[0], logs[1])
    ok_i = ok[idx]
    for _ in range(_MAX_RETRY):
        if ok_i.all():
            break
        ki = k[idx]
        ki -= _power_f_step(ki, la, lb)
        p_i, ok_i = _power_finish(logs, ki)
        k[idx] = ki
        for col, col_i in zip(p, p_i, strict=True):
            col[idx] = col_i
    if not ok_i.all():  # pathological rows: the monotone safeguarded loop from k = 1
        sub = [lg[~ok_i] for lg in logs]
        idx = idx[~ok_i]
        ki = _power_k_safeguarded(sub, np.ones(idx.size))
        p_i, _ = _power_finish(sub, ki)
        k[idx] = ki
        for col, col_i in zip(p, p_i, strict=True):
            col[idx] = col_i
    return k, p


def _power2_block(cols: Cols) -> tuple[np.ndarray, Cols, np.ndarray]:
    """Fixed schedule of the two-outcome power solve on one block: (k, p, converged)."""
    logs = [np.log(c) for c in cols]
    g = _rowsum(cols)
    g -= 1.0
    u = [p * lg for p, lg in zip(cols, logs, strict=True)]
    g1 = _rowsum(u)
    g2 = _rowsum([x * lg for x, lg in zip(u, logs, strict=True)])
    k = 1.0 - _halley_step(g, g1, g2)
    la = np.maximum(logs[0], logs[1])
    lb = np.minimum(logs[0], logs[1])
    for _ in range(_POWER_STEPS2):
        k -= _power_f_step(k, la, lb)
    p, ok = _power_finish(logs, k)
    return k, p, ok


def _halley_step(g: np.ndarray, g1: np.ndarray, g2: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return 2.0 * g * g1 / (2.0 * g1 * g1 - g * g2)


def _power_f_step(k: np.ndarray, la: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """Halley step for F(k) = k lb - log(-expm1(k la)) (two outcomes, la >= lb, both < 0):
    F' = lb + la e / (1 - e), F'' = la^2 e / (1 - e)^2 with e = exp(k la)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        em = np.expm1(k * la)
        np.negative(em, out=em)  # 1 - e  (> 0)
        f = k * lb
        f -= np.log(em)
        r = 1.0 - em
        r /= em  # e / (1 - e)
        r *= la
        f1 = r + lb
        f2 = r * r
        f2 += r * la  # la^2 e / (1 - e)^2  =  r^2 + la r
        return _halley_step(f, f1, f2)


def _power_finish(logs: Cols, k: np.ndarray) -> tuple[Cols, np.ndarray]:
    """p = exp(k log pi) with a first-order Newton correction of k; (p, converged mask). k is
    updated in place with the correction."""
    p = []
    for lg in logs:
        t = k * lg
        p.append(np.exp(t, out=t))
    g = _rowsum(p)
    g -= 1.0
    u = [x * lg for x, lg in zip(p, logs, strict=True)]
    g1 = _rowsum(u)
    with np.errstate(divide="ignore", invalid="ignore"):
        dk = g / g1
    ok = np.abs(g) <= 1e-10
    for x, ux in zip(p, u, strict=True):
        ux *= dk
        x -= ux
    k -= dk
    s = _rowsum(p)
    s -= 1.0
    ok &= np.abs(s) <= _F_TOL
    return p, ok


def _power_k_safeguarded(logs_all: Cols, k: np.ndarray) -> np.ndarray:
    """Halley iterations on g(k) = sum(pi^k) - 1 (any number of outcomes). g is convex and
    decreasing; a step that is not finite or leaves k <= 0 falls back to the Newton step,
    which is monotone for such g. Iterates only the rows still moving."""
    idx: np.ndarray | None = None  # active rows; None = all (avoids fancy-index copies early on)
    for _ in range(_MAX_ITER):
        logs = logs_all if idx is None else [lg[idx] for lg in logs_all]
        ka = k if idx is None else k[idx]
        pk = [np.exp(ka * lg) for lg in logs]
        g = _rowsum(pk) - 1.0
        g1 = _rowsum([p * lg for p, lg in zip(pk, logs, strict=True)])
        g2 = _rowsum([p * lg * lg for p, lg in zip(pk, logs, strict=True)])
        with np.errstate(divide="ignore", invalid="ignore"):
            halley = 2.0 * g * g1 / (2.0 * g1 * g1 - g * g2)
            newton = g / g1
        step = np.where(np.isfinite(halley) & (ka - halley > 0.0), halley, newton)
        step = np.where(np.abs(g) <= _F_TOL, 0.0, step)
        ka = ka - step
        if idx is None:
            k = ka
        else:
            k[idx] = ka
        moving = np.abs(step) > 1e-15 * np.maximum(1.0, np.abs(ka))
        if not moving.any():
            break
        idx = np.flatnonzero(moving) if idx is None else idx[moving]
    return k


def _shin_p(z: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shin probability of one outcome and its derivative in z; q = pi^2 / S."""
    r = np.sqrt(z * z + 4.0 * (1.0 - z) * q)
    one_m = 1.0 - z
    p = (r - z) / (2.0 * one_m)
    dr = (z - 2.0 * q) / r
    dp = ((dr - 1.0) * one_m + (r - z)) / (2.0 * one_m * one_m)
    return p, dp


def _solve_shin_z(cols: Cols) -> np.ndarray:
    """Two outcomes: closed form. Otherwise safeguarded Newton for z in [0, 1):
    f(0) = sqrt(S) - 1 > 0 and f(1-) = sum(pi^2)/S - 1 < 0, so [0, 1) brackets the root;
    a Newton step leaving the bracket is replaced by bisection."""
    s = _rowsum(cols)
    over = s > 1.0
    qs = [c * c / s for c in cols]
    if len(cols) == 2:
        # Closed form for two outcomes (sum p = 1, squared twice):
        # z = (2Q - 1 - D^2) / (1 - D^2), Q = (pi1^2 + pi2^2) / S, D = (pi1^2 - pi2^2) / S.
        big_q = qs[0] + qs[1]
        d2 = (qs[0] - qs[1]) ** 2
        return np.where(over, (2.0 * big_q - 1.0 - d2) / (1.0 - d2), 0.0)
    z = np.zeros(s.shape[0])
    lo = np.zeros(s.shape[0])
    hi = np.ones(s.shape[0])
    done = ~over
    for _ in range(_MAX_ITER):
        if done.all():
            break
        res = [_shin_p(z, q) for q in qs]
        f = _rowsum([r[0] for r in res]) - 1.0
        df = _rowsum([r[1] for r in res])
        pos = f > 0.0
        lo = np.where(pos, z, lo)
        hi = np.where(pos, hi, z)
        with np.errstate(divide="ignore", invalid="ignore"):
            znew = z - f / df
        bad = ~np.isfinite(znew) | (znew < lo) | (znew > hi)
        znew = np.where(bad, 0.5 * (lo + hi), znew)
        step_done = (np.abs(znew - z) <= 1e-15) | (np.abs(f) <= _F_TOL) | (hi - lo <= 1e-15)
        z = np.where(done, z, znew)
        done |= step_done
    return np.where(over, z, 0.0)


def power_k(implied: np.ndarray) -> np.ndarray:
    """The power method's exponent k per market (NaN for invalid rows)."""
    m, valid = _as_matrix(implied)
    out = np.full(m.shape[0], np.nan)
    out[valid] = _solve_power_k(_columns(m[valid]))
    return out


def shin_z(implied: np.ndarray) -> np.ndarray:
    """Shin's z per market, in [0, 1) (0 when the market has no margin; NaN for invalid rows)."""
    m, valid = _as_matrix(implied)
    out = np.full(m.shape[0], np.nan)
    out[valid] = _solve_shin_z(_columns(m[valid]))
    return out


def _power(cols: Cols) -> Cols:
    return _power_solve(cols)[1]


def _shin(cols: Cols) -> Cols:
    if len(cols) == 2:
        # Two outcomes: Shin coincides with additive. sum(p) = 1 gives r1 + r2 = 2 (r_i the square
        # roots), and r1^2 - r2^2 = 4 (1 - z) (pi1^2 - pi2^2) / S = 4 (1 - z) (pi1 - pi2), so
        # r1 - r2 = 2 (1 - z) (pi1 - pi2) and p1 = (r1 - z) / (2 (1 - z)) = (1 + pi1 - pi2) / 2.
        # Never negative (pi2 < 1 keeps pi1 - (S - 1) / 2 > 0); no margin: multiplicative.
        s = _rowsum(cols)
        over = s > 1.0
        add = _additive(cols)
        if over.all():
            return add
        return [np.where(over, a, c / s) for a, c in zip(add, cols, strict=True)]
    z = _solve_shin_z(cols)
    s = _rowsum(cols)
    over = s > 1.0
    return [np.where(over, _shin_p(z, c * c / s)[0], c / s) for c in cols]


_KERNELS = {"multiplicative": _multiplicative, "additive": _additive, "power": _power, "shin": _shin}


def _worst(results: list[Cols]) -> Cols:
    """Outcome-wise minimum of the already computed methods (one in-place pass per method)."""
    out = [r.copy() for r in results[0]]
    for res in results[1:]:
        for o, r in zip(out, res, strict=True):
            np.minimum(o, r, out=o)
    return out


def _run(implied: np.ndarray, methods: Sequence[str]) -> dict[str, np.ndarray]:
    m, valid = _as_matrix(implied)
    all_valid = bool(valid.all())
    cols = _columns(m if all_valid else m[valid])
    per: dict[str, Cols] = {}
    for meth in methods:
        if meth == "worst_case":
            bases = list(BASE_METHODS)
            if len(cols) == 2 and bool((_rowsum(cols) > 1.0).all()):
                bases.remove("shin")  # two outcomes with margin: Shin equals additive (see _shin)
            for b in bases:
                per.setdefault(b, _KERNELS[b](cols))
            per["worst_case"] = _worst([per[b] for b in bases])
        else:
            per.setdefault(meth, _KERNELS[meth](cols))
    out: dict[str, np.ndarray] = {}
    for meth in methods:
        res = np.column_stack(per[meth]) if cols[0].size else np.empty((0, m.shape[1]))
        if all_valid:
            out[meth] = res
        else:
            full = np.full(m.shape, np.nan)
            full[valid] = res
            out[meth] = full
    return out


def devig(implied: np.ndarray, method: str = "multiplicative") -> np.ndarray:
    """Fair probabilities, same shape as ``implied`` (n_markets, n_outcomes); NaN rows for bad input."""
    if method not in METHODS:
        raise ValueError(f"unknown de-vig method {method!r}; choose one of {METHODS}")
    return _run(implied, [method])[method]


def devig_all(implied: np.ndarray) -> dict[str, np.ndarray]:
    """Every method at once (worst_case reuses the four results instead of recomputing them)."""
    return _run(implied, list(METHODS))


def devig_frame(
    df: pl.DataFrame,
    group_cols: list[str],
    price_col: str = "price_decimal",
    method: str = "multiplicative",
    out_col: str = "fair_prob",
) -> pl.DataFrame:
    """De-vig a long frame (one row per outcome): rows sharing ``group_cols`` form one market.

    Markets with 2 and 3 (or more) outcomes can be mixed in one frame; each outcome count is
    priced as one dense matrix. Adds ``out_col`` (fair probability) and ``overround``; a
    market with one outcome, or any price that is null/NaN/<= 1, gets nulls. Row order is
    kept. The caller chooses the grouping: spreads outcomes carry opposite points (-3.5 /
    +3.5), so group them on abs(point) rather than point; duplicate quotes of one outcome
    (several observations of one book) must be deduplicated first or they count as outcomes.
    """
    if method not in METHODS:
        raise ValueError(f"unknown de-vig method {method!r}; choose one of {METHODS}")
    missing = [c for c in [*group_cols, price_col] if c not in df.columns]
    if missing:
        raise ValueError(f"devig_frame: missing columns {missing}")
    n_rows = df.height
    fair_out = np.full(n_rows, np.nan)
    ov_out = np.full(n_rows, np.nan)
    if n_rows:
        row = "__devig_row"
        work = (
            df.select([*group_cols, price_col]).with_row_index(row).sort([*group_cols, row], nulls_last=True)
        )
        changed = pl.any_horizontal(
            [pl.col(c).ne_missing(pl.col(c).shift(1)) for c in group_cols] + [pl.int_range(pl.len()) == 0]
        )
        price = pl.col(price_col).cast(pl.Float64)
        work = work.with_columns(gid=changed.cum_sum()).with_columns(
            n=pl.len().over("gid"),
            implied=pl.when(price.is_finite() & (price > 1.0)).then(1.0 / price).otherwise(None),
        )
        rows = work[row].to_numpy()
        n_arr = work["n"].to_numpy()
        implied = work["implied"].fill_null(np.nan).to_numpy()
        fair_sorted = np.full(n_rows, np.nan)
        ov_sorted = np.full(n_rows, np.nan)
        for n in np.unique(n_arr):
            if n < 2:
                continue
            idx = np.flatnonzero(n_arr == n)  # whole groups, contiguous, in group order
            mat = implied[idx].reshape(-1, int(n))
            fair_sorted[idx] = devig(mat, method).ravel()
            ov_sorted[idx] = np.repeat(overround(mat), int(n))
        fair_out[rows] = fair_sorted
        ov_out[rows] = ov_sorted
    return df.with_columns(
        pl.Series(out_col, fair_out, dtype=pl.Float64).fill_nan(None),
        pl.Series("overround", ov_out, dtype=pl.Float64).fill_nan(None),
    )
