"""The platform's log lines reach the Prefect run page: log rows read back through the API of a
real (temporary) Prefect server."""

from __future__ import annotations

import pytest

from cvp.orchestration.run_logging import (
    EXTRA_LOGGERS_VARIABLE,
    MISSING_FLOW_VARIABLE,
    prefect_logging_environment,
)


def test_cvp_is_added_to_the_extra_loggers_keeping_the_users():
    env = {EXTRA_LOGGERS_VARIABLE: "dask, mylib"}
    prefect_logging_environment(env)
    prefect_logging_environment(env)  # twice: still named once
    assert env[EXTRA_LOGGERS_VARIABLE] == "dask,mylib,cvp"
    assert env[MISSING_FLOW_VARIABLE] == "ignore"
    fresh: dict[str, str] = {}
    prefect_logging_environment(fresh)
    assert fresh[EXTRA_LOGGERS_VARIABLE] == "cvp"


def _run_logs(flow_run_id) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # the handler batches; send what is queued before reading
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )
    return [f"{log.name}: {log.message}" for log in logs]


@pytest.mark.usefixtures("prefect_server")
def test_a_validate_flow_run_has_the_platforms_stage_lines(env_settings):
    from prefect import flow

    from cvp.data.synthetic import GeneratorConfig
    from cvp.jobs.data_jobs import run_generate
    from flows.validate import validate_flow

    run_generate(env_settings, GeneratorConfig(customers=300, seed=3))
    state = validate_flow(tables=["customers"], return_state=True)
    assert state.is_completed()
    lines = _run_logs(state.state_details.flow_run_id)
    stage_lines = [line for line in lines if line.startswith("cvp.progress: Validating customers")]
    assert stage_lines[0] == "cvp.progress: Validating customers"
    assert any(line.endswith(" s") and ": done in " in line for line in stage_lines), stage_lines
    # Prefect's own lines too: the run page tells when the run finished
    assert any("Finished in state Completed" in line for line in lines), lines

    @flow(name="failing-stage")
    def failing() -> None:
        from cvp.progress import stage

        with stage("Importing nothing"):
            raise RuntimeError("no such file")

    failed = failing(return_state=True)
    assert failed.is_failed()
    assert any(
        line.startswith("cvp.progress: Importing nothing: failed after")
        for line in _run_logs(failed.state_details.flow_run_id)
    )
