"""One customer's profile for a retention agent: scores history, tier and stage over time,
reasons, the recommended action, whether they may be contacted, recent purchases and tickets.

The agent may type the source id (PII); it is turned into the pseudonym at once and never
stored, logged or written into a report: only the pseudonymous id leaves this module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.config import Settings
from cvp.data import schema
from cvp.data.pseudonym import KEY_PREFIX, Pseudonymiser, load_key
from cvp.data.warehouse import read_frame
from cvp.errors import BadInput, StateError
from cvp.privacy.consent import permissions
from cvp.scoring.store import customer_scores

RECENT_PURCHASES = 10
RECENT_TICKETS = 5
HISTORY_COLUMNS = (
    "as_of",
    "churn_probability",
    "risk_tier",
    "clv_lifetime",
    "value_tier",
    "lifecycle_stage",
    "rfm_segment",
    "expected_loss",
    "priority_rank",
)


@dataclass
class CustomerProfile:
    customer_id: str  # pseudonymous
    history: pd.DataFrame  # one row per scores date, oldest first
    latest: pd.Series | None  # the newest scores row (None: never scored)
    may_contact: bool
    consent: dict[str, bool]
    purchases: pd.DataFrame
    tickets: pd.DataFrame
    in_plan: str | None  # the plan's arm at the latest date, if any

    @property
    def reasons(self) -> list[str]:
        if self.latest is None or not self.latest["top_reasons"]:
            return []
        return [r.strip() for r in str(self.latest["top_reasons"]).split(";") if r.strip()]


def _known(conn: Connection, customer_id: str) -> bool:
    c = schema.customers.c
    return (
        conn.execute(sa.select(c.customer_id).where(c.customer_id == customer_id)).first()
        is not None
    )


def resolve_customer(conn: Connection, settings: Settings, typed: str) -> str:
    """The pseudonymous id of a typed source or pseudonymous id. The error never repeats what
    was typed: it may be a source id, and failures are written to the log file."""
    typed = typed.strip()
    if not typed:
        raise BadInput("no customer id given")
    candidates = [typed] if typed.startswith(KEY_PREFIX) else []
    candidates.append(Pseudonymiser(load_key(settings)).key_for(typed))
    for candidate in candidates:
        if _known(conn, candidate):
            return candidate
    erased = schema.erased_customers.c
    for candidate in candidates:
        if conn.execute(
            sa.select(erased.customer_id).where(erased.customer_id == candidate)
        ).first():
            raise StateError(f"customer {candidate} was erased (`cvp forget`): no profile is kept")
    raise BadInput(
        "unknown customer: the id is neither a source id nor a pseudonymous id in the warehouse"
    )


def customer_profile(
    conn: Connection, settings: Settings, customer_id: str, as_of: date | None = None
) -> CustomerProfile:
    """The profile up to `as_of` (default: everything scored)."""
    s = customer_scores.c
    query = sa.select(customer_scores).where(s.customer_id == customer_id).order_by(s.as_of)
    if as_of is not None:
        query = query.where(s.as_of <= as_of)
    scores = read_frame(conn, query)
    latest = scores.iloc[-1] if not scores.empty else None
    when = latest["as_of"] if latest is not None else as_of
    consent = permissions(conn, [customer_id], None, settings.privacy).iloc[0].to_dict()
    may = bool(consent.get("marketing")) and (latest is None or bool(latest["marketing_consent"]))
    t, k = schema.transactions.c, schema.support_tickets.c
    purchases = read_frame(
        conn,
        sa.select(t.ts, t.amount, t.category, t.channel, t.is_refund)
        .where(
            t.customer_id == customer_id,
            *([t.ts <= pd.Timestamp(when) + pd.Timedelta(days=1)] if when else []),
        )
        .order_by(t.ts.desc())
        .limit(RECENT_PURCHASES),
    )
    tickets = read_frame(
        conn,
        sa.select(k.opened_at, k.resolved_at, k.category, k.satisfaction)
        .where(
            k.customer_id == customer_id,
            *([k.opened_at <= pd.Timestamp(when) + pd.Timedelta(days=1)] if when else []),
        )
        .order_by(k.opened_at.desc())
        .limit(RECENT_TICKETS),
    )
    in_plan = None
    if latest is not None:
        from cvp.scoring.store import retention_plan

        p = retention_plan.c
        in_plan = conn.execute(
            sa.select(p.arm).where(p.customer_id == customer_id, p.as_of == latest["as_of"])
        ).scalar()
    return CustomerProfile(
        customer_id=customer_id,
        history=scores[list(HISTORY_COLUMNS)] if not scores.empty else scores,
        latest=latest,
        may_contact=may,
        consent={k: bool(v) for k, v in consent.items()},
        purchases=purchases,
        tickets=tickets,
        in_plan=in_plan,
    )
