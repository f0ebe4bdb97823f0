"""Model card: the champion versions, read from their MLflow runs (backtest metrics beside the
BTYD baseline's, calibration and gain points, SHAP importance, fairness gaps)."""

from __future__ import annotations

import os
from typing import Any

import mlflow
import pandas as pd
from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cvp.monitoring.models import ModelInfo, champion_info
from cvp.names import MODEL_NAMES, MODEL_TARGETS
from cvp.reports.curves import CURVES_ARTIFACT
from cvp.reports.readings import SectionData

# the metric each target is promoted on, and whether a higher value is better
HEADLINE_METRIC = {"churn": ("roc_auc", True), "clv": ("normalized_gini", True)}
TOP_FEATURES = 12


def _artifact(run_id: str, path: str) -> Any | None:
    """A JSON artifact of a run, or None when the run has none (an older version). MLflow's
    download progress bar is switched off meanwhile: it would print to the terminal."""
    flag = MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name
    before = os.environ.get(flag)
    os.environ[flag] = "false"
    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")
    except (MlflowException, OSError, ValueError):
        return None
    finally:
        if before is None:
            os.environ.pop(flag, None)
        else:
            os.environ[flag] = before


def _baseline_metrics(client: MlflowClient, info: ModelInfo) -> dict[str, float]:
    """The BTYD sibling run of the champion's run: same parent, `cvp.kind` = baseline."""
    run = client.get_run(info.run_id)
    parent = run.data.tags.get("mlflow.parentRunId")
    if not parent:
        return {}
    found = client.search_runs(
        [run.info.experiment_id],
        filter_string=(
            f"tags.`mlflow.parentRunId` = '{parent}' and tags.`cvp.kind` = 'baseline' "
            f"and tags.`cvp.target` = '{info.target}'"
        ),
        max_results=1,
    )
    return dict(found[0].data.metrics) if found else {}


def _table(logged: dict | None) -> pd.DataFrame:
    """A frame logged with `mlflow.log_table` (columns + data)."""
    if not logged:
        return pd.DataFrame()
    return pd.DataFrame(logged.get("data", []), columns=logged.get("columns"))


def model_card(client: MlflowClient) -> SectionData:
    section = SectionData("model", "Model card")
    versions, comparison, importance = [], [], []
    for target in MODEL_TARGETS:
        info = champion_info(client, target)
        if info is None:
            section.unavailable.append(
                f"no champion {MODEL_NAMES[target]}: train with `cvp train --as-of DATE`"
            )
            continue
        versions.append(
            {
                "model": MODEL_NAMES[target],
                "version": info.version,
                "trained_as_of": info.trained_as_of,
                "horizon_days": info.horizon_days,
            }
        )
        baseline = _baseline_metrics(client, info)
        for metric in sorted(set(info.promised) & set(baseline)):
            comparison.append(
                {
                    "model": target,
                    "metric": metric,
                    "lightgbm": info.promised[metric],
                    "btyd_baseline": baseline[metric],
                }
            )
        shap = _artifact(info.run_id, "shap_importance.json") or {}
        top = sorted(shap.items(), key=lambda kv: -kv[1])[:TOP_FEATURES]
        importance += [{"model": target, "feature": f, "mean_abs_shap": v} for f, v in top]
        if target == "churn":
            section.values["curves"] = _artifact(info.run_id, CURVES_ARTIFACT)
            section.frames["fairness_gaps"] = _table(_artifact(info.run_id, "fairness/gaps.json"))
            section.values["fairness_note"] = client.get_run(info.run_id).data.tags.get(
                "cvp.fairness"
            )
    section.frames.update(
        {
            "versions": pd.DataFrame(versions),
            "comparison": pd.DataFrame(comparison),
            "importance": pd.DataFrame(importance),
        }
    )
    if section.values.get("curves") is None and versions:
        section.unavailable.append(
            "calibration and gain points are not in the champion's run (trained before they "
            "were logged): retrain to see them"
        )
    if section.frames.get("fairness_gaps", pd.DataFrame()).empty:
        note = section.values.get("fairness_note") or "no fairness audit on the champion's run"
        section.unavailable.append(f"fairness gaps: {note}")
    section.reading = _reading(section.frames["comparison"], section.frames["versions"])
    return section


def _reading(comparison: pd.DataFrame, versions: pd.DataFrame) -> list[str]:
    if versions.empty:
        return ["No champion model is registered.", "Train models to fill this section."]
    lines = [
        "Champions: "
        + ", ".join(
            f"{r.model} v{r.version} (trained as of {r.trained_as_of})"
            for r in versions.itertuples()
        )
        + "."
    ]
    parts = []
    for target, (metric, _) in HEADLINE_METRIC.items():
        row = comparison[(comparison["model"] == target) & (comparison["metric"] == metric)]
        if not row.empty:
            r = row.iloc[0]
            parts.append(f"{target} {metric} {r['lightgbm']:.3f} vs BTYD {r['btyd_baseline']:.3f}")
    lines.append(
        "On the backtest: " + "; ".join(parts) + "." if parts else "No backtest metrics found."
    )
    return lines
