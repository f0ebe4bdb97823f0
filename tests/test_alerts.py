"""Alerts worth acting on: no value-drop alert for customers already gone, one per cause
until it clears."""

from __future__ import annotations

import pandas as pd

from cvp.config import ScoringSettings
from cvp.scoring.score import find_alerts


def test_value_drop_alerts_skip_gone_customers_and_open_alerts():
    current = pd.DataFrame(
        {
            "customer_id": ["active", "churned", "lapsed", "still_open", "cleared", "risk"],
            "value_index": [50.0, 10.0, 10.0, 40.0, 60.0, 70.0],
            "risk_tier": ["low", "high", "low", "low", "low", "high"],
            "lifecycle_stage": ["at_risk", "churned", "lapsed", "at_risk", "active", "at_risk"],
        }
    )
    previous = pd.DataFrame(
        {
            "customer_id": ["active", "churned", "lapsed", "still_open", "cleared", "risk"],
            "value_index": [100.0, 50.0, 50.0, 70.0, 90.0, 72.0],
            "risk_tier": ["low", "high", "low", "low", "low", "medium"],
            "lifecycle_stage": ["active"] * 6,
        }
    )
    # earlier alerts: still_open dropped from 100 and stayed below 80; cleared came back to 90
    open_drops = pd.Series({"still_open": 100.0, "cleared": 100.0})
    found = find_alerts(current, previous, ScoringSettings(), open_drops)
    drops = set(found.loc[found["alert_type"] == "value_index_drop", "customer_id"])
    assert drops == {"active", "cleared"}
    risk = set(found.loc[found["alert_type"] == "entered_high_risk", "customer_id"])
    assert risk == {"risk"}  # "churned" was already high: no repeat
    assert not found.duplicated(["customer_id", "alert_type"]).any()
