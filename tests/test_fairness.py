"""Fairness audit: planted gaps are found and named; noise in small groups blocks nothing;
sensitive attributes never reach the features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cvp.config import MonitoringSettings
from cvp.features.build import STATIC_COLUMNS, catalog
from cvp.monitoring.fairness import fairness_report


def _data(n: int, planted: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = pd.Series([f"c{i}" for i in range(n)])
    gender = rng.choice(["female", "male"], n)
    y = (rng.random(n) < 0.3).astype(int)
    p = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.15, n), 0, 1)
    # for women, churners are missed more often: a lower true positive rate
    p = np.where((gender == "female") & (y == 1) & (rng.random(n) < planted), 0.1, p)
    sensitive = pd.DataFrame(
        {"customer_id": ids, "gender": gender, "region": "r1", "age_band": pd.NA}
    )
    return ids, y, p, sensitive


def test_a_planted_gap_blocks_with_group_and_metric_named():
    ids, y, p, sensitive = _data(4_000, planted=0.5)
    report = fairness_report(ids, y, p, 0.5, sensitive, MonitoringSettings())
    assert report.note is None
    assert any(
        "true_positive_rate" in f and "gender" in f and "female" in f and "male" in f
        for f in report.failures
    ), report.failures
    gaps = report.gaps.set_index(["attribute", "metric"])["gap"]
    assert gaps[("gender", "true_positive_rate")] > 0.4
    assert set(report.by_group["attribute"]) == {"gender", "region"}  # age band has no data


def test_no_planted_gap_no_failure_and_small_groups_are_not_compared():
    ids, y, p, sensitive = _data(4_000, planted=0.0)
    rules = MonitoringSettings()
    assert fairness_report(ids, y, p, 0.5, sensitive, rules).failures == []
    tiny = sensitive.copy()
    tiny.loc[:20, "gender"] = "non_binary"
    tiny_p = p.copy()
    tiny_p[:21] = 0.99  # a tiny group selected entirely
    report = fairness_report(ids, y, tiny_p, 0.5, tiny, rules)
    assert "non_binary" in set(report.by_group["group"])
    assert not any("non_binary" in f for f in report.failures)


def test_without_sensitive_columns_the_report_says_so():
    ids, y, p, _ = _data(500, planted=0.0)
    empty = pd.DataFrame(columns=["customer_id", "age_band", "gender", "region"])
    report = fairness_report(ids, y, p, 0.5, empty, MonitoringSettings())
    assert report.failures == [] and "no sensitive attributes" in report.note


def test_sensitive_attributes_are_never_features():
    names = {f.name for f in catalog()} | set(STATIC_COLUMNS)
    assert not names & {"birth_year", "gender", "region", "age_band"}


def test_snapshot_sql_reads_no_sensitive_column():
    from datetime import date

    from sqlalchemy.dialects import postgresql

    from cvp.features.build import snapshot_query
    from cvp.features.definitions import FAMILIES

    sql = str(
        snapshot_query(date(2025, 1, 1), list(FAMILIES)).compile(dialect=postgresql.dialect())
    )
    assert "birth_year" not in sql and "gender" not in sql and "region" not in sql


def _selection(n_per_group: int, rates: dict[str, float]):
    """Exact selection rates per gender group: the first rate x n customers are flagged."""
    genders, flagged = [], []
    for group, rate in rates.items():
        k = round(rate * n_per_group)
        genders += [group] * n_per_group
        flagged += [1] * k + [0] * (n_per_group - k)
    n = len(genders)
    ids = pd.Series([f"c{i}" for i in range(n)])
    y = np.tile([0, 1], n // 2 + 1)[:n]
    p = np.where(np.array(flagged) == 1, 0.9, 0.1)
    sensitive = pd.DataFrame({"customer_id": ids, "gender": genders, "region": pd.NA})
    return ids, y, p, sensitive


def test_a_gap_over_the_limit_blocks_only_when_its_confidence_bound_is_over_it():
    rules = MonitoringSettings(fairness_metrics=["selection_rate"])
    rates = {"female": 0.60, "male": 0.36}  # a 0.24 gap against a 0.2 limit
    ids, y, p, sensitive = _selection(250, rates)
    report = fairness_report(ids, y, p, 0.5, sensitive, rules)
    gap = report.gaps.set_index(["attribute", "metric"]).loc[("gender", "selection_rate")]
    assert gap["gap"] == pytest.approx(0.24)
    # 250 per group: the one-sided 95% lower bound is 0.24 - 1.645 x 0.043 = 0.17 < 0.2
    se = np.sqrt((0.6 * 0.4 + 0.36 * 0.64) / 250)
    assert gap["gap_lower_bound"] == pytest.approx(0.24 - 1.6449 * se, abs=1e-4)
    assert report.failures == []
    ids, y, p, sensitive = _selection(2_000, rates)  # the same gap, bound 0.215 > 0.2
    big = fairness_report(ids, y, p, 0.5, sensitive, rules)
    assert len(big.failures) == 1
    assert "selection_rate" in big.failures[0] and "female" in big.failures[0]
    assert "lower 95% bound" in big.failures[0]


def test_groups_too_small_to_judge_are_reported_per_metric():
    ids, y, p, sensitive = _data(4_000, planted=0.0)
    tiny = sensitive.copy()
    tiny.loc[:150, "gender"] = "non_binary"  # 151 customers, about 45 churners
    report = fairness_report(ids, y, p, 0.5, tiny, MonitoringSettings())
    assert any(s.startswith("gender=non_binary (selection_rate: 151 <") for s in report.too_small)
    assert any(s.startswith("gender=non_binary (true_positive_rate:") for s in report.too_small)
    assert not any("female" in s or "=male" in s for s in report.too_small)
    compared = report.gaps.set_index(["attribute", "metric"])
    assert {compared.loc[("gender", "selection_rate"), "highest"]} <= {"female", "male"}
