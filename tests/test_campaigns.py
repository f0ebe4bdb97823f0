"""Campaign ledger, launch and measurement on generated data with a planted campaign effect."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from cvp.campaigns.jobs import run_campaign_plan, run_launch, run_measure, run_simulate_response
from cvp.campaigns.ledger import CampaignError
from cvp.campaigns.measure import uplift_interval
from cvp.data import schema
from cvp.data.migrate import upgrade_warehouse
from cvp.data.synthetic import GeneratorConfig, campaign_response
from cvp.data.warehouse import dispose_engines, get_engine, read_frame, write_frame
from cvp.jobs.data_jobs import run_generate
from cvp.jobs.scoring_jobs import run_score
from cvp.jobs.training_jobs import TrainingConfig, run_train
from cvp.scoring.store import customer_scores
from tests.conftest import CVP, cvp_env, make_settings

pytestmark = pytest.mark.slow  # trains models, runs jobs or the cvp script: not in make test-fast

SCORED = date(2025, 12, 31)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("campaigns")
    settings = make_settings(root, f"duckdb:///{root / 'warehouse.duckdb'}")
    upgrade_warehouse(get_engine(settings.warehouse_url))
    run_generate(settings, GeneratorConfig(customers=3_000, seed=11))
    run_train(settings, TrainingConfig(as_of=SCORED, trials=2))
    run_score(settings, SCORED)
    yield settings
    dispose_engines()


def _read(settings, sql: str):
    with get_engine(settings.warehouse_url).connect() as conn:
        return read_frame(conn, sql)


def test_replan_keeps_every_arm_and_launch_writes_touches(scored):
    settings = scored
    first = run_campaign_plan(settings, "R1", SCORED, budget=400.0, control_share=0.3)
    arms = first.assignments.set_index("customer_id")["arm"]
    assert {"treatment", "control"} == set(arms)
    assert first.totals.cost <= 400.0
    # a bigger budget adds customers; a different control share is ignored (design is fixed)
    second = run_campaign_plan(settings, "R1", SCORED, budget=900.0, control_share=0.9)
    again = second.assignments.set_index("customer_id")["arm"]
    assert second.replanned and second.kept_arms == len(arms) < len(again)
    assert again.loc[arms.index].eq(arms).all()
    stored = _read(settings, "SELECT * FROM campaigns WHERE campaign = 'R1'")
    assert stored["control_share"].iloc[0] == pytest.approx(0.3)
    assert stored["budget"].iloc[0] == 900.0 and stored["status"].iloc[0] == "planned"
    launched = run_launch(settings, "R1")
    treated = int(again.eq("treatment").sum())
    assert (launched.contacts, launched.treatment, launched.control) == (
        treated,
        treated,
        len(again) - treated,
    )
    assert launched.touched_control == launched.untouched_treatment == 0
    touches = _read(settings, "SELECT * FROM marketing_touches WHERE campaign = 'R1'")
    assert len(touches) == len(again)
    assert touches.set_index("customer_id")["arm"].sort_index().equals(again.sort_index())
    assert touches.loc[touches["arm"] == "control", "cost"].eq(0).all()
    assert run_launch(settings, "R1") == launched  # idempotent
    assert len(_read(settings, "SELECT * FROM marketing_touches WHERE campaign = 'R1'")) == len(
        again
    )
    with pytest.raises(CampaignError, match="already launched"):
        run_campaign_plan(settings, "R1", SCORED, budget=100.0)
    with pytest.raises(CampaignError, match="outcome window ends"):
        run_measure(settings, "R1", as_of=date(2026, 1, 15))


@pytest.mark.parametrize(
    ("name", "effect", "launch"),
    [("C1", 0.35, date(2026, 1, 1)), ("C0", 0.0, date(2026, 6, 1))],
)
def test_measured_uplift_covers_the_planted_effect(scored, name, effect, launch):
    settings = scored
    run_campaign_plan(settings, name, SCORED, budget=1e9, control_share=0.5)
    run_launch(settings, name, launch)
    truth = run_simulate_response(settings, name, effect=effect, seed=3)
    measured = run_measure(settings, name, as_of=date(2026, 11, 1))
    repurchase = measured.overall("repurchase")
    revenue = measured.overall("revenue")
    assert repurchase["n_treatment"] > 100 and repurchase["n_control"] > 100
    # one seeded draw: the 95% interval misses the truth in 1 draw of 20 by design (the
    # coverage itself is tested below over many draws); here the truth must lie within the
    # 99.9% band around the estimate, which a broken measurement would leave
    for row, planted in (
        (repurchase, truth.true_repurchase_uplift),
        (revenue, truth.true_revenue_uplift),
    ):
        half = (row["ci_high"] - row["ci_low"]) / 2
        assert abs(row["uplift"] - planted) <= half * 3.29 / 1.96, (row, planted)
    if effect == 0:
        assert truth.true_repurchase_uplift == truth.true_revenue_uplift == 0
        # nothing is "found" where nothing was planted: zero lies in the 99.9% band (the loop
        # above). The 95% interval excludes it in one seeded draw of 20 by design: with the
        # models of December 2026 this draw is one (repurchase interval 0.018 to 0.18), while
        # six other draws of arms and outcomes all covered zero; coverage is tested below.
    else:
        assert repurchase["ci_low"] > 0  # a planted effect of this size is found
        assert revenue["incremental_revenue"] == pytest.approx(
            revenue["uplift"] * revenue["n_treatment"]
        )
        assert revenue["roi"] == pytest.approx(
            (revenue["incremental_revenue"] - revenue["cost"]) / revenue["cost"]
        )
    stored = _read(settings, f"SELECT * FROM campaign_results WHERE campaign = '{name}'")
    assert set(stored["segment_type"]) == {"overall", "risk_tier", "value_tier"}
    overall = stored[stored["segment_type"] == "overall"]
    assert set(overall["metric"]) == {"retention", "repurchase", "revenue"}
    # segment counts reconcile with the overall counts
    for segment_type in ("risk_tier", "value_tier"):
        part = stored[(stored["segment_type"] == segment_type) & (stored["metric"] == "revenue")]
        assert part["n_treatment"].sum() == revenue["n_treatment"]
        assert part["n_control"].sum() == revenue["n_control"]
    with get_engine(settings.warehouse_url).connect() as conn:
        status = conn.execute(
            sa.text(f"SELECT status FROM campaigns WHERE campaign = '{name}'")
        ).scalar_one()
    assert status == "measured"


def _fake_scores(conn, as_of: date, seed: int = 0) -> pd.DataFrame:
    """customer_scores rows without a model: enough for the ledger on either backend."""
    ids = read_frame(conn, "SELECT customer_id FROM customers ORDER BY customer_id")["customer_id"]
    rng = np.random.default_rng(seed)
    n = len(ids)
    p = rng.uniform(0.05, 0.95, n)
    frame = pd.DataFrame(
        {
            "as_of": as_of,
            "customer_id": ids,
            "churn_model_version": "1",
            "clv_model_version": "1",
            "feature_set_version": "test",
            "churn_probability": p,
            "risk_tier": np.where(p >= 0.6, "high", np.where(p >= 0.3, "medium", "low")),
            "clv_expected": 50.0,
            "clv_lifetime": 200.0,
            "value_index": 50.0,
            "value_tier": rng.choice(["high", "medium", "low"], n),
            "rfm_r": 3,
            "rfm_f": 3,
            "rfm_m": 3,
            "rfm_segment": "loyal",
            "lifecycle_stage": "active",
            "top_reasons": "",
            "reason_families": "value",
            "next_best_action": "loyalty_points",
            "channel": "email",
            "incentive": "points",
            "action_cost": 2.0,
            "save_rate": 0.2,
            "expected_loss": p * 200.0,
            "expected_saved_value": p * 200.0 * 0.2 - 2.0,
            "priority_rank": np.arange(1, n + 1),
            "in_control_group": False,
            "marketing_consent": True,
            "next_purchase_date": None,
            "scored_at": datetime(2026, 1, 1),
        }
    )
    write_frame(conn, customer_scores, frame)
    return frame


def test_ledger_launch_and_measurement_on_both_backends(settings):
    run_generate(settings, GeneratorConfig(customers=800, seed=2, end=date(2025, 6, 30)))
    day = date(2025, 6, 30)
    with get_engine(settings.warehouse_url).begin() as conn:
        _fake_scores(conn, day)
    plan = run_campaign_plan(settings, "P1", day, budget=10_000.0, control_share=0.5)
    arms = plan.assignments.set_index("customer_id")["arm"]
    again = run_campaign_plan(settings, "P1", day, budget=10_000.0).assignments
    assert again.set_index("customer_id")["arm"].loc[arms.index].eq(arms).all()
    assert run_launch(settings, "P1").treatment + run_launch(settings, "P1").control == len(arms)
    truth = run_simulate_response(settings, "P1", effect=0.5, seed=1)
    measured = run_measure(settings, "P1", as_of=date(2025, 12, 31))
    repurchase = measured.overall("repurchase")
    assert repurchase["n_treatment"] + repurchase["n_control"] == len(arms)
    assert repurchase["ci_low"] <= truth.true_repurchase_uplift <= repurchase["ci_high"]
    checks = _read(
        settings,
        "SELECT table_name, success FROM validation_results "
        "WHERE table_name IN ('campaign_assignments', 'campaign_results')",
    )
    assert set(checks["table_name"]) == {"campaign_assignments", "campaign_results"}
    assert checks["success"].all()


def test_cli_refuses_with_one_line_before_any_flow(scored, tmp_path):
    import subprocess

    env = cvp_env(scored, tmp_path)
    run_campaign_plan(scored, "K9", SCORED, budget=300.0)
    run_launch(scored, "K9")
    run_campaign_plan(scored, "K8", SCORED, budget=300.0)
    dispose_engines()  # DuckDB: one process holds the file
    for args, message in [
        (["launch", "NOPE"], "no campaign NOPE: plan it with `cvp plan --campaign NOPE"),
        (["launch", "K8", "--imported"], "no contacts with campaign = K8 in marketing_touches"),
        (["measure", "K9", "--as-of", "2026-01-15"], "outcome window ends"),
        (["plan", "--campaign", "K9", "--as-of", "2025-12-31", "--budget", "5"], "already"),
    ]:
        out = subprocess.run(
            [CVP, *args], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert out.returncode == 1, out.stderr
        assert message in out.stdout and "Traceback" not in out.stdout + out.stderr
    env["CVP_MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'empty.db'}"
    env["CVP_MLFLOW_ARTIFACT_ROOT"] = str(tmp_path / "artifacts")
    out = subprocess.run(
        [CVP, "monitor", "--as-of", "2026-01-31"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 1 and "no champion models to monitor" in out.stdout


def test_imported_touches_are_reconciled_and_measured_as_assigned(scored):
    """A channel system's touches for T1 (imported into marketing_touches): 5 treatment
    customers dropped, 3 control customers contacted, 4 customers outside the campaign."""
    settings = scored
    plan = run_campaign_plan(settings, "T1", SCORED, budget=1_500.0, control_share=0.3)
    arms = plan.assignments.set_index("customer_id")["arm"]
    treated, control = arms.index[arms == "treatment"], arms.index[arms == "control"]
    everyone = _read(settings, "SELECT customer_id FROM customers ORDER BY customer_id")
    outside = [c for c in everyone["customer_id"] if c not in arms.index][:4]
    with pytest.raises(CampaignError, match="no contacts with campaign = T1"):
        run_launch(settings, "T1", imported=True)
    sent = [*treated[5:], *control[:3], *outside]
    touches = pd.DataFrame(
        {
            "touch_id": [f"ext{i:05d}" for i in range(len(sent))],
            "customer_id": sent,
            "ts": datetime(2026, 1, 2, 10, 30),
            "campaign": "T1",
            "arm": "treatment",  # what the channel system believes; the ledger decides
            "channel": "email",
            "offer": "10pct",
            "cost": 2.0,
            "responded": pd.array([None] * len(sent), dtype="boolean"),
        }
    )
    with get_engine(settings.warehouse_url).begin() as conn:
        write_frame(conn, schema.marketing_touches, touches)
    launched = run_launch(settings, "T1", imported=True)
    assert launched.contacts == len(sent)
    assert (launched.untouched_treatment, launched.touched_control, launched.touched_outside) == (
        5,
        3,
        4,
    )
    assert launched.outside_cost == pytest.approx(8.0)
    assert launched.contamination == pytest.approx(3 / len(control))
    lines = " ".join(launched.lines())
    assert "contamination: 3 of" in lines and "5 treatment customers were never contacted" in lines
    row = _read(settings, "SELECT * FROM campaigns WHERE campaign = 'T1'").iloc[0]
    assert row["status"] == "launched" and row["launch_date"] == date(2026, 1, 2)
    assert (row["touched_control"], row["untouched_treatment"], row["touched_outside"]) == (3, 5, 4)
    # launched on the imported touches: none were added or replaced
    assert len(_read(settings, "SELECT * FROM marketing_touches WHERE campaign = 'T1'")) == len(
        sent
    )
    run_simulate_response(settings, "T1", effect=0.3, seed=5)
    measured = run_measure(settings, "T1", as_of=date(2026, 11, 1))
    repurchase = measured.overall("repurchase")
    # intention to treat: the uncontacted stay treated, the contacted controls stay controls
    assert (repurchase["n_treatment"], repurchase["n_control"]) == (len(treated), len(control))
    assert measured.touches == launched


@pytest.mark.parametrize("effect", [0.35, 0.0])
def test_uplift_interval_covers_the_planted_effect_in_95_of_100_draws(effect):
    """The generator's response model and the measurement's Welch interval, over 400 seeded
    draws of 600 randomised customers: the 95% interval covers the planted repurchase uplift
    about 95% of the time, and with nothing planted it contains 0 as often."""
    rng = np.random.default_rng(5)
    n = 600
    assignments = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "arm": np.where(rng.random(n) < 0.5, "treatment", "control"),
            "churn_probability": rng.uniform(0.2, 0.9, n),
            "spend_mean": rng.gamma(3.0, 20.0, n),
        }
    )
    covered = 0
    draws = 400
    for seed in range(draws):  # the arms are redrawn each time, as each campaign draws its own
        arms = np.random.default_rng(1000 + seed).random(n) < 0.5
        assignments["arm"] = np.where(arms, "treatment", "control")
        truth = campaign_response(assignments, date(2026, 1, 1), 90, effect, seed)
        bought = assignments["customer_id"].isin(truth.transactions["customer_id"]).to_numpy()
        treated = assignments["arm"].eq("treatment").to_numpy()
        _, low, high, _ = uplift_interval(
            bought[treated].astype(float), bought[~treated].astype(float), 0.95
        )
        covered += low <= truth.true_repurchase_uplift <= high
    assert 0.92 <= covered / draws <= 0.98
