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


LOCAL = LocalEngine()
