"""Flow: the retention budget plan for a scored date."""

from __future__ import annotations

from datetime import date

from prefect import flow

from cvp.actions.budget import PlanTotals
from tasks.data import init_task
from tasks.reporting import report_task
from tasks.scoring import plan_task


@flow(name="plan", log_prints=True)
def plan_flow(as_of: date, budget: float) -> PlanTotals:
    init_task()
    totals = plan_task(as_of, budget)
    report_task(as_of, command="plan")
    return totals
