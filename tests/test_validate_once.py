"""Raw data is validated once per run: a job's gate reuses the report of a validation that ran in
the same process on the same data (the pipeline's validate step), and validates again when the
data changed. Real warehouse and real GX."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from cvp.data import schema
from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import get_engine, read_frame
from cvp.jobs.data_jobs import run_generate
from cvp.validation.gate import gate_date, validation_gate
from cvp.validation.runner import validate_warehouse

pytestmark = pytest.mark.slow  # trains models, runs jobs or the cvp script: not in make test-fast

AS_OF = date(2025, 12, 31)


def _validation_runs(engine) -> int:
    with engine.connect() as conn:
        runs = read_frame(conn, "SELECT DISTINCT run_id FROM validation_results")
    return len(runs)


def test_the_gate_reuses_a_report_on_the_same_data_and_revalidates_after_a_change(settings):
    run_generate(settings, GeneratorConfig(customers=400, seed=2))
    engine = get_engine(settings.warehouse_url)
    step = validate_warehouse(engine, settings, gate_date(AS_OF))  # the pipeline's validate step
    gate = validation_gate(engine, settings, AS_OF, force=True)  # the score job's gate
    assert gate.report.run_id == step.run_id
    assert _validation_runs(engine) == 1

    with engine.begin() as conn:  # new data: the next gate must look at it
        first = conn.execute(sa.select(schema.transactions.c.transaction_id).limit(1)).scalar()
        conn.execute(
            sa.delete(schema.transactions).where(schema.transactions.c.transaction_id == first)
        )
    again = validation_gate(engine, settings, AS_OF, force=True)
    assert again.report.run_id != step.run_id
    assert _validation_runs(engine) == 2


def test_the_gate_reuses_a_passed_report_of_the_jobs_own_date(settings):
    """The demo validates as of its last day, then trains and scores that day: the gate takes
    that report instead of validating again as of today, so the page shows the demo's date."""
    run_generate(settings, GeneratorConfig(customers=400, seed=2))
    engine = get_engine(settings.warehouse_url)
    step = validate_warehouse(engine, settings, AS_OF)  # the demo's validate step
    assert step.passed and gate_date(AS_OF) > AS_OF
    gate = validation_gate(engine, settings, AS_OF)
    assert gate.report.run_id == step.run_id and _validation_runs(engine) == 1
    page = step.summary_page.read_text()
    assert f"as of {AS_OF}" in page and f"as of {date.today()}" not in page
    # a later job date is not covered by a report of an earlier date
    later = validation_gate(engine, settings, date(2026, 1, 15), force=True)
    assert later.report.run_id != step.run_id and _validation_runs(engine) == 2
