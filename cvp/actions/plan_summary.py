"""What a retention team acts on in a plan: per action and channel, how many customers are
contacted, what it costs, what it is expected to save, and how many are held out as control.

One function for every place that shows a plan (`cvp plan`, the Prefect artifact), so the
numbers agree; it reads the stored plan, so it shows what was written."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.data.warehouse import read_frame
from cvp.scoring.store import retention_plan

BREAKDOWN_COLUMNS = [
    "action",
    "channel",
    "customers",
    "cost",
    "expected_saved_value",
    "control",
]
TOTAL = "total"


def plan_breakdown(plan: pd.DataFrame) -> pd.DataFrame:
    """One row per (action, channel) of `retention_plan` rows, most saved value first, and a
    total row. `customers` are the treatment arm; `control` the reached customers held out."""
    if plan.empty:
        return pd.DataFrame([[TOTAL, "", 0, 0.0, 0.0, 0]], columns=BREAKDOWN_COLUMNS)
    treated = plan["arm"] == "treatment"
    grouped = (
        plan.assign(customers=treated.astype(int), control=(~treated).astype(int))
        .groupby(["next_best_action", "channel"], as_index=False)
        .agg(
            customers=("customers", "sum"),
            cost=("cost", "sum"),
            expected_saved_value=("expected_saved_value", "sum"),
            control=("control", "sum"),
        )
        .rename(columns={"next_best_action": "action"})
        .sort_values(["expected_saved_value", "action"], ascending=[False, True])
    )
    total = pd.DataFrame(
        [
            [
                TOTAL,
                "",
                int(grouped["customers"].sum()),
                float(grouped["cost"].sum()),
                float(grouped["expected_saved_value"].sum()),
                int(grouped["control"].sum()),
            ]
        ],
        columns=BREAKDOWN_COLUMNS,
    )
    return pd.concat([grouped[BREAKDOWN_COLUMNS], total], ignore_index=True)


def stored_plan(conn: Connection, as_of: date) -> pd.DataFrame:
    """The `retention_plan` rows of a date."""
    return read_frame(conn, sa.select(retention_plan).where(retention_plan.c.as_of == as_of))
