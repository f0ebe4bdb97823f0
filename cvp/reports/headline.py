"""The report's headline: the four numbers a manager reads first, straight from the tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.errors import StateError
from cvp.scoring.store import customer_scores, retention_plan

HIGH_RISK = "high"


@dataclass(frozen=True)
class Headline:
    as_of: date
    customers_scored: int
    high_risk_customers: int
    expected_loss: float
    plan_cost: float | None  # None: no plan for the date yet
    plan_contacted: int

    @property
    def high_risk_share(self) -> float:
        return self.high_risk_customers / self.customers_scored if self.customers_scored else 0.0


def headline(conn: Connection, as_of: date) -> Headline:
    """Sums in the warehouse (the test compares them with its own queries)."""
    s = customer_scores.c
    scored, high, loss = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((s.risk_tier == HIGH_RISK, 1), else_=0)), 0),
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
        high_risk_customers=int(high),
        expected_loss=float(loss),
        plan_cost=float(cost) if rows else None,
        plan_contacted=int(contacted),
    )
