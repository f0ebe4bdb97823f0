"""The backfill maps the pipeline's own steps over its dates: one order, written once.
Unit checks of the order, and one backfill on a real (temporary) Prefect server."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import get_engine, read_frame
from cvp.jobs.data_jobs import run_generate
from cvp.orchestration.parameters import (
    BACKFILL_ORDER,
    PIPELINE_ORDER,
    BackfillParameters,
    PipelineParameters,
)

pytestmark = pytest.mark.slow  # trains models, runs jobs or the cvp script: not in make test-fast


def test_steps_run_in_the_one_order_whatever_order_they_are_asked_in():
    params = PipelineParameters(steps=["plan", "score", "validate", "train"])
    assert params.ordered_steps() == ["validate", "train", "score", "plan"]
    assert BACKFILL_ORDER == ("train", "features", "score", "plan")
    assert [s for s in PIPELINE_ORDER if s != "validate"] == list(BACKFILL_ORDER)


def test_a_backfill_date_is_a_pipeline_run_of_the_requested_steps():
    params = BackfillParameters(
        start=date(2025, 1, 1),
        end=date(2025, 1, 8),
        targets=["plan", "features", "score"],
        trials=3,
        budget=50.0,
        force=True,
    )
    pipeline = params.pipeline(date(2025, 1, 8))
    assert pipeline.as_of == date(2025, 1, 8)
    assert pipeline.ordered_steps() == ["features", "score", "plan"]
    assert (pipeline.trials, pipeline.budget, pipeline.refresh_features) == (3, 50.0, True)


def _feature_runs(settings) -> pd.Series:
    with get_engine(settings.warehouse_url).connect() as conn:
        audit = read_frame(
            conn,
            "SELECT parameters FROM audit_log WHERE command = 'features' AND status = 'succeeded'",
        )
    return audit["parameters"]


@pytest.mark.usefixtures("prefect_server")
def test_backfill_of_features_runs_skips_and_forces_per_date(env_settings):
    from flows.backfill import backfill_flow

    run_generate(env_settings, GeneratorConfig(customers=400, seed=3))
    params = BackfillParameters(
        start=date(2025, 12, 17),
        end=date(2025, 12, 31),
        every="1w",
        targets=["features"],
        max_concurrency=2,
    )
    first = backfill_flow(params)
    assert [(r["as_of"], r["status"], r["detail"]) for r in first] == [
        ("2025-12-17", "done", "features"),
        ("2025-12-24", "done", "features"),
        ("2025-12-31", "done", "features"),
    ]
    assert len(_feature_runs(env_settings)) == 3
    again = backfill_flow(params)
    assert [r["status"] for r in again] == ["skipped"] * 3
    forced = backfill_flow(params.model_copy(update={"force": True}))
    assert [r["status"] for r in forced] == ["done"] * 3
    assert len(_feature_runs(env_settings)) == 6  # forced: rebuilt, not taken from the cache
