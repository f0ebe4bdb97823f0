"""Thin Prefect task around training: the leaderboard becomes a table artifact."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_table_artifact

from cvp.config import get_settings
from cvp.jobs.training_jobs import TrainingConfig, TrainingResult, run_train
from cvp.models.train import PROMOTION_METRIC
from cvp.progress import stage


def leaderboard(result: TrainingResult) -> list[dict]:
    rows = []
    for target, outcome in result.outcomes.items():
        metric = PROMOTION_METRIC[target]
        rows.append(
            {
                "target": target,
                "metric": metric,
                "lightgbm": round(outcome.metrics[metric], 4),
                "btyd_baseline": round(outcome.baseline_metrics[metric], 4),
                "champion_before": None
                if outcome.decision.champion_score is None
                else round(outcome.decision.champion_score, 4),
                "version": outcome.decision.version,
                "decision": "promoted" if outcome.decision.promoted else "kept challenger",
                "reason": outcome.decision.reason,
            }
        )
    return rows


@task(name="train")
def train_task(config: TrainingConfig) -> TrainingResult:
    with stage(f"Training as of {config.as_of}"):
        result = run_train(get_settings(), config)
    create_table_artifact(
        key="training-leaderboard",
        table=leaderboard(result),
        description=f"Training as of {config.as_of}",
    )
    return result
