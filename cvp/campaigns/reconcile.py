"""Reconcile the touches a campaign really got with its assignments.

A touch is a contact when it names a channel (`cvp launch` records held-out controls with no
channel). Touches may come from `cvp launch` or from a channel system's file imported with
`cvp ingest marketing_touches` (rows with `campaign = NAME`); channel systems drop contacts,
send to people outside the list and sometimes to the control arm. Measurement stays
intention-to-treat (every customer in the arm drawn for them, contacted or not), which keeps
the randomisation; this reconciliation says how far reality was from the plan:
- `touched_control`: control customers contacted. Contamination: the control arm partly got
  the treatment, so the measured uplift is biased toward 0;
- `untouched_treatment`: treatment customers never contacted. Dilution: the uplift measures
  the effect of assigning the treatment, not of receiving it;
- `touched_outside`: contacted customers not in the campaign. Not measured (they have no
  arm), but their cost is real."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.campaigns.ledger import read_assignments
from cvp.campaigns.store import campaigns
from cvp.data import schema
from cvp.data.warehouse import read_frame


@dataclass
class TouchReconciliation:
    treatment: int
    control: int
    contacts: int
    touched_outside: int
    touched_control: int
    untouched_treatment: int
    outside_cost: float

    @property
    def contamination(self) -> float:
        """Share of the control arm that was contacted."""
        return self.touched_control / self.control if self.control else 0.0

    def counts(self) -> dict[str, int]:
        """The columns stored on the `campaigns` row."""
        keys = ("contacts", "touched_outside", "touched_control", "untouched_treatment")
        return {k: v for k, v in asdict(self).items() if k in keys}

    def lines(self) -> list[str]:
        """What a person needs to read the measurement; empty parts are left out."""
        out = [
            f"{self.contacts:,} contacts: {self.treatment - self.untouched_treatment:,} of "
            f"{self.treatment:,} treatment customers reached"
        ]
        if self.touched_control:
            out.append(
                f"contamination: {self.touched_control:,} of {self.control:,} control customers "
                f"were contacted ({self.contamination:.1%}); the intention-to-treat uplift is "
                "biased toward 0"
            )
        if self.untouched_treatment:
            out.append(
                f"{self.untouched_treatment:,} treatment customers were never contacted; they "
                "stay in the treatment arm (intention to treat)"
            )
        if self.touched_outside:
            out.append(
                f"{self.touched_outside:,} contacted customers are not in the campaign "
                f"(cost {self.outside_cost:,.2f}); not measured"
            )
        return out


def reconcile_touches(conn: Connection, name: str) -> TouchReconciliation:
    mt = schema.marketing_touches
    touches = read_frame(
        conn,
        sa.select(mt.c.customer_id, mt.c.cost).where(
            mt.c.campaign == name, mt.c.channel.is_not(None)
        ),
    )
    arms = read_assignments(conn, name).set_index("customer_id")["arm"]
    contacted = set(touches["customer_id"])
    arm_of_contacted = arms.reindex(sorted(contacted))
    outside = touches[~touches["customer_id"].isin(arms.index)]
    treated = arms.index[arms.eq("treatment")]
    return TouchReconciliation(
        treatment=int(arms.eq("treatment").sum()),
        control=int(arms.eq("control").sum()),
        contacts=len(touches),
        touched_outside=int(outside["customer_id"].nunique()),
        touched_control=int(arm_of_contacted.eq("control").sum()),
        untouched_treatment=int((~treated.isin(list(contacted))).sum()),
        outside_cost=float(outside["cost"].fillna(0).sum()),
    )


def store_reconciliation(conn: Connection, name: str, result: TouchReconciliation) -> None:
    conn.execute(sa.update(campaigns).where(campaigns.c.campaign == name).values(**result.counts()))
