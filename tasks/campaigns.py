"""Thin Prefect tasks around the campaign jobs; results become artifacts."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.artifacts import create_table_artifact

from cvp.campaigns.jobs import run_campaign_plan, run_launch, run_measure, run_simulate_response
from cvp.campaigns.ledger import CampaignPlan
from cvp.campaigns.measure import Measurement
from cvp.campaigns.reconcile import TouchReconciliation
from cvp.config import get_settings
from cvp.data.synthetic import CampaignResponse


@task(name="plan-campaign")
def plan_campaign_task(
    name: str, as_of: date, budget: float, control_share: float | None
) -> CampaignPlan:
    result = run_campaign_plan(get_settings(), name, as_of, budget, control_share)
    t = result.totals
    create_table_artifact(
        key="campaign-plan",
        table=[
            {
                "campaign": name,
                "reach": t.reach,
                "control": t.control,
                "cost": round(t.cost, 2),
                "expected_saved_value": round(t.expected_saved_value, 2),
                "kept_arms": result.kept_arms,
            }
        ],
        description=f"Campaign {name} planned on the scores of {as_of}",
    )
    return result


@task(name="launch-campaign")
def launch_task(name: str, launch_date: date | None, imported: bool = False) -> TouchReconciliation:
    return run_launch(get_settings(), name, launch_date, imported)


@task(name="simulate-response")
def simulate_task(name: str, effect: float, seed: int) -> CampaignResponse:
    return run_simulate_response(get_settings(), name, effect, seed)


@task(name="measure-campaign")
def measure_task(name: str, as_of: date | None) -> Measurement:
    result = run_measure(get_settings(), name, as_of)
    table = result.results.drop(columns=["measured_at"]).round(4)
    create_table_artifact(
        key="campaign-results",
        table=table.astype(object).where(table.notna(), None).to_dict("records"),
        description=f"Uplift per arm of campaign {name}, window {result.window[0]} to {result.window[1]}",
    )
    return result
