"""Tuning at scale: the whole-customer sample the trials fit on, and the early-stopped fit of the
tuned parameters on every row (`[training] tuning_rows`)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from cvp.models.engine import EARLY_STOPPING_ROUNDS, early_stopped_fit
from cvp.models.sampling import customer_sample


def _panel(customers: int, seed: int = 3) -> pd.DataFrame:
    """A panel of 1-6 rows per customer (one per cutoff), ids with leading zeros."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 7, customers)
    ids = np.repeat([f"{i:07d}" for i in range(customers)], counts)
    return pd.DataFrame({"customer_id": ids, "row": np.arange(len(ids))})


def test_a_small_panel_is_used_whole():
    panel = _panel(50)
    assert customer_sample(panel, len(panel), seed=7) is panel


def test_the_sample_takes_whole_customers_up_to_the_cap_in_order_and_repeats_by_seed():
    panel = _panel(2_000)
    cap = len(panel) // 4
    sample = customer_sample(panel, cap, seed=7)
    assert cap - 6 < len(sample) <= cap  # the next customer (at most 6 rows) would not fit
    per_customer = panel.groupby("customer_id").size()
    assert (
        sample.groupby("customer_id").size() == per_customer[sample["customer_id"].unique()]
    ).all()
    assert sample["row"].is_monotonic_increasing  # the panel's order is kept
    assert sample.equals(customer_sample(panel, cap, seed=7))
    other = customer_sample(panel, cap, seed=8)
    assert set(other["customer_id"]) != set(sample["customer_id"])
    # drawn at random, not the first customers: ids span the whole range
    assert sample["customer_id"].min() < "0000100" and sample["customer_id"].max() > "0001900"


def _classification(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Planted truth: the log-odds are a known function of three of six features."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(rows, 6)), columns=[f"f{i}" for i in range(6)])
    logit = 1.5 * x["f0"] - x["f1"] + 0.8 * x["f2"] * x["f0"]
    p = 1 / (1 + np.exp(-logit.to_numpy()))
    return x, (rng.random(rows) < p).astype(float), p


def test_the_early_stopped_fit_keeps_only_its_best_rounds_and_learns_the_planted_truth():
    x, y, _ = _classification(6_000, seed=1)
    x_valid, y_valid, _ = _classification(3_000, seed=2)
    x_test, y_test, p_test = _classification(4_000, seed=3)
    params = {
        "objective": "binary",
        "metric": "auc",
        "learning_rate": 0.1,
        "num_leaves": 15,
        "verbosity": -1,
        "seed": 7,
        "deterministic": True,
        "num_threads": 2,
    }
    booster = early_stopped_fit(params, (x, y), (x_valid, y_valid), max_rounds=2_000)
    rounds = booster.num_trees()
    assert 1 <= rounds < 2_000 - EARLY_STOPPING_ROUNDS  # it stopped, and was cut back
    # the same fit, run on: its best round is the one kept, and later rounds are gone
    full = lgb.train(
        params,
        lgb.Dataset(x, y, params={"feature_pre_filter": False}),
        num_boost_round=rounds + EARLY_STOPPING_ROUNDS,
    )
    np.testing.assert_allclose(
        booster.predict(x_test), full.predict(x_test, num_iteration=rounds), atol=1e-12
    )
    oracle = roc_auc_score(y_test, p_test)
    assert roc_auc_score(y_test, booster.predict(x_test)) > oracle - 0.02


def test_shap_importance_over_a_sample_ranks_the_features_as_over_every_row(monkeypatch):
    """Past `IMPORTANCE_ROWS` the mean |SHAP| is taken over a seeded sample; on the planted
    problem it ranks the features as every row does and each mean is within 5% of it."""
    import cvp.models.train as train

    x, y, _ = _classification(8_000, seed=4)
    params = {"objective": "binary", "verbosity": -1, "seed": 7, "num_leaves": 15}
    booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=60)
    every_row = train.shap_importance(booster, x, seed=7)
    monkeypatch.setattr(train, "IMPORTANCE_ROWS", 2_000)
    sampled = train.shap_importance(booster, x, seed=7)
    assert list(sampled.index[:3]) == list(every_row.index[:3]) == ["f0", "f1", "f2"]
    top = every_row.index[:3]
    np.testing.assert_allclose(sampled[top], every_row[top], rtol=0.05)
    assert sampled.equals(train.shap_importance(booster, x, seed=7))  # the seed fixes the sample
