"""Measure a launched campaign against its randomised control arm.

For every assigned customer the outcome window (launch, launch + outcome_days] gives:
`repurchase` (a non-refund purchase in the window), `retention` (a purchase, an event or a
subscription still running at the window's end: the customer is still with us) and `revenue`
(net of refunds). Uplift is the difference of the arm means; its interval is Welch's t interval
(scipy), which for 0/1 outcomes is the usual interval for a difference of proportions. The
arms were drawn at random within the selected customers, so the difference estimates the
average effect of treating them. The analysis is intention to treat: a customer stays in the arm
drawn for them whatever the touches say; `cvp.campaigns.reconcile` reports contacted controls
(contamination, biasing the uplift toward 0), uncontacted treatment customers and contacts
outside the campaign, stored on the campaign and returned with the measurement. Incremental revenue = revenue uplift x treated customers;
ROI = (incremental revenue - cost) / cost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import stats
from sqlalchemy.engine import Connection

from cvp.campaigns.ledger import check_campaign
from cvp.campaigns.reconcile import TouchReconciliation, reconcile_touches
from cvp.campaigns.store import campaign_assignments, campaign_results, campaigns
from cvp.data import schema
from cvp.data.warehouse import read_frame, write_frame

METRICS: tuple[str, ...] = ("retention", "repurchase", "revenue")
SEGMENTS: tuple[str, ...] = ("risk_tier", "value_tier")


@dataclass
class Measurement:
    campaign: str
    window: tuple[date, date]
    outcomes: pd.DataFrame
    results: pd.DataFrame
    touches: TouchReconciliation

    def overall(self, metric: str) -> pd.Series:
        r = self.results
        return r[(r["segment_type"] == "overall") & (r["metric"] == metric)].iloc[0]


def outcome_window(row: dict) -> tuple[date, date]:
    """Days after the launch day up to and including the last day of the window."""
    start = row["launch_date"]
    return start, start + timedelta(days=int(row["outcome_days"]))


def campaign_outcomes(conn: Connection, name: str, start: date, end: date) -> pd.DataFrame:
    """One row per assignment with its observed outcomes in (start, end]."""
    a = campaign_assignments
    t, e, s = schema.transactions, schema.events, schema.subscriptions
    lo = datetime.combine(start + timedelta(days=1), datetime.min.time())
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time())
    tx = (
        sa.select(
            t.c.customer_id,
            sa.func.sum(t.c.amount).label("revenue"),
            sa.func.sum(sa.case((t.c.is_refund, 0), else_=1)).label("purchases"),
        )
        .where(t.c.ts >= lo, t.c.ts < hi)
        .group_by(t.c.customer_id)
        .subquery()
    )
    ev = (
        sa.select(e.c.customer_id, sa.func.count().label("events"))
        .where(e.c.ts >= lo, e.c.ts < hi)
        .group_by(e.c.customer_id)
        .subquery()
    )
    sub = (
        sa.select(s.c.customer_id, sa.func.count().label("running"))
        .where(s.c.start_date <= end, sa.or_(s.c.end_date.is_(None), s.c.end_date > end))
        .group_by(s.c.customer_id)
        .subquery()
    )
    query = (
        sa.select(
            a.c.customer_id,
            a.c.arm,
            a.c.risk_tier,
            a.c.value_tier,
            a.c.expected_cost,
            sa.func.coalesce(tx.c.revenue, 0.0).label("revenue"),
            sa.func.coalesce(tx.c.purchases, 0).label("purchases"),
            sa.func.coalesce(ev.c.events, 0).label("events"),
            sa.func.coalesce(sub.c.running, 0).label("running"),
        )
        .select_from(
            a.outerjoin(tx, tx.c.customer_id == a.c.customer_id)
            .outerjoin(ev, ev.c.customer_id == a.c.customer_id)
            .outerjoin(sub, sub.c.customer_id == a.c.customer_id)
        )
        .where(a.c.campaign == name)
        .order_by(a.c.customer_id)
    )
    frame = read_frame(conn, query)
    frame["repurchase"] = (frame["purchases"] > 0).astype(float)
    frame["retention"] = (
        (frame["purchases"] > 0) | (frame["events"] > 0) | (frame["running"] > 0)
    ).astype(float)
    frame["revenue"] = frame["revenue"].astype(float)
    return frame


def uplift_interval(
    treated: np.ndarray, control: np.ndarray, confidence: float
) -> tuple[float, float, float, float]:
    """Difference of means, Welch's interval and p-value; NaN when an arm is too small."""
    if len(treated) < 2 or len(control) < 2:
        return float("nan"), float("nan"), float("nan"), float("nan")
    diff = float(treated.mean() - control.mean())
    if np.var(treated) == 0 and np.var(control) == 0:
        return diff, diff, diff, float("nan") if diff == 0 else 0.0
    test = stats.ttest_ind(treated, control, equal_var=False)
    ci = test.confidence_interval(confidence_level=confidence)
    return diff, float(ci.low), float(ci.high), float(test.pvalue)


def _rows(frame: pd.DataFrame, segment_type: str, segment: str, confidence: float) -> list[dict]:
    treated = frame[frame["arm"] == "treatment"]
    control = frame[frame["arm"] == "control"]
    cost = float(treated["expected_cost"].sum())
    rows = []
    for metric in METRICS:
        t, c = treated[metric].to_numpy(), control[metric].to_numpy()
        uplift, low, high, p = uplift_interval(t, c, confidence)
        row = {
            "segment_type": segment_type,
            "segment": segment,
            "metric": metric,
            "n_treatment": len(t),
            "n_control": len(c),
            "treatment_mean": float(t.mean()) if len(t) else None,
            "control_mean": float(c.mean()) if len(c) else None,
            "uplift": uplift,
            "ci_low": low,
            "ci_high": high,
            "p_value": p,
        }
        if metric == "revenue":
            incremental = uplift * len(t) if np.isfinite(uplift) else float("nan")
            row["incremental_revenue"] = incremental
            row["cost"] = cost
            row["roi"] = (incremental - cost) / cost if cost else float("nan")
        rows.append(row)
    return rows


def measure_campaign(
    conn: Connection, name: str, as_of: date, confidence: float = 0.95
) -> Measurement:
    """Outcomes and uplift per arm, overall and per risk and value tier, written to
    `campaign_results` (replacing an earlier measurement of the campaign)."""
    row = check_campaign(conn, name, "measure", as_of)
    assert row is not None  # only planning may find no campaign
    start, end = outcome_window(row)
    outcomes = campaign_outcomes(conn, name, start, end)
    rows = _rows(outcomes, "overall", "all", confidence)
    for segment_type in SEGMENTS:
        for segment, part in outcomes.groupby(segment_type, sort=True):
            rows += _rows(part, segment_type, str(segment), confidence)
    results = pd.DataFrame(rows)
    results.insert(0, "campaign", name)
    results["measured_at"] = datetime.now()
    results = results.replace([np.inf, -np.inf], np.nan)
    conn.execute(sa.delete(campaign_results).where(campaign_results.c.campaign == name))
    write_frame(conn, campaign_results, results)
    touches = reconcile_touches(conn, name)
    conn.execute(
        sa.update(campaigns)
        .where(campaigns.c.campaign == name)
        .values(status="measured", updated_at=datetime.now(), **touches.counts())
    )
    return Measurement(name, (start, end), outcomes, results, touches)
