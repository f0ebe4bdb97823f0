"""Flow: Great Expectations checkpoints over the raw tables."""

from __future__ import annotations

from datetime import date

from prefect import flow

from cvp.validation.runner import ValidationReport
from tasks.data import init_task
from tasks.validation import validate_task


@flow(name="validate", log_prints=True)
def validate_flow(as_of: date | None = None, tables: list[str] | None = None) -> ValidationReport:
    init_task()
    return validate_task(as_of, tables)
