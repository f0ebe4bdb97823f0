"""Synthetic outcome period for a launched campaign (demo and tests): purchases of its
customers in the outcome window, with a planted effect for the treated arm."""

from __future__ import annotations

import hashlib
from datetime import datetime, time

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.campaigns.ledger import check_campaign, read_assignments
from cvp.campaigns.measure import outcome_window
from cvp.data import schema
from cvp.data.synthetic import CampaignResponse, campaign_response
from cvp.data.warehouse import read_frame, write_frame


def _id_prefix(name: str) -> str:
    return "cr" + hashlib.sha256(name.encode()).hexdigest()[:12] + "_"


def simulate_response(conn: Connection, name: str, effect: float, seed: int) -> CampaignResponse:
    """Write the outcome-window purchases (replacing an earlier simulation of this campaign)."""
    row = check_campaign(conn, name, "simulate")
    assert row is not None  # only planning may find no campaign
    start, end = outcome_window(row)
    plan = read_assignments(conn, name)
    t = schema.transactions
    spend = read_frame(
        conn,
        sa.select(t.c.customer_id, sa.func.avg(t.c.amount).label("spend_mean"))
        .where(~t.c.is_refund, t.c.ts < datetime.combine(start, time.min))
        .group_by(t.c.customer_id),
    ).set_index("customer_id")["spend_mean"]
    plan["spend_mean"] = plan["customer_id"].map(spend).fillna(float(spend.median())).astype(float)
    truth = read_frame(
        conn,
        sa.select(
            schema.ground_truth_customers.c.customer_id,
            schema.ground_truth_customers.c.true_uplift,
        ),
    )
    if not truth.empty:
        weights = plan["customer_id"].map(truth.set_index("customer_id")["true_uplift"])
        plan["uplift_weight"] = weights.fillna(weights.mean()).astype(float)
    response = campaign_response(plan, start, (end - start).days, effect, seed)
    tx = response.transactions
    prefix = _id_prefix(name)
    tx.insert(0, "transaction_id", [f"{prefix}{i:08d}" for i in np.arange(len(tx))])
    conn.execute(sa.delete(t).where(t.c.transaction_id.like(f"{prefix}%")))
    write_frame(conn, t, tx)
    return response
