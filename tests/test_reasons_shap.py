"""The chosen exact TreeSHAP path (woodelf) against LightGBM's own `pred_contrib`, the reference:
the same contributions within 1e-4 and the same top reasons, for a shallow and a deep model, and
for the pipeline's churn champion; and who gets reasons under `reasons_for = "acted"`."""

from __future__ import annotations

import os
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from cvp.actions.playbook import load_playbook
from cvp.actions.reasons import acted_on, contributions, explain, shap_method, top_reasons

REASON_COLUMNS = [
    "recency_days",
    "tx_count_90d",
    "unresolved_complaints",
    "logins_30d",
    "discount_share",
    "nps_latest",
    "days_to_renewal",
    "spend_trend_90d",
]


def _data(rows: int, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """Features with the reason codes' names, missing values where the real ones have them
    (no survey answer, no subscription), and a churn label driven by several of them."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {
            "recency_days": rng.exponential(60, rows),
            "tx_count_90d": rng.poisson(3, rows).astype(float),
            "unresolved_complaints": rng.poisson(0.4, rows).astype(float),
            "logins_30d": rng.poisson(5, rows).astype(float),
            "discount_share": rng.uniform(0, 1, rows),
            "nps_latest": np.where(rng.random(rows) < 0.4, np.nan, rng.integers(0, 11, rows)),
            "days_to_renewal": np.where(rng.random(rows) < 0.5, np.nan, rng.uniform(0, 365, rows)),
            "spend_trend_90d": rng.lognormal(0, 0.5, rows),
        }
    )
    logit = (
        x["recency_days"] / 40
        - x["tx_count_90d"] / 2
        + x["unresolved_complaints"]
        - x["logins_30d"] / 4
        + np.where(x["nps_latest"].isna(), 0.5, (5 - x["nps_latest"].fillna(5)) / 3)
        + np.where(x["days_to_renewal"].isna(), 0.3, (x["days_to_renewal"].fillna(0) < 30) * 1.0)
        - 1
    )
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return x, y


def _booster(depth: int, leaves: int, rounds: int) -> lgb.Booster:
    x, y = _data(4_000)
    params = {
        "objective": "binary",
        "max_depth": depth,
        "num_leaves": leaves,
        "min_child_samples": 5,
        "learning_rate": 0.1,
        "verbosity": -1,
        "num_threads": 1,
        "seed": 7,
        "deterministic": True,
    }
    return lgb.train(params, lgb.Dataset(x, y), num_boost_round=rounds)


def _depth(node: dict) -> int:
    if "split_index" not in node:
        return 0
    return 1 + max(_depth(node["left_child"]), _depth(node["right_child"]))


def _assert_same_as_pred_contrib(booster: lgb.Booster, x: pd.DataFrame) -> None:
    assert shap_method(booster) == "woodelf"
    chosen = contributions(booster, x)
    reference = booster.predict(x, pred_contrib=True)[:, :-1]
    assert chosen.shape == reference.shape
    assert np.abs(chosen - reference).max() < 1e-4
    # same reasons, row for row: except where two contributions are within the tolerance of
    # each other (then their order is a coin toss for either method)
    got, want = top_reasons(chosen, x), top_reasons(reference, x)
    gaps = np.diff(np.sort(np.where(reference > 0, reference, 0), axis=1)[:, -4:], axis=1)
    clear = (np.where(gaps == 0, np.inf, gaps) > 1e-4).all(axis=1)
    assert clear.mean() > 0.9
    assert np.asarray(got[0])[clear].tolist() == np.asarray(want[0])[clear].tolist()


@pytest.mark.parametrize(("depth", "leaves"), [(4, 15), (9, 120)])
def test_woodelf_matches_pred_contrib(depth, leaves):
    booster = _booster(depth, leaves, rounds=25)
    assert max(_depth(t["tree_structure"]) for t in booster.dump_model()["tree_info"]) == depth
    x, _ = _data(1_000, seed=8)
    _assert_same_as_pred_contrib(booster, x)


def test_explain_falls_back_to_pred_contrib_where_woodelf_cannot_run(monkeypatch):
    x, y = _data(2_000)
    with_category = x.assign(channel=pd.Categorical(np.where(y == 1, "web", "store")))
    categorical = lgb.train(
        {"objective": "binary", "verbosity": -1, "num_leaves": 7, "num_threads": 1},
        lgb.Dataset(with_category, y),
        num_boost_round=5,
    )
    assert shap_method(categorical) == "pred_contrib"  # categorical splits: not woodelf's
    booster = _booster(4, 15, rounds=10)
    monkeypatch.setitem(sys.modules, "woodelf", None)  # not installed
    assert shap_method(booster) == "pred_contrib"
    texts, _ = explain(booster, x.head(200))
    assert (
        texts
        == top_reasons(booster.predict(x.head(200), pred_contrib=True)[:, :-1], x.head(200))[0]
    )


def test_reasons_explained_on_threads_are_the_one_thread_reasons_in_row_order(monkeypatch):
    """Several chunks on two threads: the texts come back in the rows' order, equal to one
    thread's, and both threads explained some of them."""
    import threading

    import cvp.actions.reasons as reasons

    booster = _booster(6, 40, rounds=20)
    x, _ = _data(3_001, seed=9)
    # at most 1,000 rows in flight: 4 chunks of 750-751 rows on one thread, 8 of 375-376 on two
    monkeypatch.setattr(reasons, "WOODELF_CHUNK_ROWS", 1_000)
    seen: set[str] = set()
    chunk_sizes: list[int] = []
    original = reasons.contributions

    def recording(booster, features, method=None, trees=None):
        seen.add(threading.current_thread().name)
        chunk_sizes.append(len(features))
        return original(booster, features, method, trees)

    monkeypatch.setattr(reasons, "contributions", recording)
    one = explain(booster, x, threads=1)
    assert len(seen) == 1 and sorted(chunk_sizes) == [750, 750, 750, 751]
    seen.clear()
    chunk_sizes.clear()
    two = explain(booster, x, threads=2)
    assert sorted(chunk_sizes) == [375] * 7 + [376]
    assert len(seen) == 2 and all(name.startswith("cvp-explain") for name in seen)
    assert two == one
    assert one[0] == top_reasons(booster.predict(x, pred_contrib=True)[:, :-1], x)[0]


def test_a_dask_worker_explains_on_one_thread_and_a_process_on_every_core():
    from distributed import Client, LocalCluster

    from cvp.actions.reasons import explain_threads

    assert explain_threads() == len(os.sched_getaffinity(0))
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        assert client.submit(explain_threads).result() == 1


@pytest.mark.slow
def test_woodelf_matches_pred_contrib_on_the_pipeline_champion(trained_warehouse):
    from cvp.data.warehouse import get_engine
    from cvp.experiments.tracking import configure_tracking
    from cvp.features.build import build_features
    from cvp.models.dataset import add_btyd_features
    from cvp.models.registry import frame_for
    from cvp.scoring.score import load_champions
    from tests.conftest import TRAINED_AS_OF

    settings, _ = trained_warehouse
    models = load_champions(configure_tracking(settings))
    with get_engine(settings.warehouse_url).connect() as conn:
        snapshot = build_features(conn, TRAINED_AS_OF).head(2_000)
    x = frame_for(models.churn, add_btyd_features(snapshot, models.horizon_days))
    _assert_same_as_pred_contrib(models.churn, x.astype("float64"))


def test_acted_on_is_the_at_risk_tiers_and_everyone_with_a_costed_action():
    scored = pd.DataFrame(
        {
            "risk_tier": ["high", "medium", "low", "low", "low"],
            "value_tier": ["low", "low", "high", "low", "low"],
            "lifecycle_stage": ["active", "active", "active", "new", "active"],
        }
    )
    # high/medium risk: the playbook reads their reason family; high value + low risk:
    # cross-sell (costs 1); new: onboarding (costs 1); the last one gets no action at all
    assert acted_on(load_playbook(), scored).tolist() == [True, True, True, True, False]
