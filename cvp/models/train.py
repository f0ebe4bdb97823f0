"""The training procedure, one function per model: tune on the training cutoffs, calibrate and
choose the decision threshold on the validation cutoff, backtest against the BTYD baseline on
the test cutoff, register, and pass the registry's promotion gate.

A job opens the MLflow run and the audit record and calls `train_models`; everything that
fits a model lives here, so it can run from a notebook with a tracking client and a warehouse
connection."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from cvp.config import MonitoringSettings, Settings
from cvp.models.calibration import Calibrator, choose_calibrator
from cvp.models.dataset import Splits, baseline_revenue, feature_columns, load_splits, plan_cutoffs
from cvp.models.decision import choose_threshold
from cvp.models.metrics import churn_metrics, clv_metrics
from cvp.models.registry import PromotionDecision, decide_promotion, frame_for
from cvp.models.runs import (
    TrainingContext,
    log_baseline_run,
    log_importance,
    log_model,
    log_tuned_params,
)
from cvp.models.tuning import TunedModel, tune
from cvp.monitoring.fairness import fairness_gate
from cvp.names import CHURN, CLV, MODEL_NAMES, MODEL_TARGETS
from cvp.reports import plots
from cvp.reports.curves import CURVES_ARTIFACT, curve_points

# the backtest metric each model is promoted on
PROMOTION_METRIC = {CHURN: "roc_auc", CLV: "normalized_gini"}


@dataclass(frozen=True)
class TrainingConfig:
    """What a caller asks for; a knob left `None` takes its `[training]` default from cvp.toml."""

    as_of: date
    horizon_days: int | None = None
    trials: int | None = None
    seed: int | None = None
    train_cutoffs: int | None = None
    step_days: int | None = None
    targets: tuple[str, ...] = MODEL_TARGETS
    max_boost_rounds: int | None = None
    force_validation: bool = False

    def resolve(self, settings: Settings) -> TrainingPlan:
        """The complete set of knobs a run uses: the request on top of `[training]` and
        `[promotion]`."""
        defaults = settings.training

        def pick(name: str) -> Any:
            given = getattr(self, name)
            return getattr(defaults, name) if given is None else given

        return TrainingPlan(
            as_of=self.as_of,
            horizon_days=pick("horizon_days"),
            trials=pick("trials"),
            seed=pick("seed"),
            train_cutoffs=pick("train_cutoffs"),
            step_days=pick("step_days"),
            targets=tuple(self.targets),
            save_rate=defaults.save_rate,
            contact_cost=defaults.contact_cost,
            promotion_margin=settings.promotion.margin,
            max_ece=settings.promotion.max_ece,
            max_boost_rounds=pick("max_boost_rounds"),
            force_validation=self.force_validation,
        )


@dataclass(frozen=True)
class TrainingPlan:
    """Every knob of one training run, resolved; recorded as the run's parameters."""

    as_of: date
    horizon_days: int
    trials: int
    seed: int
    train_cutoffs: int
    step_days: int
    targets: tuple[str, ...]
    save_rate: float
    contact_cost: float
    promotion_margin: float
    max_ece: float
    max_boost_rounds: int
    force_validation: bool

    def params(self) -> dict[str, Any]:
        """JSON-friendly, for the audit row and MLflow."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


@dataclass
class ModelOutcome:
    """One trained model: its backtest next to the baseline's, and the registry decision."""

    target: str
    run_id: str
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    decision: PromotionDecision
    importance: pd.Series
    params: dict = field(default_factory=dict)

    def parent_metrics(self) -> dict[str, float]:
        """The same metrics, prefixed for the job's parent run (`churn_roc_auc`, ...)."""
        return {f"{self.target}_{k}": v for k, v in self.metrics.items()} | {
            f"{self.target}_baseline_{k}": v for k, v in self.baseline_metrics.items()
        }


def assemble(conn: Connection, plan: TrainingPlan) -> Splits:
    """Cutoffs that fit the horizon, features and labels per cutoff, BTYD per cutoff."""
    cutoffs = plan_cutoffs(plan.as_of, plan.horizon_days, plan.train_cutoffs, plan.step_days)
    return load_splits(conn, cutoffs, plan.horizon_days, plan.as_of)


def split_params(splits: Splits) -> dict[str, str]:
    cutoffs = splits.cutoffs
    return {
        "cutoffs_train": ",".join(map(str, cutoffs.train)),
        "cutoff_valid": str(cutoffs.valid),
        "cutoff_test": str(cutoffs.test),
    }


def split_rows(splits: Splits) -> dict[str, int]:
    return {"train": len(splits.train), "valid": len(splits.valid), "test": len(splits.test)}


def xy(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and label of one target; revenue is clipped at 0 (refunds are not negative value)."""
    x = frame[feature_columns()].astype("float64")
    y = (
        frame["churned"].to_numpy(float)
        if target == CHURN
        else frame["future_revenue"].clip(lower=0).to_numpy(float)
    )
    return x, y


def predict(booster: lgb.Booster, x: pd.DataFrame, **kwargs: Any) -> np.ndarray:
    """`Booster.predict` as an array (its declared return type is wider)."""
    return np.asarray(booster.predict(x, **kwargs))


def shap_importance(booster: lgb.Booster, x: pd.DataFrame) -> pd.Series:
    """Mean |TreeSHAP| per feature, largest first."""
    contributions = predict(booster, x, pred_contrib=True)[:, :-1]
    return pd.Series(np.abs(contributions).mean(axis=0), index=x.columns).sort_values(
        ascending=False
    )


def sanity_failures(splits: Splits, x: pd.DataFrame) -> list[str]:
    """Checks any model must pass before it can become champion."""
    failures = []
    unknown = set(x.columns) - set(feature_columns())
    if unknown:
        failures.append(f"unknown features {sorted(unknown)}")
    if splits.train["as_of"].max().date() >= splits.cutoffs.valid:
        failures.append("a training cutoff is not before the validation cutoff")
    if splits.valid["as_of"].max().date() >= splits.cutoffs.test:
        failures.append("the validation cutoff is not before the test cutoff")
    return failures


def _tune(target: str, plan: TrainingPlan, splits: Splits, context: TrainingContext, trials: int):
    train, valid = xy(splits.train, target), xy(splits.valid, target)
    return tune(
        target,
        train,
        valid,
        trials,
        plan.seed,
        context.client,
        context.experiment_id,
        context.parent_run_id,
        plan.max_boost_rounds,
    )


def _promote(
    context: TrainingContext,
    target: str,
    version: str,
    score: float,
    splits: Splits,
    plan: TrainingPlan,
    failures: list[str],
) -> PromotionDecision:
    """Re-score the champion on the same test cutoff and move the alias if the gain is enough;
    the decision is tagged on the model's run too, next to its metrics in the compare view."""
    metric = PROMOTION_METRIC[target]
    x_test_frame, y_test = splits.test, xy(splits.test, target)[1]

    def champion_score(booster: Any) -> float:
        try:
            predicted = predict(booster, frame_for(booster, x_test_frame))
        except KeyError:  # the champion needs features the current set no longer has
            return float("-inf")
        metrics = churn_metrics if target == CHURN else clv_metrics
        return metrics(y_test, predicted)[metric]

    decision = decide_promotion(
        context.client,
        MODEL_NAMES[target],
        version,
        metric,
        score,
        champion_score,
        plan.promotion_margin,
        failures,
    )
    mlflow.set_tags(
        {
            "cvp.promotion.decision": "promoted" if decision.promoted else "kept_challenger",
            "cvp.promotion.reason": decision.reason,
            "cvp.model_version": version,
        }
    )
    return decision


def train_clv(
    plan: TrainingPlan, splits: Splits, context: TrainingContext
) -> tuple[ModelOutcome, TunedModel]:
    """Tweedie/Poisson LightGBM on horizon revenue, against BG/NBD x Gamma-Gamma."""
    tuned = _tune(CLV, plan, splits, context, max(2, plan.trials))
    x_test, y_test = xy(splits.test, CLV)
    predicted = predict(tuned.booster, x_test)
    baseline = baseline_revenue(splits.test)
    model_metrics, baseline_metrics = clv_metrics(y_test, predicted), clv_metrics(y_test, baseline)
    log_baseline_run(
        context, CLV, baseline_metrics, y_test, baseline, _baseline_params(plan, splits)
    )
    importance = shap_importance(tuned.booster, x_test)
    with context.child_run("clv-lightgbm", **{"cvp.kind": "model", "cvp.target": CLV}) as run:
        log_tuned_params(tuned.params)
        mlflow.log_metrics(model_metrics)
        _log_objective_comparison(tuned)
        mlflow.log_figure(
            plots.clv_decile_plot(y_test, {"lightgbm": predicted, "btyd": baseline}),
            "plots/clv_deciles.png",
        )
        log_importance(tuned.booster, importance, x_test, "CLV")
        version = log_model(tuned.booster, x_test, CLV)
        failures = sanity_failures(splits, x_test)
        if not np.all(np.isfinite(predicted)) or (predicted < 0).any():
            failures.append("non-finite or negative predictions")
        decision = _promote(
            context, CLV, version, model_metrics["normalized_gini"], splits, plan, failures
        )
    outcome = ModelOutcome(
        CLV, run.info.run_id, model_metrics, baseline_metrics, decision, importance, tuned.params
    )
    return outcome, tuned


def _baseline_params(plan: TrainingPlan, splits: Splits) -> dict[str, object]:
    return {
        "horizon_days": plan.horizon_days,
        "test_cutoff": splits.cutoffs.test.isoformat(),
        "test_rows": len(splits.test),
    }


def _log_objective_comparison(tuned: TunedModel) -> None:
    trials = tuned.study.trials_dataframe()
    if "params_objective" in trials:
        best = trials.groupby("params_objective")["value"].min()
        mlflow.log_dict(
            {k: float(v) for k, v in best.items()}, "objective_comparison_valid_l2.json"
        )


@dataclass
class ChurnFit:
    """A tuned, calibrated churn model and its decision threshold, before anything is logged."""

    tuned: TunedModel
    calibrator: Calibrator
    p_test: np.ndarray
    threshold: float
    valid_profit: float


def fit_churn(
    plan: TrainingPlan, splits: Splits, value_valid: np.ndarray, context: TrainingContext
) -> ChurnFit:
    """Tune on AUC, calibrate on the validation cutoff (isotonic or Platt, whichever fits better),
    and choose the threshold that maximises the expected retention profit there."""
    tuned = _tune(CHURN, plan, splits, context, plan.trials)
    x_valid, y_valid = xy(splits.valid, CHURN)
    raw_valid = predict(tuned.booster, x_valid)
    calibrator = choose_calibrator(raw_valid, y_valid, plan.seed)
    p_valid = calibrator.apply(raw_valid)
    p_test = calibrator.apply(predict(tuned.booster, xy(splits.test, CHURN)[0]))
    threshold, profit = choose_threshold(
        p_valid, y_valid, value_valid, plan.save_rate, plan.contact_cost
    )
    return ChurnFit(tuned, calibrator, p_test, threshold, profit)


def train_churn(
    plan: TrainingPlan,
    splits: Splits,
    value_valid: np.ndarray,
    context: TrainingContext,
    sensitive: pd.DataFrame | None = None,
    fairness_rules: MonitoringSettings | None = None,
) -> ModelOutcome:
    """Binary LightGBM on no-purchase-in-horizon, against BG/NBD's P(no purchase). The
    sensitive attributes (age band, gender, region) only audit the model: group gaps over
    `[monitoring] fairness_max_gap` block promotion; they are never features."""
    fit = fit_churn(plan, splits, value_valid, context)
    booster = fit.tuned.booster
    x_test, y_test = xy(splits.test, CHURN)
    baseline = splits.test["btyd_p_no_purchase"].to_numpy()
    model_metrics, baseline_metrics = (
        churn_metrics(y_test, fit.p_test),
        churn_metrics(y_test, baseline),
    )
    log_baseline_run(
        context, CHURN, baseline_metrics, y_test, baseline, _baseline_params(plan, splits)
    )
    importance = shap_importance(booster, x_test)
    with context.child_run("churn-lightgbm", **{"cvp.kind": "model", "cvp.target": CHURN}) as run:
        _log_churn_run(fit, plan, model_metrics, y_test, baseline)
        log_importance(booster, importance, x_test, "Churn")
        version = log_model(booster, x_test, CHURN)
        failures = sanity_failures(splits, x_test)
        if model_metrics["ece"] > plan.max_ece:
            failures.append(f"calibration error {model_metrics['ece']:.3f} > {plan.max_ece}")
        failures += fairness_gate(
            splits.test["customer_id"],
            y_test,
            fit.p_test,
            fit.threshold,
            sensitive,
            fairness_rules or MonitoringSettings(),
        )
        decision = _promote(
            context, CHURN, version, model_metrics["roc_auc"], splits, plan, failures
        )
    return ModelOutcome(
        CHURN,
        run.info.run_id,
        model_metrics,
        baseline_metrics,
        decision,
        importance,
        fit.tuned.params,
    )


def _log_churn_run(
    fit: ChurnFit,
    plan: TrainingPlan,
    model_metrics: dict[str, float],
    y_test: np.ndarray,
    baseline: np.ndarray,
) -> None:
    economics = {"save_rate": plan.save_rate, "contact_cost": plan.contact_cost}
    log_tuned_params(fit.tuned.params)
    mlflow.log_params(
        {
            "calibration": fit.calibrator.method,
            "decision_threshold": round(fit.threshold, 6),
            "horizon_days": plan.horizon_days,  # scoring reads it from the champion's run
            **economics,
        }
    )
    mlflow.log_metrics({**model_metrics, "valid_expected_profit_at_threshold": fit.valid_profit})
    mlflow.log_dict(fit.calibrator.to_dict(), "calibration.json")
    mlflow.log_dict(
        {"threshold": fit.threshold, "valid_profit": fit.valid_profit, **economics},
        "decision.json",
    )
    scores = {"lightgbm": fit.p_test, "btyd": baseline}
    mlflow.log_figure(plots.roc_plot(y_test, scores), "plots/roc.png")
    mlflow.log_figure(plots.pr_plot(y_test, scores), "plots/pr.png")
    mlflow.log_figure(plots.calibration_plot(y_test, scores), "plots/calibration.png")
    mlflow.log_figure(plots.gain_lift_plot(y_test, scores), "plots/gain.png")
    mlflow.log_dict(curve_points(y_test, scores), CURVES_ARTIFACT)  # redrawn by the report


def train_models(
    plan: TrainingPlan,
    splits: Splits,
    context: TrainingContext,
    sensitive: pd.DataFrame | None = None,
    fairness_rules: MonitoringSettings | None = None,
) -> dict[str, ModelOutcome]:
    """CLV first: its validation predictions value each customer in the churn threshold choice
    (the BTYD revenue stands in when only churn is trained)."""
    outcomes: dict[str, ModelOutcome] = {}
    value_valid = baseline_revenue(splits.valid)
    if CLV in plan.targets:
        outcomes[CLV], clv_model = train_clv(plan, splits, context)
        value_valid = predict(clv_model.booster, xy(splits.valid, CLV)[0])
    if CHURN in plan.targets:
        outcomes[CHURN] = train_churn(plan, splits, value_valid, context, sensitive, fairness_rules)
    return outcomes
