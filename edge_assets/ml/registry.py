"""MLflow: log a training run, register both models, promote the champion only when it is better.

Tracking store: sqlite under data/ (``sqlite:///data/mlflow.db``); artifacts under the lake
root (``<lake_root>/mlflow-artifacts``, so on S3 they go to S3 through the lake's endpoint:
`use_s3_endpoint`). The champion is the registered model alias ``champion`` on both models (same
run). A new version takes the alias only when its held-out log loss beats the current champion's
on the SAME held-out rows; otherwise the run and versions are kept and the reason is logged (tag
``champion_decision``).

mlflow is imported inside the functions (2-3 s import, DESIGN §7); ``log_model`` gets explicit
``pip_requirements`` (inferring them spawns a 6-9 s subprocess).
"""

import json
import os
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from edge_assets.ml.train import (
    ACCEPTED_STAT_KEYS,
    CLASSIFIER_NAME,
    DEFAULT_THRESHOLD,
    REGRESSOR_NAME,
    Comparators,
    TrainedModels,
    accepted_stats,
    candidate_mask,
    edge_target,
    evaluate,
    matrix,
    predict,
    score_matrix,
)

CHAMPION = "champion"
EXPERIMENT = "edge_models"
MIN_IMPROVEMENT = 1e-4  # log-loss points a challenger must gain
# the target of classifier versions registered before the `target` tag: they learned `valid`
UNTAGGED_TARGET = "ev_close > 0"

__all__ = [
    "CHAMPION",
    "Champion",
    "TrainOutcome",
    "create_sqlite_store",
    "last_decision",
    "last_versus_rule",
    "list_versions",
    "load_champion",
    "load_error",
    "log_and_promote",
    "target_label",
    "use_s3_endpoint",
]


def target_label(min_ev: float) -> str:
    """The classifier's target for a comparator bar, as tagged on its registered version."""
    return f"ev_close >= {min_ev}"


@dataclass
class TrainOutcome:
    run_id: str
    classifier_version: str
    regressor_version: str
    promoted: bool
    reason: str
    metrics: dict[str, dict[str, float]]
    # the version holding the alias after the run, and its accepted-signal stats on the same window
    champion_version: str
    champion_stats: dict[str, float]


@dataclass
class Champion:
    name: str
    version: str
    classifier: Any
    regressor: Any
    features: tuple[str, ...]
    threshold: float
    target: str = UNTAGGED_TARGET
    unseen_from: datetime | None = None  # its held-out window's start: it trained on nothing after

    def unseen(self, df: pl.DataFrame) -> np.ndarray:
        """Rows it did not train on (all rows when its training range is unknown)."""
        if self.unseen_from is None:
            return np.ones(df.height, dtype=bool)
        return (df["observed_at"] >= self.unseen_from).to_numpy()

    def threshold_for(self, pinned: float | None) -> float:
        """The probability a signal needs: the user's pin (EDGE_MODEL_THRESHOLD) over the tuned one."""
        return self.threshold if pinned is None else pinned

    def missing_features(self, df: pl.DataFrame) -> list[str]:
        """The features it was trained on that ``df`` lacks (a feature renamed or dropped since)."""
        return [f for f in self.features if f not in df.columns]

    def trained_for(self, min_ev: float) -> bool:
        """Whether its probability is of the edge clearing this bar at the close (the comparator's)."""
        return self.target == target_label(min_ev)

    def score(self, df: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return score_matrix(self.classifier, self.regressor, matrix(df, self.features))


def warm_up() -> None:
    """Import what training, logging and plotting use (~1.5 s at the start of edge_models).

    Not the tracking store: opening a new SQLite store creates its tables, and a comparator in
    another process that finds the file half-created fails (seen: "no such table: spans")."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    import mlflow.sklearn
    import mlflow.xgboost  # noqa: F401
    import sklearn.calibration
    import sklearn.impute
    import sklearn.linear_model
    import sklearn.metrics
    import sklearn.pipeline
    import sklearn.preprocessing  # noqa: F401
    import xgboost  # noqa: F401


def create_sqlite_store(path: Path, artifact_location: str | None = None) -> bool:
    """Create an MLflow sqlite store whole: its tables are built in a temporary file that is then
    linked into place, so the store appears complete or not at all. Returns whether it was created.

    Why: MLflow creates a missing store's tables in place (~1 s of migrations). A comparator tick that
    opened the file meanwhile found it half-built and began creating the same tables itself: the
    first training's comparator run failed ("table ... already exists", "no such table: ...").
    """
    if path.exists():
        return False
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    uri = f"sqlite:///{tmp}"
    try:
        store = SqlAlchemyStore(uri, artifact_location or "./mlruns")  # MLflow's own default root
        store.engine.dispose()
        getattr(SqlAlchemyStore, "_engine_map", {}).pop(uri, None)  # its per-URI engine cache
        try:
            os.link(tmp, path)  # unlike a rename, never replaces a store another process just made
        except FileExistsError:
            return False
        except OSError:  # a filesystem without hard links: rename, checked first (a short window)
            if path.exists():
                return False
            os.replace(tmp, path)
        return True
    finally:
        tmp.unlink(missing_ok=True)


S3_ENDPOINT_ENV = "MLFLOW_S3_ENDPOINT_URL"
S3_REGION_ENV = "AWS_DEFAULT_REGION"
_endpoint_we_set: str | None = None


def use_s3_endpoint(endpoint_url: str | None, region: str | None = None) -> None:
    """Send MLflow's S3 artifact traffic to the lake's S3-compatible endpoint (EDGE_S3_ENDPOINT_URL).

    Why: MLflow's S3 client reads its endpoint from ``MLFLOW_S3_ENDPOINT_URL`` only; without it a
    lake on MinIO, R2 or any non-AWS store had its models uploaded to (and loaded from) AWS itself,
    and training failed after ~15 s of connection retries. A value the user set for MLflow is kept.
    """
    global _endpoint_we_set
    if region and not os.environ.get(S3_REGION_ENV):
        # boto3 (MLflow's artifact client) signs for us-east-1 without it; the lake's store may not be
        os.environ[S3_REGION_ENV] = region
    if not endpoint_url:
        return
    current = os.environ.get(S3_ENDPOINT_ENV)
    if current is None or current == _endpoint_we_set:
        os.environ[S3_ENDPOINT_ENV] = _endpoint_we_set = endpoint_url


def _mlflow(
    tracking_uri: str,
    artifact_root: str | None,
    *,
    experiment: bool = False,
    s3_endpoint_url: str | None = None,
    s3_region: str | None = None,
) -> Any:
    """mlflow pointed at the store; ``experiment``: the training experiment too, created with its
    artifact location when missing. Readers (champion, versions) leave it alone: an experiment
    created without the location would send every later run's artifacts to ./mlruns."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    use_s3_endpoint(s3_endpoint_url, s3_region)
    import mlflow

    location = None
    if artifact_root:
        location = artifact_root if "://" in artifact_root else Path(artifact_root).resolve().as_uri()
    if tracking_uri.startswith("sqlite:///"):
        create_sqlite_store(Path(tracking_uri.removeprefix("sqlite:///")), location)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    if experiment:
        if mlflow.get_experiment_by_name(EXPERIMENT) is None:
            mlflow.create_experiment(EXPERIMENT, artifact_location=location)
        mlflow.set_experiment(EXPERIMENT)
    return mlflow


def _plots(models: TrainedModels, hold: pl.DataFrame, out: Path, min_ev: float) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve

    cand = hold.filter(pl.Series(candidate_mask(hold)))
    p = models.classifier.predict_proba(matrix(cand, models.features))[:, 1]
    y = edge_target(cand, min_ev)
    frac, mean = calibration_curve(y, p, n_bins=10, strategy="quantile")
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.plot(mean, frac, "o-")
    title = "calibration (held-out candidate edges)"
    ax.set(xlabel=f"predicted P(EV at close >= {min_ev:.0%})", ylabel="observed frequency", title=title)
    cal = out / "calibration.png"
    fig.savefig(cal, dpi=80, bbox_inches="tight")
    plt.close(fig)

    coef = models.classifier.named_steps["logit"].coef_[0]
    gain = models.regressor.feature_importances_
    order = np.argsort(np.abs(coef))[::-1][:20]
    fig, axes = plt.subplots(1, 2, figsize=(11, 6))
    axes[0].barh([models.features[i] for i in order][::-1], coef[order][::-1])
    axes[0].set_title("classifier: standardized coefficients")
    order2 = np.argsort(gain)[::-1][:20]
    axes[1].barh([models.features[i] for i in order2][::-1], gain[order2][::-1])
    axes[1].set_title("EV regressor: feature importance")
    fig.tight_layout()
    imp = out / "feature_importance.png"
    fig.savefig(imp, dpi=80)
    plt.close(fig)
    return [cal, imp]


def _pip() -> list[str]:
    from importlib.metadata import version

    import xgboost

    return [f"scikit-learn=={version('scikit-learn')}", f"xgboost-cpu=={xgboost.__version__}", "numpy"]


def load_error(exc: Exception) -> str:
    """A load failure in one line for logs, metadata and the ``champion_decision`` tag."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


def load_champion(
    tracking_uri: str,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    s3_endpoint_url: str | None = None,
    s3_region: str | None = None,
) -> Champion | None:
    """Both champion models, or None when no champion alias exists yet; raises when they cannot be
    loaded (artifacts gone, a store that cannot be read, a model pickled by incompatible code)."""
    mlflow = _mlflow(tracking_uri, None, s3_endpoint_url=s3_endpoint_url, s3_region=s3_region)
    client = mlflow.MlflowClient()
    try:
        cv = client.get_model_version_by_alias(CLASSIFIER_NAME, CHAMPION)
        rv = client.get_model_version_by_alias(REGRESSOR_NAME, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return None
    clf = mlflow.sklearn.load_model(f"models:/{CLASSIFIER_NAME}@{CHAMPION}")
    reg = mlflow.xgboost.load_model(f"models:/{REGRESSOR_NAME}@{CHAMPION}")
    # a loaded booster predicts on one thread here (nthread 0); 100k rows score ~2x faster on two cores
    booster = reg.get_booster() if hasattr(reg, "get_booster") else reg
    booster.set_param({"nthread": os.cpu_count() or 1})
    features = tuple(json.loads(cv.tags.get("features", "[]")))
    thr = float(cv.tags.get("threshold", threshold))
    target = cv.tags.get("target", UNTAGGED_TARGET)
    # versions registered before the tag: the start is a param of the run that trained them
    start = cv.tags.get("holdout_start") or (
        client.get_run(cv.run_id).data.params.get("holdout_start") if cv.run_id else None
    )
    unseen_from = datetime.fromisoformat(start) if start else None
    champ = Champion(CLASSIFIER_NAME, str(cv.version), clf, reg, features, thr, target, unseen_from)
    return champ if rv else None


def log_and_promote(
    models: TrainedModels,
    hold: pl.DataFrame,
    *,
    tracking_uri: str,
    artifact_root: str | None,
    partition_range: tuple[str, str],
    cfg: Comparators | None = None,
    s3_endpoint_url: str | None = None,
    s3_region: str | None = None,
) -> TrainOutcome:
    """Log params/metrics/plots, register both models, move ``champion`` only if the new one wins."""
    cfg = cfg or Comparators()
    mlflow = _mlflow(
        tracking_uri, artifact_root, experiment=True, s3_endpoint_url=s3_endpoint_url, s3_region=s3_region
    )
    client = mlflow.MlflowClient()
    metrics = evaluate(models, hold, cfg)
    y = edge_target(hold, cfg.min_ev)
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.log_params(
            {
                **models.params,
                "n_train": models.n_train,
                "n_holdout": models.n_holdout,
                "train_start": str(models.train_range[0]),
                "train_end": str(models.train_range[1]),
                "holdout_start": str(models.holdout_range[0]),
                "holdout_end": str(models.holdout_range[1]),
                "partition_start": partition_range[0],
                "partition_end": partition_range[1],
                "model_threshold": models.threshold,
                "threshold_tuned": cfg.model_threshold is None,
                "n_features": len(models.features),
            }
        )
        mlflow.log_metrics(
            {
                f"{who}_{k}": v
                for who, ms in metrics.items()
                for k, v in ms.items()
                if v == v  # NaN is not loggable as a useful metric
            }
            | {"fit_seconds": models.fit_seconds}
            | models.threshold_info
        )
        for path in _plots(models, hold, Path(tmp), cfg.min_ev):
            mlflow.log_artifact(str(path), artifact_path="plots")
        tags = {
            "features": json.dumps(list(models.features)),
            "threshold": str(models.threshold),
            "target": target_label(cfg.min_ev),
            "holdout_start": models.holdout_range[0].isoformat(),
        }
        ci = mlflow.sklearn.log_model(
            models.classifier,
            name="classifier",
            registered_model_name=CLASSIFIER_NAME,
            pip_requirements=_pip(),
            serialization_format="cloudpickle",
        )
        ri = mlflow.xgboost.log_model(
            models.regressor, name="regressor", registered_model_name=REGRESSOR_NAME, pip_requirements=_pip()
        )
        cver, rver = str(ci.registered_model_version), str(ri.registered_model_version)
        for k, v in {**tags, "run_id": run.info.run_id, "paired_version": rver}.items():
            client.set_model_version_tag(CLASSIFIER_NAME, cver, k, v)
        client.set_model_version_tag(REGRESSOR_NAME, rver, "paired_version", cver)

        new_ll = metrics["model"]["log_loss"]
        kept_stats: dict[str, float] = {}
        try:
            champ = load_champion(tracking_uri, s3_endpoint_url=s3_endpoint_url, s3_region=s3_region)
            problem = None
        except Exception as exc:  # a broken champion must not block the run that replaces it
            champ, problem = None, load_error(exc)
        missing = champ.missing_features(hold) if champ is not None else []
        if problem is not None:
            promoted = True
            reason = f"the champion cannot be loaded ({problem}): v{cver} replaces it (log_loss={new_ll:.5f})"
        elif champ is None:
            promoted, reason = True, f"no champion yet; v{cver} log_loss={new_ll:.5f} on the held-out window"
        elif missing:
            promoted = True
            reason = (
                f"champion v{champ.version} needs features the training set no longer has "
                f"({', '.join(missing)}): v{cver} replaces it (log_loss={new_ll:.5f})"
            )
        elif not champ.trained_for(cfg.min_ev):
            # log losses of two different targets do not compare: the champion answers another bar
            promoted = True
            reason = (
                f"v{cver} predicts {target_label(cfg.min_ev)}, the comparator's bar; champion "
                f"v{champ.version} predicts {champ.target}: replaced (v{cver} log_loss={new_ll:.5f})"
            )
        else:
            from sklearn.metrics import log_loss

            p_champ = champ.score(hold)[0]
            kept_stats = accepted_stats(hold, p_champ, champ.threshold_for(cfg.model_threshold), cfg)
            # a longer held-out window than the champion's (EDGE_MODEL_HOLDOUT_DAYS raised) holds rows
            # it trained on: both are judged on the rows neither saw
            cand, unseen = candidate_mask(hold), champ.unseen(hold)
            window = "the same held-out window"
            if (cand & ~unseen).any() and (cand & unseen).any():
                cand = cand & unseen
                p_new = np.clip(predict(models, hold)[0][cand], 1e-6, 1 - 1e-6)
                new_ll = float(log_loss(y[cand], p_new, labels=[0, 1]))
                window = (
                    f"the held-out rows since {champ.unseen_from:%Y-%m-%d %H:%M}, which neither trained on"
                )
            old_ll = float(log_loss(y[cand], np.clip(p_champ[cand], 1e-6, 1 - 1e-6), labels=[0, 1]))
            mlflow.log_metric("champion_log_loss_same_window", old_ll)
            promoted = new_ll < old_ll - MIN_IMPROVEMENT
            verdict = "beats" if promoted else "does not beat"
            reason = (
                f"v{cver} log_loss={new_ll:.5f} {verdict} champion v{champ.version} "
                f"log_loss={old_ll:.5f} on {window} (needs -{MIN_IMPROVEMENT})"
            )
        if promoted:
            client.set_registered_model_alias(CLASSIFIER_NAME, CHAMPION, cver)
            client.set_registered_model_alias(REGRESSOR_NAME, CHAMPION, rver)
            champ_version = cver
            champ_stats = {k: v for k, v in metrics["model"].items() if k in ACCEPTED_STAT_KEYS}
        else:
            champ_version, champ_stats = champ.version, kept_stats  # type: ignore[union-attr]
            mlflow.log_metrics({f"champion_{k}_same_window": v for k, v in kept_stats.items() if v == v})
        mlflow.set_tags(
            {"champion_decision": reason, "promoted": str(promoted), "champion_version": champ_version}
        )
    return TrainOutcome(run.info.run_id, cver, rver, promoted, reason, metrics, champ_version, champ_stats)


def _latest_run_with(tracking_uri: str, tag: str) -> Any:
    """The data (tags, metrics) of the latest training run carrying ``tag``, or None."""
    mlflow = _mlflow(tracking_uri, None)
    exp = mlflow.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        return None
    runs = mlflow.MlflowClient().search_runs(
        [exp.experiment_id], f"tags.{tag} != ''", order_by=["attributes.start_time DESC"], max_results=1
    )
    return runs[0].data if runs else None


def last_decision(tracking_uri: str) -> str | None:
    """The latest training run's ``champion_decision``: why its models took the alias or did not."""
    run = _latest_run_with(tracking_uri, "champion_decision")
    return run.tags["champion_decision"] if run else None


def last_versus_rule(tracking_uri: str) -> tuple[str, dict[str, float], dict[str, float]] | None:
    """From the latest training run: (the champion version after it, that champion's accepted-signal
    stats on the run's held-out window, the rule confidence's on the same rows); None before any
    run that recorded them. A missing figure (nothing accepted, no real edge) reads NaN."""
    run = _latest_run_with(tracking_uri, "champion_version")
    if run is None:
        return None
    own = "model_{}" if run.tags.get("promoted") == "True" else "champion_{}_same_window"
    nan = float("nan")
    champ = {k: run.metrics.get(own.format(k), nan) for k in ACCEPTED_STAT_KEYS}
    rule = {k: run.metrics.get(f"rule_{k}", nan) for k in ACCEPTED_STAT_KEYS}
    return run.tags["champion_version"], champ, rule


def list_versions(tracking_uri: str) -> pl.DataFrame:
    """Every registered version of both models with the champion flag and its run's held-out metrics
    that describe it: the classifier's (its comparator threshold, AUC .. recall and mean realized EV
    of the signals it accepts) or the regressor's (EV RMSE). Both versions come from one run, so each
    row shows only its own."""
    mlflow = _mlflow(tracking_uri, None)
    client = mlflow.MlflowClient()
    own_metrics = {
        CLASSIFIER_NAME: (
            "auc",
            "brier",
            "log_loss",
            "calibration_error",
            "precision",
            "recall",
            "mean_realized_ev",
        ),
        REGRESSOR_NAME: ("ev_rmse",),
    }
    rows = []
    for name in (CLASSIFIER_NAME, REGRESSOR_NAME):
        try:
            champ = client.get_model_version_by_alias(name, CHAMPION).version
        except mlflow.exceptions.MlflowException:
            champ = None
        for v in client.search_model_versions(f"name='{name}'"):
            m = client.get_run(v.run_id).data.metrics if v.run_id else {}
            rows.append(
                {
                    "model": name,
                    "version": int(v.version),
                    "champion": str(v.version) == str(champ),
                    "run_id": v.run_id,
                    "created": v.creation_timestamp,
                    "threshold": float(v.tags["threshold"]) if "threshold" in (v.tags or {}) else None,
                    # what the classifier predicts
                    "target": (v.tags or {}).get("target", UNTAGGED_TARGET)
                    if name == CLASSIFIER_NAME
                    else None,
                    **{k: m.get(f"model_{k}") for k in own_metrics[name]},
                }
            )
    schema = {
        "model": pl.String,
        "version": pl.Int64,
        "champion": pl.Boolean,
        "run_id": pl.String,
        "created": pl.Int64,
        "threshold": pl.Float64,
        "target": pl.String,
        **{k: pl.Float64 for k in ("auc", "brier", "log_loss", "calibration_error", "precision", "recall")},
        "mean_realized_ev": pl.Float64,
        "ev_rmse": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema).sort("model", "version")
