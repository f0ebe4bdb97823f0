"""One backfill date: the pipeline's steps for it, skipped when already done for the same data
and model versions. Each job keeps its own transaction, audit row and MLflow run, so a failed
date leaves the dates before it untouched. The steps themselves are the pipeline's
(`flows/pipeline.py`), passed in, so their order is written once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cvp.config import Settings
from cvp.data import schema
from cvp.data.fingerprint import warehouse_fingerprint
from cvp.data.warehouse import get_engine
from cvp.experiments.tracking import configure_tracking
from cvp.features.build import feature_set_version
from cvp.orchestration.parameters import BackfillParameters, PipelineParameters
from cvp.scoring.score import champion_versions


@dataclass
class DateOutcome:
    """One row of the backfill table artifact."""

    as_of: date
    status: str  # done | skipped | failed
    customers_scored: int | None
    duration_s: float
    detail: str = ""

    def row(self) -> dict[str, Any]:
        return {**asdict(self), "as_of": self.as_of.isoformat()}


def _succeeded_runs(engine: Engine, command: str) -> list[dict[str, Any]]:
    log = schema.audit_log
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(log.c.parameters, log.c.data_fingerprint, log.c.model_versions).where(
                log.c.command == command, log.c.status == "succeeded"
            )
        ).all()
    return [
        {
            "parameters": json.loads(r.parameters or "{}"),
            "data_fingerprint": r.data_fingerprint,
            "model_versions": json.loads(r.model_versions or "{}"),
        }
        for r in rows
    ]


def job_done(
    engine: Engine,
    command: str,
    as_of: date,
    fingerprint: str,
    parameters: dict[str, Any] | None = None,
    model_versions: dict[str, str] | None = None,
) -> bool:
    """A succeeded audit row for this command and date on the same data (and, where given, the
    same parameters and model versions)."""
    wanted = {"as_of": as_of.isoformat(), **(parameters or {})}
    for run in _succeeded_runs(engine, command):
        if run["data_fingerprint"] != fingerprint:
            continue
        if any(run["parameters"].get(k) != v for k, v in wanted.items()):
            continue
        if model_versions is not None and run["model_versions"] != model_versions:
            continue
        return True
    return False


def date_done(settings: Settings, params: BackfillParameters, as_of: date) -> bool:
    """Every requested job of this date already succeeded on the current data and models."""
    engine = get_engine(settings.warehouse_url)
    with engine.connect() as conn:
        fingerprint, _ = warehouse_fingerprint(conn)
    checks = {
        "train": lambda: job_done(engine, "train", as_of, fingerprint, {"trials": params.trials}),
        "features": lambda: job_done(
            engine,
            "features",
            as_of,
            fingerprint,
            {"feature_set_version": feature_set_version()},
        ),
        "score": lambda: job_done(
            engine,
            "score",
            as_of,
            fingerprint,
            model_versions=champion_versions(configure_tracking(settings)),
        ),
        "plan": lambda: job_done(engine, "plan", as_of, fingerprint, {"budget": params.budget}),
    }
    return all(checks[target]() for target in params.ordered_targets())


def run_backfill_date(
    settings: Settings,
    params: BackfillParameters,
    as_of: date,
    run_pipeline: Callable[[PipelineParameters], dict[str, Any]],
) -> DateOutcome:
    """One date: skipped when already done, else the pipeline's steps for it (`run_pipeline`,
    the same steps the daily pipeline runs); raises on failure so the caller can retry."""
    started = time.perf_counter()
    if not params.force and date_done(settings, params, as_of):
        return DateOutcome(
            as_of, "skipped", None, 0.0, "already done for these data and model versions"
        )
    summary = run_pipeline(params.pipeline(as_of))
    return DateOutcome(
        as_of,
        "done",
        summary["scored"],
        round(time.perf_counter() - started, 1),
        ", ".join(summary["steps"]),
    )
