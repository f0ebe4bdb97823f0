"""The retention plan of a scores date by action, channel and arm (treatment or control)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.data.warehouse import read_frame
from cvp.reports.readings import SectionData, money
from cvp.scoring.store import retention_plan


def plan_section(conn: Connection, as_of: date) -> SectionData:
    section = SectionData("plan", "Retention plan")
    p = retention_plan.c
    rows = read_frame(
        conn,
        sa.select(
            p.arm, p.next_best_action, p.channel, p.cost, p.expected_saved_value, p.budget
        ).where(p.as_of == as_of),
    )
    if rows.empty:
        section.unavailable.append(
            f"no retention plan for {as_of}: run `cvp plan --as-of {as_of} --budget AMOUNT`"
        )
        section.reading = [f"No plan has been made for {as_of}.", "Nothing is spent yet."]
        return section
    by_action = (
        rows.groupby(["next_best_action", "channel", "arm"])
        .agg(
            customers=("arm", "size"),
            cost=("cost", "sum"),
            expected_saved_value=("expected_saved_value", "sum"),
        )
        .reset_index()
        .sort_values("cost", ascending=False)
    )
    treated = rows[rows["arm"] == "treatment"]
    totals = {
        "budget": float(rows["budget"].iloc[0]),
        "contacted": len(treated),
        "control": int((rows["arm"] == "control").sum()),
        "cost": float(treated["cost"].sum()),
        "expected_saved_value": float(treated["expected_saved_value"].sum()),
    }
    section.frames = {"by_action": by_action}
    section.values = totals
    roi = (
        (totals["expected_saved_value"] - totals["cost"]) / totals["cost"] if totals["cost"] else 0
    )
    section.reading = [
        f"{totals['contacted']:,} customers contacted for {money(totals['cost'])} of a "
        f"{money(totals['budget'])} budget, {totals['control']:,} held out as control.",
        f"Expected saved value {money(totals['expected_saved_value'])} (expected ROI {roi:.2f}); "
        f"the largest spend is {by_action.iloc[0]['next_best_action']} by "
        f"{by_action.iloc[0]['channel']}.",
    ]
    return section
