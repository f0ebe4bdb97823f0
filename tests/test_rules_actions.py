"""Playbook matching and the budget plan on a few customers, expectations worked out by hand.
No database."""

from __future__ import annotations

import pandas as pd
import pytest

from cvp.actions.budget import plan_budget
from cvp.actions.playbook import Playbook, PlaybookError, apply_playbook

PLAYBOOK = Playbook.model_validate(
    {
        "version": "test",
        "rules": [
            {
                "name": "vip",
                "match": {"value_tier": "high", "risk_tier": "high"},
                "action": "call",
                "channel": "phone",
                "incentive": "offer",
                "unit_cost": 25.0,
                "save_rate": 0.35,
            },
            {
                "name": "service",
                "match": {"risk_tier": "high", "reason_family": "service"},
                "action": "recovery",
                "channel": "phone",
                "incentive": "credit",
                "unit_cost": 12.0,
                "save_rate": 0.3,
            },
            {
                "name": "onboarding",
                "match": {"stage": "new"},
                "action": "journey",
                "channel": "email",
                "incentive": "guide",
                "unit_cost": 1.0,
                "save_rate": 0.1,
            },
            {
                "name": "rest",
                "match": {},
                "action": "none",
                "channel": "none",
                "incentive": "none",
                "unit_cost": 0.0,
                "save_rate": 0.0,
            },
        ],
    }
)


def _customers(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["value_tier", "risk_tier", "lifecycle_stage", "reason_family"]
    )


def test_first_matching_rule_wins():
    frame = _customers(
        [
            ("high", "high", "active", "service"),  # vip before service
            ("low", "high", "active", "service"),
            ("low", "low", "new", "value"),
            ("medium", "medium", "active", "price"),
        ]
    )
    got = apply_playbook(PLAYBOOK, frame)
    assert list(got["playbook_rule"]) == ["vip", "service", "onboarding", "rest"]
    assert list(got["unit_cost"]) == [25.0, 12.0, 1.0, 0.0]
    assert list(got["channel"]) == ["phone", "phone", "email", "none"]


def test_a_playbook_without_catch_all_names_the_gap():
    partial = Playbook(version="x", rules=PLAYBOOK.rules[:1])
    with pytest.raises(PlaybookError, match="catch-all"):
        apply_playbook(partial, _customers([("low", "low", "active", "value")]))


def _scores() -> pd.DataFrame:
    rows = [
        # id, consent, cost, loss, save rate, control
        ("a", True, 10.0, 100.0, 0.3, False),  # gross 30, 3.0 per unit
        ("b", True, 5.0, 200.0, 0.1, False),  # gross 20, 4.0 per unit
        ("c", True, 2.0, 50.0, 0.2, True),  # gross 10, 5.0 per unit, control group
        ("d", False, 1.0, 1000.0, 0.5, False),  # no consent
        ("e", True, 0.0, 100.0, 0.3, False),  # no costed action
        ("f", True, 4.0, 10.0, 0.2, False),  # saved 2 - 4 < 0
        ("g", True, 8.0, 100.0, 0.2, False),  # gross 20, 2.5 per unit
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "marketing_consent",
            "action_cost",
            "expected_loss",
            "save_rate",
            "in_control_group",
        ],
    )
    frame["expected_saved_value"] = (
        frame["expected_loss"] * frame["save_rate"] - frame["action_cost"]
    )
    return frame.assign(
        as_of=pd.Timestamp("2025-01-01"), next_best_action="x", channel="y", incentive="z"
    )


def test_budget_goes_to_the_best_saved_value_per_unit_cost():
    plan, totals = plan_budget(_scores(), 16.0, "retention-2025-01-01")
    # c (5.0) is control: recorded, no cost; b (4.0) costs 5; a (3.0) costs 10: 15 spent;
    # g (2.5) would need 8 more than the 1 left
    arms = plan.set_index("customer_id")["arm"].to_dict()
    assert arms == {"c": "control", "b": "treatment", "a": "treatment"}
    assert plan.set_index("customer_id")["cost"].to_dict() == {"c": 0.0, "b": 5.0, "a": 10.0}
    assert (totals.reach, totals.control) == (2, 1)
    assert totals.cost == pytest.approx(15.0)
    assert totals.expected_saved_value == pytest.approx(50.0)  # 20 (b) + 30 (a)
    assert totals.roi == pytest.approx((50.0 - 15.0) / 15.0)


def test_a_larger_budget_reaches_the_next_customer_and_a_zero_budget_nobody():
    plan, totals = plan_budget(_scores(), 23.0, "r")
    assert set(plan.loc[plan["arm"] == "treatment", "customer_id"]) == {"a", "b", "g"}
    assert totals.cost == pytest.approx(23.0)
    plan, totals = plan_budget(_scores(), 0.0, "r")
    assert totals.reach == 0 and totals.cost == 0.0
