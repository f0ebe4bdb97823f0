"""Partitioned work on a Dask cluster (`[execution] engine = "dask"`): the feature build, and
scoring's model step (predictions and TreeSHAP reasons, which depend on each customer alone).

Each task opens its own connection to the warehouse and computes one customer partition
(`cvp/execution/partitions.py`). The features job's tasks write their partition to the staging
table `feature_snapshot_staging` and return only a row count (`stage_features_partitioned`), so
no partition's rows travel back over the cluster: the job reads the staged rows once for its
suite and promotes them to `feature_snapshots` in one transaction (`cvp/jobs/feature_jobs.py`). A failing snapshot is
never promoted, so the stored one stays; rows a crashed run left are cleared by the next run of
the date; a task run twice replaces its own partition's rows.

Scoring's model step is partitioned too, and so are the reasons for the customers acted on
(`explain_on_cluster`: chosen in the job after the tiers, explained in chunks on the workers),
but the outputs come back to the job: tiers, actions and
the campaign budget are cut at quantiles of the whole population (value-index weights, RFM
quintiles, tier cut points, the budget's ranking), so scoring's write stays one write of the
job. `build_features_partitioned` (gathered, in customer order, the single-process result row
for row) serves scoring when no snapshot is stored, and the benchmark.

The warehouse must be PostgreSQL: DuckDB lets one process open its file, so workers could not
read it while the job holds it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TypeVar

import lightgbm as lgb
import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from cvp.actions.reasons import explain
from cvp.config import ExecutionSettings, Settings
from cvp.errors import BadInput
from cvp.execution.partitions import Partition, all_partitions, partition_index
from cvp.features.build import FEATURE_DECIMALS, build_features
from cvp.models.dataset import BtydFit
from cvp.scoring.score import (
    ChampionModels,
    ExplainStep,
    ModelOutputs,
    ModelStep,
    Predictions,
    predict_and_explain,
    predict_only,
)

T = TypeVar("T")

# Equal "row for row" means equal to the precision a snapshot is stored at. A float sum that lands
# on a rounding boundary can differ by one unit in the last decimal when two query plans add in a
# different order; the single-process build already does so between runs (parallel aggregation).
SNAPSHOT_TOLERANCE = 1.01 * 10.0**-FEATURE_DECIMALS


def scheduler_for(settings: Settings) -> str | None:
    """`[execution] scheduler_address`, else the scheduler `cvp server up --workers N` started,
    else None (a LocalCluster for the job)."""
    if settings.execution.scheduler_address:
        return settings.execution.scheduler_address
    from cvp.orchestration.servers import running_dask_scheduler

    return running_dask_scheduler(settings)


@contextmanager
def dask_client(execution: ExecutionSettings, address: str | None = None) -> Iterator[object]:
    """A client of the scheduler at `address` (or `execution.scheduler_address`), or of a
    LocalCluster on 127.0.0.1 started for this job. Inside a Dask task (a backfill date run by
    the `DaskTaskRunner`) it is that worker's `worker_client`: the task leaves the worker's
    thread pool while it waits, so its own partitions can run on the same cluster."""
    from distributed import Client, LocalCluster, get_worker, worker_client

    try:
        get_worker()
    except ValueError:  # not inside a Dask task
        pass
    else:
        with worker_client() as inner:
            yield inner
        return
    address = address or execution.scheduler_address
    if address:
        with Client(address, timeout="30s") as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=execution.local_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # loopback, any free port
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def require_distributable(warehouse_url: str) -> None:
    if warehouse_url.startswith("duckdb"):
        raise BadInput(
            '[execution] engine = "dask" needs a PostgreSQL warehouse: DuckDB lets one process '
            'open its file; use engine = "local" with DuckDB'
        )


def _partition_features(warehouse_url: str, as_of: date, partition: Partition) -> pd.DataFrame:
    from cvp.data.warehouse import get_engine

    with get_engine(warehouse_url).connect() as conn:
        return build_features(conn, as_of, partition)


def _over_partitions(settings: Settings, task: Callable[..., T], *args: object) -> list[T]:
    """`task(*args, partition)` for every customer partition, one Dask task each, results in
    partition order."""
    require_distributable(settings.warehouse_url)
    partitions = all_partitions(settings.execution.partitions)
    with dask_client(settings.execution, scheduler_for(settings)) as client:
        futures = client.map(  # type: ignore[attr-defined]
            task, *[[arg] * len(partitions) for arg in args], partitions, pure=False
        )
        return list(client.gather(futures))  # type: ignore[attr-defined]


def build_features_partitioned(settings: Settings, as_of: date) -> pd.DataFrame:
    """`build_features` for every customer, one Dask task per partition, in customer order."""
    frames = _over_partitions(settings, _partition_features, settings.warehouse_url, as_of)
    filled = [f for f in frames if len(f)] or frames[:1]
    frame = pd.concat(filled, ignore_index=True)
    return frame.sort_values("customer_id", kind="stable", ignore_index=True)


def _stage_partition(warehouse_url: str, version: str, as_of: date, partition: Partition) -> int:
    """One task: build the partition's snapshot and stage it (one transaction); its row count
    is all that returns to the job."""
    from cvp.data.warehouse import get_engine
    from cvp.features.store import stage_partition

    with get_engine(warehouse_url).begin() as conn:
        frame = build_features(conn, as_of, partition)
        return stage_partition(conn, version, as_of, partition, frame)


def stage_features_partitioned(settings: Settings, version: str, as_of: date) -> list[int]:
    """Build every partition's snapshot on the cluster, each task writing its rows to
    `feature_snapshot_staging`; returns the rows each partition staged. The caller clears the
    date's staging rows before (a crashed run's) and promotes or clears them after."""
    counts = _over_partitions(settings, _stage_partition, settings.warehouse_url, version, as_of)
    return [int(count) for count in counts]


def features_for(settings: Settings, conn: Connection, as_of: date) -> pd.DataFrame:
    """The snapshot for `as_of`, built where `[execution]` says."""
    if settings.execution.engine == "dask":
        return build_features_partitioned(settings, as_of)
    return build_features(conn, as_of)


def model_step_on_cluster(settings: Settings) -> ModelStep:
    """Scoring's model step (`predict_and_explain`: BTYD features, predictions, TreeSHAP
    reasons, the costly part) run one partition of the customers per Dask task, the models sent
    once to every worker; the outputs come back in the customers' original order."""
    require_distributable(settings.warehouse_url)
    count = settings.execution.partitions
    # reasons for the customers acted on come after the tiers, in `score`, in one call
    run = predict_and_explain if settings.scoring.reasons_for == "all" else predict_only

    def step(models: ChampionModels, profiled: pd.DataFrame, btyd: BtydFit) -> ModelOutputs:
        part_of = partition_index(profiled["customer_id"], count)
        groups = [np.flatnonzero(part_of == k) for k in range(count)]
        groups = [rows for rows in groups if len(rows)]
        if not groups:
            return run(models, profiled, btyd)
        with dask_client(settings.execution, scheduler_for(settings)) as client:
            shared = client.scatter(models, broadcast=True)  # type: ignore[attr-defined]
            fitted = client.scatter(btyd, broadcast=True)  # type: ignore[attr-defined]
            futures = [
                client.submit(  # type: ignore[attr-defined]
                    run,
                    shared,
                    profiled.iloc[rows].reset_index(drop=True),
                    fitted,
                    pure=False,
                )
                for rows in groups
            ]
            parts = client.gather(futures)  # type: ignore[attr-defined]
        joined = ModelOutputs.concat(parts)
        # rows are grouped by partition now; put them back in the order of `profiled`
        back = np.argsort(np.concatenate(groups), kind="stable")
        return ModelOutputs(
            joined.features.iloc[back].reset_index(drop=True),
            Predictions(
                joined.predicted.churn_probability[back],
                joined.predicted.clv_expected[back],
            ),
            None if joined.reasons is None else joined.reasons.iloc[back].reset_index(drop=True),
        )

    return step


def model_step_for(settings: Settings) -> ModelStep | None:
    """The model step `[execution]` asks for (None: the in-process default)."""
    return model_step_on_cluster(settings) if settings.execution.engine == "dask" else None


def explain_on_cluster(settings: Settings) -> ExplainStep:
    """Reasons for the customers acted on (`[scoring] reasons_for = "acted"`), explained on the
    cluster: `score` picks them after the tiers, in the job, so they are not the model step's
    partitions; the rows are cut into `[execution] partitions` consecutive chunks, one Dask task
    each, the booster sent once to every worker, the texts joined back in order. Without this,
    exact TreeSHAP, most of scoring's time, ran in the job's one process."""
    require_distributable(settings.warehouse_url)
    count = settings.execution.partitions

    def step(booster: lgb.Booster, rows: pd.DataFrame) -> tuple[list[str], list[str]]:
        bounds = np.linspace(0, len(rows), count + 1).astype(int)
        chunks = [rows.iloc[a:b] for a, b in itertools.pairwise(bounds) if b > a]
        if len(chunks) < 2:
            return explain(booster, rows)
        with dask_client(settings.execution, scheduler_for(settings)) as client:
            shared = client.scatter(booster, broadcast=True)  # type: ignore[attr-defined]
            futures = [
                client.submit(explain, shared, chunk, pure=False)  # type: ignore[attr-defined]
                for chunk in chunks
            ]
            parts = client.gather(futures)  # type: ignore[attr-defined]
        return (
            [text for texts, _ in parts for text in texts],
            [family for _, families in parts for family in families],
        )

    return step


def explain_step_for(settings: Settings) -> ExplainStep | None:
    """Where `[execution]` explains the customers acted on (None: in this process)."""
    return explain_on_cluster(settings) if settings.execution.engine == "dask" else None
