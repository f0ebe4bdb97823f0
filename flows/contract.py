"""Flows: train and score on a labelled subscriber snapshot (`--label supplied`)."""

from __future__ import annotations

from prefect import flow, task

from cvp.config import get_settings
from cvp.contract.jobs import ContractTrainResult, run_contract_score, run_contract_train
from cvp.contract.score import ContractScores
from cvp.progress import stage
from tasks.data import init_task


@task(name="train-contract")
def _train_task(trials: int | None, seed: int | None) -> ContractTrainResult:
    with stage("Training on the labelled snapshot"):
        return run_contract_train(get_settings(), trials, seed)


@task(name="score-contract")
def _score_task() -> ContractScores:
    with stage("Scoring the snapshot"):
        return run_contract_score(get_settings())


@flow(name="train-contract", log_prints=True)
def train_contract_flow(trials: int | None = None, seed: int | None = None) -> ContractTrainResult:
    init_task()
    return _train_task(trials, seed)


@flow(name="score-contract", log_prints=True)
def score_contract_flow() -> ContractScores:
    init_task()
    return _score_task()
