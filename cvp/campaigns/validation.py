"""Great Expectations suites for the campaign tables others read (the activation team reads
`campaign_assignments`, the business reads `campaign_results`), run after each write with the
same machinery, result table and severities as the other suites."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cvp.campaigns.store import campaign_assignments, campaign_results
from cvp.config import Settings
from cvp.data.warehouse import read_frame
from cvp.validation.runner import (
    ValidationFailed,
    ValidationReport,
    _one_at_a_time,
    _register,
    _rows,
    _store,
    gx_context,
)
from cvp.validation.suites import add_helper_columns, campaign_checks


def _helpers(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The boolean columns of the cross-column rules (`cvp/data/rules.py`)."""
    return add_helper_columns(table, frame, pd.Series([], dtype="object"))


@_one_at_a_time
def validate_campaign_table(
    engine: Engine, settings: Settings, table: str, campaign: str, as_of: date
) -> ValidationReport:
    """Check one campaign's rows; critical failures raise `ValidationFailed`."""
    target = {"campaign_assignments": campaign_assignments, "campaign_results": campaign_results}[
        table
    ]
    with engine.connect() as conn:
        frame = read_frame(conn, sa.select(target).where(target.c.campaign == campaign))
    checkpoint = _register(gx_context(settings), table, campaign_checks(table))
    outcome = checkpoint.run(batch_parameters={"dataframe": _helpers(table, frame)})
    run_id = uuid.uuid4().hex
    validated_at = datetime.now().replace(microsecond=0)
    rows = [
        r
        for result in outcome.run_results.values()
        for r in _rows(table, result, run_id, validated_at)
    ]
    report = ValidationReport(
        run_id,
        as_of,
        _store(engine, rows, as_of),
        Path(settings.expectations_dir) / "gx",
        Path(settings.expectations_dir) / "data_docs" / "index.html",
        [checkpoint.name],
    )
    if not report.passed:
        raise ValidationFailed(report.failure_message())
    return report
