"""Training on a Dask cluster (`[execution] engine = "dask"`): the model engine of
`cvp.models.engine` whose study is shared by every worker and whose boosters are fitted
data-parallel with `lightgbm.dask`.

- **Tuning**: one Optuna study per model and training run (`cvp-churn-<run id>`), in an
  `RDBStorage` every worker loads (`cvp.execution.tuning.optimize_shared`): each worker runs its
  share of the trials on its own copy of the training frames, and its sampler sees all trials.
- **Fitting**: the backtest booster and the registered refit are `DaskLGBMClassifier` /
  `DaskLGBMRegressor` fits on the rows spread evenly over the workers, so every worker holds
  a part and LightGBM trains data-parallel (`tree_learner: data`, `num_machines` = workers);
  the job keeps the plain `lgb.Booster`, which predicts, explains and registers as a local one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from cvp.config import Settings
from cvp.execution.dask_engine import dask_client, require_distributable, scheduler_for
from cvp.execution.tuning import optimize_shared
from cvp.models.engine import (
    LOCAL,
    XY,
    Direction,
    ModelEngine,
    Objective,
    early_stopped_fit,
)
from cvp.progress import advance

OPTUNA_SCHEMA = "cvp_optuna"


def tuning_storage_url(settings: Settings) -> str:
    """`[execution] tuning_storage`, else the warehouse's database with its search path set to
    the `cvp_optuna` schema (created if missing), so Optuna's tables stay apart from the
    warehouse's."""
    if settings.execution.tuning_storage:
        return settings.execution.tuning_storage
    require_distributable(settings.warehouse_url)
    url = make_url(settings.warehouse_url)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {OPTUNA_SCHEMA}"))
    finally:
        engine.dispose()
    shared = url.update_query_dict({"options": f"-csearch_path={OPTUNA_SCHEMA}"})
    return shared.render_as_string(hide_password=False)


class _BuiltOnWorker:
    """The objective, built once where it runs from its picklable factory (a trained-on
    `lgb.Dataset` holds a C handle and cannot travel; its arguments can)."""

    def __init__(self, make_objective: Callable[[], Objective]) -> None:
        self.make_objective = make_objective
        self.objective: Objective | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        if self.objective is None:
            self.objective = self.make_objective()
        return self.objective(trial)

    def __getstate__(self) -> dict[str, Any]:
        return {"make_objective": self.make_objective, "objective": None}


class DaskEngine:
    """Studies shared by the workers of `client` through `storage_url`; data-parallel fits."""

    def __init__(self, client: Any, storage_url: str) -> None:
        self.client = client
        self.storage_url = storage_url

    def workers(self) -> list[str]:
        return sorted(self.client.scheduler_info()["workers"])

    def optimize(
        self,
        name: str,
        make_objective: Callable[[], Objective],
        trials: int,
        direction: Direction,
        seed: int,
    ) -> optuna.Study:
        objective = _BuiltOnWorker(make_objective)
        study = optimize_shared(
            self.client, name, self.storage_url, objective, trials, direction, seed
        )
        advance(trials)
        return study

    def fit(self, params: dict, x: pd.DataFrame, y: np.ndarray) -> lgb.Booster:
        import dask.dataframe as dd
        from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRegressor

        params = dict(params)
        rounds = int(params.pop("num_boost_round"))
        params.pop("num_threads", None)  # each worker uses its own threads
        workers = self.workers()
        # one contiguous block of rows per worker, placed there, so every worker trains
        blocks = [rows for rows in np.array_split(np.arange(len(x)), len(workers)) if len(rows)]
        xs = [
            self.client.scatter(x.iloc[rows], workers=[w], hash=False)
            for rows, w in zip(blocks, workers, strict=False)
        ]
        ys = [
            self.client.scatter(pd.Series(y[rows], name="y"), workers=[w], hash=False)
            for rows, w in zip(blocks, workers, strict=False)
        ]
        # plain aliases of the placed blocks: dask's default meta check makes each partition a
        # "data producer" task, which the scheduler may queue on any worker, moving the rows
        data = dd.from_delayed(xs, meta=x.iloc[:0], verify_meta=False)
        label = dd.from_delayed(ys, meta=pd.Series(y[:0], name="y"), verify_meta=False)
        kind = DaskLGBMClassifier if params.get("objective") == "binary" else DaskLGBMRegressor
        model = kind(client=self.client, n_estimators=rounds, **params)
        model.fit(data, label)
        return model.booster_

    def fit_early_stopped(
        self,
        params: dict,
        train: XY,
        valid: XY,
        max_rounds: int,
    ) -> lgb.Booster:
        """On one worker, as each trial: `lightgbm.dask` cannot stop early (its workers would
        have to agree to stop on the same round), and the fixed-round refit after it is the
        data-parallel one."""
        future = self.client.submit(early_stopped_fit, params, train, valid, max_rounds, pure=False)
        return future.result()


@contextmanager
def model_engine_for(settings: Settings) -> Iterator[ModelEngine]:
    """The engine `[execution]` asks for; with Dask, a client of its cluster for the run."""
    if settings.execution.engine != "dask":
        yield LOCAL
        return
    require_distributable(settings.warehouse_url)
    storage = tuning_storage_url(settings)
    with dask_client(settings.execution, scheduler_for(settings)) as client:
        yield DaskEngine(client, storage)
