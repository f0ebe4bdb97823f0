"""The part of the promotion gate that compares a model with its BTYD baseline, and what scores
when the model loses.

A model that loses to its baseline on the backtest is not promoted, champion or not: churn on
ROC AUC, CLV on normalised Gini (its primary metric) *and* RMSE. Without any champion, the
baseline itself is registered and becomes champion for CLV (`cvp.models.predictors.BtydValue`),
so `cvp score` keeps working with the best model the backtest found; the job says so in one line
(the decision's reason). A churn model that loses keeps no champion until one wins (scoring
needs its TreeSHAP reasons); `cvp score` then says to train."""

from __future__ import annotations

from collections.abc import Callable

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from cvp.models.metrics import clv_metrics
from cvp.models.predictors import BtydValue, Predictor, log_predictor
from cvp.models.registry import CHAMPION, PromotionDecision, champion_version, frame_for
from cvp.models.runs import TrainingContext
from cvp.names import CHURN, CLV, MODEL_NAMES

LOSES_TO_BASELINE = "loses to its BTYD baseline"
# (metric, True when higher is better) the model must not lose on, per target
BASELINE_METRICS = {
    CHURN: (("roc_auc", True),),
    CLV: (("normalized_gini", True), ("rmse", False)),
}


def baseline_failures(
    target: str, metrics: dict[str, float], baseline: dict[str, float]
) -> list[str]:
    """One failure per backtest metric on which the model is worse than its baseline."""
    failures = []
    for metric, higher_is_better in BASELINE_METRICS[target]:
        model, base = metrics[metric], baseline[metric]
        worse = model < base if higher_is_better else model > base
        if worse or not np.isfinite(model):
            failures.append(f"{LOSES_TO_BASELINE} on {metric} ({model:.4f} vs {base:.4f})")
    return failures


def rmse_guard(
    y_test: np.ndarray, x_test: pd.DataFrame, rmse: float
) -> Callable[[object], str | None]:
    """For `decide_promotion`: the CLV challenger must not have a higher test RMSE than the
    champion it would replace, whatever its Gini gain."""

    def guard(champion: object) -> str | None:
        model: Predictor = champion  # type: ignore[assignment]
        try:
            predicted = np.asarray(model.predict(frame_for(model, x_test).astype("float64")))
        except KeyError:
            return None
        champion_rmse = clv_metrics(y_test, np.maximum(predicted, 0))["rmse"]
        if rmse > champion_rmse:
            return f"its rmse {rmse:.4f} is worse than the champion's {champion_rmse:.4f}"
        return None

    return guard


def baseline_takes_over(
    context: TrainingContext,
    decision: PromotionDecision,
    x_test: pd.DataFrame,
    baseline_metrics: dict[str, float],
) -> PromotionDecision:
    """When the CLV model lost to its baseline and no champion exists, register the BTYD
    baseline and make it champion; the decision's reason says so. Otherwise unchanged. Its run
    carries the baseline's backtest metrics: what monitoring holds the champion to."""
    client: MlflowClient = context.client
    name = MODEL_NAMES[CLV]
    if decision.promoted or LOSES_TO_BASELINE not in decision.reason:
        return decision
    if champion_version(client, name) is not None:
        return decision
    with context.child_run("clv-btyd-registered", **{"cvp.kind": "baseline", "cvp.target": CLV}):
        mlflow.log_param("model", "BG/NBD + Gamma-Gamma (registered: the LightGBM model lost)")
        mlflow.log_metrics(baseline_metrics)
        version = log_predictor(BtydValue(), x_test, CLV)
    client.set_registered_model_alias(name, CHAMPION, version)
    reason = (
        f"{decision.reason}; no champion yet, so the BTYD baseline (v{version}) is champion "
        "and scores"
    )
    for key, value in {
        "cvp.promotion.decision": "baseline_champion",
        "cvp.promotion.reason": reason,
    }.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_model_version_tag(name, decision.version, "cvp.promotion.reason", reason)
    decision.reason = reason
    return decision
