"""Value models that respect zeros and a gate that compares with the BTYD baseline: the hurdle
model, the baseline comparison, and the baseline taking over when the model loses and there is
no champion (so `cvp score` keeps working)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from cvp.data.migrate import upgrade_warehouse
from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import dispose_engines, get_engine
from cvp.experiments.tracking import tracking_client
from cvp.jobs.data_jobs import run_generate
from cvp.jobs.scoring_jobs import run_score
from cvp.jobs.training_jobs import TrainingConfig, run_train
from cvp.models.gate import LOSES_TO_BASELINE, baseline_failures
from cvp.models.hurdle import fit_hurdle
from tests.conftest import make_settings

AS_OF = date(2025, 12, 31)


def test_baseline_comparison_covers_gini_and_rmse_for_clv_and_auc_for_churn():
    base = {"normalized_gini": 0.8, "rmse": 30.0, "roc_auc": 0.9}
    assert baseline_failures("clv", {"normalized_gini": 0.85, "rmse": 29.0}, base) == []
    worse_rmse = baseline_failures("clv", {"normalized_gini": 0.85, "rmse": 31.0}, base)
    assert len(worse_rmse) == 1 and "rmse" in worse_rmse[0] and LOSES_TO_BASELINE in worse_rmse[0]
    assert len(baseline_failures("clv", {"normalized_gini": 0.7, "rmse": 31.0}, base)) == 2
    assert baseline_failures("churn", {"roc_auc": 0.89}, base)[0].endswith("(0.8900 vs 0.9000)")
    assert baseline_failures("churn", {"roc_auc": float("nan")}, base)


def test_hurdle_separates_buying_from_spend_and_predicts_the_planted_expectation():
    """Planted: P(buy) = sigmoid(2 x0), spend | buy = 50 x exp(0.5 x1); the hurdle's prediction
    must track P x E[spend] much better than the best constant (the mean) does."""
    rng = np.random.default_rng(3)
    n = 6_000
    x = pd.DataFrame(
        {"x0": rng.normal(size=n), "x1": rng.normal(size=n), "noise": rng.normal(size=n)}
    )
    p_buy = 1 / (1 + np.exp(-(2 * x["x0"] - 1.5)))
    mean_spend = 50 * np.exp(0.5 * x["x1"])
    expected = (p_buy * mean_spend).to_numpy()
    bought = rng.random(n) < p_buy
    y = np.where(bought, rng.gamma(4.0, mean_spend / 4.0), 0.0)
    assert (y == 0).mean() > 0.6  # most customers buy nothing
    half = n // 2
    model = fit_hurdle((x[:half], y[:half]), (x[half:], y[half:]), seed=1, max_rounds=400)
    predicted = model.predict(x[half:])
    error = np.sqrt(np.mean((predicted - expected[half:]) ** 2))
    constant = np.sqrt(np.mean((y[:half].mean() - expected[half:]) ** 2))
    assert error < 0.5 * constant, (error, constant)
    assert (predicted >= 0).all()
    refit = model.refit(x, y)
    assert refit.feature_name() == ["x0", "x1", "noise"]


@pytest.mark.slow
def test_clv_model_that_loses_to_btyd_is_not_promoted_and_the_baseline_scores(tmp_path):
    settings = make_settings(tmp_path, f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    upgrade_warehouse(get_engine(settings.warehouse_url))
    run_generate(settings, GeneratorConfig(customers=2_000, seed=12))
    churn = run_train(settings, TrainingConfig(as_of=AS_OF, trials=1, targets=("churn",)))
    assert churn.outcomes["churn"].decision.promoted
    # one boosting round: a model that has learned almost nothing loses to BG/NBD x Gamma-Gamma
    weak = TrainingConfig(as_of=AS_OF, trials=1, max_boost_rounds=1, targets=("clv",))
    clv = run_train(settings, weak).outcomes["clv"]
    assert not clv.decision.promoted
    assert LOSES_TO_BASELINE in clv.decision.reason and "BTYD baseline" in clv.decision.reason
    assert "\n" not in clv.decision.reason
    client = tracking_client(settings)
    champion = client.get_model_version_by_alias("cvp-clv", "champion")
    assert champion.version != clv.decision.version
    assert champion.tags["cvp.promotion.decision"] == "baseline_champion"
    scored = run_score(settings, AS_OF)
    assert type(scored.models.clv).__name__ == "BtydValue"
    values = scored.scores["clv_expected"].to_numpy()
    assert np.isfinite(values).all() and (values > 0).all()
    dispose_engines()
