"""`cvp train`: the job around the training procedure (`cvp.models.train`): validation gate,
audit row and the parent MLflow run; the procedure does the rest."""

from __future__ import annotations

from dataclasses import dataclass

import mlflow

from cvp.config import Settings
from cvp.data.warehouse import get_engine
from cvp.errors import BadInput
from cvp.execution.training import model_engine_for
from cvp.experiments.tracking import configure_tracking, ensure_experiment
from cvp.jobs.context import open_job
from cvp.models.registry import describe_version
from cvp.models.runs import TrainingContext
from cvp.models.train import (
    PROMOTION_METRIC,
    ModelOutcome,
    TrainingConfig,
    TrainingPlan,
    assemble,
    plan_windows,
    split_params,
    split_rows,
    train_models,
)
from cvp.models.windows import Cutoffs
from cvp.monitoring.fairness import load_sensitive_attributes
from cvp.names import MODEL_NAMES, TRAINING_EXPERIMENT

__all__ = ["MODEL_NAMES", "ModelOutcome", "TrainingConfig", "TrainingResult", "run_train"]


@dataclass
class TrainingResult:
    parent_run_id: str
    outcomes: dict[str, ModelOutcome]
    rows: dict[str, int]
    validation_overridden: bool


def _check_plan(settings: Settings, plan: TrainingPlan) -> Cutoffs:
    """Knobs in range and cutoffs that fit the data, before any MLflow run exists; the cutoffs
    are derived here (`cvp.models.windows`), so a log too short for the horizon is one line."""
    unknown = sorted(set(plan.targets) - set(MODEL_NAMES))
    if unknown or not plan.targets:
        raise BadInput(f"targets {unknown or '(none)'}: choose from {sorted(MODEL_NAMES)}")
    if min(plan.trials, plan.horizon_days, plan.train_cutoffs, plan.tuning_rows) < 1:
        raise BadInput("trials, horizon_days, train_cutoffs and tuning_rows must be at least 1")
    with get_engine(settings.warehouse_url).connect() as conn:
        return plan_windows(conn, plan)


def run_train(settings: Settings, config: TrainingConfig) -> TrainingResult:
    plan = config.resolve(settings)
    client = configure_tracking(settings)
    experiment_id = ensure_experiment(settings, TRAINING_EXPERIMENT)
    params = plan.params()
    with open_job(
        settings,
        "train",
        params,
        experiment=TRAINING_EXPERIMENT,
        as_of=config.as_of,
        history_days=0,  # the history the horizon needs is checked by the cutoffs (`_check_plan`)
        gate=True,
        force_validation=config.force_validation,
        require=lambda: _check_plan(settings, plan),
    ) as job:
        audit, parent, gate = job.audit, job.run, job.gate
        assert gate is not None
        with job.engine.connect() as conn:
            splits = assemble(conn, plan, job.required)
            sensitive = load_sensitive_attributes(conn, config.as_of)
        tags = {
            "cvp.data_fingerprint": audit.data_fingerprint or "",
            "cvp.as_of": config.as_of.isoformat(),
        }
        mlflow.set_tags(tags)
        rows = split_rows(splits)
        mlflow.log_params({**{k: str(v) for k, v in params.items()}, **split_params(splits)})
        mlflow.log_metrics(
            {f"rows_{k}": v for k, v in rows.items()}
            | {"churn_rate_test": float(splits.test["churned"].mean())}
        )
        with model_engine_for(settings) as engine:  # this process, or the Dask cluster
            context = TrainingContext(client, experiment_id, parent.info.run_id, tags, engine)
            outcomes = train_models(plan, splits, context, sensitive, settings.monitoring)
        cutoffs = splits.cutoffs
        trained = (
            f"Trained as of {config.as_of} (data fingerprint {(audit.data_fingerprint or '')[:12]}) "
            f"on feature snapshots at {len(cutoffs.train)} cutoffs {cutoffs.train[0]}.."
            f"{cutoffs.train[-1]}, {rows.get('train', 0):,} rows; validation cutoff "
            f"{cutoffs.valid}, test cutoff {cutoffs.test}; horizon {plan.horizon_days} days"
        )
        for target, outcome in outcomes.items():
            mlflow.log_metrics(outcome.parent_metrics())
            audit.model_versions[MODEL_NAMES[target]] = outcome.decision.version
            metric = PROMOTION_METRIC[target]
            describe_version(
                client,
                MODEL_NAMES[target],
                target,
                outcome.decision,
                trained,
                outcome.baseline_metrics[metric],
                metric,
            )
        return TrainingResult(parent.info.run_id, outcomes, rows, gate.overridden)
