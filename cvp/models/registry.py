"""Registry policy: a new version is a candidate; `champion` moves to it only when it beats the
current champion on the same backtest by a margin and passes sanity checks. `challenger` names
the latest candidate that is not champion: a candidate that loses takes the alias; one that wins
takes `champion` and the alias is removed (no older loser stays "the challenger" of a newer
champion), so a version never carries both. The decision and its reason are tags on the version,
and the model and each version carry a description (MLflow UI)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cvp.models.predictors import load_predictor

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass
class PromotionDecision:
    model_name: str
    version: str
    promoted: bool
    reason: str
    challenger_score: float
    champion_score: float | None


def champion_version(client: MlflowClient, model_name: str) -> str | None:
    try:
        return client.get_model_version_by_alias(model_name, CHAMPION).version
    except MlflowException:
        return None


def decide_promotion(
    client: MlflowClient,
    model_name: str,
    version: str,
    metric: str,
    challenger_score: float,
    score_champion: Callable[[object], float],
    margin: float,
    sanity_failures: list[str],
    guard: Callable[[object], str | None] | None = None,
) -> PromotionDecision:
    """`score_champion(model)` evaluates the current champion on the challenger's test set;
    `guard(model)`, when given, names a second metric on which the challenger loses to the
    champion (the CLV gate: RMSE as well as Gini), which keeps it challenger."""
    current = champion_version(client, model_name)
    champion_score = None
    if sanity_failures:
        promoted, reason = False, "sanity checks failed: " + "; ".join(sanity_failures)
    elif current is None:
        promoted, reason = True, f"no champion yet; {metric}={challenger_score:.4f}"
    else:
        booster = load_predictor(f"models:/{model_name}@{CHAMPION}")
        champion_score = score_champion(booster)
        gain = challenger_score - champion_score
        if gain >= margin:
            promoted = True
            reason = f"{metric} {challenger_score:.4f} beats champion v{current} {champion_score:.4f} by {gain:.4f} >= {margin}"
        else:
            promoted = False
            reason = f"{metric} {challenger_score:.4f} vs champion v{current} {champion_score:.4f}: gain {gain:.4f} < margin {margin}"
        loses = guard(booster) if promoted and guard is not None else None
        if loses:
            promoted, reason = False, f"{reason}, but {loses}"
    if promoted:
        client.set_registered_model_alias(model_name, CHAMPION, version)
        _drop_alias(client, model_name, CHALLENGER)
    else:
        client.set_registered_model_alias(model_name, CHALLENGER, version)
    tags = {
        "cvp.promotion.decision": "promoted" if promoted else "kept_challenger",
        "cvp.promotion.reason": reason,
        f"cvp.backtest.{metric}": f"{challenger_score:.6f}",
    }
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, value)
    return PromotionDecision(
        model_name, version, promoted, reason, challenger_score, champion_score
    )


def _drop_alias(client: MlflowClient, model_name: str, alias: str) -> None:
    with contextlib.suppress(MlflowException):  # the alias was not set
        client.delete_registered_model_alias(model_name, alias)


# What each registered model predicts, for its page in the MLflow UI
MODEL_DESCRIPTIONS = {
    "churn": (
        "Calibrated probability that a customer makes no purchase in the next `horizon_days` "
        "(90 by default) after the scoring date. LightGBM on the point-in-time feature snapshot, "
        "tuned with Optuna on ROC AUC, calibrated (isotonic or Platt) on a later cutoff, and "
        "promoted over the champion only by a backtest ROC AUC gain of at least "
        "`promotion.margin` with calibration error under `promotion.max_ece`. @champion scores; "
        "@challenger is the latest candidate that did not become champion."
    ),
    "clv": (
        "Expected revenue of a customer in the next `horizon_days` after the scoring date "
        "(Tweedie/Poisson LightGBM on the point-in-time feature snapshot), compared with the "
        "BG/NBD x Gamma-Gamma baseline; promoted by normalised Gini gain. Scoring turns it into "
        "a discounted lifetime value. @champion scores; @challenger is the latest candidate that "
        "did not become champion."
    ),
}


def describe_version(
    client: MlflowClient,
    model_name: str,
    target: str,
    decision: PromotionDecision,
    trained: str,
    baseline_score: float,
    metric: str,
) -> None:
    """The registered model's description (set once) and this version's: what it was trained
    on, its backtest next to the BTYD baseline's, and the registry decision."""
    model = client.get_registered_model(model_name)
    if not model.description and target in MODEL_DESCRIPTIONS:
        client.update_registered_model(model_name, description=MODEL_DESCRIPTIONS[target])
    outcome = "promoted to @champion" if decision.promoted else "kept as @challenger"
    client.update_model_version(
        model_name,
        decision.version,
        description=(
            f"{trained}. Backtest {metric} {decision.challenger_score:.4f} (BTYD baseline "
            f"{baseline_score:.4f}). {outcome.capitalize()}: {decision.reason}."
        ),
    )


def booster_features(booster) -> list[str]:
    return list(booster.feature_name())


def frame_for(booster, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns a stored booster was trained on, in its order."""
    return frame[booster_features(booster)]
