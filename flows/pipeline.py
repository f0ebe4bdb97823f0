"""Flow: the daily pipeline, validate -> features -> score -> plan, for one date."""

from __future__ import annotations

from prefect import flow

from cvp.orchestration.parameters import PipelineParameters, resolve_as_of
from tasks.data import init_task
from tasks.features import features_task
from tasks.scoring import plan_task, score_task
from tasks.validation import validate_task


@flow(name="pipeline", log_prints=True)
def pipeline_flow(params: PipelineParameters | None = None) -> dict:
    params = params or PipelineParameters()
    as_of = resolve_as_of(params.as_of)
    init_task()
    validation = validate_task(as_of, None)
    features = features_task(as_of)
    scored = score_task(as_of, params.force_validation, reuse_snapshot=True)
    planned = plan_task(as_of, params.budget)
    return {
        "as_of": as_of,
        "validation_passed": validation.passed,
        "customers": features.customers,
        "scored": len(scored.scores),
        "plan_cost": planned.cost,
    }
