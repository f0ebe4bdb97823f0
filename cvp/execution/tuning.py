"""One Optuna study tuned by every worker of a Dask cluster, through a shared RDB storage.

Optuna's documented way to parallelise across processes and machines is a relational storage
that every process loads the study from (`optuna.storages.RDBStorage`, PostgreSQL here): each
worker asks the study for a trial, runs it, and reports back, so the sampler of every worker sees
the trials of all. This module only arranges that: the objective is the caller's (it must be
importable on the workers), and the trial budget is split exactly across the workers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import optuna

from cvp.models.engine import sampler_and_pruner

WORKER_ATTR = "dask_worker"


def _share(trials: int, workers: int) -> list[int]:
    """`trials` split over `workers` as evenly as possible (the first ones take the rest)."""
    return [trials // workers + (1 if i < trials % workers else 0) for i in range(workers)]


def _tag_worker(objective: Callable[[optuna.Trial], float]) -> Callable[[optuna.Trial], float]:
    def tagged(trial: optuna.Trial) -> float:
        from distributed import get_worker

        trial.set_user_attr(WORKER_ATTR, get_worker().address)
        return objective(trial)

    return tagged


def _optimize_on_worker(
    study_name: str,
    storage_url: str,
    objective: Callable[[optuna.Trial], float],
    trials: int,
    seed: int,
) -> int:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler, pruner = sampler_and_pruner(seed)
    study = optuna.load_study(
        study_name=study_name, storage=storage_url, sampler=sampler, pruner=pruner
    )
    study.optimize(_tag_worker(objective), n_trials=trials)
    return trials


def optimize_shared(
    client: Any,
    study_name: str,
    storage_url: str,
    objective: Callable[[optuna.Trial], float],
    trials: int,
    direction: Literal["maximize", "minimize"],
    seed: int,
) -> optuna.Study:
    """Create (or resume) `study_name` in `storage_url` and run `trials` trials of it spread over
    every worker of the Dask `client`'s cluster; returns the study with all of them."""
    optuna.create_study(
        study_name=study_name, storage=storage_url, direction=direction, load_if_exists=True
    )
    workers = sorted(client.scheduler_info()["workers"])
    futures = [
        client.submit(
            _optimize_on_worker,
            study_name,
            storage_url,
            objective,
            share,
            seed + index,  # each worker's sampler is seeded differently, and reproducibly
            workers=[address],
            allow_other_workers=False,
            pure=False,
        )
        for index, (address, share) in enumerate(
            zip(workers, _share(trials, len(workers)), strict=True)
        )
        if share
    ]
    client.gather(futures)
    return optuna.load_study(study_name=study_name, storage=storage_url)
