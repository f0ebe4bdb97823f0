"""What the training procedure leaves in MLflow besides trials: nested model and baseline runs,
importance plots and the logged, registered model.

The parent run id is passed explicitly: MLflow's active run is thread-local and Prefect runs
tasks in worker threads, so `mlflow.active_run()` cannot be relied on."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from cvp.models.engine import LOCAL, ModelEngine
from cvp.names import MODEL_NAMES
from cvp.reports import plots

PIP_REQUIREMENTS = [
    f"lightgbm=={lgb.__version__}",
    f"pandas=={pd.__version__}",
    f"numpy=={np.__version__}",
]


@dataclass(frozen=True)
class TrainingContext:
    """Where a training procedure records: the client, the experiment, the job's parent run and
    the tags every child run carries (data fingerprint, as_of); and where it tunes and fits
    (`engine`: this process, or a Dask cluster)."""

    client: MlflowClient
    experiment_id: str
    parent_run_id: str
    tags: dict[str, str]
    engine: ModelEngine = LOCAL

    def child_run(self, name: str, **tags: str) -> AbstractContextManager[mlflow.ActiveRun]:
        """A nested run in the parent's experiment, with the parent passed explicitly."""
        return mlflow.start_run(
            run_name=name,
            experiment_id=self.experiment_id,
            nested=True,
            parent_run_id=self.parent_run_id,
            tags={**self.tags, **tags, "mlflow.parentRunId": self.parent_run_id},
        )


def log_baseline_run(
    context: TrainingContext,
    target: str,
    metrics: dict[str, float],
    y_test: np.ndarray | None = None,
    baseline: np.ndarray | None = None,
    params: dict[str, object] | None = None,
) -> None:
    """The BTYD baseline as a sibling run with the same metric names, parameters that say what
    it is, and the plots of the model's run under the same names (`baseline_plots`), so
    MLflow's compare view lines up metrics and artifacts."""
    with context.child_run(
        f"{target}-btyd-baseline", **{"cvp.kind": "baseline", "cvp.target": target}
    ):
        mlflow.log_params(
            {
                "model": "BG/NBD + Gamma-Gamma" if target == "clv" else "BG/NBD P(no purchase)",
                "fitted": "per cutoff, on each customer's purchases before it (lifetimes)",
                **(params or {}),
            }
        )
        mlflow.log_metrics(metrics)
        if y_test is not None and baseline is not None:
            for path, figure in baseline_plots(target, y_test, baseline).items():
                mlflow.log_figure(figure, path)


def baseline_plots(target: str, y_test: np.ndarray, baseline: np.ndarray) -> dict[str, object]:
    """The baseline's curves under the artifact paths the model's run uses."""
    scores = {"btyd": baseline}
    if target == "clv":
        return {"plots/clv_deciles.png": plots.clv_decile_plot(y_test, scores)}
    return {
        "plots/roc.png": plots.roc_plot(y_test, scores),
        "plots/pr.png": plots.pr_plot(y_test, scores),
        "plots/calibration.png": plots.calibration_plot(y_test, scores),
        "plots/gain.png": plots.gain_lift_plot(y_test, scores),
    }


def log_tuned_params(params: dict, trial_rows: int | None = None) -> None:
    """The fitted model's LightGBM parameters and, when given, how many training rows the
    Optuna trials that chose them fitted on (`[training] tuning_rows`)."""
    logged = {k: v for k, v in params.items() if k not in ("verbosity",)}
    if trial_rows is not None:
        logged["trial_rows"] = trial_rows
    mlflow.log_params(logged)


def log_importance(
    booster: lgb.Booster, importance: pd.Series, x: pd.DataFrame, label: str
) -> None:
    gain = pd.Series(booster.feature_importance("gain"), index=x.columns)
    mlflow.log_figure(
        plots.importance_plot(gain, f"{label} feature importance (gain)"),
        "plots/feature_importance.png",
    )
    mlflow.log_figure(
        plots.importance_plot(importance, f"{label} mean |SHAP| (exact TreeSHAP)"),
        "plots/shap_summary.png",
    )
    mlflow.log_dict(importance.round(6).to_dict(), "shap_importance.json")


def log_model(
    booster: lgb.Booster, x: pd.DataFrame, target: str, model_name: str | None = None
) -> str:
    """Log with signature and input example and register under the target's model name (or
    `model_name`: the contract churn model has its own)."""
    signature = infer_signature(x.head(100), booster.predict(x.head(100)))
    info = mlflow.lightgbm.log_model(
        booster,
        name="model",
        signature=signature,
        input_example=x.head(5),
        registered_model_name=model_name or MODEL_NAMES[target],
        pip_requirements=PIP_REQUIREMENTS,  # pinned here: inferring them takes ~40 s per model
    )
    return str(info.registered_model_version)
