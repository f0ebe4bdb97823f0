"""The decision threshold on realised profit with the playbook's costs and save rates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cvp.actions.playbook import load_playbook
from cvp.models.decision import choose_threshold, contact_economics, value_if_retained


def test_playbook_prices_each_value_tier_as_a_high_risk_contact():
    value = np.arange(10, dtype=float)  # top 2 high, next 3 medium, 5 low
    cost, save_rate = contact_economics(value, load_playbook(), 0.2, 0.3)
    assert list(cost) == [2.0] * 5 + [8.0] * 3 + [25.0] * 2  # coupon, win-back, agent call
    assert list(save_rate) == [0.1] * 5 + [0.2] * 3 + [0.35] * 2


def test_threshold_stops_where_contacts_stop_paying():
    # ranked by p: two valuable churners, then a churner worth too little, then stayers
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    churned = np.array([1, 1, 1, 0, 0])
    value = np.array([200.0, 100.0, 10.0, 500.0, 500.0])
    choice = choose_threshold(p, churned, value, 0.3, 5.0, "test")
    # 200 x .3 - 5 = 55, 100 x .3 - 5 = 25, then 10 x .3 - 5 = -2: stop after two
    assert choice.profitable and choice.threshold == 0.8 and choice.contacted == 2
    assert choice.profit == 80.0
    assert "P(churn) >= 0.800" in choice.explanation


def test_no_profitable_threshold_is_said_not_hidden():
    rng = np.random.default_rng(0)
    p = rng.random(200)
    churned = (rng.random(200) < p).astype(float)
    value = np.full(200, 10.0)
    costs, rates = contact_economics(value, load_playbook(), 0.2, 0.3)
    choice = choose_threshold(p, churned, value, rates, costs, "the test window")
    # 10 x 0.35 = 3.5 < 25, 10 x 0.2 = 2 < 8, 10 x 0.1 = 1 < 2: every contact loses money
    assert not choice.profitable and choice.threshold == 1.0 and choice.contacted == 0
    assert choice.explanation.startswith("no decision threshold makes a profit on the test window")
    assert "\n" not in choice.explanation


def test_value_if_retained_is_historical_spend_per_horizon():
    frame = pd.DataFrame({"tenure_days": [365, 10, None], "monetary_total": [730.0, 90.0, None]})
    assert list(value_if_retained(frame, 90)) == [180.0, 270.0, 0.0]  # tenure floored at 30 days
