"""Lifecycle stages from configurable rules, and the transition matrix between scored dates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cvp.config import LifecycleSettings

STAGES = ("new", "active", "at_risk", "lapsed", "churned", "reactivated")
# feature columns the rules read, besides churn_probability
STAGE_COLUMNS = ("recency_days", "tenure_days", "subscription_active", "is_contractual")


# the rules' thresholds are `[lifecycle]` in cvp.toml
LifecycleRules = LifecycleSettings


def lifecycle_stage(frame: pd.DataFrame, previous: pd.Series, rules: LifecycleRules) -> pd.Series:
    """`previous` is each customer's stage at the last scored date (NaN if none)."""
    recency = frame["recency_days"].fillna(np.inf)
    tenure = frame["tenure_days"].fillna(0)
    contract_over = (frame["subscription_active"] == 0) & frame["is_contractual"].fillna(0).astype(
        bool
    )
    was_gone = previous.reindex(frame.index).isin(["lapsed", "churned"])
    conditions = [
        (recency > rules.churned_after_days) | contract_over,
        recency > rules.lapsed_after_days,
        was_gone & (recency <= rules.reactivated_within_days),
        tenure <= rules.new_max_tenure_days,
        frame["churn_probability"] >= rules.at_risk_probability,
    ]
    choices = ["churned", "lapsed", "reactivated", "new", "at_risk"]
    return pd.Series(np.select(conditions, choices, "active"), index=frame.index)


def transition_matrix(previous: pd.Series, current: pd.Series) -> pd.DataFrame:
    """Counts of customers scored at both dates, from previous stage (rows) to current (columns)."""
    both = pd.DataFrame({"from": previous, "to": current}).dropna()
    return pd.crosstab(both["from"], both["to"]).reindex(index=STAGES, columns=STAGES, fill_value=0)
