"""Monitoring on generated data with a planted behaviour shift: realised accuracy of past
scores, drift, the retraining decision, and the trigger on a real Prefect server."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvp.config import MonitoringSettings, reset_settings_cache
from cvp.data.migrate import upgrade_warehouse
from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import dispose_engines, get_engine, read_frame
from cvp.experiments.tracking import tracking_client
from cvp.jobs.data_jobs import run_generate
from cvp.jobs.scoring_jobs import run_score
from cvp.jobs.training_jobs import TrainingConfig, run_train
from cvp.monitoring.drift import drift_table, drifted_importance_share, psi
from cvp.monitoring.jobs import decide, run_monitor
from cvp.monitoring.models import ModelInfo
from tests.conftest import export_settings, make_settings

pytestmark = pytest.mark.slow  # trains models, runs jobs or the cvp script: not in make test-fast

TRAINED = date(2025, 6, 30)
SCORED = (date(2025, 6, 30), date(2025, 9, 30), date(2025, 12, 31))
DRIFT = date(2025, 11, 1)
PLANTED = {"spend_30d", "spend_90d", "channel_share_app"}


def test_psi_and_ks_do_not_flag_samples_of_one_distribution():
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"x": rng.gamma(2, 10, 4000), "c": rng.choice(["a", "b"], 4000)})
    same = pd.DataFrame({"x": rng.gamma(2, 10, 4000), "c": rng.choice(["a", "b"], 4000)})
    shifted = same.assign(x=same["x"] * 1.8)
    rules = MonitoringSettings()
    assert not drift_table(reference, same, ["x", "c"], rules)["drifted"].any()
    flagged = drift_table(reference, shifted, ["x"], rules)
    assert flagged["drifted"].all() and flagged["psi"].iloc[0] > rules.psi_threshold
    assert psi(reference["x"].to_numpy(), reference["x"].to_numpy()) == pytest.approx(0, abs=1e-9)
    # a calendar feature is reported as drifted but carries no weight in the decision
    calendar = drift_table(
        reference.assign(tenure_days=reference["x"]),
        shifted.assign(tenure_days=shifted["x"]),
        ["tenure_days", "x"],
        rules,
    )
    assert calendar["drifted"].all() and calendar.set_index("feature")["calendar"].to_dict() == {
        "tenure_days": True,
        "x": False,
    }
    importance = pd.Series({"tenure_days": 3.0, "x": 1.0, "unused": 4.0})
    assert drifted_importance_share(calendar, importance) == pytest.approx(1 / 8)


def test_drift_decides_by_importance():
    """Retraining for drift needs the drifted, non-calendar features to carry
    `retrain_drift_importance` (20%) of a champion's mean |SHAP|; the reason names them."""
    settings = make_settings(Path("/nonexistent"), "duckdb:///:memory:")
    drift = pd.DataFrame(
        {
            "feature": ["spend_30d", "tenure_days", "recency_days", "score:clv_expected"],
            "psi": [0.9, 1.2, 0.01, 0.05],
            "ks_statistic": [0.4, 0.5, 0.01, 0.05],
            "ks_p_value": [0.0, 0.0, 0.9, 0.3],
            "drifted": [True, True, False, False],
            "calendar": [False, True, False, False],
        }
    )
    churn = ModelInfo("churn", "1", "run", {}, 91, TRAINED, None)
    uses_spend = {"clv": pd.Series({"spend_30d": 3.0, "recency_days": 7.0})}
    reasons, drifted = decide(settings, TRAINED, pd.DataFrame(), drift, churn, uses_spend)
    assert drifted == ["spend_30d", "tenure_days"]
    assert any("30% of the clv champion's importance" in r and "spend_30d" in r for r in reasons)
    ignores_spend = {"clv": pd.Series({"spend_30d": 1.0, "recency_days": 9.0})}
    reasons, _ = decide(settings, TRAINED, pd.DataFrame(), drift, churn, ignores_spend)
    assert not any("drifted" in r for r in reasons)  # 10% < 20%; tenure is a calendar feature
    calendar_only = {"clv": pd.Series({"tenure_days": 10.0})}
    reasons, _ = decide(settings, TRAINED, pd.DataFrame(), drift, churn, calendar_only)
    assert not any("drifted" in r for r in reasons)


@pytest.fixture(scope="module")
def histories(tmp_path_factory):
    """One seed, two warehouses sharing one MLflow store: `drifted` has the planted shift from
    DRIFT on, `plain` has none. Both are identical before DRIFT, so the model trained on
    `drifted` at TRAINED (before the shift) is the champion of both; each is scored on SCORED."""
    root = tmp_path_factory.mktemp("monitoring")
    drifted = make_settings(root, f"duckdb:///{root / 'warehouse.duckdb'}")
    plain = make_settings(root, f"duckdb:///{root / 'plain.duckdb'}")
    for settings, drift_date in ((drifted, DRIFT), (plain, None)):
        upgrade_warehouse(get_engine(settings.warehouse_url))
        run_generate(settings, GeneratorConfig(customers=3_000, seed=13, drift_date=drift_date))
    run_train(drifted, TrainingConfig(as_of=TRAINED, trials=2))
    for settings in (drifted, plain):
        for day in SCORED:
            run_score(settings, day)
    yield {"drifted": drifted, "plain": plain}
    dispose_engines()


@pytest.fixture(scope="module")
def history(histories):
    return histories["drifted"]


def test_ordinary_months_are_not_drift(histories):
    """No planted shift: three months after training the monitor does not retrain for drift,
    and few features are flagged (six months on, still no drift reason)."""
    settings = histories["plain"]
    for day in SCORED[1:]:
        result = run_monitor(settings, day)
        assert not any("drifted" in r for r in result.reasons), (day, result.reasons)
        counted = result.drift[
            result.drift["drifted"]
            & ~result.drift["calendar"].astype(bool)
            & ~result.drift["feature"].str.startswith("score:")
        ]
        assert len(counted) <= 10, counted
        assert not set(counted["feature"]) & PLANTED
    three_months = run_monitor(settings, SCORED[1])
    assert len(three_months.drifted) <= 3, three_months.drifted
    # the only reason left is the model's age (92 days > 90)
    assert three_months.retrain and all("days old" in r for r in three_months.reasons)


def test_monitor_flags_planted_drift_and_reports_realised_accuracy(history):
    settings = history
    result = run_monitor(settings, SCORED[-1])
    accuracy = result.accuracy
    # horizons of the first two scores dates have closed by the last one; the last has not
    assert set(accuracy["scores_as_of"]) == set(SCORED[:2])
    churn = accuracy[(accuracy["model"] == "churn") & (accuracy["metric"] == "roc_auc")]
    assert churn["realised"].between(0.6, 1).all()
    assert churn["promised"].notna().all()  # from the model version's training run
    clv = accuracy[(accuracy["model"] == "clv") & (accuracy["metric"] == "normalized_gini")]
    assert len(clv) == 2 and clv["promised"].notna().all()
    assert set(result.drifted) >= PLANTED, result.drift.sort_values("psi").tail(10)
    assert result.retrain
    assert any("days old" in r for r in result.reasons)  # trained 184 days before
    # On 3,000 customers the LightGBM CLV model loses to its BTYD baseline on RMSE, so the
    # baseline is the CLV champion (`cvp/models/gate.py`). It reads none of the planted features
    # (short-window spend, channel shares): drift is weighed by what the champions use, so the
    # planted shift is flagged and reported but is not a reason to retrain here. The positive
    # case, a champion that uses the drifted features, is `test_drift_decides_by_importance`.
    clv_champion = tracking_client(settings).get_model_version_by_alias("cvp-clv", "champion")
    assert clv_champion.tags["cvp.promotion.decision"] == "baseline_champion"
    assert not any("features drifted carrying" in r for r in result.reasons), result.reasons
    with get_engine(settings.warehouse_url).connect() as conn:
        stored = read_frame(conn, "SELECT * FROM realised_accuracy")
        drift = read_frame(conn, "SELECT * FROM drift_results")
        decisions = read_frame(conn, "SELECT * FROM monitor_decisions")
    assert len(stored) == len(accuracy)
    assert set(drift.loc[drift["drifted"], "feature"]) >= PLANTED
    assert {"score:churn_probability", "score:clv_expected"} <= set(drift["feature"])
    assert decisions["retrain"].iloc[-1] and json.loads(decisions["reasons"].iloc[-1])
    kpis = result.kpis
    assert {"overall", "country", "acquisition_channel"} <= set(kpis["segment_type"])
    with get_engine(settings.warehouse_url).connect() as conn:
        assert len(read_frame(conn, "SELECT * FROM kpi_monthly")) == len(kpis)
    # the rerun for the same date replaces the accuracy and drift rows
    run_monitor(settings, SCORED[-1])
    with get_engine(settings.warehouse_url).connect() as conn:
        assert len(read_frame(conn, "SELECT * FROM realised_accuracy")) == len(stored)
        assert len(read_frame(conn, "SELECT * FROM drift_results")) == len(drift)


@pytest.mark.usefixtures("prefect_server")
def test_monitor_flow_triggers_the_training_deployment_with_its_reason(history, monkeypatch):
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.utilities.asyncutils import run_coro_as_sync

    from cvp.orchestration.parameters import MonitorParameters
    from flows.monitor import monitor_flow
    from flows.train import train_flow

    settings = history
    export_settings(monkeypatch, settings)
    # without the deployment: the decision is recorded and the line says why nothing started
    missing = monitor_flow(MonitorParameters(as_of=SCORED[-1]))
    assert missing.retrain and missing.triggered.startswith("not triggered: deployment train/train")

    deployment_id = train_flow.to_deployment(name="train").apply()
    result = monitor_flow(MonitorParameters(as_of=SCORED[-1]))
    assert result.triggered.startswith("flow run ")

    async def runs():
        async with get_client() as client:
            return await client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["train"]))
            )

    triggered = run_coro_as_sync(runs())

    async def artifacts():
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["monitoring-decision"]))
            )

    reports = [a.data for a in run_coro_as_sync(artifacts())]
    # the reason in force on this history is the churn champion's age (see the test above)
    assert any(result.triggered in r and "days old" in r for r in reports)
    assert len(triggered) == 1
    run = triggered[0]
    assert run.deployment_id == deployment_id
    assert str(run.id) in result.triggered
    assert run.name.startswith("retrain: ") and "days old" in run.name
    assert {"cvp-monitor", "retrain"} <= set(run.tags)
    assert run.parameters["params"]["as_of"] == SCORED[-1].isoformat()
    with get_engine(settings.warehouse_url).connect() as conn:
        decisions = read_frame(conn, "SELECT * FROM monitor_decisions ORDER BY decided_at")
        audit = read_frame(conn, "SELECT notes FROM audit_log WHERE command = 'monitor'")
    assert decisions["triggered"].iloc[-1] == result.triggered
    assert any(result.triggered in (n or "") for n in audit["notes"])
    reset_settings_cache()


def test_monthly_kpis_reconcile_with_the_raw_tables(settings):
    run_generate(settings, GeneratorConfig(customers=600, seed=4, end=date(2025, 6, 30)))
    from cvp.monitoring.kpis import kpi_series

    with get_engine(settings.warehouse_url).connect() as conn:
        kpis = kpi_series(conn, date(2025, 6, 30), months=12)
        revenue = read_frame(
            conn,
            "SELECT SUM(amount) AS r FROM transactions "
            "WHERE ts >= TIMESTAMP '2025-05-01 00:00:00' AND ts < TIMESTAMP '2025-06-01 00:00:00'",
        )["r"].iloc[0]
    overall = kpis[kpis["segment_type"] == "overall"].pivot(
        index="month", columns="kpi", values="value"
    )
    assert len(overall) == 12 and overall.index.max() == date(2025, 6, 1)
    assert overall.loc[date(2025, 5, 1), "revenue"] == pytest.approx(revenue)
    assert overall["churn_rate"].between(0, 1).all()
    assert (overall["retention_rate"] + overall["churn_rate"]).round(9).eq(1).all()
    assert {"nps", "csat", "complaint_rate", "aov", "active_customers"} <= set(overall.columns)
    # per segment: the countries' active customers add up to the overall count
    country = kpis[(kpis["segment_type"] == "country") & (kpis["kpi"] == "active_customers")]
    assert country.groupby("month")["value"].sum().equals(overall["active_customers"])


def test_fairness_is_in_every_churn_run_and_a_gap_over_the_limit_blocks_promotion(history):

    settings = history
    client = tracking_client(settings)
    first = client.get_run(client.get_model_version("cvp-churn", "1").run_id)
    assert any(k.startswith("fairness_gap_gender_") for k in first.data.metrics)
    assert any(k.startswith("fairness_gap_region_") for k in first.data.metrics)
    assert first.data.tags["cvp.fairness"] == "within limit"
    strict = settings.model_copy(
        update={
            "monitoring": settings.monitoring.model_copy(
                update={"fairness_max_gap": 0.001, "fairness_min_group_size": 20}
            )
        }
    )
    result = run_train(strict, TrainingConfig(as_of=TRAINED, trials=1, targets=("churn",)))
    decision = result.outcomes["churn"].decision
    assert not decision.promoted
    assert "fairness:" in decision.reason and " groups " in decision.reason
    version = client.get_model_version("cvp-churn", decision.version)
    assert "fairness:" in version.tags["cvp.promotion.reason"]
    assert str(client.get_model_version_by_alias("cvp-churn", "champion").version) == "1"
