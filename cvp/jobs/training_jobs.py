"""`cvp train`: validation gate, time-based splits, Optuna-tuned LightGBM for CLV and churn,
the BTYD baseline on the same backtest, plots, registry and the promotion gate, all in MLflow."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from cvp.audit import audited
from cvp.config import MonitoringSettings, Settings
from cvp.data.fingerprint import warehouse_fingerprint
from cvp.data.warehouse import get_engine
from cvp.experiments.tracking import configure_tracking, ensure_experiment, tracked_run
from cvp.models.calibration import choose_calibrator
from cvp.models.dataset import Splits, baseline_revenue, feature_columns, load_splits, plan_cutoffs
from cvp.models.decision import choose_threshold
from cvp.models.metrics import churn_metrics, clv_metrics
from cvp.models.registry import PromotionDecision, decide_promotion, frame_for
from cvp.models.tuning import TunedModel, tune
from cvp.monitoring.fairness import fairness_gate, load_sensitive_attributes
from cvp.reports import plots
from cvp.validation.gate import validation_gate

TRAINING_EXPERIMENT = "training"
MODEL_NAMES = {"churn": "cvp-churn", "clv": "cvp-clv"}
PIP_REQUIREMENTS = [
    f"lightgbm=={lgb.__version__}",
    f"pandas=={pd.__version__}",
    f"numpy=={np.__version__}",
]


@dataclass(frozen=True)
class TrainingConfig:
    as_of: date
    horizon_days: int = 90
    trials: int = 20
    seed: int = 7
    train_cutoffs: int = 6
    step_days: int = 30
    targets: tuple[str, ...] = ("churn", "clv")
    save_rate: float = 0.3
    contact_cost: float = 5.0
    promotion_margin: float = 0.002
    max_ece: float = 0.05
    max_boost_rounds: int = 2000
    force_validation: bool = False


@dataclass
class ModelOutcome:
    target: str
    run_id: str
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    decision: PromotionDecision
    importance: pd.Series
    params: dict = field(default_factory=dict)


@dataclass
class TrainingResult:
    parent_run_id: str
    outcomes: dict[str, ModelOutcome]
    rows: dict[str, int]
    validation_overridden: bool


def _xy(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, np.ndarray]:
    x = frame[feature_columns()].astype("float64")
    y = (
        frame["churned"].to_numpy(float)
        if target == "churn"
        else frame["future_revenue"].clip(lower=0).to_numpy(float)
    )
    return x, y


def _shap_importance(booster: lgb.Booster, x: pd.DataFrame) -> pd.Series:
    contributions = booster.predict(x, pred_contrib=True)[:, :-1]
    return pd.Series(np.abs(contributions).mean(axis=0), index=x.columns).sort_values(
        ascending=False
    )


def _child_run(name: str, experiment_id: str, parent: str, tags: dict[str, str]):
    """A nested run in the parent's experiment, with the parent passed explicitly."""
    return mlflow.start_run(
        run_name=name,
        experiment_id=experiment_id,
        nested=True,
        parent_run_id=parent,
        tags={**tags, "mlflow.parentRunId": parent},
    )


def _baseline_run(
    target: str, metrics: dict[str, float], experiment_id: str, parent: str, tags: dict[str, str]
) -> None:
    with _child_run(
        f"{target}-btyd-baseline",
        experiment_id,
        parent,
        {**tags, "cvp.kind": "baseline", "cvp.target": target},
    ):
        mlflow.log_params(
            {"model": "BG/NBD + Gamma-Gamma" if target == "clv" else "BG/NBD P(no purchase)"}
        )
        mlflow.log_metrics(metrics)


def _log_importance(
    booster: lgb.Booster, importance: pd.Series, x: pd.DataFrame, label: str
) -> None:
    gain = pd.Series(booster.feature_importance("gain"), index=x.columns)
    mlflow.log_figure(
        plots.importance_plot(gain, f"{label} feature importance (gain)"),
        "plots/feature_importance.png",
    )
    mlflow.log_figure(
        plots.importance_plot(importance, f"{label} mean |SHAP| (pred_contrib)"),
        "plots/shap_summary.png",
    )
    mlflow.log_dict(importance.round(6).to_dict(), "shap_importance.json")


def _log_model(booster: lgb.Booster, x: pd.DataFrame, target: str) -> str:
    signature = infer_signature(x.head(100), booster.predict(x.head(100)))
    info = mlflow.lightgbm.log_model(
        booster,
        name="model",
        signature=signature,
        input_example=x.head(5),
        registered_model_name=MODEL_NAMES[target],
        pip_requirements=PIP_REQUIREMENTS,  # pinned here: inferring them takes ~40 s per model
    )
    return str(info.registered_model_version)


def _sanity(splits: Splits, x: pd.DataFrame) -> list[str]:
    failures = []
    unknown = set(x.columns) - set(feature_columns())
    if unknown:
        failures.append(f"unknown features {sorted(unknown)}")
    if splits.train["as_of"].max().date() >= splits.cutoffs.valid:
        failures.append("a training cutoff is not before the validation cutoff")
    if splits.valid["as_of"].max().date() >= splits.cutoffs.test:
        failures.append("the validation cutoff is not before the test cutoff")
    return failures


def _train_clv(
    config: TrainingConfig, splits: Splits, client, experiment_id: str, parent: str, tags: dict
) -> tuple[ModelOutcome, TunedModel]:
    train, valid, test = (_xy(s, "clv") for s in (splits.train, splits.valid, splits.test))
    tuned = tune(
        "clv",
        train,
        valid,
        max(2, config.trials),
        config.seed,
        client,
        experiment_id,
        parent,
        config.max_boost_rounds,
    )
    x_test, y_test = test
    predicted = tuned.booster.predict(x_test)
    baseline = baseline_revenue(splits.test)
    model_metrics = clv_metrics(y_test, predicted)
    baseline_metrics = clv_metrics(y_test, baseline)
    _baseline_run("clv", baseline_metrics, experiment_id, parent, tags)
    importance = _shap_importance(tuned.booster, x_test)
    with _child_run(
        "clv-lightgbm",
        experiment_id,
        parent,
        {**tags, "cvp.kind": "model", "cvp.target": "clv"},
    ) as run:
        mlflow.log_params({k: v for k, v in tuned.params.items() if k not in ("verbosity",)})
        mlflow.log_metrics(model_metrics)
        objectives = tuned.study.trials_dataframe()
        if "params_objective" in objectives:
            comparison = objectives.groupby("params_objective")["value"].min()
            mlflow.log_dict(
                {k: float(v) for k, v in comparison.items()}, "objective_comparison_valid_l2.json"
            )
        mlflow.log_figure(
            plots.clv_decile_plot(y_test, {"lightgbm": predicted, "btyd": baseline}),
            "plots/clv_deciles.png",
        )
        _log_importance(tuned.booster, importance, x_test, "CLV")
        version = _log_model(tuned.booster, x_test, "clv")

        def score_champion(booster) -> float:
            return clv_metrics(y_test, booster.predict(frame_for(booster, splits.test)))[
                "normalized_gini"
            ]

        failures = _sanity(splits, x_test)
        if not np.all(np.isfinite(predicted)) or (predicted < 0).any():
            failures.append("non-finite or negative predictions")
        decision = _decide(
            client,
            "clv",
            version,
            "normalized_gini",
            model_metrics["normalized_gini"],
            score_champion,
            config,
            failures,
        )
    return ModelOutcome(
        "clv", run.info.run_id, model_metrics, baseline_metrics, decision, importance, tuned.params
    ), tuned


def _decide(
    client, target, version, metric, score, score_champion, config, failures
) -> PromotionDecision:
    def safe_champion_score(booster) -> float:
        try:
            return score_champion(booster)
        except KeyError:  # the champion needs features the current set no longer has
            return float("-inf")

    decision = decide_promotion(
        client,
        MODEL_NAMES[target],
        version,
        metric,
        score,
        safe_champion_score,
        config.promotion_margin,
        failures,
    )
    # the same decision on the model's run, next to its metrics in the compare view
    mlflow.set_tags(
        {
            "cvp.promotion.decision": "promoted" if decision.promoted else "kept_challenger",
            "cvp.promotion.reason": decision.reason,
            "cvp.model_version": version,
        }
    )
    return decision


def _train_churn(
    config: TrainingConfig,
    splits: Splits,
    value_valid: np.ndarray,
    client,
    experiment_id: str,
    parent: str,
    tags: dict,
    sensitive: pd.DataFrame | None = None,
    fairness_rules: MonitoringSettings | None = None,
) -> ModelOutcome:
    fairness_rules = fairness_rules or MonitoringSettings()
    train, valid, test = (_xy(s, "churn") for s in (splits.train, splits.valid, splits.test))
    tuned = tune(
        "churn",
        train,
        valid,
        config.trials,
        config.seed,
        client,
        experiment_id,
        parent,
        config.max_boost_rounds,
    )
    (x_valid, y_valid), (x_test, y_test) = valid, test
    calibrator = choose_calibrator(tuned.booster.predict(x_valid), y_valid, config.seed)
    p_valid = calibrator.apply(tuned.booster.predict(x_valid))
    p_test = calibrator.apply(tuned.booster.predict(x_test))
    baseline = splits.test["btyd_p_no_purchase"].to_numpy()
    model_metrics = churn_metrics(y_test, p_test)
    baseline_metrics = churn_metrics(y_test, baseline)
    _baseline_run("churn", baseline_metrics, experiment_id, parent, tags)
    threshold, profit = choose_threshold(
        p_valid, y_valid, value_valid, config.save_rate, config.contact_cost
    )
    importance = _shap_importance(tuned.booster, x_test)
    with _child_run(
        "churn-lightgbm",
        experiment_id,
        parent,
        {**tags, "cvp.kind": "model", "cvp.target": "churn"},
    ) as run:
        mlflow.log_params({k: v for k, v in tuned.params.items() if k not in ("verbosity",)})
        mlflow.log_params(
            {
                "calibration": calibrator.method,
                "decision_threshold": round(threshold, 6),
                "save_rate": config.save_rate,
                "contact_cost": config.contact_cost,
            }
        )
        mlflow.log_metrics({**model_metrics, "valid_expected_profit_at_threshold": profit})
        mlflow.log_dict(calibrator.to_dict(), "calibration.json")
        mlflow.log_dict(
            {
                "threshold": threshold,
                "valid_profit": profit,
                "save_rate": config.save_rate,
                "contact_cost": config.contact_cost,
            },
            "decision.json",
        )
        scores = {"lightgbm": p_test, "btyd": baseline}
        mlflow.log_figure(plots.roc_plot(y_test, scores), "plots/roc.png")
        mlflow.log_figure(plots.pr_plot(y_test, scores), "plots/pr.png")
        mlflow.log_figure(plots.calibration_plot(y_test, scores), "plots/calibration.png")
        mlflow.log_figure(plots.gain_lift_plot(y_test, scores), "plots/gain.png")
        _log_importance(tuned.booster, importance, x_test, "Churn")
        version = _log_model(tuned.booster, x_test, "churn")

        def score_champion(booster) -> float:
            return churn_metrics(y_test, booster.predict(frame_for(booster, splits.test)))[
                "roc_auc"
            ]

        failures = _sanity(splits, x_test)
        if model_metrics["ece"] > config.max_ece:
            failures.append(f"calibration error {model_metrics['ece']:.3f} > {config.max_ece}")
        failures += fairness_gate(
            splits.test["customer_id"], y_test, p_test, threshold, sensitive, fairness_rules
        )
        decision = _decide(
            client,
            "churn",
            version,
            "roc_auc",
            model_metrics["roc_auc"],
            score_champion,
            config,
            failures,
        )
    return ModelOutcome(
        "churn",
        run.info.run_id,
        model_metrics,
        baseline_metrics,
        decision,
        importance,
        tuned.params,
    )


def run_train(settings: Settings, config: TrainingConfig) -> TrainingResult:
    engine = get_engine(settings.warehouse_url)
    gate = validation_gate(engine, settings, config.as_of, force=config.force_validation)
    client = configure_tracking(settings)
    experiment_id = ensure_experiment(settings, TRAINING_EXPERIMENT)
    params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.__dict__.items()}
    with (
        audited(engine, "train", settings.operator, params) as audit,
        tracked_run(
            settings,
            TRAINING_EXPERIMENT,
            f"train {config.as_of}",
            {"cvp.command": "train", **gate.tags()},
        ) as parent,
    ):
        audit.mlflow_run_id = parent.info.run_id
        audit.notes = {
            "validation_override": gate.overridden,
            "validation_run_id": gate.report.run_id,
        }
        cutoffs = plan_cutoffs(
            config.as_of, config.horizon_days, config.train_cutoffs, config.step_days
        )
        with engine.connect() as conn:
            audit.data_fingerprint, _ = warehouse_fingerprint(conn)
            splits = load_splits(conn, cutoffs, config.horizon_days, config.as_of)
            sensitive = load_sensitive_attributes(conn, config.as_of)
        tags = {
            "cvp.data_fingerprint": audit.data_fingerprint,
            "cvp.as_of": config.as_of.isoformat(),
        }
        mlflow.set_tags(tags)
        rows = {"train": len(splits.train), "valid": len(splits.valid), "test": len(splits.test)}
        mlflow.log_params(
            {
                **{k: str(v) for k, v in params.items()},
                "cutoffs_train": ",".join(map(str, cutoffs.train)),
                "cutoff_valid": str(cutoffs.valid),
                "cutoff_test": str(cutoffs.test),
            }
        )
        mlflow.log_metrics(
            {f"rows_{k}": v for k, v in rows.items()}
            | {"churn_rate_test": float(splits.test["churned"].mean())}
        )
        outcomes: dict[str, ModelOutcome] = {}
        value_valid = baseline_revenue(splits.valid)
        if "clv" in config.targets:
            outcomes["clv"], clv_model = _train_clv(
                config, splits, client, experiment_id, parent.info.run_id, tags
            )
            value_valid = clv_model.booster.predict(_xy(splits.valid, "clv")[0])
        if "churn" in config.targets:
            outcomes["churn"] = _train_churn(
                config,
                splits,
                value_valid,
                client,
                experiment_id,
                parent.info.run_id,
                tags,
                sensitive,
                settings.monitoring,
            )
        for target, outcome in outcomes.items():
            mlflow.log_metrics({f"{target}_{k}": v for k, v in outcome.metrics.items()})
            mlflow.log_metrics(
                {f"{target}_baseline_{k}": v for k, v in outcome.baseline_metrics.items()}
            )
            audit.model_versions[MODEL_NAMES[target]] = outcome.decision.version
        return TrainingResult(parent.info.run_id, outcomes, rows, gate.overridden)
