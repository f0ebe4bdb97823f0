"""Flow: features and scores (optionally training and plans) for every date in a range.

Dates run as separate tasks, at most `max_concurrency` at once through a Prefect global
concurrency limit created for this run; each date retries on its own, and a failed date neither
rolls back nor stops the others. The run ends with a table artifact of every date."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Failed

from cvp.orchestration.parameters import BackfillParameters
from tasks.backfill import backfill_date_task, backfill_report, run_concurrency_limit
from tasks.data import init_task


@flow(name="backfill", log_prints=True)
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
