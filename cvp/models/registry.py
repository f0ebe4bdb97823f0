"""Registry policy: every new version is `challenger`; `champion` moves only when the challenger
beats the current champion on the same backtest by a margin and passes sanity checks. The
decision and its reason are tags on the version."""

from __future__ import annotations

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
    client.set_registered_model_alias(model_name, CHALLENGER, version)
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


def booster_features(booster) -> list[str]:
    return list(booster.feature_name())


def frame_for(booster, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns a stored booster was trained on, in its order."""
    return frame[booster_features(booster)]
