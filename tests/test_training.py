"""Training on generated data: registry, MLflow logging, promotion gate, determinism, the
validation gate, and model quality against the generator's planted truth."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import get_engine, read_frame
from cvp.experiments.tracking import configure_tracking, tracking_client
from cvp.jobs.data_jobs import run_generate
from cvp.jobs.training_jobs import MODEL_NAMES, TrainingConfig, run_train
from cvp.models.metrics import CHURN_METRICS, CLV_METRICS
from cvp.validation.runner import ValidationFailed
from tests.conftest import TRAINED_AS_OF, make_settings

pytestmark = pytest.mark.slow  # every test here trains models

AS_OF = TRAINED_AS_OF
# tuning on a third of the customers against tuning on all (3,000 customers, seed 4, 3 trials):
# see `test_tuning_on_a_customer_sample_keeps_the_churn_backtest`
SAMPLED_AUC_SLACK = 0.005
SAMPLED_GINI_SLACK = 0.02
# features that carry each planted driver's signal
DRIVER_FEATURES = {
    "declining_frequency": {
        "recency_days",
        "frequency_trend_90d",
        "days_overdue",
        "overdue_ratio",
        "tx_count_90d",
        "btyd_expected_purchases",
        "btyd_p_no_purchase",
        "btyd_p_alive",
    },
    "unresolved_complaints": {"unresolved_complaints", "unresolved_tickets", "tickets_90d"},
    "login_gaps": {
        "days_since_last_event",
        "logins_30d",
        "logins_90d",
        "events_30d",
        "events_90d",
        "engagement_trend_90d",
    },
    "low_nps": {"nps_latest", "csat_latest", "nps_trend"},
    "price_sensitivity": {"discount_share", "discount_mean"},
}


def _settings(root: Path):
    return make_settings(root, f"duckdb:///{root / 'warehouse.duckdb'}")


@pytest.fixture
def trained(trained_warehouse):
    """The session's shared warehouse and models (`tests/conftest.py`), with MLflow's global
    URIs pointed at its store: `mlflow.models` and `mlflow.artifacts` read the global URI,
    which an earlier test in the same process may have pointed elsewhere."""
    configure_tracking(trained_warehouse[0])
    return trained_warehouse


def test_registers_both_models_with_aliases_every_metric_and_plots(trained):
    settings, result = trained
    client = tracking_client(settings)
    for name in MODEL_NAMES.values():
        champion = client.get_model_version_by_alias(name, "champion")
        assert str(champion.version) == "1"
        # a promoted first version is only champion: no candidate is waiting
        assert champion.aliases == ["champion"]
        assert champion.tags["cvp.promotion.decision"] == "promoted"
        # descriptions for the MLflow UI: the model, and what this version was trained on
        assert "horizon_days" in client.get_registered_model(name).description
        assert f"Trained as of {AS_OF}" in champion.description
        assert "BTYD baseline" in champion.description and "Promoted" in champion.description
        model = mlflow.models.get_model_info(f"models:/{name}@champion")
        assert model.signature is not None and model.saved_input_example_info is not None
    parent = client.get_run(result.parent_run_id)
    for target, names in (("churn", CHURN_METRICS), ("clv", CLV_METRICS)):
        for metric in names:
            assert f"{target}_{metric}" in parent.data.metrics
            assert f"{target}_baseline_{metric}" in parent.data.metrics
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{result.parent_run_id}'"
    )
    kinds = {(r.data.tags["cvp.kind"], r.data.tags["cvp.target"]) for r in children}
    assert kinds == {(k, t) for k in ("trial", "model", "baseline") for t in ("churn", "clv")}
    for run in children:  # model and baseline runs share metric names, so they line up in compare
        if run.data.tags["cvp.kind"] in ("model", "baseline"):
            expected = CHURN_METRICS if run.data.tags["cvp.target"] == "churn" else CLV_METRICS
            assert set(expected) <= set(run.data.metrics)
    # the experiment says what it holds and what the metrics mean
    note = client.get_experiment(parent.info.experiment_id).tags["mlflow.note.content"]
    assert "roc_auc" in note and "normalized_gini" in note
    # the baseline runs have parameters and the model run's plots under the same names
    for run in children:
        if run.data.tags["cvp.kind"] != "baseline":
            continue
        assert {"model", "horizon_days", "test_cutoff"} <= set(run.data.params)
        model_run = result.outcomes[run.data.tags["cvp.target"]].run_id
        model_plots = {a.path for a in client.list_artifacts(model_run, "plots")}
        baseline_plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
        assert baseline_plots and baseline_plots <= model_plots
    churn_run = result.outcomes["churn"].run_id
    artifacts = {a.path for a in client.list_artifacts(churn_run, "plots")}
    assert {
        "plots/roc.png",
        "plots/pr.png",
        "plots/calibration.png",
        "plots/gain.png",
        "plots/feature_importance.png",
        "plots/shap_summary.png",
    } <= artifacts
    clv_artifacts = {a.path for a in client.list_artifacts(result.outcomes["clv"].run_id, "plots")}
    assert "plots/clv_deciles.png" in clv_artifacts
    calibration = json.loads(
        Path(
            mlflow.artifacts.download_artifacts(run_id=churn_run, artifact_path="calibration.json")
        ).read_text()
    )
    assert calibration["method"] in ("isotonic", "platt")


def test_planted_drivers_recovered_and_calibrated(trained):
    """What the planted drivers and the calibration say on the session's warehouse; the bounds
    on AUC, Gini and RMSE by the simple baselines, on two seeds, are in
    `tests/test_model_quality.py`."""
    _, result = trained
    churn = result.outcomes["churn"]
    top = set(churn.importance.head(15).index)
    recovered = [driver for driver, features in DRIVER_FEATURES.items() if top & features]
    # price sensitivity moves the hazard only a little in the generator; the other four must show
    assert len(recovered) >= 4, (recovered, list(top))
    assert churn.metrics["ece"] < 0.05


def test_worse_challenger_stays_challenger_with_reason(trained):
    settings, _ = trained
    weak = run_train(
        settings, TrainingConfig(as_of=AS_OF, trials=1, max_boost_rounds=1, targets=("churn",))
    )
    decision = weak.outcomes["churn"].decision
    assert not decision.promoted and "margin" in decision.reason
    client = tracking_client(settings)
    assert str(client.get_model_version_by_alias("cvp-churn", "champion").version) == "1"
    challenger = client.get_model_version_by_alias("cvp-churn", "challenger")
    assert str(challenger.version) == decision.version == "2"
    assert challenger.aliases == ["challenger"]
    assert challenger.tags["cvp.promotion.decision"] == "kept_challenger"
    assert challenger.tags["cvp.promotion.reason"] == decision.reason
    assert "Kept as @challenger" in challenger.description


def test_same_seed_gives_same_metrics(tmp_path):
    settings = _settings(tmp_path)
    from cvp.data.migrate import upgrade_warehouse

    upgrade_warehouse(get_engine(settings.warehouse_url))
    run_generate(settings, GeneratorConfig(customers=3_000, seed=4))
    config = TrainingConfig(as_of=AS_OF, trials=3)
    first, second = run_train(settings, config), run_train(settings, config)
    for target in ("churn", "clv"):
        assert first.outcomes[target].metrics == second.outcomes[target].metrics
        assert first.outcomes[target].params == second.outcomes[target].params


def test_training_on_failing_data_stops_before_any_model_and_override_is_recorded(tmp_path):
    settings = _settings(tmp_path)
    from cvp.data.migrate import upgrade_warehouse

    upgrade_warehouse(get_engine(settings.warehouse_url))
    run_generate(settings, GeneratorConfig(customers=2_500, seed=5, inject_errors=True))
    config = TrainingConfig(as_of=AS_OF, trials=1, targets=("churn",))
    with pytest.raises(ValidationFailed, match="transactions: customer_id_references_customers"):
        run_train(settings, config)
    client = tracking_client(settings)
    assert client.search_registered_models() == []
    forced = run_train(
        settings, TrainingConfig(as_of=AS_OF, trials=1, targets=("churn",), force_validation=True)
    )
    assert forced.validation_overridden
    tags = client.get_run(forced.parent_run_id).data.tags
    assert (
        tags["cvp.validation.override"] == "true"
        and "ts_not_in_future" in tags["cvp.validation.critical_failures"]
    )
    with get_engine(settings.warehouse_url).connect() as conn:
        audit = read_frame(
            conn,
            "SELECT command, status, notes, model_versions FROM audit_log WHERE command = 'train' "
            "ORDER BY started_at",
        )
    # the stopped run is audited as refused, with the gate's reason, and wrote no model
    assert list(audit["status"]) == ["refused", "succeeded"]
    assert "customer_id_references_customers" in json.loads(audit.loc[0, "notes"])["reason"]
    assert json.loads(audit.loc[0, "model_versions"]) == {}
    assert json.loads(audit.loc[1, "notes"])["validation_override"] is True
    assert json.loads(audit.loc[1, "model_versions"]) == {"cvp-churn": "1"}


def test_tuning_on_a_customer_sample_keeps_the_churn_backtest(tmp_path):
    """Above `tuning_rows` the trials fit on whole customers drawn from the training rows, and the
    chosen parameters are fitted on every row, early-stopped on the full validation window. On
    the same data and seed, the backtest stays within SAMPLED_AUC_SLACK of tuning on every row,
    and MLflow records how many rows the trials saw."""
    settings = _settings(tmp_path)
    from cvp.data.migrate import upgrade_warehouse

    upgrade_warehouse(get_engine(settings.warehouse_url))
    run_generate(settings, GeneratorConfig(customers=3_000, seed=4))
    every_row = run_train(settings, TrainingConfig(as_of=AS_OF, trials=3))
    rows = every_row.rows["train"]
    cap = rows // 3
    sampled = run_train(settings, TrainingConfig(as_of=AS_OF, trials=3, tuning_rows=cap))
    full_auc = every_row.outcomes["churn"].metrics["roc_auc"]
    sampled_auc = sampled.outcomes["churn"].metrics["roc_auc"]
    assert sampled_auc > full_auc - SAMPLED_AUC_SLACK, (sampled_auc, full_auc)
    assert sampled.outcomes["clv"].metrics["normalized_gini"] > (
        every_row.outcomes["clv"].metrics["normalized_gini"] - SAMPLED_GINI_SLACK
    )
    client = tracking_client(settings)
    for outcome, expected in (
        (every_row.outcomes["churn"], rows),
        (sampled.outcomes["churn"], None),
    ):
        logged = int(client.get_run(outcome.run_id).data.params["trial_rows"])
        if expected is None:
            assert cap - 20 < logged <= cap
        else:
            assert logged == expected
    # the refit inherits the round count the full-data fit stopped at
    assert 1 <= sampled.outcomes["churn"].params["num_boost_round"] < 2_000
