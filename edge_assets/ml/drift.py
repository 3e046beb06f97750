"""Feature drift: how far the rows the champion now scores are from the rows it was trained on.

The training run stores, per model feature, the decile edges of its training candidate edges and
the share of rows in each bin (plus the share missing). Later rows are binned on the same edges
and compared by the population stability index, PSI = sum((a - e) * ln(a / e)) over the bins: by
the usual rule of thumb < 0.1 is stable, 0.1-0.25 a shift worth a look, > 0.25 a shift the model
has not seen (a league added, a book gone, a feed stuck). Pure numpy: one pass per feature column.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

BINS = 10
PSI_SHIFTED = 0.25
_FLOOR = 1e-4  # an empty bin on either side would make the log infinite

__all__ = ["BINS", "PSI_SHIFTED", "psi", "reference", "verdict"]


def _shares(column: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of rows per bin (len(edges) + 1 bins), then the share missing (NaN)."""
    present = ~np.isnan(column)
    counts = np.bincount(np.searchsorted(edges, column[present], side="right"), minlength=edges.size + 1)
    return np.append(counts, column.size - int(present.sum())) / max(column.size, 1)


def reference(x: np.ndarray, features: Sequence[str], bins: int = BINS) -> dict[str, Any]:
    """Per feature (columns of ``x``): the inner quantile edges of its values and the row shares."""
    out: dict[str, Any] = {}
    inner = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    for j, name in enumerate(features):
        column = x[:, j]
        present = column[~np.isnan(column)]
        edges = np.unique(np.quantile(present, inner)) if present.size else np.empty(0)
        out[name] = {"edges": edges.tolist(), "shares": _shares(column, edges).tolist()}
    return out


def psi(ref: dict[str, Any], x: np.ndarray, features: Sequence[str]) -> dict[str, float]:
    """PSI of each feature of ``ref`` found in ``features`` (the columns of ``x``)."""
    out: dict[str, float] = {}
    for j, name in enumerate(features):
        if name not in ref:
            continue
        expected = np.maximum(np.asarray(ref[name]["shares"], dtype=float), _FLOOR)
        actual = np.maximum(_shares(x[:, j], np.asarray(ref[name]["edges"], dtype=float)), _FLOOR)
        out[name] = float(((actual - expected) * np.log(actual / expected)).sum())
    return out


def verdict(psis: dict[str, float], rows: int, top: int = 3) -> tuple[bool, str]:
    """(no feature shifted past PSI_SHIFTED, one line naming the most shifted features)."""
    if not psis or rows == 0:
        return True, "no candidate edges to compare"
    worst = sorted(psis.items(), key=lambda kv: kv[1], reverse=True)[:top]
    named = ", ".join(f"{k} {v:.2f}" for k, v in worst)
    shifted = [k for k, v in psis.items() if v > PSI_SHIFTED]
    if not shifted:
        return True, f"{rows} candidate edges, max PSI {worst[0][1]:.2f} ({named})"
    return False, (
        f"{rows} candidate edges, {len(shifted)} feature(s) shifted past PSI {PSI_SHIFTED} ({named}): "
        "the champion scores rows unlike those it was trained on"
    )
