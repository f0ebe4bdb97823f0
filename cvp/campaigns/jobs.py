"""Campaign commands as audited jobs with an MLflow run each (experiment `campaigns`)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

import mlflow

from cvp.audit import audited
from cvp.campaigns.launch import adopt_imported_touches, first_imported_contact, launch_campaign
from cvp.campaigns.ledger import CampaignPlan, check_campaign, plan_campaign
from cvp.campaigns.measure import Measurement, measure_campaign
from cvp.campaigns.reconcile import TouchReconciliation
from cvp.campaigns.simulate import simulate_response
from cvp.campaigns.validation import validate_campaign_table
from cvp.config import Settings
from cvp.data.synthetic import CampaignResponse
from cvp.data.warehouse import get_engine
from cvp.experiments.tracking import tracked_run

CAMPAIGN_EXPERIMENT = "campaigns"


def precheck(
    settings: Settings,
    name: str,
    action: str,
    as_of: date | None = None,
    imported: bool = False,
) -> None:
    """Fail fast, before a flow starts, with the same message the job would give."""
    with get_engine(settings.warehouse_url).connect() as conn:
        check_campaign(conn, name, action, as_of)
        if imported:
            first_imported_contact(conn, name)


def run_campaign_plan(
    settings: Settings,
    name: str,
    as_of: date,
    budget: float,
    control_share: float | None = None,
) -> CampaignPlan:
    engine = get_engine(settings.warehouse_url)
    params = {"campaign": name, "as_of": as_of.isoformat(), "budget": budget}
    with audited(engine, "plan_campaign", settings.operator, params) as audit:
        with engine.begin() as conn:
            result = plan_campaign(
                conn, name, as_of, budget, settings.campaigns, control_share=control_share
            )
        audit.notes = {"replanned": result.replanned, "kept_arms": result.kept_arms}
        validate_campaign_table(engine, settings, "campaign_assignments", name, as_of)
        with tracked_run(
            settings,
            CAMPAIGN_EXPERIMENT,
            f"plan {name}",
            {"cvp.command": "plan", "cvp.campaign": name},
        ) as run:
            audit.mlflow_run_id = run.info.run_id
            mlflow.log_params(params)
            t = result.totals
            mlflow.log_metrics(
                {
                    "reach": t.reach,
                    "control": t.control,
                    "cost": t.cost,
                    "expected_saved_value": t.expected_saved_value,
                    "kept_arms": result.kept_arms,
                }
            )
        return result


def run_launch(
    settings: Settings, name: str, launch_date: date | None = None, imported: bool = False
) -> TouchReconciliation:
    """Write the touches (or adopt the imported ones) and reconcile them with the arms."""
    engine = get_engine(settings.warehouse_url)
    params = {
        "campaign": name,
        "launch_date": launch_date.isoformat() if launch_date else None,
        "imported": imported,
    }
    with audited(engine, "launch", settings.operator, params) as audit:
        with engine.begin() as conn:
            launch = adopt_imported_touches if imported else launch_campaign
            result = launch(conn, name, launch_date)
        audit.notes = asdict(result)
        return result


def run_simulate_response(
    settings: Settings, name: str, effect: float, seed: int
) -> CampaignResponse:
    engine = get_engine(settings.warehouse_url)
    params = {"campaign": name, "effect": effect, "seed": seed}
    with audited(engine, "simulate_response", settings.operator, params) as audit:
        with engine.begin() as conn:
            response = simulate_response(conn, name, effect, seed)
        audit.notes = {
            "true_repurchase_uplift": response.true_repurchase_uplift,
            "true_revenue_uplift": response.true_revenue_uplift,
        }
        return response


def run_measure(settings: Settings, name: str, as_of: date | None = None) -> Measurement:
    engine = get_engine(settings.warehouse_url)
    as_of = as_of or date.today()
    params = {"campaign": name, "as_of": as_of.isoformat()}
    with (
        audited(engine, "measure", settings.operator, params) as audit,
        tracked_run(
            settings,
            CAMPAIGN_EXPERIMENT,
            f"measure {name}",
            {"cvp.command": "measure", "cvp.campaign": name},
        ) as run,
    ):
        audit.mlflow_run_id = run.info.run_id
        with engine.begin() as conn:
            result = measure_campaign(conn, name, as_of, settings.campaigns.confidence)
        validate_campaign_table(engine, settings, "campaign_results", name, as_of)
        mlflow.log_params(
            {**params, "window_start": result.window[0], "window_end": result.window[1]}
        )
        for r in result.results.itertuples():
            if r.segment_type != "overall":
                continue
            for field in ("uplift", "ci_low", "ci_high", "treatment_mean", "control_mean"):
                value = getattr(r, field)
                if value is not None and value == value:
                    mlflow.log_metric(f"{r.metric}_{field}", float(value))
            if r.metric == "revenue":
                for field in ("incremental_revenue", "cost", "roi"):
                    value = getattr(r, field)
                    if value == value:
                        mlflow.log_metric(field, float(value))
        mlflow.log_table(result.results.drop(columns=["measured_at"]), "campaign_results.json")
        touches = result.touches
        mlflow.log_metrics({**touches.counts(), "contamination": touches.contamination})
        mlflow.set_tag("cvp.campaign.analysis", "intention to treat")
        audit.notes = {"touches": asdict(touches), "analysis": "intention to treat"}
        return result
