"""Flow: tune, train, evaluate and register the churn and CLV models."""

from __future__ import annotations

from datetime import date

from prefect import flow

from cvp.jobs.training_jobs import TrainingConfig, TrainingResult
from tasks.data import init_task
from tasks.training import train_task


@flow(name="train", log_prints=True)
def train_flow(
    as_of: date,
    targets: list[str] | None = None,
    trials: int = 20,
    horizon_days: int = 90,
    seed: int = 7,
    force_validation: bool = False,
) -> TrainingResult:
    init_task()
    config = TrainingConfig(
        as_of=as_of,
        targets=tuple(targets or ("churn", "clv")),
        trials=trials,
        horizon_days=horizon_days,
        seed=seed,
        force_validation=force_validation,
    )
    return train_task(config)
