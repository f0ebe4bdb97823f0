"""Fairness audit: planted gaps are found and named; noise in small groups blocks nothing;
sensitive attributes never reach the features."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
