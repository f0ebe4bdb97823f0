"""Business rules on small hand-built frames: every expected value below was worked out by hand
(the arithmetic is in the comments), not recomputed with the code's own formula."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from cvp.actions.budget import plan_budget
from cvp.actions.playbook import PlaybookError, apply_playbook, load_playbook
from cvp.config import ScoringSettings
from cvp.data import schema
from cvp.data.migrate import upgrade_warehouse
from cvp.data.warehouse import dispose_engines, get_engine
from cvp.features.build import build_features
from cvp.features.labels import build_labels
from cvp.models.calibration import Calibrator
from cvp.models.metrics import clv_metrics, expected_calibration_error, lift_at, normalized_gini
from cvp.scoring.score import control_flag, find_alerts, lifetime_value
from cvp.value.index import entropy_weights, tier_thresholds, value_index, value_tiers
from cvp.value.lifecycle import STAGES, LifecycleRules, lifecycle_stage, transition_matrix
from cvp.value.rfm import rfm_scores

RULES = LifecycleRules(
    new_max_tenure_days=60,
    lapsed_after_days=180,
    churned_after_days=365,
    reactivated_within_days=60,
    at_risk_probability=0.6,
)


def test_lifecycle_stage_rules_in_order_of_precedence():
    rows = {
        # id: (recency, tenure, subscription_active, is_contractual, churn_p, previous) -> stage
        "old": (400, 900, 1, 0, 0.1, None),  # recency 400 > 365
        "contract_over": (10, 500, 0, 1, 0.1, None),  # contractual, subscription ended
        "quiet": (200, 500, 1, 0, 0.1, None),  # 180 < 200 <= 365
        "back": (30, 500, 1, 0, 0.9, "lapsed"),  # was gone, bought within 60 days: not at_risk
        "too_late_back": (61, 500, 1, 0, 0.1, "churned"),  # 61 > 60: just active
        "young": (30, 40, 1, 0, 0.9, None),  # tenure 40 <= 60 wins over p = 0.9
        "edge_risk": (30, 500, 1, 0, 0.6, None),  # p >= 0.6
        "below_risk": (30, 500, 1, 0, 0.59, None),
        "edge_lapsed": (180, 500, 1, 0, 0.1, None),  # lapsed needs more than 180 days
    }
    frame = pd.DataFrame(
        [r[:5] for r in rows.values()],
        index=list(rows),
        columns=[
            "recency_days",
            "tenure_days",
            "subscription_active",
            "is_contractual",
            "churn_probability",
        ],
    )
    previous = pd.Series({k: r[5] for k, r in rows.items() if r[5] is not None})
    stages = lifecycle_stage(frame, previous, RULES)
    assert stages.to_dict() == {
        "old": "churned",
        "contract_over": "churned",
        "quiet": "lapsed",
        "back": "reactivated",
        "too_late_back": "active",
        "young": "new",
        "edge_risk": "at_risk",
        "below_risk": "active",
        "edge_lapsed": "active",
    }


def test_transition_matrix_counts_only_customers_at_both_dates():
    previous = pd.Series({"a": "new", "b": "active", "c": "active", "e": "lapsed"})
    current = pd.Series({"b": "at_risk", "c": "active", "d": "new", "e": "reactivated"})
    matrix = transition_matrix(previous, current)
    assert list(matrix.index) == list(STAGES) and list(matrix.columns) == list(STAGES)
    expected = pd.DataFrame(0, index=list(STAGES), columns=list(STAGES))
    expected.loc["active", "at_risk"] = 1  # b
    expected.loc["active", "active"] = 1  # c
    expected.loc["lapsed", "reactivated"] = 1  # e; a (gone) and d (new) are not at both dates
    assert (matrix.to_numpy() == expected.to_numpy()).all()


def test_rfm_quintiles_and_segments():
    frame = pd.DataFrame(
        {
            "recency_days": [1, 10, 20, 30, 40],
            "frequency": [10, 8, 1, 6, 2],
            "monetary_total": [500, 50, 10, 400, 20],
        },
        index=["c0", "c1", "c2", "c3", "c4"],
    )
    out = rfm_scores(frame)
    # five customers: each rank is its own quintile. R: most recent is 5.
    assert out["rfm_r"].tolist() == [5, 4, 3, 2, 1]
    assert out["rfm_f"].tolist() == [5, 4, 1, 3, 2]
    assert out["rfm_m"].tolist() == [5, 3, 1, 4, 2]
    # FM = floor((F + M) / 2) = 5, 3, 1, 3, 2
    assert out["rfm_segment"].tolist() == [
        "champions",  # R5 FM5
        "potential_loyalist",  # R4 FM3: not FM >= 4, so not champions or loyal
        "promising",  # R3 FM1
        "at_risk",  # R2 FM3: FM < 4, so not cant_lose
        "hibernating",  # R1 FM2
    ]


def _indicators(**columns: list[float]) -> pd.DataFrame:
    base = {
        "clv_expected": [0.0, 0.0, 0.0],
        "monetary_total": [1.0, 1.0, 1.0],
        "frequency": [1.0, 1.0, 1.0],
        "active_days_365d": [1.0, 1.0, 1.0],
        "events_90d": [1.0, 1.0, 1.0],
        "nps_latest": [5.0, 5.0, 5.0],
    }
    return pd.DataFrame({**base, **columns}, index=["x", "y", "z"])


def test_value_index_with_configured_weights_and_missing_values():
    frame = _indicators(clv_expected=[100.0, 0.0, 50.0], frequency=[2.0, np.nan, 6.0])
    index, weights = value_index(frame, {"clv_expected": 3.0, "frequency": 1.0})
    # weights normalised to 0.75 / 0.25; clv min-max -> 1, 0, 0.5;
    # frequency: the gap takes the median 4 -> 2, 4, 6 -> 0, 0.5, 1
    assert weights.to_dict() == {"clv_expected": 0.75, "frequency": 0.25}
    assert index.tolist() == pytest.approx([75.0, 12.5, 62.5])


def test_entropy_weights_favour_the_indicator_that_separates_customers():
    frame = pd.DataFrame({"a": [0.0, 0.0, 0.0, 1.0], "b": [0.0, 1.0, 2.0, 3.0], "c": [7.0] * 4})
    weights = entropy_weights(frame)
    # a: one customer holds all the mass, entropy 0, divergence 1.
    # b: shares 0, 1/6, 2/6, 3/6, entropy (ln 6/6 + ln 3/3 + ln 2/2) / ln 4 = 0.72957, divergence
    # 0.27043. c is constant: divergence 0. Weights 1 / 1.27043 and 0.27043 / 1.27043.
    assert weights.to_dict() == pytest.approx({"a": 0.78714, "b": 0.21286, "c": 0.0}, abs=1e-5)


def test_value_tiers_and_their_thresholds():
    index = pd.Series([0.0, 10, 20, 30, 40, 50, 60, 70, 80, 90])
    # top 20%: 80th percentile, linear between 70 and 80 at 0.2 -> 72; next 30%: median -> 45
    assert tier_thresholds(index, 0.2, 0.3) == pytest.approx({"high": 72.0, "medium": 45.0})
    tiers = value_tiers(pd.Series([90.0, 80.0, 79.9, 50.0, 10.0]), {"high": 80.0, "medium": 50.0})
    assert tiers.tolist() == ["high", "high", "medium", "medium", "low"]


def test_lifetime_value_sums_discounted_retained_horizons():
    rules = ScoringSettings(lifetime_years=3.0, annual_discount_rate=0.1)
    clv = np.array([100.0, 100.0, 100.0])
    churn = np.array([0.5, 1.0, 0.0])
    value = lifetime_value(clv, churn, 365, rules)
    # three yearly horizons, factor (1 - p) / 1.1:
    # p=0.5: 100 (1 + 0.4545 + 0.2066) = 166.12; p=1: only the first horizon;
    # p=0: 100 (1 + 1/1.1 + 1/1.21) = 273.55
    assert value.tolist() == pytest.approx([166.1157, 100.0, 273.5537], abs=1e-4)
    undiscounted = ScoringSettings(lifetime_years=3.0, annual_discount_rate=0.0)
    # nobody churns and nothing is discounted: three full horizons
    assert lifetime_value(np.array([100.0]), np.array([0.0]), 365, undiscounted).tolist() == (
        pytest.approx([300.0])
    )


def test_control_group_is_a_fixed_hash_of_campaign_and_customer():
    ids = pd.Series(["c_a", "c_b", "c_c", "c_d"])
    # sha256("retention-2025-12-31:<id>") first 8 hex digits / 0xFFFFFFFF:
    # c_a 0.0117, c_b 0.0407, c_c 0.5272, c_d 0.8583
    assert control_flag("retention-2025-12-31", ids, 0.05).tolist() == [True, True, False, False]
    assert control_flag("retention-2025-12-31", ids, 0.5).tolist() == [True, True, False, False]
    assert control_flag("retention-2025-12-31", ids, 0.6).tolist() == [True, True, True, False]
    assert not control_flag("retention-2025-12-31", ids, 0.0).any()


def test_alerts_for_entering_high_risk_and_value_drops():
    previous = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "lifecycle_stage": ["active"] * 4,
            "risk_tier": ["medium", "high", "low", "low"],
            "value_index": [50.0, 50.0, 100.0, 100.0],
        }
    )
    current = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "risk_tier": ["high", "high", "low", "low", "high"],
            "value_index": [50.0, 10.0, 79.0, 80.0, 1.0],
        }
    )
    found = find_alerts(current, previous, ScoringSettings(value_drop_alert_share=0.2))
    rows = sorted(map(tuple, found.to_numpy().tolist()))
    assert rows == [
        ("a", "entered_high_risk", "medium", "high"),  # b was already high: no alert
        ("b", "value_index_drop", "50.0", "10.0"),  # 10 < 50 x 0.8
        ("c", "value_index_drop", "100.0", "79.0"),  # 79 < 80; d at exactly 80 is not
    ]  # e has no previous score
    assert find_alerts(current, previous.iloc[:0], ScoringSettings()).empty


def _scores(**overrides: list) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "as_of": pd.Timestamp("2025-12-31"),
            # id: consent, cost, expected loss, save rate, control
            "customer_id": ["A", "B", "C", "D", "E", "F", "G"],
            "marketing_consent": [True, True, True, False, True, True, True],
            "action_cost": [10.0, 20.0, 5.0, 1.0, 8.0, 0.0, 5.0],
            "expected_loss": [200.0, 100.0, 100.0, 1000.0, 40.0, 300.0, 10.0],
            "save_rate": [0.5, 0.5, 0.3, 0.5, 0.5, 0.0, 0.2],
            "in_control_group": [False, False, True, False, False, False, False],
            "next_best_action": ["act"] * 7,
            "channel": ["email"] * 7,
            "incentive": ["none"] * 7,
        }
    )
    frame["expected_saved_value"] = [90.0, 30.0, 25.0, 499.0, 12.0, -0.0, -3.0]
    return frame.assign(**overrides)


def test_budget_plan_takes_best_value_per_cost_and_holds_out_control():
    plan, totals = plan_budget(_scores(), 25.0, "retention-2025-12-31")
    # eligible: consent, cost > 0, saved value > 0 -> A, B, C, E (D no consent, F no cost,
    # G negative). Saved per unit cost: A 100/10 = 10, C 30/5 = 6, B 50/20 = 2.5, E 20/8 = 2.5
    # (tie: by id). A treated (spent 10), C control (free), B would make 30 > 25: skipped,
    # E treated (spent 18).
    assert plan["customer_id"].tolist() == ["A", "C", "E"]
    assert plan["arm"].tolist() == ["treatment", "control", "treatment"]
    assert plan["cost"].tolist() == [10.0, 0.0, 8.0]
    assert plan["expected_saved_value"].tolist() == [100.0, 0.0, 20.0]
    assert (totals.reach, totals.control, totals.cost, totals.expected_saved_value) == (
        2,
        1,
        18.0,
        120.0,
    )
    assert totals.roi == pytest.approx((120 - 18) / 18)
    assert set(plan["campaign"]) == {"retention-2025-12-31"}


def test_budget_plan_stops_when_the_budget_is_spent():
    plan, totals = plan_budget(_scores(), 10.0, "c")
    # A alone spends the 10; the loop stops before reaching C, so no control row either
    assert plan["customer_id"].tolist() == ["A"]
    assert (totals.reach, totals.control, totals.cost) == (1, 0, 10.0)
    empty, nothing = plan_budget(_scores(marketing_consent=[False] * 7), 100.0, "c")
    assert empty.empty and (nothing.reach, nothing.cost, nothing.roi) == (0, 0.0, 0.0)


PLAYBOOK = """version: test-1
rules:
  - name: vip
    match: {value_tier: high, risk_tier: high}
    action: call
    channel: phone
    incentive: offer
    unit_cost: 25
    save_rate: 0.35
  - name: service
    match: {risk_tier: high, reason_family: service}
    action: fix_ticket
    channel: phone
    incentive: credit
    unit_cost: 12
    save_rate: 0.3
  - name: welcome
    match: {stage: new}
    action: onboarding
    channel: email
    incentive: guide
    unit_cost: 1
    save_rate: 0.1
  - name: rest
    match: {}
    action: none
    channel: none
    incentive: none
    unit_cost: 0
    save_rate: 0
"""


def test_playbook_first_matching_rule_wins(tmp_path: Path):
    path = tmp_path / "playbook.yaml"
    path.write_text(PLAYBOOK)
    customers = pd.DataFrame(
        [
            ("high", "high", "service", "active"),  # vip and service match: vip is first
            ("low", "high", "service", "new"),  # service before welcome
            ("low", "low", "price", "new"),
            ("medium", "medium", "value", "active"),
        ],
        columns=["value_tier", "risk_tier", "reason_family", "lifecycle_stage"],
    )
    actions = apply_playbook(load_playbook(path), customers)
    assert actions["playbook_rule"].tolist() == ["vip", "service", "welcome", "rest"]
    assert actions["next_best_action"].tolist() == ["call", "fix_ticket", "onboarding", "none"]
    assert actions["unit_cost"].tolist() == [25.0, 12.0, 1.0, 0.0]
    assert actions["save_rate"].tolist() == [0.35, 0.3, 0.1, 0.0]

    without_catch_all = tmp_path / "partial.yaml"
    without_catch_all.write_text(PLAYBOOK.split("  - name: rest")[0])
    with pytest.raises(PlaybookError, match="catch-all"):
        apply_playbook(load_playbook(without_catch_all), customers)


TRANSACTION_FIELDS = ("transaction_id", "customer_id", "ts", "amount", "is_refund", "cost")


def _hand_written_warehouse(
    tmp_path: Path, signups: dict[str, date], rows: list[tuple]
) -> sa.Engine:
    """A migrated DuckDB holding only these customers and transactions
    (id, customer, ts, amount, is_refund, cost)."""
    engine = get_engine(f"duckdb:///{tmp_path / 'w.duckdb'}")
    upgrade_warehouse(engine)
    with engine.begin() as conn:
        conn.execute(
            schema.customers.insert(),
            [
                {"customer_id": c, "signup_date": d, "origin": "derived"}
                | {"loaded_at": datetime(2026, 1, 1)}
                for c, d in signups.items()
            ],
        )
        conn.execute(
            schema.transactions.insert(),
            [dict(zip(TRANSACTION_FIELDS, row, strict=True)) for row in rows],
        )
    return engine


def test_rfm_and_spend_features_of_a_hand_written_log(tmp_path: Path):
    rows = [
        ("t1", "A", datetime(2025, 9, 20, 12), 30.0, False, None),
        ("t2", "A", datetime(2025, 8, 1, 12), 50.0, False, None),
        ("t3", "A", datetime(2025, 3, 1, 12), 20.0, False, None),
        ("t4", "A", datetime(2025, 10, 5, 12), 999.0, False, None),  # after as_of: invisible
        ("t5", "B", datetime(2025, 9, 29, 12), 12.5, False, None),
        ("t6", "B", datetime(2025, 9, 30, 8), -2.5, True, None),
    ]
    engine = _hand_written_warehouse(tmp_path, dict.fromkeys("AB", date(2025, 1, 1)), rows)
    try:
        with engine.connect() as conn:
            features = build_features(conn, date(2025, 9, 30)).set_index("customer_id")
    finally:
        dispose_engines()
    # ages are measured to the end of 2025-09-30: noon on 09-20 is 10.5 days before it,
    # 08-01 noon 60.5 days (30 + 30 + 0.5), 03-01 noon 213.5 days (31+30+31+30+31+31+29 + 0.5)
    a, b = features.loc["A"], features.loc["B"]
    assert (a["recency_days"], a["tenure_days"]) == (10.5, 213.5)
    assert (a["frequency"], a["monetary_total"], a["monetary_max"]) == (3, 100.0, 50.0)
    assert a["monetary_mean"] == pytest.approx(100 / 3, abs=1e-6)
    assert (a["tx_count_30d"], a["spend_30d"], a["spend_90d"], a["spend_365d"]) == (
        1,
        30.0,
        80.0,
        100.0,
    )
    # B: the refund (08:00 on as_of, 0.67 days) nets the spend but is not a purchase
    assert (b["recency_days"], b["frequency"], b["refund_count"]) == (1.5, 1, 1)
    assert (b["monetary_total"], b["monetary_mean"], b["spend_90d"]) == (10.0, 12.5, 10.0)


def test_labels_of_a_hand_written_log(tmp_path: Path):
    # as_of 2025-06-30, 90 days: the window is (end of 06-30, end of 09-28]
    rows = [
        ("a1", "A", datetime(2025, 7, 10, 12), 40.0, False, 30.0),
        ("a2", "A", datetime(2025, 10, 15, 12), 70.0, False, 50.0),  # after the window
        ("a3", "A", datetime(2025, 6, 30, 23), 25.0, False, 5.0),  # on as_of: before it
        ("b1", "B", datetime(2025, 7, 1, 12), -5.0, True, None),  # a refund is not a purchase
        ("c1", "C", datetime(2025, 9, 28, 23), 15.0, False, 5.0),  # the window's last hour
    ]
    signups = {"A": date(2025, 1, 1), "B": date(2025, 1, 1), "C": date(2025, 6, 15)}
    engine = _hand_written_warehouse(tmp_path, {**signups, "D": date(2025, 7, 1)}, rows)
    try:
        with engine.connect() as conn:
            labels = build_labels(conn, date(2025, 6, 30), 90).set_index("customer_id")
    finally:
        dispose_engines()
    assert list(labels.index) == ["A", "B", "C"]  # D signed up after as_of
    assert labels["churned"].tolist() == [0, 1, 0]
    assert labels["future_revenue"].tolist() == [40.0, -5.0, 15.0]
    assert labels.loc["A", "future_margin"] == 10.0 and labels.loc["C", "future_margin"] == 10.0
    assert pd.isna(labels.loc["B", "future_margin"])  # no cost known
    assert labels["insufficient_history"].tolist() == [0, 0, 1]  # C: 15 days < 30
    assert labels["contract_churned"].isna().all()  # nobody has a subscription


def test_churn_metrics_by_hand():
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0])  # churn rate 0.2
    score = np.array([0.9, 0.8, 0.1, 0.1, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1])
    assert lift_at(y, score, 0.1) == pytest.approx(5.0)  # top 1 of 10 churns: 1 / 0.2
    assert lift_at(y, score, 0.2) == pytest.approx(2.5)  # top 2: 0.5 / 0.2
    # two bins: p 0.1 with churn 1/2 (gap 0.4) and p 0.9 with churn 2/2 (gap 0.1), half each
    p = np.array([0.1, 0.1, 0.9, 0.9])
    assert expected_calibration_error(np.array([0, 1, 1, 1]), p) == pytest.approx(0.25)


def test_clv_metrics_by_hand():
    actual = np.array([1.0, 2.0, 3.0, 4.0])
    # perfect order 1, reversed -1; order 2, 3, 4, 1: cumulative shares .2 .5 .9 1 -> Gini
    # 2.6 / 4 - 5 / 8 = 0.025 over the perfect 0.125
    assert normalized_gini(actual, actual) == pytest.approx(1.0)
    assert normalized_gini(actual, actual[::-1]) == pytest.approx(-1.0)
    assert normalized_gini(actual, np.array([1.0, 4.0, 3.0, 2.0])) == pytest.approx(0.2)
    ten = np.full(10, 10.0)
    with pytest.warns(Warning, match="constant"):  # Spearman of constant input is undefined
        scores = clv_metrics(ten, ten * 1.2)  # every customer over-predicted by 20%
    assert scores["decile_mape"] == pytest.approx(20.0)
    assert scores["total_error_pct"] == pytest.approx(20.0)
    assert (scores["mae"], scores["rmse"]) == pytest.approx((2.0, 2.0))
    assert np.isnan(scores["normalized_gini"])  # equal actual values: no ranking to judge


def test_calibrators_map_scores_as_stored():
    isotonic = Calibrator("isotonic", x=[0.0, 0.5, 1.0], y=[0.0, 0.1, 0.9])
    # linear between knots, clipped outside them
    assert isotonic.apply(np.array([0.25, 0.75, 1.5])).tolist() == pytest.approx([0.05, 0.5, 0.9])
    # Platt on the logit: coef 1, intercept ln 3 turns p = 0.5 (logit 0) into 3 / 4
    platt = Calibrator("platt", coef=1.0, intercept=float(np.log(3.0)))
    assert platt.apply(np.array([0.5])).tolist() == pytest.approx([0.75])
    assert Calibrator.from_dict(platt.to_dict()) == platt
