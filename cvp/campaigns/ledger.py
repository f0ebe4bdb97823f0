"""Record a plan as a campaign: one row per selected customer with an arm drawn once.

The arm comes from a stable hash of (campaign, customer), so the draw does not depend on the
date the plan is computed, and an arm already stored for the campaign always wins: re-planning
a campaign on newer scores can add or drop customers but never moves one between arms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.actions.budget import PlanTotals, plan_budget
from cvp.campaigns.store import campaign_assignments, campaigns
from cvp.config import CampaignSettings
from cvp.data.warehouse import read_frame, write_frame
from cvp.scoring.score import control_flag
from cvp.scoring.store import customer_scores


class CampaignError(ValueError):
    """A campaign command that cannot run; the message says what to do."""


@dataclass
class CampaignPlan:
    campaign: str
    totals: PlanTotals
    assignments: pd.DataFrame
    kept_arms: int
    replanned: bool


def campaign_row(conn: Connection, name: str) -> dict | None:
    row = conn.execute(sa.select(campaigns).where(campaigns.c.campaign == name)).mappings().first()
    return dict(row) if row else None


def check_campaign(
    conn: Connection, name: str, action: str, as_of: date | None = None
) -> dict | None:
    """The one place that says whether `action` (plan, launch, simulate, measure) can run on
    the campaign now; raises `CampaignError` with what to do. Returns the campaign row."""
    row = campaign_row(conn, name)
    if action == "plan":
        if row and row["status"] != "planned":
            raise CampaignError(
                f"campaign {name} is already {row['status']}; plan a new campaign name instead"
            )
        return row
    if row is None:
        raise CampaignError(f"no campaign {name}: plan it with `cvp plan --campaign {name} ...`")
    if action == "launch" and row["status"] == "measured":
        raise CampaignError(f"campaign {name} is already measured; its touches are final")
    if action in ("simulate", "measure") and row["status"] == "planned":
        raise CampaignError(f"campaign {name} was never launched: run `cvp launch {name}` first")
    if action == "measure" and as_of is not None:
        end = row["launch_date"] + timedelta(days=int(row["outcome_days"]))
        if as_of < end:
            raise CampaignError(
                f"campaign {name}'s outcome window ends {end}; measure on or after it (as of {as_of})"
            )
    return row


def read_assignments(conn: Connection, name: str) -> pd.DataFrame:
    return read_frame(
        conn, sa.select(campaign_assignments).where(campaign_assignments.c.campaign == name)
    )


def plan_campaign(
    conn: Connection,
    name: str,
    scores_as_of: date,
    budget: float,
    rules: CampaignSettings,
    control_share: float | None = None,
) -> CampaignPlan:
    """Select customers under the budget, fix their arms and replace the campaign's rows."""
    existing = check_campaign(conn, name, "plan")
    share = control_share if control_share is not None else rules.control_share
    if existing:  # the design of a campaign does not change on re-plan
        share = float(existing["control_share"])
    scores = read_frame(
        conn, sa.select(customer_scores).where(customer_scores.c.as_of == scores_as_of)
    )
    if scores.empty:
        raise CampaignError(
            f"no scores for {scores_as_of}: run `cvp score --as-of {scores_as_of}` first"
        )
    previous = read_assignments(conn, name) if existing else pd.DataFrame()
    drawn = control_flag(f"campaign:{name}", scores["customer_id"], share)
    if not previous.empty:
        kept = scores["customer_id"].map(previous.set_index("customer_id")["arm"])
        drawn = np.where(kept.notna(), kept.eq("control"), drawn)
    scores["in_control_group"] = drawn.astype(bool)
    plan, totals = plan_budget(scores, budget, name)
    details = scores.set_index("customer_id")[["churn_probability", "risk_tier", "value_tier"]]
    assignments = plan.join(details, on="customer_id").rename(columns={"cost": "expected_cost"})
    assignments["assigned_at"] = datetime.now()
    if not previous.empty:  # first assignment time is kept with the arm
        first = assignments["customer_id"].map(previous.set_index("customer_id")["assigned_at"])
        assignments["assigned_at"] = first.fillna(assignments["assigned_at"])
    kept_arms = int(assignments["customer_id"].isin(previous.get("customer_id", [])).sum())
    now = datetime.now()
    values = {
        "campaign": name,
        "scores_as_of": scores_as_of,
        "budget": budget,
        "control_share": share,
        "launch_date": scores_as_of + timedelta(days=rules.launch_offset_days),
        "outcome_days": rules.outcome_days,
        "churn_model_version": str(scores["churn_model_version"].iloc[0]),
        "clv_model_version": str(scores["clv_model_version"].iloc[0]),
        "status": "planned",
        "updated_at": now,
    }
    if existing:
        conn.execute(sa.update(campaigns).where(campaigns.c.campaign == name).values(**values))
    else:
        conn.execute(campaigns.insert().values(created_at=now, **values))
    conn.execute(sa.delete(campaign_assignments).where(campaign_assignments.c.campaign == name))
    write_frame(conn, campaign_assignments, assignments)
    return CampaignPlan(name, totals, assignments, kept_arms, existing is not None)
