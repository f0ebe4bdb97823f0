"""The steps of `score()`, each on a few customers with expectations worked out by hand.
No database, no models: fast unit tests of the decisions."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from cvp.config import LifecycleSettings, ScoringSettings
from cvp.privacy.consent import ScoringConsent
from cvp.scoring import score as steps

RULES = ScoringSettings()  # risk shares 20% / 30%, discount 10%, 3 years, value drop 20%


def test_risk_tiers_are_shares_of_the_customers_most_likely_to_churn():
    # a high base rate (the demo's): most customers above 0.6, yet only a fifth is "high"
    p = np.linspace(0.05, 0.95, 1_000)[::-1]
    tiers = steps.risk_tiers(p, RULES)
    assert (tiers[:200] == "high").all() and (tiers[200:500] == "medium").all()
    assert (tiers[500:] == "low").all()
    cuts = steps.risk_cut_points(p, RULES)
    assert cuts["high"] == pytest.approx(np.quantile(p, 0.8))
    narrower = ScoringSettings(high_risk_share=0.05, medium_risk_share=0.1)
    assert list(steps.risk_tiers(p, narrower)).count("high") == 50
    # tied probabilities share their tier (an isotonic calibration has plateaus)
    tied = np.array([0.9] * 4 + [0.2] * 6)
    assert list(steps.risk_tiers(tied, RULES)).count("high") == 4


def test_risk_tier_shares_leave_the_lapsed_and_churned_out():
    # 400 lapsed or churned customers (P near 1) would fill the whole top fifth of 1,000: the
    # shares are taken among the 600 still retainable, and the others are above every cut
    p = np.concatenate([np.full(400, 0.99), np.linspace(0.9, 0.1, 600)])
    stage = np.array(["churned"] * 300 + ["lapsed"] * 100 + ["active"] * 600)
    out = pd.DataFrame({"churn_probability": p, "lifecycle_stage": stage})
    tiers = steps.risk_tier_column(out, RULES)["risk_tier"].to_numpy()
    assert (tiers[:400] == "high").all()
    active = tiers[400:]
    assert (active[:120] == "high").all() and (active[120:300] == "medium").all()
    assert (active[300:] == "low").all()


def test_lifetime_value_one_year_horizon_three_periods():
    # horizon 365 d over 3 years: 3 periods; discount per period 10%; survival 0.5
    # factor = 0.5 / 1.1 = 0.454545...; 100 * (1 + 0.454545 + 0.206612) = 166.1157
    value = steps.lifetime_value(np.array([100.0]), np.array([0.5]), 365, RULES)
    assert value[0] == pytest.approx(166.1157, abs=1e-3)


def test_lifetime_value_without_churn_or_discount_is_periods_times_clv():
    rules = ScoringSettings(annual_discount_rate=0.0, lifetime_years=3.0)
    # 90-day horizon over 3 years: round(1095 / 90) = 12 periods of 10
    value = steps.lifetime_value(np.array([10.0, 10.0]), np.array([0.0, 1.0]), 90, rules)
    assert value == pytest.approx([120.0, 10.0])  # certain churn: only the first period counts


def test_expected_value_and_priority():
    out = pd.DataFrame(
        {
            "churn_probability": [0.5, 0.2, 0.9, 0.5],
            "clv_lifetime": [200.0, 1000.0, 10.0, 200.0],
            "save_rate": [0.3, 0.1, 0.5, 0.3],
            "action_cost": [10.0, 5.0, 1.0, 10.0],
        }
    )
    got = steps.expected_value_columns(out)
    assert list(got["expected_loss"]) == pytest.approx([100.0, 200.0, 9.0, 100.0])
    assert list(got["expected_saved_value"]) == pytest.approx([20.0, 15.0, 3.5, 20.0])
    assert list(got["priority_rank"]) == [1, 3, 4, 2]  # a tie goes to the earlier row


def test_lifecycle_columns_carry_the_previous_stage_or_none():
    features = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "recency_days": [30.0, 5.0, 5.0],
            "tenure_days": [400.0, 400.0, 10.0],
            "subscription_active": [np.nan, np.nan, np.nan],
            "is_contractual": [0.0, 0.0, 0.0],
        }
    )
    previous = pd.DataFrame({"customer_id": ["a", "b"], "lifecycle_stage": ["lapsed", "active"]})
    got = steps.lifecycle_columns(
        features, np.array([0.1, 0.7, 0.1]), previous, LifecycleSettings()
    )
    # a: lapsed before, bought within 60 days -> reactivated; b: P(churn) 0.7 -> at_risk;
    # c: 10 days of tenure -> new, not scored before
    assert list(got["lifecycle_stage"]) == ["reactivated", "at_risk", "new"]
    assert list(got["previous_stage"][:2]) == ["lapsed", "active"]
    assert pd.isna(got["previous_stage"].iloc[2])


def test_consent_step_suppresses_everyone_who_may_not_be_contacted():
    # "b" refused; "d" is not among the known customers at the date: no contact either
    table = pd.DataFrame(
        {"marketing": [True, False, True], "profiling": [True, True, True]},
        index=pd.Index(["a", "b", "c"], name="customer_id"),
    )
    consent = ScoringConsent(date(2025, 12, 31), table, marketing_changes_recorded=3)
    actions = pd.DataFrame(
        {
            "next_best_action": ["call", "call", "coupon"],
            "channel": ["phone", "phone", "email"],
            "incentive": ["offer"] * 3,
            "unit_cost": [25.0, 25.0, 2.0],
            "save_rate": [0.3, 0.3, 0.1],
        }
    )
    actions, contact = steps.marketing_consent_step(consent, pd.Series(["a", "b", "c"]), actions)
    assert list(contact) == [True, False, True]
    _, unknown = steps.marketing_consent_step(consent, pd.Series(["d"]), actions.head(1).copy())
    assert list(unknown) == [False]
    assert list(actions["next_best_action"]) == ["call", "suppressed_no_consent", "coupon"]
    assert list(actions["channel"]) == ["phone", "none", "email"]
    assert list(actions["unit_cost"]) == [25.0, 0.0, 2.0]
    assert list(actions["save_rate"]) == [0.3, 0.0, 0.1]


def test_action_columns_rename_the_playbook_output():
    actions = pd.DataFrame(
        {
            "next_best_action": ["call"],
            "channel": ["phone"],
            "incentive": ["offer"],
            "unit_cost": [25.0],
            "save_rate": [0.3],
        }
    )
    got = steps.action_columns(actions, np.array([True]))
    assert got.iloc[0].to_dict() == {
        "next_best_action": "call",
        "channel": "phone",
        "incentive": "offer",
        "action_cost": 25.0,
        "save_rate": 0.3,
        "marketing_consent": True,
    }


def test_alerts_for_entering_high_risk_and_a_value_drop_beyond_the_share():
    out = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "risk_tier": ["high", "high", "low", "low"],
            "value_index": [50.0, 50.0, 79.0, 81.0],
        }
    )
    previous = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "lifecycle_stage": ["active"] * 4,
            "risk_tier": ["medium", "high", "low", "low"],
            "value_index": [50.0, 50.0, 100.0, 100.0],
        }
    )
    got = steps.find_alerts(out, previous, RULES)
    # a enters high risk (b already was); c fell 21% > 20%, d fell 19%
    assert got[["customer_id", "alert_type"]].values.tolist() == [
        ["a", "entered_high_risk"],
        ["c", "value_index_drop"],
    ]
    assert got.iloc[1][["previous_value", "current_value"]].tolist() == ["100.0", "79.0"]
    assert steps.find_alerts(out, previous.iloc[0:0], RULES).empty


def test_stage_transitions_count_customers_scored_at_both_dates():
    previous = pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "lifecycle_stage": ["new", "active", "active"]}
    )
    out = pd.DataFrame(
        {"customer_id": ["a", "b", "d"], "lifecycle_stage": ["active", "active", "new"]}
    )
    assert steps.stage_transitions_since(None, previous, out) is None
    got = steps.stage_transitions_since(date(2025, 1, 1), previous, out)
    moved = got[got["customers"] > 0].set_index(["from_stage", "to_stage"])["customers"]
    assert moved.to_dict() == {("new", "active"): 1, ("active", "active"): 1}
    assert len(got) == 36 and (got["previous_as_of"] == date(2025, 1, 1)).all()


def test_control_group_is_stable_per_campaign_and_follows_the_share():
    ids = pd.Series([f"c_{i}" for i in range(2_000)])
    first = steps.control_flag("retention-2025-01-01", ids, 0.1)
    assert (first == steps.control_flag("retention-2025-01-01", ids, 0.1)).all()
    assert 150 <= first.sum() <= 250  # 10% of 2,000, within sampling noise
    assert not steps.control_flag("retention-2025-01-01", ids, 0.0).any()
    other = steps.control_flag("retention-2025-01-08", ids, 0.1)
    assert (first != other).any()  # a new campaign draws again


def test_control_group_draws_are_the_ones_earlier_runs_drew():
    """The draw's definition is fixed: a re-run after an upgrade holds out the same customers
    (first 8 hex digits of SHA-256("campaign:id") over 0xFFFFFFFF, computed here row by row)."""
    import hashlib

    ids = pd.Series(["0007", "c_1", "ü-9", "", *[f"{i:06d}" for i in range(500)]], dtype="string")
    earlier = np.array(
        [
            int(hashlib.sha256(f"retention-2025-01-01:{cid}".encode()).hexdigest()[:8], 16)
            / 0xFFFFFFFF
            < 0.3
            for cid in ids
        ]
    )
    assert (steps.control_flag("retention-2025-01-01", ids, 0.3) == earlier).all()
    assert 0 < earlier.sum() < len(ids)
    assert steps.control_flag("retention-2025-01-01", ids.iloc[:0], 0.3).shape == (0,)


class _FixedContributions:
    """Stands in for a churn booster: fixed TreeSHAP contributions (last column: the bias)."""

    def __init__(self, contributions: list[list[float]]):
        self.contributions = np.asarray(contributions, dtype=float)

    def predict(self, frame: pd.DataFrame, pred_contrib: bool = False) -> np.ndarray:
        assert pred_contrib
        return self.contributions[: len(frame)]


def test_reason_columns_phrase_the_largest_positive_contributions():
    x = pd.DataFrame({"recency_days": [85.0, 3.0], "unresolved_complaints": [2.0, 0.0]})
    booster = _FixedContributions([[0.4, 0.9, -1.0], [-0.2, -0.1, -1.0]])
    got = steps.reason_columns(booster, x)
    assert got.loc[0, "top_reasons"] == "2 unresolved complaints; no purchase for 85 days"
    assert got.loc[0, "reason_families"] == "service,value"
    assert got.loc[0, "reason_family"] == "service"
    # nothing pushes the second customer's risk up: no reason, and the playbook sees `value`
    assert (got.loc[1, "top_reasons"], got.loc[1, "reason_family"]) == ("", "value")


@pytest.mark.parametrize("acted", [None, [True, False, True, True, False, True, True]])
def test_reason_columns_explain_the_picked_rows_a_slice_at_a_time(monkeypatch, acted):
    """At most `WOODELF_CHUNK_ROWS` picked rows are copied out per call, each reason lands on
    its own row, and the rows not picked get none."""
    x = pd.DataFrame({"recency_days": np.arange(7.0) * 10, "unresolved_complaints": 1.0})
    calls: list[list[float]] = []

    def explain_rows(model, rows: pd.DataFrame) -> tuple[list[str], list[str]]:
        calls.append(rows["recency_days"].tolist())
        return [f"r{v:.0f}" for v in rows["recency_days"]], ["value"] * len(rows)

    monkeypatch.setattr(steps, "WOODELF_CHUNK_ROWS", 2)
    mask = None if acted is None else np.array(acted)
    got = steps.reason_columns(None, x, mask, explain_rows)
    picked = np.arange(7) if mask is None else np.flatnonzero(mask)
    assert all(len(call) <= 2 for call in calls)
    assert sum(calls, []) == [float(10 * i) for i in picked]
    want = ["" if mask is not None and not mask[i] else f"r{10 * i}" for i in range(7)]
    assert got["top_reasons"].tolist() == want


def test_risk_and_value_columns():
    predicted = steps.Predictions(
        churn_probability=np.array([0.7, 0.1]),
        clv_expected=np.array([100.0, 40.0]),
    )
    got = steps.risk_and_value_columns(pd.Series(["a", "b"]), predicted, 365, RULES)
    assert "risk_tier" not in got  # it needs the lifecycle stage: `risk_tier_column`
    # one-year horizon, three periods at 10%: 100 x (1 + 0.3/1.1 + (0.3/1.1)^2) = 134.7107;
    # 40 x (1 + 0.9/1.1 + (0.9/1.1)^2) = 40 x 2.487603 = 99.5041
    assert list(got["clv_lifetime"]) == pytest.approx([134.7107, 99.5041], abs=1e-3)


def test_assess_value_with_configured_weights_and_tier_shares():
    features = pd.DataFrame(
        {
            "monetary_total": [0.0, 10.0, 20.0, 30.0, 40.0],
            "frequency": [1.0] * 5,
            "active_days_365d": [1.0] * 5,
            "events_90d": [1.0] * 5,
            "nps_latest": [5.0] * 5,
        }
    )
    rules = ScoringSettings(
        value_index_weights={"monetary_total": 1.0, "clv_expected": 1.0},
        high_value_share=0.2,
        medium_value_share=0.4,
    )
    clv = np.array([0.0, 0.0, 100.0, 100.0, 100.0])
    got = steps.assess_value(features, clv, rules)
    # half monetary (0, .25, .5, .75, 1) and half CLV (0, 0, 1, 1, 1), times 100
    assert list(got.index) == pytest.approx([0.0, 12.5, 75.0, 87.5, 100.0])
    # 80th percentile: 87.5 + 0.2 x 12.5 = 90; 40th: 12.5 + 0.6 x 62.5 = 50 (linear)
    assert got.thresholds == pytest.approx({"high": 90.0, "medium": 50.0})
    assert list(got.tiers) == ["low", "low", "medium", "medium", "high"]
