"""Flow: tune, train, evaluate and register the churn and CLV models (weekly deployment)."""

from __future__ import annotations

from prefect import flow

from cvp.jobs.training_jobs import TrainingConfig, TrainingResult
from cvp.orchestration.parameters import TrainParameters, resolve_as_of
from tasks.data import init_task
from tasks.training import train_task


@flow(name="train", log_prints=True)
def train_flow(params: TrainParameters | None = None) -> TrainingResult:
    params = params or TrainParameters()
    init_task()
    config = TrainingConfig(
        as_of=resolve_as_of(params.as_of),
        targets=tuple(params.targets),
        trials=params.trials,
        horizon_days=params.horizon_days,
        seed=params.seed,
        cutoffs=tuple(params.cutoffs) if params.cutoffs else None,
        force_validation=params.force_validation,
    )
    return train_task(config)
