"""Flow: score every customer with the champion models."""

from __future__ import annotations

from datetime import date

from prefect import flow

from cvp.scoring.score import ScoreResult
from tasks.data import init_task
from tasks.reporting import report_task
from tasks.scoring import score_task


@flow(name="score", log_prints=True)
def score_flow(as_of: date, force_validation: bool = False) -> ScoreResult:
    init_task()
    result = score_task(as_of, force_validation)
    report_task(as_of, command="score")
    return result
