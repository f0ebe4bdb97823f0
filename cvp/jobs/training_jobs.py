"""`cvp train`: the job around the training procedure (`cvp.models.train`): validation gate,
audit row and the parent MLflow run; the procedure does the rest."""

from __future__ import annotations

from dataclasses import dataclass

import mlflow

from cvp.audit import audited
from cvp.config import Settings
from cvp.data.fingerprint import warehouse_fingerprint
from cvp.data.warehouse import get_engine
from cvp.experiments.tracking import configure_tracking, ensure_experiment, tracked_run
from cvp.models.runs import TrainingContext
from cvp.models.train import (
    ModelOutcome,
    TrainingConfig,
    assemble,
    split_params,
    split_rows,
    train_models,
)
from cvp.names import MODEL_NAMES, TRAINING_EXPERIMENT
from cvp.validation.gate import validation_gate

__all__ = ["MODEL_NAMES", "ModelOutcome", "TrainingConfig", "TrainingResult", "run_train"]


@dataclass
class TrainingResult:
    parent_run_id: str
    outcomes: dict[str, ModelOutcome]
    rows: dict[str, int]
    validation_overridden: bool


def run_train(settings: Settings, config: TrainingConfig) -> TrainingResult:
    plan = config.resolve(settings)
    engine = get_engine(settings.warehouse_url)
    gate = validation_gate(engine, settings, config.as_of, force=config.force_validation)
    client = configure_tracking(settings)
    experiment_id = ensure_experiment(settings, TRAINING_EXPERIMENT)
    params = plan.params()
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
        with engine.connect() as conn:
            audit.data_fingerprint, _ = warehouse_fingerprint(conn)
            splits = assemble(conn, plan)
        tags = {
            "cvp.data_fingerprint": audit.data_fingerprint,
            "cvp.as_of": config.as_of.isoformat(),
        }
        mlflow.set_tags(tags)
        rows = split_rows(splits)
        mlflow.log_params({**{k: str(v) for k, v in params.items()}, **split_params(splits)})
        mlflow.log_metrics(
            {f"rows_{k}": v for k, v in rows.items()}
            | {"churn_rate_test": float(splits.test["churned"].mean())}
        )
        context = TrainingContext(client, experiment_id, parent.info.run_id, tags)
        outcomes = train_models(plan, splits, context)
        for target, outcome in outcomes.items():
            mlflow.log_metrics(outcome.parent_metrics())
            audit.model_versions[MODEL_NAMES[target]] = outcome.decision.version
        return TrainingResult(parent.info.run_id, outcomes, rows, gate.overridden)
