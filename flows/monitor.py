"""Flow: monitor the champion models for a date and retrain when a rule says so (monthly)."""

from __future__ import annotations

from prefect import flow

from cvp.monitoring.jobs import MonitorResult
from cvp.orchestration.parameters import MonitorParameters, resolve_as_of
from tasks.data import init_task
from tasks.monitoring import monitor_task, report_task, trigger_task
from tasks.reporting import report_task as page_task


@flow(name="monitor", log_prints=True)
def monitor_flow(params: MonitorParameters | None = None) -> MonitorResult:
    params = params or MonitorParameters()
    as_of = resolve_as_of(params.as_of)
    init_task()
    result = monitor_task(as_of)
    if result.retrain and params.trigger:
        result.triggered = trigger_task(result, as_of)
    elif result.retrain:
        result.triggered = "not triggered: trigger=false"
    report_task(result)
    page_task(as_of, mlflow_run_id=result.mlflow_run_id)
    return result
