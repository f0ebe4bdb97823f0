"""Launch: every assignment becomes a `marketing_touches` row, control rows included (arm
`control`, no offer, no cost), so the touches table alone says who was held out."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.campaigns.ledger import CampaignError, check_campaign, read_assignments
from cvp.campaigns.store import campaigns
from cvp.data import schema
from cvp.data.warehouse import write_frame

LAUNCH_TIME = time(9, 0)


def touch_id(campaign: str, customer_id: str) -> str:
    """Stable id, so a re-launch replaces the same rows."""
    return "mt_" + hashlib.sha256(f"{campaign}:{customer_id}".encode()).hexdigest()[:40]


def launch_campaign(conn: Connection, name: str, launch_date: date | None = None) -> pd.DataFrame:
    """Write the campaign's touches (replacing any earlier launch of it) and mark it launched."""
    row = check_campaign(conn, name, "launch")
    assert row is not None  # only planning may find no campaign
    when = launch_date or row["launch_date"]
    if when <= row["scores_as_of"]:
        raise CampaignError(
            f"launch date {when} must be after the scores date {row['scores_as_of']}"
        )
    plan = read_assignments(conn, name)
    if plan.empty:
        raise CampaignError(f"campaign {name} has no assignments: re-plan it with a budget")
    treated = plan["arm"].eq("treatment").to_numpy()
    touches = pd.DataFrame(
        {
            "touch_id": [touch_id(name, c) for c in plan["customer_id"]],
            "customer_id": plan["customer_id"],
            "ts": datetime.combine(when, LAUNCH_TIME),
            "campaign": name,
            "arm": plan["arm"],
            "channel": np.where(treated, plan["channel"], None),
            "offer": np.where(treated, plan["incentive"], None),
            "cost": np.where(treated, plan["expected_cost"], 0.0),
            "responded": None,
        }
    )
    touches["responded"] = touches["responded"].astype("boolean")
    mt = schema.marketing_touches
    conn.execute(sa.delete(mt).where(mt.c.campaign == name))
    write_frame(conn, mt, touches)
    conn.execute(
        sa.update(campaigns)
        .where(campaigns.c.campaign == name)
        .values(
            status="launched",
            launch_date=when,
            launched_at=datetime.now(),
            updated_at=datetime.now(),
        )
    )
    return touches
