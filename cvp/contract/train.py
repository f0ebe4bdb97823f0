"""Training on a labelled subscriber snapshot (`cvp train --label supplied`).

A snapshot has no time axis, so the backtest is a stratified random split (train, validation,
test; `[contract]` shares). On it:

- churn: LightGBM tuned with the platform's Optuna helper on validation AUC, calibrated
  (isotonic or Platt) on validation, judged on test (AUC, PR-AUC, Brier, ...) next to a simple
  baseline, the churn rate of the customer's plan (contract type) on the training part;
- time to churn: a Weibull AFT over the subscriptions (`cvp.contract.survival`) on train and
  validation, its concordance index on test next to the plan-only baseline's;
- fairness: the audit of `cvp.monitoring.fairness` over the snapshot's sensitive attributes,
  which are never features (`FeaturePlan.features` holds no sensitive name: a test checks it).

The model is registered as `cvp-contract-churn`, with the calibrator, the category encoding and
the survival model as JSON artifacts of its run; champion/challenger by the registry's rule on
test AUC, and it is never promoted when it loses to the baseline or fails calibration or fairness.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from cvp.config import ContractSettings, MonitoringSettings, PromotionSettings
from cvp.contract.dataset import (
    Encoding,
    Snapshot,
    durations,
    fit_encoding,
    labelled,
    survival_covariates,
)
from cvp.contract.survival import WeibullAFT, concordance_index, fit_weibull
from cvp.errors import StateError
from cvp.models.calibration import Calibrator, choose_calibrator
from cvp.models.metrics import churn_metrics
from cvp.models.registry import PromotionDecision, decide_promotion
from cvp.models.runs import TrainingContext, log_model, log_tuned_params
from cvp.models.tuning import SearchSpace, tune
from cvp.monitoring.fairness import fairness_gate
from cvp.names import CONTRACT_CHURN_MODEL

ARTIFACTS = {
    "calibration": "contract/calibration.json",
    "encoding": "contract/encoding.json",
    "survival": "contract/survival.json",
}


@dataclass
class ContractOutcome:
    version: str
    decision: PromotionDecision
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    concordance: float
    baseline_concordance: float
    features: list[str]
    sensitive: list[str]
    rows: dict[str, int]
    notes: list[str] = field(default_factory=list)


def plan_rate_baseline(
    plan: pd.Series | None, y_train: np.ndarray, rows: pd.Series | None
) -> np.ndarray | float:
    """The churn rate of each customer's plan on the training part (the overall rate without a
    plan column or for an unseen plan)."""
    overall = float(np.mean(y_train))
    if plan is None or rows is None:
        return overall
    rates = pd.Series(y_train, index=plan.index).groupby(plan.astype(object)).mean()
    return rows.astype(object).map(rates).fillna(overall).to_numpy(dtype=float)


def split(
    frame: pd.DataFrame, y: np.ndarray, rules: ContractSettings, seed: int
) -> dict[str, np.ndarray]:
    """Stratified random positions of train, validation and test."""
    positions = np.arange(len(y))
    rest, test = train_test_split(
        positions, test_size=rules.test_share, stratify=y, random_state=seed
    )
    share = rules.validation_share / (1 - rules.test_share)
    train, valid = train_test_split(rest, test_size=share, stratify=y[rest], random_state=seed)
    return {"train": np.sort(train), "valid": np.sort(valid), "test": np.sort(test)}


def train_contract(
    snapshot: Snapshot,
    context: TrainingContext,
    trials: int,
    seed: int,
    max_boost_rounds: int,
    rules: ContractSettings,
    promotion: PromotionSettings,
    monitoring: MonitoringSettings,
    space: SearchSpace | None = None,
) -> ContractOutcome:
    frame, y = labelled(snapshot)
    encoding = fit_encoding(snapshot)
    x = encoding.transform(frame)
    sensitive_names = snapshot.names("sensitive", kinds=("boolean", "category", "integer", "text"))
    parts = split(frame, y, rules, seed)
    tr, va, te = parts["train"], parts["valid"], parts["test"]
    tuned = tune(
        "churn",
        (x.iloc[tr], y[tr]),
        (x.iloc[va], y[va]),
        trials,
        seed,
        context.client,
        context.experiment_id,
        context.parent_run_id,
        max_boost_rounds,
        space,
    )
    booster = tuned.booster
    calibrator = choose_calibrator(np.asarray(booster.predict(x.iloc[va])), y[va], seed)
    p_test = calibrator.apply(np.asarray(booster.predict(x.iloc[te])))
    metrics = churn_metrics(y[te], p_test)

    plan = snapshot.field("plan")
    plan_values = frame[plan] if plan else None
    baseline = plan_rate_baseline(
        None if plan_values is None else plan_values.iloc[tr],
        y[tr],
        None if plan_values is None else plan_values.iloc[te],
    )
    baseline_p = np.broadcast_to(np.asarray(baseline, dtype=float), (len(te),)).copy()
    baseline_metrics = churn_metrics(y[te], baseline_p)

    survival, concordance, baseline_c = _survival(snapshot, frame, parts)
    with context.child_run(
        "contract-churn-lightgbm", **{"cvp.kind": "model", "cvp.target": "contract_churn"}
    ):
        log_tuned_params(tuned.params)
        mlflow.log_params(
            {
                "split": "stratified random (a snapshot has no time axis)",
                "baseline": f"churn rate by {plan or 'nothing (overall rate)'} on train",
                "survival": "Weibull AFT (scipy maximum likelihood)",
                "features": len(encoding.columns),
                "sensitive_for_fairness_only": ",".join(sensitive_names) or "none",
            }
        )
        mlflow.log_metrics(
            metrics
            | {f"baseline_{k}": v for k, v in baseline_metrics.items()}
            | {"concordance": concordance, "baseline_concordance": baseline_c}
            | {f"rows_{k}": float(len(v)) for k, v in parts.items()}
            | {"survival_shape": survival.shape}
        )
        mlflow.log_dict(calibrator.to_dict(), ARTIFACTS["calibration"])
        mlflow.log_dict(encoding.to_dict(), ARTIFACTS["encoding"])
        mlflow.log_dict(survival.to_dict(), ARTIFACTS["survival"])
        sensitive = frame[sensitive_names].astype("string").reset_index()
        fairness = fairness_gate(
            sensitive["customer_id"].iloc[te].reset_index(drop=True),
            y[te],
            p_test,
            rules.fairness_flag_probability,
            sensitive.iloc[te],
            monitoring,
            sensitive_names,
        )
        # input example: feature values only, no ids
        version = log_model(booster, x.iloc[tr], "contract_churn", CONTRACT_CHURN_MODEL)
    failures = list(fairness)
    if metrics["roc_auc"] <= baseline_metrics["roc_auc"]:
        failures.append(
            f"loses to its plan-rate baseline on roc_auc ({metrics['roc_auc']:.4f} vs "
            f"{baseline_metrics['roc_auc']:.4f})"
        )
    if metrics["ece"] > promotion.max_ece:
        failures.append(f"ece {metrics['ece']:.4f} > promotion.max_ece {promotion.max_ece}")
    x_test = x.iloc[te]

    def score_champion(champion: object) -> float:
        model: lgb.Booster = champion  # type: ignore[assignment]
        try:
            raw = np.asarray(model.predict(x_test[list(model.feature_name())]))
        except KeyError:  # trained on other attributes: not comparable, the new one scores
            return float("-inf")
        return churn_metrics(y[te], np.clip(raw, 1e-6, 1 - 1e-6))["roc_auc"]

    decision = decide_promotion(
        context.client,
        CONTRACT_CHURN_MODEL,
        version,
        "roc_auc",
        metrics["roc_auc"],
        score_champion,
        promotion.margin,
        failures,
    )
    rows = {k: len(v) for k, v in parts.items()}
    return ContractOutcome(
        version,
        decision,
        metrics,
        baseline_metrics,
        concordance,
        baseline_c,
        list(encoding.columns),
        sensitive_names,
        rows,
    )


def _survival(
    snapshot: Snapshot, frame: pd.DataFrame, parts: dict[str, np.ndarray]
) -> tuple[WeibullAFT, float, float]:
    """Fit on train + validation, concordance on test, and the plan-only model's."""
    months, churned = durations(snapshot, frame)
    covariates = survival_covariates(snapshot, frame)
    fit_rows = np.concatenate([parts["train"], parts["valid"]])
    te = parts["test"]
    model = fit_weibull(covariates.iloc[fit_rows], months[fit_rows], churned[fit_rows])
    concordance = concordance_index(months[te], churned[te], -model.log_scale(covariates.iloc[te]))
    plan = snapshot.field("plan")
    if plan is None:
        return model, concordance, 0.5
    plan_only = pd.get_dummies(frame[plan].astype(object), dtype=float)
    base = fit_weibull(plan_only.iloc[fit_rows], months[fit_rows], churned[fit_rows])
    baseline_c = concordance_index(months[te], churned[te], -base.log_scale(plan_only.iloc[te]))
    return model, concordance, baseline_c


def load_artifacts(run_id: str) -> tuple[Calibrator, Encoding, WeibullAFT]:
    """What scoring needs besides the booster, from the model version's run."""
    from cvp.reports.model_card import _artifact  # quiet: no download progress bar

    found: dict[str, dict] = {}
    for name, path in ARTIFACTS.items():
        value = _artifact(run_id, path)
        if value is None:
            raise StateError(f"run {run_id} lacks the contract model's {name}; retrain it")
        found[name] = value
    return (
        Calibrator.from_dict(found["calibration"]),
        Encoding.from_dict(found["encoding"]),
        WeibullAFT.from_dict(found["survival"]),
    )
