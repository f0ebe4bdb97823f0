"""The Prefect artifacts carry what their reader acts on, read back from a real (temporary)
Prefect server after the score and plan flows ran on the session's trained warehouse."""

from __future__ import annotations

import json
import re
from datetime import date

import pandas as pd
import pytest

from cvp.actions.plan_summary import plan_breakdown
from cvp.config import reset_settings_cache
from cvp.data.warehouse import get_engine, read_frame
from tests.conftest import TEST_KEY

FIRST, SECOND = date(2025, 11, 30), date(2025, 12, 31)


def test_plan_breakdown_by_action_and_channel():
    plan = pd.DataFrame(
        {
            "arm": ["treatment", "treatment", "control", "treatment"],
            "next_best_action": ["winback_offer", "winback_offer", "winback_offer", "cross_sell"],
            "channel": ["email", "email", "email", "email"],
            "cost": [8.0, 8.0, 0.0, 1.0],
            "expected_saved_value": [30.0, 10.0, 0.0, 5.0],
        }
    )
    got = plan_breakdown(plan).set_index("action")
    assert list(got.index) == ["winback_offer", "cross_sell", "total"]  # most saved value first
    assert got.loc["winback_offer", ["customers", "cost", "control"]].tolist() == [2, 16.0, 1]
    assert got.loc["total", ["customers", "cost", "expected_saved_value", "control"]].tolist() == [
        3,
        17.0,
        45.0,
        1,
    ]
    assert plan_breakdown(plan.iloc[0:0]).loc[0, "customers"] == 0


def _artifact(key: str, flow_run_id) -> object:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[key]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
            )
        )
    assert len(found) == 1, (key, found)
    return found[0].data


@pytest.fixture
def trained_env(trained_warehouse, monkeypatch):
    settings, _ = trained_warehouse
    monkeypatch.setenv("CVP_WAREHOUSE_URL", settings.warehouse_url)
    monkeypatch.setenv("CVP_MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    monkeypatch.setenv("CVP_MLFLOW_ARTIFACT_ROOT", str(settings.mlflow_artifact_root))
    monkeypatch.setenv("CVP_EXPECTATIONS_DIR", str(settings.expectations_dir))
    monkeypatch.setenv("CVP_PSEUDONYM_KEY", TEST_KEY)
    reset_settings_cache()
    yield settings
    reset_settings_cache()


@pytest.mark.usefixtures("prefect_server")
def test_scoring_and_plan_artifacts(trained_env):
    from cvp.scoring.summary import alert_line
    from flows.plan import plan_flow
    from flows.score import score_flow
    from flows.validate import validate_flow

    score_flow(FIRST)
    state = score_flow(SECOND, return_state=True)
    result = state.result()
    summary = _artifact("scoring-summary", state.state_details.flow_run_id)
    # the alert count is the one `cvp score` prints for the run, with the date compared with
    line = alert_line(result)
    assert line in summary and f"since the scores of {FIRST}" in line
    assert int(line.split()[0].replace(",", "")) == len(result.alerts)
    # top 10: pseudonymous ids, largest expected loss first, the same as the stored scores
    table = summary.split("**Largest expected loss**", 1)[1]
    rows = [r for r in table.splitlines() if r.startswith("| c_")]
    ids = [r.split("|")[1].strip() for r in rows]
    losses = [float(r.split("|")[2].strip().replace(",", "")) for r in rows]
    assert len(ids) == 10 and losses == sorted(losses, reverse=True)
    with get_engine(trained_env.warehouse_url).connect() as conn:
        stored = read_frame(
            conn,
            f"SELECT customer_id, expected_loss FROM customer_scores WHERE as_of = DATE '{SECOND}'",
        )
    top = stored.sort_values(["expected_loss", "customer_id"], ascending=[False, True]).head(10)
    assert ids == list(top["customer_id"])

    plan_state = plan_flow(SECOND, 2_000.0, return_state=True)
    totals = plan_state.result()
    data = _artifact("retention-plan", plan_state.state_details.flow_run_id)
    plan = pd.DataFrame(json.loads(data) if isinstance(data, str) else data)
    assert {"action", "channel", "customers", "cost", "expected_saved_value", "control"} <= set(
        plan.columns
    )
    total = plan.set_index("action").loc["total"]
    assert total["customers"] == totals.reach and total["control"] == totals.control
    assert total["cost"] == pytest.approx(totals.cost, abs=0.01)
    assert len(plan) >= 2  # at least one action row and the total

    validation_state = validate_flow(SECOND, return_state=True)
    markdown = _artifact("validation-summary", validation_state.state_details.flow_run_id)
    assert "| transactions |" in markdown and "| customers |" in markdown
    link = re.search(r"\]\((file://[^)]+)\)", markdown)
    assert link and link.group(1).endswith("/data_docs/index.html")
