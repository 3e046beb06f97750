"""Training and evaluation of the two models (no Dagster, no MLflow here).

- validity classifier: scikit-learn pipeline (median impute, standardize, logistic regression)
  predicting ``valid`` (EV after costs > 0 at the sharp close);
- EV regressor: XGBoost predicting ``ev_close`` (the EV magnitude).

Walk-forward by time, never random: the held-out window is the last ``holdout_days`` of the
training range; training rows whose game starts inside the held-out window are dropped
(embargo), so no label computed from held-out-period closes leaks into training.

sklearn / xgboost are imported inside the functions (import cost ~2 s, DESIGN §7).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from edge_assets.features.history import MODEL_FEATURES

CLASSIFIER_NAME = "edge_validity"
REGRESSOR_NAME = "edge_ev"
TRUE_EDGE_EV = 0.03  # "true edge": EV after costs at the close >= 3 %

__all__ = [
    "CLASSIFIER_NAME",
    "REGRESSOR_NAME",
    "Comparators",
    "TrainedModels",
    "accepted_mask",
    "evaluate",
    "fit_models",
    "walk_forward_split",
]


@dataclass
class TrainedModels:
    classifier: Any
    regressor: Any
    features: tuple[str, ...]
    train_range: tuple[datetime, datetime]
    holdout_range: tuple[datetime, datetime]
    n_train: int
    n_holdout: int
    fit_seconds: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Comparators:
    """Thresholds of the comparator's four checks (see edge_assets.signals)."""

    model_threshold: float = 0.5
    min_confidence: float = 0.6
    min_ev: float = 0.03
    min_size_usdc: float = 25.0


def matrix(df: pl.DataFrame, features: tuple[str, ...] = MODEL_FEATURES) -> np.ndarray:
    """Float matrix of the model features (nulls -> NaN; the pipeline imputes)."""
    return (
        df.select([pl.col(c).cast(pl.Float64).fill_nan(None) for c in features]).to_numpy().astype(np.float64)
    )


def walk_forward_split(
    df: pl.DataFrame, holdout_days: int = 14
) -> tuple[pl.DataFrame, pl.DataFrame, datetime]:
    """(train, holdout, cutoff): holdout = rows observed in the last ``holdout_days``; embargoed train."""
    end = df["observed_at"].max()
    cutoff = (end - timedelta(days=holdout_days)).replace(minute=0, second=0, microsecond=0) + timedelta(
        hours=1
    )
    train = df.filter((pl.col("observed_at") < cutoff) & (pl.col("commence_time") < cutoff))
    hold = df.filter(pl.col("observed_at") >= cutoff)
    return train, hold, cutoff


def fit_models(
    train: pl.DataFrame,
    *,
    holdout_range: tuple[datetime, datetime],
    n_holdout: int,
    c: float = 0.5,
    xgb_params: dict[str, Any] | None = None,
    seed: int = 7,
) -> TrainedModels:
    """Fit the classifier on ``valid`` and the regressor on ``ev_close``."""
    import time

    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from xgboost import XGBRegressor

    t0 = time.perf_counter()
    x = matrix(train)
    y = train["valid"].cast(pl.Int8).to_numpy()
    if len(np.unique(y)) < 2:
        raise ValueError("training set has a single class of `valid`; need more history")
    clf = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("logit", LogisticRegression(C=c, max_iter=2000)),
        ]
    )
    clf.fit(x, y)
    params = {
        "n_estimators": 200,
        "max_depth": 4,
        "learning_rate": 0.05,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "tree_method": "hist",
        "n_jobs": 2,
        "random_state": seed,
        **(xgb_params or {}),
    }
    reg = XGBRegressor(**params)
    reg.fit(x, train["ev_close"].to_numpy())
    return TrainedModels(
        classifier=clf,
        regressor=reg,
        features=MODEL_FEATURES,
        train_range=(train["observed_at"].min(), train["observed_at"].max()),
        holdout_range=holdout_range,
        n_train=train.height,
        n_holdout=n_holdout,
        fit_seconds=time.perf_counter() - t0,
        params={"logit_C": c, **{f"xgb_{k}": v for k, v in params.items()}},
    )


def accepted_mask(df: pl.DataFrame, confidence: np.ndarray, threshold: float, cfg: Comparators) -> np.ndarray:
    """The comparator's four checks with ``confidence`` as check (1) (edge_assets.signals)."""
    ok = (
        (pl.Series(confidence) >= threshold).to_numpy()
        & (df["pm_decimal"] > df["best_book_decimal"]).fill_null(False).to_numpy()
        & (df["ev_after_costs"] >= cfg.min_ev).fill_null(False).to_numpy()
        & (df["liquidity_usdc"] >= cfg.min_size_usdc).fill_null(False).to_numpy()
    )
    return np.asarray(ok, dtype=bool)


def calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over equal-width probability bins."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    err = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            err += m.mean() * abs(p[m].mean() - y[m].mean())
    return float(err)


def _scores(y: np.ndarray, p: np.ndarray | None, score: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    out = {"auc": float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")}
    if p is not None:
        pc = np.clip(p, 1e-6, 1 - 1e-6)
        out |= {
            "brier": float(brier_score_loss(y, pc)),
            "log_loss": float(log_loss(y, pc, labels=[0, 1])),
            "calibration_error": calibration_error(y, pc),
        }
    else:
        out |= {"brier": float("nan"), "log_loss": float("nan"), "calibration_error": float("nan")}
    return out


def _accepted_stats(df: pl.DataFrame, mask: np.ndarray) -> dict[str, float]:
    true_edge = (df["ev_close"] >= TRUE_EDGE_EV).to_numpy()
    n = int(mask.sum())
    positives = int(true_edge.sum())
    hits = int((mask & true_edge).sum())
    return {
        "accepted": float(n),
        "precision": hits / n if n else float("nan"),
        "recall": hits / positives if positives else float("nan"),
        "mean_realized_ev": float(df["realized_ev"].to_numpy()[mask].mean()) if n else float("nan"),
        "mean_ev_close": float(df["ev_close"].to_numpy()[mask].mean()) if n else float("nan"),
    }


def predict(models: TrainedModels, df: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(validity probability, predicted EV) per row."""
    x = matrix(df, models.features)
    return models.classifier.predict_proba(x)[:, 1], models.regressor.predict(x)


def evaluate(
    models: TrainedModels, hold: pl.DataFrame, cfg: Comparators | None = None
) -> dict[str, dict[str, float]]:
    """Metrics on the held-out rows for the model and the two baselines, same rows and checks.

    model: classifier probability >= model_threshold; rule: rule confidence >= min_confidence;
    sharp: sharp consensus only (EV at the sharp fair probability >= min_ev, score = ev_sharp).
    """
    cfg = cfg or Comparators()
    y = hold["valid"].cast(pl.Int8).to_numpy()
    p, ev_hat = predict(models, hold)
    rule = hold["rule_confidence"].fill_null(0.0).to_numpy()
    ev_sharp = hold["ev_sharp"].to_numpy()
    sharp_score = np.nan_to_num(ev_sharp, nan=-1.0)
    out = {
        "model": _scores(y, p, p) | _accepted_stats(hold, accepted_mask(hold, p, cfg.model_threshold, cfg)),
        "rule": _scores(y, rule, rule)
        | _accepted_stats(hold, accepted_mask(hold, rule, cfg.min_confidence, cfg)),
        "sharp": _scores(y, None, sharp_score)
        | _accepted_stats(hold, accepted_mask(hold, (sharp_score >= cfg.min_ev).astype(float), 0.5, cfg)),
    }
    resid = ev_hat - hold["ev_close"].to_numpy()
    out["model"]["ev_rmse"] = float(np.sqrt(np.mean(resid**2)))
    return out
