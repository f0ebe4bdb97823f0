"""Value assessment rules on a few customers, expectations worked out by hand: value index and
its entropy weights, value tiers, lifecycle stages and transitions, RFM. No database."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cvp.config import LifecycleSettings
from cvp.value.index import entropy_weights, tier_thresholds, value_index, value_tiers
from cvp.value.lifecycle import lifecycle_stage, transition_matrix
from cvp.value.rfm import quintile, rfm_scores


def _indicators(**columns: list[float]) -> pd.DataFrame:
    base = {
        name: [1.0] * len(next(iter(columns.values())))
        for name in (
            "clv_expected",
            "monetary_total",
            "frequency",
            "active_days_365d",
            "events_90d",
            "nps_latest",
        )
    }
    return pd.DataFrame(base | columns)


def test_value_index_with_configured_weights():
    frame = _indicators(clv_expected=[0.0, 50.0, 100.0], frequency=[1.0, 1.0, 3.0])
    index, weights = value_index(frame, {"clv_expected": 1.0, "frequency": 1.0})
    # weights normalised to 0.5 each; min-max scaled clv 0, .5, 1 and frequency 0, 0, 1
    assert weights.to_dict() == {"clv_expected": 0.5, "frequency": 0.5}
    assert list(index) == pytest.approx([0.0, 25.0, 100.0])


def test_entropy_weights_favour_the_indicator_that_separates_customers():
    # a = 0, 0, 1 concentrates on one customer: entropy 0, divergence 1
    # b = 0, 1, 1 splits over two: entropy ln2 / ln3 = 0.6309, divergence 0.3691
    # c is constant: no information, weight 0
    frame = pd.DataFrame({"a": [0.0, 0.0, 1.0], "b": [0.0, 1.0, 1.0], "c": [5.0, 5.0, 5.0]})
    weights = entropy_weights(frame)
    assert weights["a"] == pytest.approx(1 / 1.3691, abs=1e-3)
    assert weights["b"] == pytest.approx(0.3691 / 1.3691, abs=1e-3)
    assert weights["c"] == pytest.approx(0.0, abs=1e-6)


def test_tiers_top_20_percent_high_next_30_medium():
    index = pd.Series([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0])
    thresholds = tier_thresholds(index, 0.2, 0.3)
    # 80th percentile of 10..100 (linear): 82; 50th: 55
    assert thresholds == pytest.approx({"high": 82.0, "medium": 55.0})
    tiers = value_tiers(index, thresholds)
    assert list(tiers) == ["low"] * 5 + ["medium"] * 3 + ["high"] * 2
    wider = tier_thresholds(index, 0.5, 0.3)
    assert list(value_tiers(index, wider)).count("high") == 5


def _stage_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=[
            "recency_days",
            "tenure_days",
            "subscription_active",
            "is_contractual",
            "churn_probability",
        ],
    )


def test_lifecycle_stages_first_matching_rule_wins():
    frame = _stage_frame(
        [
            (400, 900, np.nan, 0, 0.1),  # quiet > 365 days
            (10, 900, 0, 1, 0.1),  # contract ended, though recent
            (200, 900, np.nan, 0, 0.1),  # quiet > 180 days
            (30, 900, np.nan, 0, 0.1),  # lapsed last time, bought within 60 days
            (5, 30, np.nan, 0, 0.9),  # 30 days of tenure: new beats at_risk
            (5, 300, np.nan, 0, 0.6),  # P(churn) at the at_risk threshold
            (5, 300, np.nan, 0, 0.59),
            (np.nan, 100, np.nan, 0, 0.1),  # never bought: recency is infinite
            (61, 900, np.nan, 0, 0.1),  # churned last time, 61 days > 60: not reactivated
        ]
    )
    previous = pd.Series([None, None, None, "lapsed", None, None, None, None, "churned"])
    stages = lifecycle_stage(frame, previous, LifecycleSettings())
    assert list(stages) == [
        "churned",
        "churned",
        "lapsed",
        "reactivated",
        "new",
        "at_risk",
        "active",
        "churned",
        "active",
    ]


def test_lifecycle_thresholds_come_from_the_settings():
    frame = _stage_frame([(200, 900, np.nan, 0, 0.1), (5, 300, np.nan, 0, 0.5)])
    rules = LifecycleSettings(lapsed_after_days=250, at_risk_probability=0.5)
    assert list(lifecycle_stage(frame, pd.Series([None, None]), rules)) == ["active", "at_risk"]


def test_transition_matrix_counts_only_customers_at_both_dates():
    previous = pd.Series({"a": "new", "b": "active", "c": "active"})
    current = pd.Series({"a": "active", "b": "active", "d": "new"})
    matrix = transition_matrix(previous, current)
    assert matrix.loc["new", "active"] == 1 and matrix.loc["active", "active"] == 1
    assert int(matrix.to_numpy().sum()) == 2 and matrix.shape == (6, 6)


def test_quintiles_by_rank():
    values = pd.Series([5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 10.0, 4.0, 8.0, 6.0])
    # rank r of 10 -> ceil(r / 2)
    assert list(quintile(values)) == [3, 1, 5, 2, 4, 1, 5, 2, 4, 3]
    assert list(quintile(values, higher_is_better=False)) == [3, 5, 1, 4, 2, 5, 1, 4, 2, 3]


def test_rfm_segments():
    frame = pd.DataFrame(
        {
            "recency_days": [1.0, 2.0, 3.0, 4.0, 5.0],
            "frequency": [5.0, 4.0, 3.0, 2.0, 1.0],
            "monetary_total": [50.0, 40.0, 30.0, 20.0, 10.0],
        }
    )
    got = rfm_scores(frame)
    assert list(got["rfm_r"]) == [5, 4, 3, 2, 1]
    assert list(got["rfm_f"]) == [5, 4, 3, 2, 1]
    # (r, fm): (5,5) champions, (4,4) champions, (3,3) need_attention, (2,2) at_risk, (1,1) lost
    assert list(got["rfm_segment"]) == [
        "champions",
        "champions",
        "need_attention",
        "at_risk",
        "lost",
    ]
