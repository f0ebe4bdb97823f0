"""Flow: the pipeline of one date, validate -> (train) -> features -> score -> plan.

`run_steps` is the one place the steps are called, in the one order of
`cvp.orchestration.parameters.PIPELINE_ORDER`; the daily deployment runs it after `init`, and
the backfill maps it over its dates."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow

from cvp.jobs.training_jobs import TrainingConfig
from cvp.orchestration.parameters import PipelineParameters, PipelineStep, resolve_as_of
from cvp.validation.gate import gate_date
from tasks.data import init_task
from tasks.features import features_task
from tasks.reporting import report_task
from tasks.scoring import plan_task, score_task
from tasks.training import train_task
from tasks.validation import validate_task


def _step(step: PipelineStep, as_of: date, params: PipelineParameters) -> Any:
    steps = params.ordered_steps()
    if step == "validate":
        # the date the jobs' gates validate at, so they reuse this report: validated once
        return validate_task(gate_date(as_of), None)
    if step == "train":
        config = TrainingConfig(
            as_of=as_of, trials=params.trials, force_validation=params.force_validation
        )
        return train_task(config)
    if step == "features":
        return features_task.with_options(refresh_cache=params.refresh_features)(as_of)
    if step == "score":
        return score_task(as_of, params.force_validation, reuse_snapshot="features" in steps)
    return plan_task(as_of, params.budget)


def run_steps(params: PipelineParameters) -> dict[str, Any]:
    """Run the requested steps of one date in order; a summary of what each produced."""
    as_of = resolve_as_of(params.as_of)
    done = {step: _step(step, as_of, params) for step in params.ordered_steps()}
    validation, features = done.get("validate"), done.get("features")
    scored, planned = done.get("score"), done.get("plan")
    return {
        "as_of": as_of,
        "steps": list(done),
        "validation_passed": None if validation is None else validation.passed,
        "customers": None if features is None else features.customers,
        "scored": None if scored is None else len(scored.scores),
        "plan_cost": None if planned is None else planned.cost,
    }


@flow(name="pipeline", log_prints=True)
def pipeline_flow(params: PipelineParameters | None = None) -> dict:
    params = params or PipelineParameters()
    init_task()
    done = run_steps(params)
    if done["scored"] is not None or done["plan_cost"] is not None:  # the page of what changed
        done["report"] = report_task(
            done["as_of"], command="plan" if done["plan_cost"] is not None else "score"
        )
    return done
