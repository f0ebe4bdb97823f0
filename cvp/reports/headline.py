"""The report's headline: the four numbers a manager reads first, straight from the tables.

The high-risk share is over the customers retention can still act on: lapsed and churned
customers are gone already (their churn probability is near 1, so they would all be "high" and
make half a synthetic base look at risk); they are counted apart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.errors import StateError
from cvp.scoring.score import RETAINABLE_EXCLUDES
from cvp.scoring.store import customer_scores, retention_plan

HIGH_RISK = "high"


@dataclass(frozen=True)
class Headline:
    as_of: date
    customers_scored: int
    retainable_customers: int  # not lapsed or churned
    high_risk_customers: int  # high risk among the retainable
    expected_loss: float
    plan_cost: float | None  # None: no plan for the date yet
    plan_contacted: int

    @property
    def high_risk_share(self) -> float:
        retainable = self.retainable_customers
        return self.high_risk_customers / retainable if retainable else 0.0

    @property
    def gone_customers(self) -> int:
        """Lapsed or churned: scored, but past retention."""
        return self.customers_scored - self.retainable_customers


def headline(conn: Connection, as_of: date) -> Headline:
    """Sums in the warehouse (the test compares them with its own queries)."""
    s = customer_scores.c
    retainable = s.lifecycle_stage.not_in(RETAINABLE_EXCLUDES)
    scored, kept, high, loss = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((retainable, 1), else_=0)), 0),
            sa.func.coalesce(
                sa.func.sum(sa.case((retainable & (s.risk_tier == HIGH_RISK), 1), else_=0)), 0
            ),
            sa.func.coalesce(sa.func.sum(s.expected_loss), 0.0),
        ).where(s.as_of == as_of)
    ).one()
    if not scored:
        raise StateError(f"no scores for {as_of}: run `cvp score --as-of {as_of}` first")
    p = retention_plan.c
    rows, cost, contacted = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(p.cost), 0.0),
            sa.func.coalesce(sa.func.sum(sa.case((p.arm == "treatment", 1), else_=0)), 0),
        ).where(p.as_of == as_of)
    ).one()
    return Headline(
        as_of=as_of,
        customers_scored=int(scored),
        retainable_customers=int(kept),
        high_risk_customers=int(high),
        expected_loss=float(loss),
        plan_cost=float(cost) if rows else None,
        plan_contacted=int(contacted),
    )
