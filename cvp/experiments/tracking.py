"""MLflow configuration. Experiments get an explicit artifact location, because without a
tracking server MLflow would otherwise write artifacts relative to the current directory."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import mlflow
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from sqlalchemy.engine import make_url

from cvp.config import Settings


def _sqlite_parent(uri: str) -> Path | None:
    if not uri.startswith("sqlite:"):
        return None
    database = make_url(uri).database
    return Path(database).expanduser().parent if database else None


def configure_tracking(settings: Settings) -> MlflowClient:
    """Point MLflow at the configured store, creating the embedded folders if needed."""
    parent = _sqlite_parent(settings.mlflow_tracking_uri)
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    if "://" not in str(settings.mlflow_artifact_root):
        settings.mlflow_artifact_root.mkdir(parents=True, exist_ok=True)
    # the registry too: a process that pointed it elsewhere (a notebook, an earlier job on
    # another store) would otherwise register this job's models in that other store
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    return tracking_client(settings)


def tracking_client(settings: Settings) -> MlflowClient:
    """A client on the configured store for both runs and registered models.

    ``MlflowClient(uri)`` alone takes its registry from the process-wide registry URI when
    one was set (by an earlier job on another store, or a notebook), so a version registered
    here would then be looked up in that other store: 'Model Version ... not found'."""
    return MlflowClient(
        tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri
    )


def artifact_location(settings: Settings, experiment: str) -> str:
    root = str(settings.mlflow_artifact_root)
    if "://" in root:
        return f"{root.rstrip('/')}/{experiment}"
    return (settings.mlflow_artifact_root.resolve() / experiment).as_uri()


# What each experiment holds, shown as its description in the MLflow UI (`mlflow.note.content`)
NOTE_TAG = "mlflow.note.content"
EXPERIMENT_DESCRIPTIONS: dict[str, str] = {
    "data": (
        "Synthetic generation (`cvp generate`) and file imports (`cvp ingest`): one run per job. "
        "Params: seed, customers, dates, file and mapping. Metrics: rows read, inserted, already "
        "present and quarantined per table (quarantine reasons as counts, never values). Tag "
        "`cvp.data_fingerprint`: the content hash of the raw tables the run left."
    ),
    "validation": (
        "Great Expectations checkpoints over the raw tables (`cvp validate`, and the gate of "
        "training and scoring). Param `as_of`: the date the rules are relative to (no row after "
        "it; the newest within `validation.freshness_days`). Metrics: expectations, "
        "failed_expectations, critical_failures (critical failures stop training and scoring). "
        "Artifact `data_docs/index.html`: the offline validation page."
    ),
    "features": (
        "Point-in-time feature snapshots (`cvp features --as-of D`): one run per date, computed "
        "only from rows on or before D. Metrics: customers, null rate per feature. Tag "
        "`cvp.feature_set_version`: hash of the feature definitions."
    ),
    "training": (
        "Churn and CLV models (`cvp train --as-of D`): a parent run per training date, nested "
        "Optuna trials, a `<target>-lightgbm` run and a `<target>-btyd-baseline` run per target "
        "with the same metric names and plots, so the compare view sets them side by side. Data: "
        "feature snapshots at monthly cutoffs before D (train), one validation cutoff (threshold, "
        "calibration) and the last cutoff (test, backtest). Metrics on the test cutoff: churn "
        "`roc_auc` (ranking; promotion metric), `pr_auc`, `brier`, `log_loss` and `ece` "
        "(calibration error: mean gap between predicted and observed churn), `lift_at_10pct` "
        "(churn rate in the riskiest 10% over the base rate); CLV `normalized_gini` (ranking of "
        "customers by value; promotion metric), `spearman`, `mae`, `rmse`, `decile_mape` (error "
        "of the mean per predicted decile), `total_error_pct` (sum predicted vs actual). "
        "Registered models `cvp-churn`, `cvp-clv`: "
        "@champion scores, @challenger is the latest candidate that is not champion."
    ),
    "scoring": (
        "Scoring (`cvp score --as-of D`) and retention plans (`cvp plan`): one run per job. "
        "Params: as_of, model versions. Metrics: customers_scored, mean_churn_probability, "
        "total_expected_loss (sum of P(churn) x lifetime value), alerts, consent counts; plans: "
        "reach, control, cost, expected_saved_value, roi."
    ),
    "monitoring": (
        "Monitoring (`cvp monitor --as-of D`): realised accuracy of earlier scores against what "
        "the model's backtest promised, feature drift (PSI, KS) against the training snapshot, "
        "KPIs, and the retraining decision with its reasons."
    ),
    "campaigns": (
        "Retention campaigns: plan (treatment and held-out control), launch, and measurement of "
        "uplift and ROI against the control group."
    ),
}


def ensure_experiment(settings: Settings, name: str) -> str:
    """The experiment's id, created on first use with its artifact location and description
    (an existing experiment without a description gets one)."""
    client = configure_tracking(settings)
    existing = client.get_experiment_by_name(name)
    description = EXPERIMENT_DESCRIPTIONS.get(name)
    if existing is None:
        tags = {NOTE_TAG: description} if description else None
        return client.create_experiment(
            name, artifact_location=artifact_location(settings, name), tags=tags
        )
    if description and NOTE_TAG not in existing.tags:
        client.set_experiment_tag(existing.experiment_id, NOTE_TAG, description)
    return existing.experiment_id


@contextlib.contextmanager
def tracked_run(
    settings: Settings, experiment: str, run_name: str, tags: dict[str, str] | None = None
) -> Iterator[Run]:
    """A run under `experiment`, tagged with who ran it; ended even if the job fails."""
    experiment_id = ensure_experiment(settings, experiment)
    all_tags = {"cvp.run_by": settings.operator, **(tags or {})}
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=all_tags) as run:
        yield run
