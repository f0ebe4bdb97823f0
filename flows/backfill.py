"""Flow: features and scores (optionally training and plans) for every date in a range: the
pipeline's steps (`flows.pipeline.run_steps`) mapped over the dates.

Dates run as separate tasks, at most `max_concurrency` at once through a Prefect global
concurrency limit created for this run; each date retries on its own, and a failed date neither
rolls back nor stops the others. The run ends with a table artifact of every date.

The dates run where `[execution]` says (`cvp.orchestration.task_runners`): threads here, or
tasks on the Dask cluster, whose jobs then fan their own partitions out on the same cluster."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger, task
from prefect.concurrency.sync import concurrency
from prefect.runtime import flow_run
from prefect.states import Failed

from cvp.config import get_settings
from cvp.orchestration.backfill import DateOutcome, run_backfill_date
from cvp.orchestration.parameters import BackfillParameters
from cvp.orchestration.task_runners import ExecutionTaskRunner
from flows.pipeline import run_steps
from tasks.backfill import backfill_report, run_concurrency_limit
from tasks.data import init_task
from tasks.retry import retry_transient


@task(
    name="backfill-date",
    task_run_name="backfill {as_of}",
    retries=2,
    retry_delay_seconds=[5, 20],
    retry_condition_fn=retry_transient,
)
def backfill_date_task(params: BackfillParameters, as_of: date, limit_name: str) -> DateOutcome:
    """One date under the run's concurrency limit; a retry reruns the date's steps."""
    with concurrency(limit_name, occupy=1, strict=True):
        return run_backfill_date(get_settings(), params, as_of, run_steps)


@flow(name="backfill", log_prints=True, task_runner=ExecutionTaskRunner())
def backfill_flow(params: BackfillParameters):
    logger = get_run_logger()
    dates = params.dates()
    logger.info(
        "backfill of %d dates %s..%s every %s", len(dates), dates[0], dates[-1], params.every
    )
    init_task()
    with run_concurrency_limit(f"cvp-backfill-{flow_run.get_id()}", params.max_concurrency) as name:
        futures = [backfill_date_task.submit(params, day, name) for day in dates]
        for future in futures:
            future.wait()
    states = [future.state for future in futures]
    outcomes = backfill_report(dates, states)
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        return Failed(
            message=f"{len(failed)} of {len(dates)} dates failed: "
            + "; ".join(f"{o.as_of}: {o.detail}" for o in failed)
        )
    return [o.row() for o in outcomes]
