"""Serving: the comparator's check (1) by the champion model, or the rule confidence without one.

The champion is looked up at most every ``CACHE_S`` seconds per process (mlflow import and
model load cost ~3 s once); without a tracking store nothing heavy is imported at all. A champion
that cannot be loaded or lacks a feature of the frame never stops the comparator: check (1)
falls back to the rule confidence with a warning until the next training run replaces it.
"""

import time
from typing import Any, NamedTuple

import polars as pl

from edge_assets.ml.train import DEFAULT_THRESHOLD
from edge_assets.signals import select_signals

CACHE_S = 300.0
RULE = "rule_confidence"
_cache: dict[str, tuple[float, Any, str | None]] = {}

__all__ = ["RULE", "Selection", "champion_for", "select_with_champion"]


class Selection(NamedTuple):
    signals: pl.DataFrame
    confidence_by: str  # "rule_confidence" or "<model> v<version>"
    warning: str | None = None  # why the champion did not decide, or answers another EV bar


def champion_for(
    tracking_uri: str, threshold: float, s3_endpoint_url: str | None = None, s3_region: str | None = None
) -> tuple[Any, str | None]:
    """(the cached champion (ml.registry.Champion) or None, why it could not be loaded or None).

    A failed load is cached like a loaded champion: retried after ``CACHE_S``, not every tick.
    """
    hit = _cache.get(tracking_uri)
    if hit is None or time.monotonic() - hit[0] >= CACHE_S:
        from edge_assets.ml.registry import load_champion, load_error

        try:
            champ = load_champion(
                tracking_uri, threshold, s3_endpoint_url=s3_endpoint_url, s3_region=s3_region
            )
            hit = (time.monotonic(), champ, None)
        except Exception as exc:
            hit = (time.monotonic(), None, load_error(exc))
        _cache[tracking_uri] = hit
    return hit[1], hit[2]


def clear_cache() -> None:
    _cache.clear()


def select_with_champion(features: pl.DataFrame, comparator: Any, models: Any) -> Selection:
    """Signals from model features (FEATURE_COLUMNS) and which confidence decided check (1).

    With a champion: confidence = its calibrated probability that the edge clears the EV bar at
    the close, threshold = ``model_threshold`` when the user pins one, else the champion's tuned one;
    signals carry ``model_name``/``model_version``/``model_prob`` and the regressor's ``model_ev``.
    Without: the documented rule confidence and ``comparator.min_confidence`` (model_name =
    "rule_confidence"), as when the user sets ``confidence_by`` to "rule" (EDGE_CONFIDENCE_BY)
    whatever the champion.

    A champion trained for another bar than ``comparator.min_ev`` still decides (its ranking of
    real against false edges is far better than the rule's) with a warning; the next training run
    replaces it (``log_and_promote``).
    """
    champ, problem = (
        champion_for(models.tracking_uri, DEFAULT_THRESHOLD, models.s3_endpoint_url, models.s3_region)
        if models.confidence_by == "champion" and models.has_store()
        else (None, None)
    )
    if problem is not None:
        problem = f"the champion cannot be loaded ({problem})"
    elif champ is not None and (missing := champ.missing_features(features)):
        problem = (
            f"champion {champ.name} v{champ.version} needs features this code does not build "
            f"({', '.join(missing)})"
        )
        champ = None
    common = {
        "min_ev": comparator.min_ev,
        "min_size_usdc": comparator.min_trade_usdc,
    }
    if champ is None or features.height == 0:
        found = select_signals(
            features, min_confidence=comparator.min_confidence, model_name=RULE, model_version=None, **common
        )
        fallback = f"{problem}: check (1) by the rule confidence until the next edge_models run"
        return Selection(found, RULE, fallback if problem else None)
    p, ev_hat = champ.score(features)
    scored = features.with_columns(model_prob=pl.Series(p, dtype=pl.Float64), model_ev=pl.Series(ev_hat))
    found = select_signals(
        scored,
        min_confidence=champ.threshold_for(models.model_threshold),
        confidence_col="model_prob",
        model_prob_col="model_prob",
        model_name=champ.name,
        model_version=champ.version,
        **common,
    )
    warning = None
    if not champ.trained_for(comparator.min_ev):
        warning = (
            f"champion {champ.name} v{champ.version} predicts {champ.target}, but the comparator's bar "
            f"is EV >= {comparator.min_ev}: it decides check (1) until a model trained for this bar "
            "replaces it (the nightly edge_models run)"
        )
    return Selection(found, f"{champ.name} v{champ.version}", warning)
