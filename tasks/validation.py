"""Thin Prefect task around validation: its summary becomes a markdown artifact that links to
the validation page."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.artifacts import create_markdown_artifact

from cvp.config import Settings, get_settings
from cvp.jobs.validation_jobs import run_validate
from cvp.progress import stage
from cvp.validation.runner import ValidationReport, gx_context
from cvp.validation.summary_page import observed_text, suite_thresholds


def validation_markdown(report: ValidationReport, settings: Settings) -> str:
    """Per table: expectations, critical failures, warnings; then every failed expectation
    with what it expected and what it observed; and where the page is."""
    results, failed = report.results, report.failures
    lines = [
        f"# Data validation as of {report.as_of}",
        f"**{'PASSED' if report.passed else 'FAILED'}**: {len(results)} expectations, "
        f"{len(failed)} failed ({len(report.critical_failures)} critical).",
        "",
        "| table | expectations | critical failures | warnings |",
        "|---|---|---|---|",
    ]
    for table, rows in results.groupby("table_name", sort=False):
        bad = rows[~rows["success"].astype(bool)]
        critical = int((bad["severity"] == "critical").sum())
        lines.append(f"| {table} | {len(rows)} | {critical} | {len(bad) - critical} |")
    if not failed.empty:
        context = gx_context(settings)
        thresholds = {t: suite_thresholds(context, t) for t in failed["table_name"].unique()}
        lines += [
            "",
            "| table | expectation | severity | expected | observed | unexpected rows |",
            "|---|---|---|---|---|---|",
        ]
        for r in failed.itertuples():
            expected = thresholds[r.table_name].get(r.expectation, "")
            count = "" if r.unexpected_count != r.unexpected_count else r.unexpected_count
            lines.append(
                f"| {r.table_name} | {r.expectation} | {r.severity} | {_cell(expected)} "
                f"| {_cell(observed_text(r.observed_value))} | {count} |"
            )
    page = report.summary_page.resolve()
    lines += [
        "",
        f"Validation page (every suite's latest run): [{page}]({page.as_uri()}); "
        f"Great Expectations Data Docs: `{report.data_docs.resolve()}`",
    ]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


@task(name="validate")
def validate_task(as_of: date | None, tables: list[str] | None) -> ValidationReport:
    settings = get_settings()
    with stage("Validating " + (", ".join(tables) if tables else "the raw tables")):
        report = run_validate(settings, as_of, tables)
    create_markdown_artifact(
        key="validation-summary",
        markdown=validation_markdown(report, settings),
        description=f"Data validation as of {report.as_of}",
    )
    return report
