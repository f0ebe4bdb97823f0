"""Thin Prefect task writing the report of a scores date: the page is attached to the job's
MLflow run and linked from a Prefect artifact."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact

from cvp.config import get_settings
from cvp.jobs.report_jobs import attach_report, job_run_id, latest_scores_date, run_report
from cvp.progress import stage


@task(name="report")
def report_task(
    as_of: date, command: str | None = None, mlflow_run_id: str | None = None
) -> Path | None:
    """The report of the newest scores date up to `as_of`, attached to `mlflow_run_id` or to
    the run of the newest successful `command` job of that date. None when nothing is scored."""
    settings = get_settings()
    scores_date = latest_scores_date(settings, as_of)
    if scores_date is None:
        create_markdown_artifact(
            key="report", markdown=f"No report: no scores up to {as_of} (`cvp score` first)."
        )
        return None
    with stage(f"Writing the report of {scores_date}"):
        path, data = run_report(settings, scores_date)
    run_id = mlflow_run_id or (job_run_id(settings, command, scores_date) if command else None)
    if run_id:
        attach_report(settings, path, run_id)
    h = data.headline
    create_link_artifact(
        key="report",
        link=path.resolve().as_uri(),
        link_text=f"Report of {scores_date} (open in a browser; works offline)",
        description=(
            f"{h.customers_scored:,} customers scored, {100 * h.high_risk_share:.1f}% of the retainable high risk, "
            f"expected loss {h.expected_loss:,.0f}"
            + (f", plan cost {h.plan_cost:,.0f}" if h.plan_cost is not None else ", no plan yet")
            + (f"; also in MLflow run {run_id} under report/" if run_id else "")
        ),
    )
    return path
