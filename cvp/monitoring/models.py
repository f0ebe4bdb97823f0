"""What the registry says about a model version: what its backtest promised, on which data
it was trained, and its horizon. Read from the version's MLflow run and its parent job run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cvp.models.registry import CHAMPION

MODEL_NAMES = {"churn": "cvp-churn", "clv": "cvp-clv"}
DEFAULT_HORIZON_DAYS = 90


@dataclass
class ModelInfo:
    target: str
    version: str
    run_id: str
    promised: dict[str, float]
    horizon_days: int
    trained_as_of: date | None
    test_cutoff: date | None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def model_info(client: MlflowClient, target: str, version: str) -> ModelInfo:
    """The backtest metrics of the version's run are what training promised."""
    mv = client.get_model_version(MODEL_NAMES[target], version)
    if mv.run_id is None:
        raise ValueError(f"{MODEL_NAMES[target]} v{version} has no training run")
    run = client.get_run(mv.run_id)
    parent_id = run.data.tags.get("mlflow.parentRunId")
    parent = client.get_run(parent_id) if parent_id else run
    return ModelInfo(
        target=target,
        version=str(version),
        run_id=mv.run_id,
        promised=dict(run.data.metrics),
        horizon_days=int(parent.data.params.get("horizon_days", DEFAULT_HORIZON_DAYS)),
        trained_as_of=_date(run.data.tags.get("cvp.as_of") or parent.data.tags.get("cvp.as_of")),
        test_cutoff=_date(parent.data.params.get("cutoff_test")),
    )


def champion_info(client: MlflowClient, target: str) -> ModelInfo | None:
    try:
        mv = client.get_model_version_by_alias(MODEL_NAMES[target], CHAMPION)
    except MlflowException:
        return None
    return model_info(client, target, str(mv.version))


def model_importance(client: MlflowClient, info: ModelInfo) -> pd.Series:
    """Mean |SHAP| per feature logged by training (`shap_importance.json` on the version's
    run); empty when the run has none."""
    try:
        path = client.download_artifacts(info.run_id, "shap_importance.json")
    except (MlflowException, OSError):
        return pd.Series(dtype=float)
    with open(path) as handle:
        return pd.Series(json.load(handle), dtype=float)
