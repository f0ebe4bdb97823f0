"""Launch: every assignment becomes a `marketing_touches` row, control rows included (arm
`control`, no channel, no offer, no cost), so the touches table alone says who was held out.
Or, when a channel system sent the campaign and its touches were imported with
`cvp ingest marketing_touches` (rows with `campaign = NAME`), `adopt_imported_touches` marks
the campaign launched on them as they are. Either way the touches are reconciled with the
assignments (`cvp.campaigns.reconcile`) and the counts stored on the campaign."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.campaigns.ledger import CampaignError, check_campaign, read_assignments
from cvp.campaigns.reconcile import TouchReconciliation, reconcile_touches
from cvp.campaigns.store import campaigns
from cvp.data import schema
from cvp.data.warehouse import write_frame

LAUNCH_TIME = time(9, 0)


def touch_id(campaign: str, customer_id: str) -> str:
    """Stable id, so a re-launch replaces the same rows."""
    return "mt_" + hashlib.sha256(f"{campaign}:{customer_id}".encode()).hexdigest()[:40]


def _check_launch_date(row: dict, when: date) -> None:
    if when <= row["scores_as_of"]:
        raise CampaignError(
            f"launch date {when} must be after the scores date {row['scores_as_of']}"
        )


def _mark_launched(conn: Connection, name: str, when: date) -> TouchReconciliation:
    result = reconcile_touches(conn, name)
    conn.execute(
        sa.update(campaigns)
        .where(campaigns.c.campaign == name)
        .values(
            status="launched",
            launch_date=when,
            launched_at=datetime.now(),
            updated_at=datetime.now(),
            **result.counts(),
        )
    )
    return result


def first_imported_contact(conn: Connection, name: str) -> date:
    """Day of the campaign's first contact in `marketing_touches`; refuses when there is none."""
    mt = schema.marketing_touches
    first = conn.execute(
        sa.select(sa.func.min(mt.c.ts)).where(mt.c.campaign == name, mt.c.channel.is_not(None))
    ).scalar()
    if first is None:
        raise CampaignError(
            f"no contacts with campaign = {name} in marketing_touches: import the channel "
            "system's file with `cvp ingest marketing_touches FILE` first"
        )
    return pd.Timestamp(first).date()


def adopt_imported_touches(
    conn: Connection, name: str, launch_date: date | None = None
) -> TouchReconciliation:
    """Launch on the touches a channel system sent (already in `marketing_touches`): the
    launch day is `launch_date` or the day of the first contact."""
    row = check_campaign(conn, name, "launch")
    assert row is not None  # only planning may find no campaign
    when = launch_date or first_imported_contact(conn, name)
    _check_launch_date(row, when)
    return _mark_launched(conn, name, when)


def launch_campaign(
    conn: Connection, name: str, launch_date: date | None = None
) -> TouchReconciliation:
    """Write the campaign's touches (replacing any earlier launch of it) and mark it launched."""
    row = check_campaign(conn, name, "launch")
    assert row is not None  # only planning may find no campaign
    when = launch_date or row["launch_date"]
    _check_launch_date(row, when)
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
    return _mark_launched(conn, name, when)
