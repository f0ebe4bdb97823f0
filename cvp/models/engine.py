"""Where a training procedure runs its two costly parts: the Optuna study and the booster fits.

The procedure (`cvp.models.train`, `cvp.models.tuning.tune`) is written once; it asks its engine
to run a study of an objective and to fit a booster with tuned parameters. `LocalEngine` does
both in this process; the Dask engine (`cvp.execution.training`) shares one study among the
workers of a cluster through an RDB storage and fits with `lightgbm.dask`, data-parallel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd

from cvp.models.refit import refit_on_closed_windows
from cvp.progress import advance

Objective = Callable[[optuna.Trial], float]
Direction = Literal["maximize", "minimize"]
PRUNER_WARMUP_STEPS = 20
XY = tuple[pd.DataFrame, np.ndarray]  # features and label
EARLY_STOPPING_ROUNDS = 50  # rounds without a validation gain before a fit stops


def sampler_and_pruner(seed: int) -> tuple[optuna.samplers.BaseSampler, optuna.pruners.BasePruner]:
    """The study's seeded TPE sampler and median pruner, the same wherever the study runs."""
    return (
        optuna.samplers.TPESampler(seed=seed),
        optuna.pruners.MedianPruner(n_warmup_steps=PRUNER_WARMUP_STEPS),
    )


class ModelEngine(Protocol):
    """Runs the study and the fits of one training procedure."""

    def optimize(
        self,
        name: str,
        make_objective: Callable[[], Objective],
        trials: int,
        direction: Direction,
        seed: int,
    ) -> optuna.Study:
        """A study of `trials` trials of the objective `make_objective()` builds (a picklable
        factory, so a remote engine can build the objective where it runs)."""
        ...

    def fit(self, params: dict, x: pd.DataFrame, y: np.ndarray) -> lgb.Booster:
        """A booster with `params` (holding `num_boost_round`) fitted on `x`, `y`."""
        ...

    def fit_early_stopped(
        self,
        params: dict,
        train: XY,
        valid: XY,
        max_rounds: int,
    ) -> lgb.Booster:
        """A booster with `params` fitted on `train`, stopped early on `valid`
        (`early_stopped_fit`)."""
        ...


class LocalEngine:
    """The study in memory and the fits in this process."""

    def optimize(
        self,
        name: str,
        make_objective: Callable[[], Objective],
        trials: int,
        direction: Direction,
        seed: int,
    ) -> optuna.Study:
        sampler, pruner = sampler_and_pruner(seed)
        study = optuna.create_study(
            study_name=name, direction=direction, sampler=sampler, pruner=pruner
        )
        study.optimize(make_objective(), n_trials=trials, callbacks=[lambda s, t: advance()])
        return study

    def fit(self, params: dict, x: pd.DataFrame, y: np.ndarray) -> lgb.Booster:
        return refit_on_closed_windows(params, x, y)

    def fit_early_stopped(
        self,
        params: dict,
        train: XY,
        valid: XY,
        max_rounds: int,
    ) -> lgb.Booster:
        return early_stopped_fit(params, train, valid, max_rounds)


def early_stopped_fit(
    params: dict,
    train: XY,
    valid: XY,
    max_rounds: int,
) -> lgb.Booster:
    """`params` fitted on `train` for at most `max_rounds` rounds, stopped after
    `EARLY_STOPPING_ROUNDS` without a gain on `valid`, and cut back to its best round.

    Used when the trials tuned on a sample (`[training] tuning_rows`): the best round count of a
    trial fitted on a sample is not the one for every row, so the full fit finds its own. The
    rounds past the best are dropped, not merely skipped at predict time, so the saved model,
    its TreeSHAP reasons and the refit's round count all see the same trees."""
    (x_train, y_train), (x_valid, y_valid) = train, valid
    d_train = lgb.Dataset(x_train, y_train, params={"feature_pre_filter": False})
    d_valid = lgb.Dataset(x_valid, y_valid, reference=d_train)
    booster = lgb.train(
        params,
        d_train,
        num_boost_round=max_rounds,
        valid_sets=[d_valid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))


LOCAL = LocalEngine()
