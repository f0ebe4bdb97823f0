"""Optuna-tuned LightGBM with pruning; each trial is a nested MLflow run of the training job.

The parent run id is passed explicitly: MLflow's active run is thread-local and Prefect runs tasks
in worker threads, so `mlflow.active_run()` cannot be relied on here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

import lightgbm as lgb
import numpy as np
import optuna
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient
from optuna_integration import LightGBMPruningCallback

from cvp.models.engine import EARLY_STOPPING_ROUNDS, LOCAL, XY, ModelEngine
from cvp.models.metrics import normalized_gini
from cvp.progress import stage

BASE_PARAMS = {
    "verbosity": -1,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "feature_pre_filter": False,
}


@dataclass(frozen=True)
class SearchSpace:
    """Bounds of the churn model's tree shape (`[training] churn_max_depth`,
    `churn_max_leaves`). Set by what predicts best, not by the cost of explaining: exact
    TreeSHAP through woodelf (`cvp/actions/reasons.py`) keeps deep trees affordable, and early
    stopping plus Optuna's pruning stop the trials that do not pay."""

    churn_max_depth: int = 10
    churn_max_leaves: int = 255


@dataclass
class TunedModel:
    booster: lgb.Booster
    params: dict
    best_value: float
    study: optuna.Study
    trial_rows: int = 0  # training rows each trial fitted on (fewer than the model's at scale)


def _space(
    trial: optuna.trial.BaseTrial,
    task: str,
    positives_ratio: float,
    space: SearchSpace | None = None,
) -> dict:
    space = space or SearchSpace()
    if task == "churn":
        params: dict[str, float | str] = {
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True)
        }
        depth = trial.suggest_int("max_depth", 3, max(3, space.churn_max_depth))
        params["max_depth"] = depth
        leaves = trial.suggest_int("num_leaves", 4, max(4, space.churn_max_leaves), log=True)
        params["num_leaves"] = min(leaves, 2**depth)
    else:
        params = {"learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True)}
        params["num_leaves"] = trial.suggest_int("num_leaves", 8, 96, log=True)
    params |= {
        "min_child_samples": trial.suggest_int("min_child_samples", 10, 200, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "bagging_freq": 1,
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
    }
    if task == "churn":
        # imbalance is a tuned choice, and calibration afterwards undoes its effect on probabilities
        params["scale_pos_weight"] = trial.suggest_float(
            "scale_pos_weight", 1.0, max(1.0, 1 / positives_ratio - 1)
        )
    else:
        params["objective"] = trial.suggest_categorical("objective", ["tweedie", "poisson"])
        if params["objective"] == "tweedie":
            params["tweedie_variance_power"] = trial.suggest_float(
                "tweedie_variance_power", 1.1, 1.9
            )
    return params


def _base(task: str, seed: int) -> dict:
    base = {**BASE_PARAMS, "seed": seed, "metric": "auc" if task == "churn" else "l2"}
    if task == "churn":
        base["objective"] = "binary"
    return base


def _positives(task: str, y_train: np.ndarray) -> float:
    return float(np.mean(y_train)) if task == "churn" else 0.5


def objective_for(
    task: str,
    train: XY,
    valid: XY,
    seed: int,
    client: MlflowClient,
    experiment_id: str,
    parent_run_id: str,
    max_boost_rounds: int = 2000,
    space: SearchSpace | None = None,
) -> Callable[[optuna.Trial], float]:
    """The study's objective: one early-stopped, pruned LightGBM fit per trial, logged as a
    nested MLflow run. Built from picklable arguments, so an engine can build it on a worker.
    Every trial stops early (`EARLY_STOPPING_ROUNDS` without gain) and Optuna prunes one whose
    validation curve falls below the median of earlier trials at the same round (LightGBM's
    pruning callback)."""
    (x_train, y_train), (x_valid, y_valid) = train, valid
    base = _base(task, seed)
    metric = base["metric"]
    d_train = lgb.Dataset(
        x_train, y_train, free_raw_data=False, params={"feature_pre_filter": False}
    )
    d_valid = lgb.Dataset(x_valid, y_valid, reference=d_train, free_raw_data=False)
    positives = _positives(task, y_train)

    def objective(trial: optuna.Trial) -> float:
        params = {**base, **_space(trial, task, positives, space)}
        booster = lgb.train(
            params,
            d_train,
            num_boost_round=max_boost_rounds,
            valid_sets=[d_valid],
            valid_names=["valid"],
            callbacks=[
                lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False),
                LightGBMPruningCallback(trial, metric, valid_name="valid"),
            ],
        )
        value = booster.best_score["valid"][metric]
        trial.set_user_attr("best_iteration", booster.best_iteration)
        run = client.create_run(
            experiment_id,
            run_name=f"{task}-trial-{trial.number}",
            tags={"mlflow.parentRunId": parent_run_id, "cvp.kind": "trial", "cvp.target": task},
        )
        client.log_batch(
            run.info.run_id,
            params=[optuna_param(k, v) for k, v in trial.params.items()],
            metrics=[
                optuna_metric(f"valid_{metric}", value),
                optuna_metric("best_iteration", booster.best_iteration),
            ],
        )
        if task == "clv":
            gini = normalized_gini(
                y_valid, np.asarray(booster.predict(x_valid, num_iteration=booster.best_iteration))
            )
            trial.set_user_attr("normalized_gini", gini)
            client.log_metric(run.info.run_id, "valid_normalized_gini", gini)
        client.set_terminated(run.info.run_id)
        return value

    return objective


def tune(
    task: str,
    train: XY,
    valid: XY,
    trials: int,
    seed: int,
    client: MlflowClient,
    experiment_id: str,
    parent_run_id: str,
    max_boost_rounds: int = 2000,
    space: SearchSpace | None = None,
    engine: ModelEngine = LOCAL,
    trial_data: tuple[XY, XY] | None = None,
) -> TunedModel:
    """`churn`: binary, maximise validation AUC. `clv`: count-like regression of revenue,
    minimise validation l2 (tweedie vs poisson is one of the tuned choices). The study and the
    final fit run where `engine` says (`cvp.models.engine`).

    `trial_data` (training and validation samples) is what the trials fit on when `train` is too
    large to fit twenty times (`[training] tuning_rows`). The best parameters are then fitted on
    all of `train`, early-stopped on all of `valid`; that fit's best round is the round count the
    refit inherits. Without it, the trials fit on `train` and the best trial's round count is
    reused."""
    trial_train, trial_valid = trial_data or (train, valid)
    make_objective = partial(
        objective_for,
        task,
        trial_train,
        trial_valid,
        seed,
        client,
        experiment_id,
        parent_run_id,
        max_boost_rounds,
        space,
    )
    direction: Literal["maximize", "minimize"] = "maximize" if task == "churn" else "minimize"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with stage(f"Tuning the {task} model (Optuna trials)", total=trials):
        study = engine.optimize(
            f"cvp-{task}-{parent_run_id}", make_objective, trials, direction, seed
        )
    best = study.best_trial
    assert best.value is not None  # the best trial is a completed one
    positives = _positives(task, trial_train[1])  # the range the trials drew from
    params = {
        **_base(task, seed),
        **_space(optuna.trial.FixedTrial(best.params), task, positives, space),
    }
    if trial_data is None:
        params["num_boost_round"] = max(1, int(best.user_attrs["best_iteration"]))
        booster = engine.fit(params, *train)
    else:
        with stage(f"Fitting the tuned {task} model on all {len(train[1]):,} training rows"):
            booster = engine.fit_early_stopped(params, train, valid, max_boost_rounds)
        params["num_boost_round"] = booster.num_trees() // booster.num_model_per_iteration()
    return TunedModel(booster, params, float(best.value), study, len(trial_train[1]))


def optuna_param(key: str, value: object) -> Param:
    return Param(key, str(value))


def optuna_metric(key: str, value: float) -> Metric:
    return Metric(key, float(value), int(time.time() * 1000), 0)
