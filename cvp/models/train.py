"""The training procedure, one function per model: tune on the training cutoffs, calibrate on
the validation cutoff, backtest against the BTYD baseline on the test cutoff, refit the final
model on the training and validation cutoffs together (`cvp.models.refit`), calibrate it and
choose its decision threshold on the test window (the most recent closed one), register, and pass
the registry's promotion gate. Cutoffs come from the data (`cvp.models.windows`).

A job opens the MLflow run and the audit record and calls `train_models`; everything that
fits a model lives here, so it can run from a notebook with a tracking client and a warehouse
connection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from cvp.actions.playbook import DEFAULT_PLAYBOOK, load_playbook
from cvp.actions.reasons import contributions as exact_contributions
from cvp.config import MonitoringSettings, Settings
from cvp.data.coverage import data_span
from cvp.errors import StateError
from cvp.models.calibration import Calibrator, choose_calibrator
from cvp.models.dataset import Splits, baseline_revenue, feature_columns, load_splits
from cvp.models.decision import (
    ThresholdChoice,
    choose_threshold,
    contact_economics,
    value_if_retained,
)
from cvp.models.engine import LOCAL, ModelEngine
from cvp.models.gate import baseline_failures, baseline_takes_over, rmse_guard
from cvp.models.hurdle import fit_hurdle
from cvp.models.metrics import churn_metrics, clv_metrics
from cvp.models.predictors import Predictor, log_churn_model, log_predictor
from cvp.models.refit import closed_before_test
from cvp.models.registry import PromotionDecision, decide_promotion, frame_for
from cvp.models.runs import (
    TrainingContext,
    log_baseline_run,
    log_importance,
    log_model,
    log_tuned_params,
)
from cvp.models.sampling import customer_sample
from cvp.models.timing import timing_metrics
from cvp.models.tuning import SearchSpace, TunedModel, tune
from cvp.models.windows import Cutoffs, derive_cutoffs, explicit_cutoffs
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
    churn_max_depth: int | None = None
    churn_max_leaves: int | None = None
    tuning_rows: int | None = None
    force_validation: bool = False
    min_history_days: int | None = None
    cutoffs: tuple[date, ...] | None = None  # explicit (training..., validation, test)

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
            playbook=str(settings.scoring.playbook or DEFAULT_PLAYBOOK),
            high_value_share=settings.scoring.high_value_share,
            medium_value_share=settings.scoring.medium_value_share,
            promotion_margin=settings.promotion.margin,
            max_ece=settings.promotion.max_ece,
            max_boost_rounds=pick("max_boost_rounds"),
            churn_max_depth=pick("churn_max_depth"),
            churn_max_leaves=pick("churn_max_leaves"),
            tuning_rows=pick("tuning_rows"),
            force_validation=self.force_validation,
            min_history_days=pick("min_history_days"),
            cutoffs=tuple(self.cutoffs or defaults.cutoffs) or None,
            next_purchase_min_p_alive=settings.scoring.next_purchase_min_p_alive,
            next_purchase_max_days=settings.scoring.next_purchase_max_days,
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
    playbook: str  # contact costs and save rates for the decision threshold
    high_value_share: float
    medium_value_share: float
    promotion_margin: float
    max_ece: float
    max_boost_rounds: int
    churn_max_depth: int
    churn_max_leaves: int
    tuning_rows: int
    force_validation: bool
    min_history_days: int
    cutoffs: tuple[date, ...] | None
    next_purchase_min_p_alive: float = 0.5  # who gets a next-purchase date (`cvp.models.timing`)
    next_purchase_max_days: float = 365

    def params(self) -> dict[str, Any]:
        """JSON-friendly, for the audit row and MLflow."""

        def plain(value: Any) -> Any:
            if isinstance(value, tuple):
                return [plain(v) for v in value]
            return value.isoformat() if isinstance(value, date) else value

        return {k: plain(v) for k, v in asdict(self).items()}


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
    notes: list[str] = field(default_factory=list)  # one line each, printed by `cvp train`

    def parent_metrics(self) -> dict[str, float]:
        """The same metrics, prefixed for the job's parent run (`churn_roc_auc`, ...)."""
        return {f"{self.target}_{k}": v for k, v in self.metrics.items()} | {
            f"{self.target}_baseline_{k}": v for k, v in self.baseline_metrics.items()
        }


def plan_windows(conn: Connection, plan: TrainingPlan) -> Cutoffs:
    """The plan's cutoffs: explicit ones checked, or rolling-origin ones derived from the first
    transaction in the warehouse (one clear line when the history is too short)."""
    first = data_span(conn).first
    if first is None:
        raise StateError(
            "cannot train: the warehouse has no transactions; import them "
            "(`cvp ingest transactions FILE`) or generate data (`cvp generate`) first"
        )
    if plan.cutoffs:
        return explicit_cutoffs(plan.cutoffs, first, plan.as_of, plan.horizon_days)
    return derive_cutoffs(
        first,
        plan.as_of,
        plan.horizon_days,
        plan.step_days,
        plan.min_history_days,
        plan.train_cutoffs,
    )


def assemble(conn: Connection, plan: TrainingPlan, cutoffs: Cutoffs | None = None) -> Splits:
    """Features and labels per cutoff, BTYD per cutoff (cutoffs from `plan_windows` if not given)."""
    cutoffs = cutoffs or plan_windows(conn, plan)
    return load_splits(conn, cutoffs, plan.horizon_days, plan.as_of)


def split_params(splits: Splits) -> dict[str, str]:
    cutoffs = splits.cutoffs
    return {
        "cutoffs_train": ",".join(map(str, cutoffs.train)),
        "cutoff_valid": str(cutoffs.valid),
        "cutoff_test": str(cutoffs.test),
        "cutoff_gap_days": str(cutoffs.gap_days),
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


def predict(booster: Predictor | lgb.Booster, x: pd.DataFrame, **kwargs: Any) -> np.ndarray:
    """`Booster.predict` (or any predictor's) as an array (its declared return type is wider)."""
    return np.asarray(booster.predict(x, **kwargs))


IMPORTANCE_ROWS = 100_000
"""Rows a model's mean |SHAP| is averaged over: past this, a seeded sample of the test window.
A mean over 100k rows moves by a fraction of a percent from one sample to the next, while exact
TreeSHAP of a deep model costs minutes per million rows (docs/benchmarks.md, "Training at
scale")."""


def shap_importance(booster: lgb.Booster, x: pd.DataFrame, seed: int) -> pd.Series:
    """Mean |TreeSHAP| per feature, largest first, over `x` or a seeded sample of
    `IMPORTANCE_ROWS` of its rows."""
    if len(x) > IMPORTANCE_ROWS:
        x = x.sample(IMPORTANCE_ROWS, random_state=seed)
    contributions = exact_contributions(booster, x)  # woodelf where it can, else pred_contrib
    # float64 sums: woodelf's contributions come as float32
    mean_abs = np.abs(contributions).mean(axis=0, dtype=np.float64)
    return pd.Series(mean_abs, index=x.columns).sort_values(ascending=False)


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
    """Tune on every training row, or, above `tuning_rows`, on a whole-customer sample of the
    training and validation rows; the returned booster is fitted on every training row either
    way (`cvp.models.tuning.tune`)."""
    train, valid = xy(splits.train, target), xy(splits.valid, target)
    trial_data = None
    if len(splits.train) > plan.tuning_rows:
        trial_data = (
            xy(customer_sample(splits.train, plan.tuning_rows, plan.seed), target),
            xy(customer_sample(splits.valid, plan.tuning_rows, plan.seed), target),
        )
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
        SearchSpace(plan.churn_max_depth, plan.churn_max_leaves),
        engine=context.engine,
        trial_data=trial_data,
    )


def _promote(
    context: TrainingContext,
    target: str,
    version: str,
    score: float,
    splits: Splits,
    plan: TrainingPlan,
    failures: list[str],
    guard: Callable[[object], str | None] | None = None,
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
        guard,
    )
    mlflow.set_tags(
        {
            "cvp.promotion.decision": "promoted" if decision.promoted else "kept_challenger",
            "cvp.promotion.reason": decision.reason,
            "cvp.model_version": version,
        }
    )
    return decision


def refit_final(
    target: str, tuned: TunedModel, splits: Splits, engine: ModelEngine = LOCAL
) -> lgb.Booster:
    """The booster that is registered and scores: `tuned` refit on the training and validation
    cutoffs together (`cvp.models.refit`), where `engine` fits."""
    return engine.fit(tuned.params, *xy(closed_before_test(splits), target))


def train_clv(
    plan: TrainingPlan, splits: Splits, context: TrainingContext
) -> tuple[ModelOutcome, Predictor, Predictor]:
    """Two candidates on horizon revenue, against BG/NBD x Gamma-Gamma: the tuned Tweedie/Poisson
    LightGBM and the hurdle model (`cvp.models.hurdle`); the one with the lower validation RMSE
    is backtested and registered (refit). Returns the outcome, the backtest model and the final
    one."""
    tuned = _tune(CLV, plan, splits, context, max(2, plan.trials))
    x_valid, y_valid = xy(splits.valid, CLV)
    x_test, y_test = xy(splits.test, CLV)
    hurdle = fit_hurdle(xy(splits.train, CLV), (x_valid, y_valid), plan.seed, plan.max_boost_rounds)
    candidates: dict[str, Predictor] = {"single": tuned.booster, "hurdle": hurdle}
    valid_rmse = {
        k: clv_metrics(y_valid, predict(m, x_valid))["rmse"] for k, m in candidates.items()
    }
    kind = min(valid_rmse, key=valid_rmse.__getitem__)
    chosen = candidates[kind]
    predicted = predict(chosen, x_test)
    baseline = baseline_revenue(splits.test)
    model_metrics, baseline_metrics = clv_metrics(y_test, predicted), clv_metrics(y_test, baseline)
    log_baseline_run(
        context, CLV, baseline_metrics, y_test, baseline, _baseline_params(plan, splits)
    )
    importance = shap_importance(tuned.booster, x_test, plan.seed)
    params = tuned.params if kind == "single" else hurdle.params()
    with context.child_run("clv-lightgbm", **{"cvp.kind": "model", "cvp.target": CLV}) as run:
        log_tuned_params(params, tuned.trial_rows if kind == "single" else None)
        mlflow.log_params({"clv_model": kind, "refit_rows": len(splits.train) + len(splits.valid)})
        mlflow.log_metrics(model_metrics)
        _log_objective_comparison(tuned)
        mlflow.log_dict(
            {
                k: {"valid_rmse": valid_rmse[k]}
                | {f"test_{m}": v for m, v in clv_metrics(y_test, predict(c, x_test)).items()}
                for k, c in candidates.items()
            },
            "clv_candidates.json",
        )
        mlflow.log_figure(
            plots.clv_decile_plot(y_test, {"lightgbm": predicted, "btyd": baseline}),
            "plots/clv_deciles.png",
        )
        log_importance(tuned.booster, importance, x_test, "CLV")
        closed = xy(closed_before_test(splits), CLV)
        final: Predictor
        if kind == "single":
            refit = refit_final(CLV, tuned, splits, context.engine)
            final, version = refit, log_model(refit, x_test, CLV)
        else:
            final = hurdle.refit(*closed)
            version = log_predictor(final, x_test, CLV)
        failures = sanity_failures(splits, x_test)
        if not np.all(np.isfinite(predicted)) or (predicted < 0).any():
            failures.append("non-finite or negative predictions")
        failures += baseline_failures(CLV, model_metrics, baseline_metrics)
        decision = _promote(
            context,
            CLV,
            version,
            model_metrics["normalized_gini"],
            splits,
            plan,
            failures,
            rmse_guard(y_test, splits.test, model_metrics["rmse"]),
        )
    decision = baseline_takes_over(context, decision, splits.test, baseline_metrics)
    outcome = ModelOutcome(
        CLV, run.info.run_id, model_metrics, baseline_metrics, decision, importance, params
    )
    return outcome, chosen, final


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
    """A tuned, calibrated churn model and its decision threshold, before anything is logged.

    `calibrator`, `p_test` and `threshold` are the backtest's (fitted on validation, judged on
    test); `final`, `final_calibrator` and `final_threshold` are what is registered: the refit
    booster, calibrated and thresholded on the test window, the most recent closed one."""

    tuned: TunedModel
    calibrator: Calibrator
    p_test: np.ndarray
    decision: ThresholdChoice
    final: lgb.Booster
    final_calibrator: Calibrator
    final_decision: ThresholdChoice

    @property
    def threshold(self) -> float:
        return self.decision.threshold


def fit_churn(
    plan: TrainingPlan,
    splits: Splits,
    value_valid: np.ndarray,
    context: TrainingContext,
    value_test: np.ndarray | None = None,
) -> ChurnFit:
    """Tune on AUC, calibrate on the validation cutoff (isotonic or Platt, whichever fits better),
    and choose the threshold that maximises the expected retention profit there; then refit on
    the closed windows and calibrate and threshold the refit model on the test window."""
    tuned = _tune(CHURN, plan, splits, context, plan.trials)
    x_valid, y_valid = xy(splits.valid, CHURN)
    x_test, y_test = xy(splits.test, CHURN)
    raw_valid = predict(tuned.booster, x_valid)
    calibrator = choose_calibrator(raw_valid, y_valid, plan.seed)
    p_valid = calibrator.apply(raw_valid)
    p_test = calibrator.apply(predict(tuned.booster, x_test))
    decision = threshold_on(
        plan, p_valid, y_valid, value_valid, f"validation ({splits.cutoffs.valid})"
    )
    final = refit_final(CHURN, tuned, splits, context.engine)
    raw_final = predict(final, x_test)
    final_calibrator = choose_calibrator(raw_final, y_test, plan.seed)
    final_decision = threshold_on(
        plan,
        final_calibrator.apply(raw_final),
        y_test,
        value_if_retained(splits.test, plan.horizon_days) if value_test is None else value_test,
        f"the most recent closed window ({splits.cutoffs.test})",
    )
    return ChurnFit(tuned, calibrator, p_test, decision, final, final_calibrator, final_decision)


def threshold_on(
    plan: TrainingPlan, p: np.ndarray, churned: np.ndarray, value: np.ndarray, window: str
) -> ThresholdChoice:
    """The profit-maximising threshold with the playbook's cost and save rate per customer."""
    cost, save_rate = contact_economics(
        value, load_playbook(Path(plan.playbook)), plan.high_value_share, plan.medium_value_share
    )
    return choose_threshold(p, churned, value, save_rate, cost, window)


def train_churn(
    plan: TrainingPlan,
    splits: Splits,
    value_valid: np.ndarray,
    context: TrainingContext,
    sensitive: pd.DataFrame | None = None,
    fairness_rules: MonitoringSettings | None = None,
    value_test: np.ndarray | None = None,
) -> ModelOutcome:
    """Binary LightGBM on no-purchase-in-horizon, against BG/NBD's P(no purchase). The
    sensitive attributes (age band, gender, region) only audit the model: group gaps over
    `[monitoring] fairness_max_gap` block promotion; they are never features."""
    fit = fit_churn(plan, splits, value_valid, context, value_test)
    booster = fit.tuned.booster
    x_test, y_test = xy(splits.test, CHURN)
    baseline = splits.test["btyd_p_no_purchase"].to_numpy()
    model_metrics, baseline_metrics = (
        churn_metrics(y_test, fit.p_test),
        churn_metrics(y_test, baseline),
    )
    # the next-purchase date's backtest (and its own-rhythm baseline) on the same window
    model_metrics |= timing_metrics(
        splits.test, plan.horizon_days, plan.next_purchase_min_p_alive, plan.next_purchase_max_days
    )
    log_baseline_run(
        context, CHURN, baseline_metrics, y_test, baseline, _baseline_params(plan, splits)
    )
    importance = shap_importance(booster, x_test, plan.seed)
    with context.child_run("churn-lightgbm", **{"cvp.kind": "model", "cvp.target": CHURN}) as run:
        _log_churn_run(fit, plan, model_metrics, y_test, baseline)
        log_importance(booster, importance, x_test, "Churn")
        mlflow.log_param("refit_rows", len(splits.train) + len(splits.valid))
        version = log_churn_model(fit.final, fit.final_calibrator, splits.test, plan.horizon_days)
        failures = sanity_failures(splits, x_test)
        if model_metrics["ece"] > plan.max_ece:
            failures.append(f"calibration error {model_metrics['ece']:.3f} > {plan.max_ece}")
        failures += baseline_failures(CHURN, model_metrics, baseline_metrics)
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
    # the threshold's meaning travels with the version: `cvp plan` reads it from the champion
    chosen = fit.final_decision
    for key, value in {
        "cvp.decision.profitable": str(chosen.profitable).lower(),
        "cvp.decision.threshold": f"{chosen.threshold:.6f}",
        "cvp.decision.explanation": chosen.explanation,
    }.items():
        context.client.set_model_version_tag(MODEL_NAMES[CHURN], version, key, value)
    return ModelOutcome(
        CHURN,
        run.info.run_id,
        model_metrics,
        baseline_metrics,
        decision,
        importance,
        fit.tuned.params,
        [f"decision: {chosen.explanation}"],
    )


def _log_churn_run(
    fit: ChurnFit,
    plan: TrainingPlan,
    model_metrics: dict[str, float],
    y_test: np.ndarray,
    baseline: np.ndarray,
) -> None:
    economics = {"playbook": load_playbook(Path(plan.playbook)).version}
    log_tuned_params(fit.tuned.params, fit.tuned.trial_rows)
    mlflow.log_params(
        {
            "calibration": fit.final_calibrator.method,
            "backtest_calibration": fit.calibrator.method,
            "decision_threshold": round(fit.final_decision.threshold, 6),
            "decision_profitable": fit.final_decision.profitable,
            "horizon_days": plan.horizon_days,  # scoring reads it from the champion's run
            **economics,
        }
    )
    mlflow.log_metrics(
        {
            **model_metrics,
            "valid_expected_profit_at_threshold": fit.decision.profit,
            "test_expected_profit_at_threshold": fit.final_decision.profit,
        }
    )
    # scoring applies calibration.json: the final model's, fitted on the most recent closed window
    mlflow.log_dict(fit.final_calibrator.to_dict(), "calibration.json")
    mlflow.log_dict(fit.calibrator.to_dict(), "backtest_calibration.json")
    mlflow.log_dict(
        {"final": fit.final_decision.to_dict(), "backtest": fit.decision.to_dict(), **economics},
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
    """CLV, then churn; the churn threshold values a saved customer at their spend if retained."""
    outcomes: dict[str, ModelOutcome] = {}
    # what a saved churner keeps, for the decision threshold (`cvp.models.decision`)
    value_valid = value_if_retained(splits.valid, plan.horizon_days)
    value_test = value_if_retained(splits.test, plan.horizon_days)
    if CLV in plan.targets:
        outcomes[CLV], _, _ = train_clv(plan, splits, context)
    if CHURN in plan.targets:
        outcomes[CHURN] = train_churn(
            plan, splits, value_valid, context, sensitive, fairness_rules, value_test
        )
    return outcomes
