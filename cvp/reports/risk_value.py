"""Risk tier by value tier: customers and expected loss per cell, and the reasons most often
behind high risk."""

from __future__ import annotations

import pandas as pd

from cvp.reports.customer_base import TIERS
from cvp.reports.readings import SectionData, money, pct, share

TOP_REASONS = 10


def high_risk_reasons(scores: pd.DataFrame, top: int = TOP_REASONS) -> pd.DataFrame:
    """Reason families of high-risk customers, counted once per customer and family."""
    high = scores.loc[scores["risk_tier"] == "high", "reason_families"].fillna("")
    families = high.str.split(",").explode().str.strip()
    families = families[families != ""]
    once = families.reset_index().drop_duplicates()  # a family twice in one customer counts once
    counts = once["reason_families"].value_counts().head(top)
    return counts.rename("customers").rename_axis("reason").reset_index()


def risk_value(scores: pd.DataFrame) -> SectionData:
    section = SectionData("risk", "Risk and value")
    grid = (
        scores.groupby(["risk_tier", "value_tier"])
        .agg(customers=("customer_id", "size"), expected_loss=("expected_loss", "sum"))
        .reset_index()
    )
    full = pd.MultiIndex.from_product([TIERS, TIERS], names=["risk_tier", "value_tier"])
    grid = grid.set_index(["risk_tier", "value_tier"]).reindex(full).fillna(0).reset_index()
    reasons = high_risk_reasons(scores)
    section.frames = {"grid": grid, "reasons": reasons}
    total_loss = float(scores["expected_loss"].sum())
    cell = grid[(grid["risk_tier"] == "high") & (grid["value_tier"] == "high")].iloc[0]
    worst = grid.sort_values("expected_loss").iloc[-1]
    section.reading = [
        f"High risk and high value: {int(cell['customers']):,} customers carrying "
        f"{money(cell['expected_loss'])} expected loss ({pct(share(cell['expected_loss'], total_loss))} "
        f"of {money(total_loss)}); the costliest cell is {worst['risk_tier']} risk x "
        f"{worst['value_tier']} value.",
        (
            f"The reason most often behind high risk is {reasons.iloc[0]['reason']} "
            f"({int(reasons.iloc[0]['customers']):,} high-risk customers)."
            if not reasons.empty
            else "No customer is in the high risk tier."
        ),
    ]
    return section
