"""Flows of the campaign ledger: plan a campaign, launch it, simulate its outcome (synthetic
data only), measure it."""

from __future__ import annotations

from datetime import date

from prefect import flow

from cvp.campaigns.ledger import CampaignPlan
from cvp.campaigns.measure import Measurement
from cvp.campaigns.reconcile import TouchReconciliation
from cvp.data.synthetic import CampaignResponse
from tasks.campaigns import launch_task, measure_task, plan_campaign_task, simulate_task
from tasks.data import init_task


@flow(name="plan-campaign", log_prints=True)
def plan_campaign_flow(
    name: str, as_of: date, budget: float, control_share: float | None = None
) -> CampaignPlan:
    init_task()
    return plan_campaign_task(name, as_of, budget, control_share)


@flow(name="launch-campaign", log_prints=True)
def launch_flow(
    name: str, launch_date: date | None = None, imported: bool = False
) -> TouchReconciliation:
    init_task()
    return launch_task(name, launch_date, imported)


@flow(name="simulate-response", log_prints=True)
def simulate_response_flow(name: str, effect: float, seed: int = 0) -> CampaignResponse:
    init_task()
    return simulate_task(name, effect, seed)


@flow(name="measure-campaign", log_prints=True)
def measure_flow(name: str, as_of: date | None = None) -> Measurement:
    init_task()
    return measure_task(name, as_of)
