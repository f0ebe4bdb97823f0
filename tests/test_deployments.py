"""Deployments on a real Prefect server (not the ephemeral one): `cvp server up`, `cvp deploy`,
a backfill run created through the API exactly as the UI's Run form does, executed by the
process worker; cron deployments get future runs from the server's scheduler."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from cvp.data.migrate import upgrade_warehouse
from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import dispose_engines, get_engine, read_frame
from cvp.jobs.data_jobs import run_generate
from cvp.jobs.training_jobs import TrainingConfig, run_train
from tests.conftest import CVP, cvp_env, free_port, make_settings

pytestmark = pytest.mark.slow  # real Prefect and MLflow servers, a worker, training

DATES = [date(2025, 12, 10), date(2025, 12, 17), date(2025, 12, 24), date(2025, 12, 31)]


def _cvp(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CVP, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A trained DuckDB warehouse, then the servers and the deployments, torn down at the end."""
    root = tmp_path_factory.mktemp("deployments")
    settings = make_settings(root, f"duckdb:///{root / 'warehouse.duckdb'}")
    upgrade_warehouse(get_engine(settings.warehouse_url))
    run_generate(settings, GeneratorConfig(customers=2_500, seed=7))
    run_train(settings, TrainingConfig(as_of=date(2025, 12, 31), trials=2))
    dispose_engines()  # DuckDB lets one process hold the file: the flow runs need it
    prefect_port, mlflow_port = free_port(), free_port()
    env = cvp_env(
        settings,
        root,
        isolate=("CVP_", "PREFECT_"),
        CVP_SERVER__PREFECT_PORT=str(prefect_port),
        CVP_SERVER__MLFLOW_PORT=str(mlflow_port),
        CVP_SERVER__STATE_DIR=str(root / "servers"),
        PREFECT_HOME=str(root / "prefect-home"),
        PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="5",
        PREFECT_WORKER_QUERY_SECONDS="2",
    )
    up = _cvp(["server", "up"], env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        api = f"http://127.0.0.1:{prefect_port}/api"
        yield settings, env, api, root
    finally:
        down = _cvp(["server", "down"], env)
        assert down.returncode == 0, down.stdout + down.stderr
        after = _cvp(["server", "status"], env)
        assert after.returncode == 1 and "healthy" not in after.stdout


def _client(api: str):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    context = temporary_settings({PREFECT_API_URL: api})
    context.__enter__()
    return get_client(sync_client=True), context


def _wait_final(client, run_id, timeout_s: float = 900):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = client.read_flow_run(run_id)
        if run.state is not None and run.state.is_final():
            return run
        time.sleep(2)
    raise TimeoutError(f"flow run {run_id} not finished after {timeout_s} s")


def _read_when_released(url: str, *queries: str, timeout_s: float = 60) -> list:
    """A flow-run process reports its final state a moment before it exits and releases the
    DuckDB file (one process at a time may hold it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with get_engine(url).connect() as conn:
                return [read_frame(conn, query) for query in queries]
        except sa.exc.OperationalError:
            dispose_engines()
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
        finally:
            dispose_engines()


def _backfill_report(client, run_id) -> list[dict]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    artifacts = client.read_artifacts(
        artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["backfill-report"]))
    )
    data = next(a.data for a in artifacts if a.flow_run_id == run_id)
    return data if isinstance(data, list) else json.loads(data)


def test_server_status_reports_all_three_healthy(stack):
    _, env, api, _ = stack
    status = _cvp(["server", "status"], env)
    assert status.returncode == 0, status.stdout
    assert status.stdout.count("healthy") == 3
    assert api.removesuffix("/api") in status.stdout


def test_a_plain_command_reports_to_the_running_server_without_exported_variables(stack):
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    _, env, api, _ = stack
    assert "PREFECT_API_URL" not in env
    validated = _cvp(["validate", "--table", "customers", "--as-of", "2025-12-31"], env)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert f"Prefect server {api}" in validated.stdout
    assert "temporary Prefect API server" not in validated.stdout
    assert "nanobind" not in validated.stderr
    client, context = _client(api)
    try:
        with client:
            runs = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["validate"]))
            )
    finally:
        context.__exit__(None, None, None)
    assert len(runs) == 1 and runs[0].state.is_completed()


def test_backfill_deployment_run_from_the_api_scores_every_date(stack):
    settings, env, api, _ = stack
    deployed = _cvp(["deploy"], env)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    client, context = _client(api)
    try:
        with client:
            deployment = client.read_deployment_by_name("backfill/backfill")
            assert deployment.parameter_openapi_schema["required"] == ["params"]
            form = {
                "params": {
                    "start": "2025-12-10",
                    "end": "2025-12-31",
                    "every": "1w",
                    "targets": ["features", "score"],
                    "max_concurrency": 2,
                }
            }
            run = client.create_flow_run_from_deployment(deployment.id, parameters=form)
            finished = _wait_final(client, run.id)
            assert finished.state.is_completed(), finished.state.message
            rows = _backfill_report(client, run.id)

            # the same range again: every date is skipped, nothing is rescored
            again = client.create_flow_run_from_deployment(deployment.id, parameters=form)
            second = _wait_final(client, again.id)
            assert second.state.is_completed(), second.state.message
            second_rows = _backfill_report(client, again.id)
    finally:
        context.__exit__(None, None, None)

    assert [r["as_of"] for r in rows] == [d.isoformat() for d in DATES]
    assert {r["status"] for r in rows} == {"done"}
    counts, audit = _read_when_released(
        settings.warehouse_url,
        "SELECT as_of, COUNT(*) AS n FROM customer_scores GROUP BY as_of ORDER BY as_of",
        "SELECT command, status FROM audit_log WHERE command = 'score'",
    )
    assert [d.date() if hasattr(d, "date") else d for d in counts["as_of"]] == DATES
    scored = {r["as_of"]: r["customers_scored"] for r in rows}
    for day, n in zip(DATES, counts["n"], strict=True):
        assert scored[day.isoformat()] == n > 1_000
    assert len(audit) == 4 and (audit["status"] == "succeeded").all()
    assert {r["status"] for r in second_rows} == {"skipped"}


def test_cron_deployments_get_future_runs_from_the_scheduler(stack):
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    _, env, api, _ = stack
    assert _cvp(["deploy"], env).returncode == 0  # idempotent: re-applying is fine
    client, context = _client(api)
    try:
        with client:
            deadline = time.monotonic() + 120
            while True:
                scheduled = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(
                        name=DeploymentFilterName(any_=["pipeline", "train"])
                    ),
                    flow_run_filter=FlowRunFilter(
                        state=FlowRunFilterState(
                            type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])
                        )
                    ),
                )
                by_deployment = {run.deployment_id for run in scheduled}
                if len(by_deployment) == 2 or time.monotonic() > deadline:
                    break
                time.sleep(3)
            backfill = client.read_deployment_by_name("backfill/backfill")
    finally:
        context.__exit__(None, None, None)
    assert len(by_deployment) == 2, "the scheduler created no cron runs"
    now = datetime.now(UTC)
    assert all(run.expected_start_time > now for run in scheduled)
    assert backfill.id not in by_deployment  # no schedule, no runs
