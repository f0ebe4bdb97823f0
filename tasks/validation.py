"""Thin Prefect task around validation: its summary becomes a markdown artifact."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.artifacts import create_markdown_artifact

from cvp.config import get_settings
from cvp.jobs.validation_jobs import run_validate
from cvp.progress import stage
from cvp.validation.runner import ValidationReport


@task(name="validate")
def validate_task(as_of: date | None, tables: list[str] | None) -> ValidationReport:
    with stage("Validating " + (", ".join(tables) if tables else "the raw tables")):
        report = run_validate(get_settings(), as_of, tables)
    failed = report.failures
    lines = [
        f"# Data validation as of {report.as_of}",
        f"{'PASSED' if report.passed else 'FAILED'}: {len(report.results)} expectations, "
        f"{len(failed)} failed ({len(report.critical_failures)} critical).",
    ]
    if not failed.empty:
        lines += ["", "| table | expectation | severity | unexpected |", "|---|---|---|---|"]
        lines += [
            f"| {r.table_name} | {r.expectation} | {r.severity} | {r.unexpected_count} |"
            for r in failed.itertuples()
        ]
    create_markdown_artifact(key="validation-summary", markdown="\n".join(lines))
    return report
