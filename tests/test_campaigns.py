"""Campaign ledger, launch and measurement on generated data with a planted campaign effect."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from cvp.campaigns.jobs import run_campaign_plan, run_launch, run_measure, run_simulate_response
from cvp.campaigns.ledger import CampaignError
from cvp.data.migrate import upgrade_warehouse
from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import dispose_engines, get_engine, read_frame
from cvp.jobs.data_jobs import run_generate
from cvp.jobs.scoring_jobs import run_score
from cvp.jobs.training_jobs import TrainingConfig, run_train
from tests.conftest import make_settings

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
    written = run_launch(settings, "R1")
    assert written == len(again)
    touches = _read(settings, "SELECT * FROM marketing_touches WHERE campaign = 'R1'")
    assert len(touches) == len(again)
    assert touches.set_index("customer_id")["arm"].sort_index().equals(again.sort_index())
    assert touches.loc[touches["arm"] == "control", "cost"].eq(0).all()
    assert run_launch(settings, "R1") == written  # idempotent
    assert len(_read(settings, "SELECT * FROM marketing_touches WHERE campaign = 'R1'")) == written
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
    assert repurchase["ci_low"] <= truth.true_repurchase_uplift <= repurchase["ci_high"]
    assert revenue["ci_low"] <= truth.true_revenue_uplift <= revenue["ci_high"]
    if effect == 0:
        assert truth.true_repurchase_uplift == 0
        assert repurchase["ci_low"] <= 0 <= repurchase["ci_high"]
        assert revenue["ci_low"] <= 0 <= revenue["ci_high"]
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
