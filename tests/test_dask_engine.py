"""Partitioned work on a real Dask scheduler with two worker processes on 127.0.0.1, against the
test PostgreSQL: the feature snapshot equals the single-process one row for row, and two workers
tune one Optuna study through a shared PostgreSQL storage."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from cvp.config import ExecutionSettings
from cvp.data.migrate import upgrade_warehouse
from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import dispose_engines, get_engine, read_frame
from cvp.errors import BadInput
from cvp.execution.dask_engine import SNAPSHOT_TOLERANCE, build_features_partitioned, dask_client
from cvp.execution.partitions import Partition, all_partitions, partition_index
from cvp.execution.tuning import WORKER_ATTR, _share, optimize_shared
from cvp.features.build import build_features
from cvp.features.store import read_snapshot
from cvp.jobs.data_jobs import run_generate
from cvp.jobs.feature_jobs import run_features
from cvp.jobs.scoring_jobs import run_score
from cvp.jobs.training_jobs import TrainingConfig, run_train
from tests.conftest import free_port, make_settings, postgres_schema

AS_OF = date(2025, 12, 31)
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_partitions_cover_the_id_space_once_in_sql_and_pandas():
    ids = pd.Series([f"c_{value:04x}" + "ab" * 14 for value in range(0, 65536, 7)])
    for count in (1, 3, 8):
        index = partition_index(ids, count)
        assert index.min() == 0 and index.max() == count - 1
        for partition in all_partitions(count):
            lower, upper = partition.lower, partition.upper
            prefixes = ids.str.slice(2, 6)
            in_range = (prefixes >= (lower or "")) & (prefixes < (upper or "g"))
            assert (in_range.to_numpy() == (index == partition.index)).all()
    with pytest.raises(ValueError):
        Partition(3, 3)
    assert _share(7, 2) == [4, 3] and _share(1, 2) == [1, 0]


def test_dask_engine_refuses_a_duckdb_warehouse(tmp_path):
    settings = make_settings(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")
    settings = settings.model_copy(update={"execution": ExecutionSettings(engine="dask")})
    with pytest.raises(BadInput, match="PostgreSQL"):
        build_features_partitioned(settings, AS_OF)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` and two `dask worker` processes, as an operator starts them."""
    scratch = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the workers import the tests' objective
    logs = [(scratch / f"{name}.log").open("wb") for name in ("scheduler", "w1", "w2")]
    processes = [
        subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"],
            env=env, cwd=scratch, stdout=logs[0], stderr=subprocess.STDOUT,
        )
    ]  # fmt: skip
    time.sleep(2)
    for log in logs[1:]:
        processes.append(
            subprocess.Popen(
                [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--host", "127.0.0.1",
                 "--no-dashboard", "--local-directory", str(scratch), "--memory-limit", "4GiB"],
                env=env, cwd=scratch, stdout=log, stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
    try:
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for log in logs:
            log.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_features_on_two_dask_workers_equal_the_local_build_row_for_row(cluster, tmp_path):
    with postgres_schema() as url:
        settings = make_settings(tmp_path, url)
        upgrade_warehouse(get_engine(url))
        run_generate(settings, GeneratorConfig(customers=1_500, seed=5))
        with get_engine(url).connect() as conn:
            local = build_features(conn, AS_OF)
        run_features(settings, AS_OF)
        with get_engine(url).connect() as conn:
            stored_local = read_snapshot(conn, local_version := _version(), AS_OF)
        distributed = settings.model_copy(
            update={
                "execution": ExecutionSettings(
                    engine="dask", scheduler_address=cluster, partitions=5
                )
            }
        )
        partitioned = build_features_partitioned(distributed, AS_OF)
        pd.testing.assert_frame_equal(
            partitioned, local, check_exact=False, rtol=0, atol=SNAPSHOT_TOLERANCE
        )
        # the job with engine = "dask" replaces the date's snapshot with identical rows
        result = run_features(distributed, AS_OF)
        with get_engine(url).connect() as conn:
            stored_dask = read_snapshot(conn, local_version, AS_OF)
        assert result.customers == len(local) > 1_000
        pd.testing.assert_frame_equal(
            stored_dask, stored_local, check_exact=False, rtol=0, atol=SNAPSHOT_TOLERANCE
        )
        dispose_engines()


@pytest.mark.slow
@pytest.mark.postgres
def test_scoring_on_two_dask_workers_stores_the_local_scores(cluster, tmp_path):
    """The model step (predictions, TreeSHAP reasons) runs per partition on the workers; the
    stored scores equal the single-process run's, every column of every customer."""
    with postgres_schema() as url:
        settings = make_settings(tmp_path, url)
        upgrade_warehouse(get_engine(url))
        run_generate(settings, GeneratorConfig(customers=1_500, seed=5))
        run_train(settings, TrainingConfig(as_of=AS_OF, trials=2))
        run_features(settings, AS_OF)  # both runs score the same stored snapshot
        run_score(settings, AS_OF)
        local = _scores(url)
        distributed = settings.model_copy(
            update={
                "execution": ExecutionSettings(
                    engine="dask", scheduler_address=cluster, partitions=5
                )
            }
        )
        run_score(distributed, AS_OF)  # replaces the date's scores
        on_cluster = _scores(url)
        assert len(local) > 1_000 and local["top_reasons"].str.len().gt(0).any()
        pd.testing.assert_frame_equal(on_cluster, local)
        dispose_engines()


def _scores(url: str) -> pd.DataFrame:
    with get_engine(url).connect() as conn:
        frame = read_frame(conn, "SELECT * FROM customer_scores ORDER BY customer_id")
    return frame.drop(columns=["scored_at"]).reset_index(drop=True)


def _version() -> str:
    from cvp.features.build import feature_set_version

    return feature_set_version()


def quadratic(trial: optuna.Trial) -> float:
    """A cheap objective with a known optimum at x = 2, y = -1."""
    x = trial.suggest_float("x", -5, 5)
    y = trial.suggest_float("y", -5, 5)
    time.sleep(0.2)  # long enough that both workers hold trials at the same time
    return (x - 2) ** 2 + (y + 1) ** 2


@pytest.mark.slow
@pytest.mark.postgres
def test_two_dask_workers_tune_one_study_in_a_shared_postgres_storage(cluster):
    from distributed import Client

    with postgres_schema() as url, Client(cluster, timeout="60s") as client:
        study = optimize_shared(
            client, "cvp-shared-test", url, quadratic, trials=24, direction="minimize", seed=3
        )
        trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
        assert len(trials) == 24
        workers = {trial.user_attrs[WORKER_ATTR] for trial in trials}
        assert len(workers) == 2  # both workers' trials are in the one study
        assert study.best_value < 1.0  # the shared sampler found the region of the optimum
        assert np.isclose(study.best_params["x"], 2, atol=1.0)
        resumed = optimize_shared(
            client, "cvp-shared-test", url, quadratic, trials=2, direction="minimize", seed=4
        )
        assert len(resumed.trials) == 26  # the same study, resumed from the storage
        dispose_engines()


@pytest.mark.slow
def test_a_local_cluster_is_started_for_the_job_when_no_scheduler_is_given():
    execution = ExecutionSettings(engine="dask", local_workers=2)
    with dask_client(execution) as client:
        workers = client.scheduler_info()["workers"]  # type: ignore[attr-defined]
        assert len(workers) == 2
        assert all(address.startswith("tcp://127.0.0.1:") for address in workers)
