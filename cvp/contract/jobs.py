"""The contract training and scoring jobs, with their audit rows and MLflow runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import mlflow

from cvp.config import Settings
from cvp.contract.dataset import load_snapshot
from cvp.contract.score import ContractScores, score_snapshot, write_contract_scores
from cvp.contract.train import ContractOutcome, train_contract
from cvp.experiments.tracking import configure_tracking, ensure_experiment
from cvp.jobs.context import open_job
from cvp.models.runs import TrainingContext
from cvp.models.tuning import SearchSpace
from cvp.names import CONTRACT_CHURN_MODEL, SCORING_EXPERIMENT, TRAINING_EXPERIMENT


@dataclass
class ContractTrainResult:
    parent_run_id: str
    outcome: ContractOutcome


def run_contract_train(
    settings: Settings, trials: int | None = None, seed: int | None = None
) -> ContractTrainResult:
    trials = trials or settings.training.trials
    seed = settings.training.seed if seed is None else seed
    client = configure_tracking(settings)
    experiment_id = ensure_experiment(settings, TRAINING_EXPERIMENT)
    params = {"label": "supplied", "trials": trials, "seed": seed}
    with open_job(settings, "train-contract", params, experiment=TRAINING_EXPERIMENT) as job:
        with job.engine.connect() as conn:
            snapshot = load_snapshot(conn)
        tags = {
            "cvp.data_fingerprint": job.audit.data_fingerprint or "",
            "cvp.snapshot_date": snapshot.snapshot_date.isoformat(),
        }
        mlflow.set_tags(tags)
        mlflow.log_params({k: str(v) for k, v in params.items()})
        context = TrainingContext(client, experiment_id, job.mlflow_run_id, tags)
        outcome = train_contract(
            snapshot,
            context,
            trials,
            seed,
            settings.training.max_boost_rounds,
            settings.contract,
            settings.promotion,
            settings.monitoring,
            SearchSpace(settings.training.churn_max_depth, settings.training.churn_max_leaves),
        )
        mlflow.log_metrics(
            {f"contract_{k}": v for k, v in outcome.metrics.items()}
            | {f"contract_baseline_{k}": v for k, v in outcome.baseline_metrics.items()}
            | {
                "contract_concordance": outcome.concordance,
                "contract_baseline_concordance": outcome.baseline_concordance,
            }
        )
        job.audit.model_versions[CONTRACT_CHURN_MODEL] = outcome.version
        client.update_model_version(
            CONTRACT_CHURN_MODEL,
            outcome.version,
            description=(
                f"Churn of the subscriber snapshot of {snapshot.snapshot_date} (stratified "
                f"random split {outcome.rows}); test AUC {outcome.metrics['roc_auc']:.4f}, plan "
                f"baseline {outcome.baseline_metrics['roc_auc']:.4f}; time-to-churn "
                f"concordance {outcome.concordance:.4f}. {outcome.decision.reason}."
            ),
        )
        return ContractTrainResult(job.mlflow_run_id, outcome)


def run_contract_score(settings: Settings) -> ContractScores:
    client = configure_tracking(settings)
    with open_job(
        settings, "score-contract", {"label": "supplied"}, experiment=SCORING_EXPERIMENT
    ) as job:
        with job.engine.connect() as conn:
            snapshot = load_snapshot(conn)
        result = score_snapshot(snapshot, client, settings.scoring)
        with job.engine.begin() as conn:
            write_contract_scores(conn, result, datetime.now())
        job.audit.model_versions[CONTRACT_CHURN_MODEL] = result.version
        scores = result.scores
        mlflow.log_metrics(
            {
                "customers": float(len(scores)),
                "mean_churn_probability": float(scores["churn_probability"].mean()),
                "total_contract_clv": float(scores["contract_clv"].sum()),
            }
        )
        return result
