"""Retention budget plan: spend where expected saved value per unit cost is highest, hold out
the control group (never contacted, no cost) so uplift can be measured later."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class PlanTotals:
    budget: float
    reach: int
    control: int
    cost: float
    expected_saved_value: float
    reason_empty: str | None = None  # why nobody may be contacted, when that empties the plan
    model_note: str | None = None  # the churn model found no profitable threshold at training

    @property
    def roi(self) -> float:
        return (self.expected_saved_value - self.cost) / self.cost if self.cost else 0.0


def plan_budget(
    scores: pd.DataFrame,
    budget: float,
    campaign: str,
    contactable: np.ndarray | None = None,
) -> tuple[pd.DataFrame, PlanTotals]:
    """Greedy by saved value (loss x save rate) per unit cost, over customers who may be
    contacted, with a costed action and positive net value. Control-group customers that the
    plan reaches are recorded as the `control` arm at no cost.

    `contactable` (one bool per score row) is the consent decision at planning time
    (`cvp.privacy.consent.may_contact`); without it only the score's own flag counts. Both
    must allow contact: a revocation recorded after scoring removes the customer."""
    consent = scores["marketing_consent"].astype(bool).to_numpy()
    if contactable is not None:
        consent = consent & np.asarray(contactable, dtype=bool)
    eligible = scores[
        consent
        & (scores["action_cost"] > 0).to_numpy()
        & (scores["expected_saved_value"] > 0).to_numpy()
    ].copy()
    eligible["gross_saved"] = eligible["expected_loss"] * eligible["save_rate"]
    eligible["ratio"] = eligible["gross_saved"] / eligible["action_cost"]
    eligible = eligible.sort_values(["ratio", "customer_id"], ascending=[False, True])
    spent = 0.0
    arms = np.full(len(eligible), "", dtype=object)
    costs = eligible["action_cost"].to_numpy()
    control = eligible["in_control_group"].to_numpy()
    for i in range(len(eligible)):
        if control[i]:
            arms[i] = "control"
        elif spent + costs[i] <= budget:
            arms[i] = "treatment"
            spent += costs[i]
        if spent >= budget:
            break
    eligible["arm"] = arms
    plan = eligible[eligible["arm"] != ""].copy()
    plan["cost"] = np.where(plan["arm"] == "treatment", plan["action_cost"], 0.0)
    plan["expected_saved_value"] = np.where(plan["arm"] == "treatment", plan["gross_saved"], 0.0)
    plan["campaign"] = campaign
    plan["budget"] = budget
    treated = plan["arm"] == "treatment"
    totals = PlanTotals(
        budget=budget,
        reach=int(treated.sum()),
        control=int((~treated).sum()),
        cost=float(plan["cost"].sum()),
        expected_saved_value=float(plan["expected_saved_value"].sum()),
    )
    columns = [
        "as_of",
        "campaign",
        "customer_id",
        "arm",
        "next_best_action",
        "channel",
        "incentive",
        "cost",
        "expected_saved_value",
        "budget",
    ]
    return plan[columns].reset_index(drop=True), totals
