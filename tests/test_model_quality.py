"""Model quality that can fail, on two seeds: the session's warehouse (8,000 customers, seed 7,
`trained_warehouse`) and a small one with a planted drop in purchase activity (3,000 customers,
seed 11, `shifted`, trained once for this module).

- churn ROC AUC above the best simple baseline (recency alone, BG/NBD's P(no purchase) and
  P(alive)) by a margin, and not above the planted oracle (a leak check);
- CLV normalised Gini and RMSE both better than BG/NBD x Gamma-Gamma (after the shift: Gini
  only, RMSE ties and the baseline scores; see the test);
- the registered churn model's probabilities against the planted ones, by decile;
- the next-purchase date's median error below the own-rhythm baseline's by 5 days;
- after the activity shift, the mean predicted activity at the scoring date within 2 points of
  the realised rate over the following horizon (the shifted data run past the scoring date).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import mlflow
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from cvp.config import PromotionSettings, Settings
from cvp.data.migrate import upgrade_warehouse
from cvp.data.synthetic import GeneratorConfig
from cvp.data.truth import oracle_no_purchase_probability
from cvp.data.warehouse import dispose_engines, get_engine, read_frame
from cvp.experiments.tracking import configure_tracking, tracking_client
from cvp.features.build import build_features
from cvp.features.labels import build_labels
from cvp.jobs.data_jobs import run_generate
from cvp.jobs.scoring_jobs import run_score
from cvp.jobs.training_jobs import TrainingConfig, TrainingResult, run_train
from cvp.models.dataset import add_btyd_features
from tests.conftest import TRAINED_AS_OF, make_settings

pytestmark = pytest.mark.slow

HORIZON = 90
AUC_MARGIN = 0.005  # over the best simple baseline
ORACLE_SLACK = 0.02  # the oracle ignores seasonality and onsets inside the window
DECILE_TOLERANCE = 0.05
# Just after a planted shift the registered model is calibrated on the one window since it, and
# which model six trials pick moves its deciles a lot: over training seeds 1, 2, 3 and 7, each
# with two BTYD fits equal to 1e-6, the largest decile gap was 0.023-0.096 (seed 2: 0.096 with
# either fit) and the mean gap over the ten deciles 0.007-0.034. So the mean carries the check and
# the largest gap only bounds what no draw came near.
SHIFTED_MEAN_DECILE_TOLERANCE = 0.045
SHIFTED_DECILE_TOLERANCE = 0.11
NEXT_PURCHASE_MARGIN_DAYS = 5.0
# the shifted warehouse: purchases x0.6 from February 2025, scored on 2025-06-20. That date sits
# at the top of the generator's yearly wave, so the calibration window (the 90 days before it)
# and the 90 days after it have the same seasonality: what moves the rate is the shift alone.
SHIFT = GeneratorConfig(
    customers=3_000,
    seed=11,
    end=date(2025, 12, 31),
    activity_shift_date=date(2025, 2, 1),
    activity_shift_factor=0.6,
)
SHIFT_AS_OF = date(2025, 6, 20)


@dataclass
class Case:
    settings: Settings
    result: TrainingResult
    as_of: date
    generator: GeneratorConfig

    def rate_factor(self, day: date) -> float:
        shift = self.generator.activity_shift_date
        return self.generator.activity_shift_factor if shift and day >= shift else 1.0


@pytest.fixture(scope="module")
def shifted(tmp_path_factory: pytest.TempPathFactory):
    """Generated to the end of 2025 with the activity shift, trained and scored as of
    SHIFT_AS_OF (six trials, as the shared warehouse has). The
    promotion gate's ECE is judged on the backtest model, calibrated on the window before the
    test one, so a shift between them raises it by construction; it is relaxed here so the
    refit model, calibrated on the most recent closed window, becomes champion and scores."""
    root = tmp_path_factory.mktemp("shifted")
    settings = make_settings(root, f"duckdb:///{root / 'warehouse.duckdb'}").model_copy(
        update={"promotion": PromotionSettings(max_ece=0.15)}
    )
    upgrade_warehouse(get_engine(settings.warehouse_url))
    run_generate(settings, SHIFT)
    result = run_train(settings, TrainingConfig(as_of=SHIFT_AS_OF, trials=6))
    yield Case(settings, result, SHIFT_AS_OF, SHIFT)
    dispose_engines()


@pytest.fixture(params=["seed7", "seed11_shifted"])
def case(request: pytest.FixtureRequest) -> Case:
    if request.param == "seed7":
        settings, result = request.getfixturevalue("trained_warehouse")
        found = Case(settings, result, TRAINED_AS_OF, GeneratorConfig(seed=7))
    else:
        found = request.getfixturevalue("shifted")
    configure_tracking(found.settings)  # mlflow.pyfunc reads the global URI
    return found


def _truth(conn, day: date) -> pd.DataFrame:
    """Labels of the window after `day` with the planted truth, customers with 30 days of
    history (as trained)."""
    labels = build_labels(conn, day, HORIZON)
    truth = read_frame(conn, "SELECT * FROM ground_truth_customers")
    return labels[labels["insufficient_history"] == 0].merge(truth, on="customer_id")


def test_churn_beats_simple_baselines_and_not_the_oracle(case: Case):
    churn = case.result.outcomes["churn"]
    cutoff = case.as_of - timedelta(days=HORIZON)  # the backtest's test window
    with get_engine(case.settings.warehouse_url).connect() as conn:
        labels = _truth(conn, cutoff)
        features = build_features(conn, cutoff)
    features = add_btyd_features(
        features[features["customer_id"].isin(labels["customer_id"])], HORIZON
    )
    frame = labels.merge(features, on=["as_of", "customer_id"])
    oracle = oracle_no_purchase_probability(frame, cutoff, HORIZON, case.rate_factor(cutoff))
    aucs = {
        "recency": roc_auc_score(frame["churned"], frame["recency_days"].fillna(1e6)),
        "btyd_p_no_purchase": churn.baseline_metrics["roc_auc"],
        "btyd_p_alive": roc_auc_score(frame["churned"], 1 - frame["btyd_p_alive"]),
        "oracle": roc_auc_score(frame["churned"], oracle),
    }
    print(f"\n{case.generator.seed}: model {churn.metrics['roc_auc']:.4f} {aucs}")
    best_simple = max(v for k, v in aucs.items() if k != "oracle")
    assert churn.metrics["roc_auc"] >= best_simple + AUC_MARGIN, (churn.metrics, aucs)
    assert churn.metrics["roc_auc"] <= aucs["oracle"] + ORACLE_SLACK, (churn.metrics, aucs)


def test_clv_beats_btyd_on_gini_and_rmse(case: Case):
    clv = case.result.outcomes["clv"]
    print(f"\n{case.generator.seed}: model {clv.metrics} baseline {clv.baseline_metrics}")
    assert clv.metrics["normalized_gini"] >= clv.baseline_metrics["normalized_gini"] + 0.005
    if case.generator.activity_shift_date is None:
        assert clv.metrics["rmse"] < clv.baseline_metrics["rmse"]
        return
    # Known shortfall: after the shift the CLV model, trained on windows before it, ties the
    # BTYD baseline on RMSE (105.2 vs 105.1 on this seed) while ranking better. The gate keeps
    # what scores from being the worse of the two: the baseline is then the CLV champion.
    if clv.metrics["rmse"] >= clv.baseline_metrics["rmse"]:
        champion = tracking_client(case.settings).get_model_version_by_alias("cvp-clv", "champion")
        assert champion.tags["cvp.promotion.decision"] == "baseline_champion", champion.tags


def test_registered_churn_probabilities_match_the_planted_ones_by_decile(case: Case):
    model = mlflow.pyfunc.load_model("models:/cvp-churn@champion")
    with get_engine(case.settings.warehouse_url).connect() as conn:
        snapshot = build_features(conn, case.as_of)
        truth = read_frame(conn, "SELECT * FROM ground_truth_customers")
    predicted = pd.Series(model.predict(snapshot), index=snapshot.index)
    frame = snapshot.assign(predicted=predicted).merge(truth, on="customer_id")
    frame = frame[frame["tenure_days"] >= 30]
    frame["oracle"] = oracle_no_purchase_probability(
        frame, case.as_of, HORIZON, case.rate_factor(case.as_of)
    ).to_numpy()
    deciles = pd.qcut(frame["predicted"].rank(method="first"), 10, labels=False)
    by_decile = frame.groupby(deciles)[["predicted", "oracle"]].mean()
    print(f"\n{case.generator.seed}:\n{by_decile.round(3)}")
    gap = (by_decile["predicted"] - by_decile["oracle"]).abs()
    if case.generator.activity_shift_date is None:
        assert gap.max() <= DECILE_TOLERANCE, by_decile
        return
    assert gap.mean() <= SHIFTED_MEAN_DECILE_TOLERANCE, by_decile
    assert gap.max() <= SHIFTED_DECILE_TOLERANCE, by_decile


def test_next_purchase_beats_own_rhythm(case: Case):
    metrics = case.result.outcomes["churn"].metrics
    model = metrics["next_purchase_median_abs_error_days"]
    baseline = metrics["next_purchase_own_rhythm_median_abs_error_days"]
    print(f"\n{case.generator.seed}: " + str({k: v for k, v in metrics.items() if "next" in k}))
    assert model <= baseline - NEXT_PURCHASE_MARGIN_DAYS, metrics
    assert 0.3 <= metrics["next_purchase_window_hit_rate"] <= 0.7  # a quartile window: ~half
    assert metrics["next_purchase_dated_share"] > 0.3


def test_predicted_activity_follows_a_planted_shift(shifted: Case):
    run_score(shifted.settings, shifted.as_of)
    with get_engine(shifted.settings.warehouse_url).connect() as conn:
        scores = read_frame(
            conn,
            "SELECT customer_id, churn_probability FROM customer_scores "
            f"WHERE as_of = DATE '{shifted.as_of}'",
        )
        realised = build_labels(conn, shifted.as_of, HORIZON)
    both = scores.merge(realised, on="customer_id")
    predicted, actual = 1 - both["churn_probability"].mean(), 1 - both["churned"].mean()
    print(f"\npredicted activity {predicted:.4f}, realised {actual:.4f} ({len(both)} customers)")
    assert len(both) == len(scores) > 2_000
    assert abs(predicted - actual) <= 0.02, (predicted, actual)
