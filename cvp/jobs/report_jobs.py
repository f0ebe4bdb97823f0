"""`cvp report` and the report step of the scoring, planning and monitoring flows: write the
page of a scores date, attach it to the job's MLflow run."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from cvp.config import Settings
from cvp.data.schema import audit_log
from cvp.data.warehouse import get_engine
from cvp.experiments.tracking import configure_tracking
from cvp.reports.gather import ReportData, gather_report
from cvp.reports.render import write_report
from cvp.scoring.store import customer_scores

REPORT_ARTIFACT_DIR = "report"
RECENT_JOBS = 50


def report_path(settings: Settings, as_of: date) -> Path:
    """Default place of a date's page: `reports/` beside the expectations folder (the project
    root with the shipped settings, the test's folder in tests)."""
    return Path(settings.expectations_dir).parent / "reports" / f"report-{as_of}.html"


def run_report(
    settings: Settings, as_of: date, out: Path | None = None, customer: str | None = None
) -> tuple[Path, ReportData]:
    """Gather, render and write; `customer` adds that customer's section (typed id, source or
    pseudonymous; only the pseudonym reaches the page)."""
    data = gather_report(settings, as_of, customer)
    return write_report(data, out or report_path(settings, as_of)), data


def latest_scores_date(settings: Settings, on_or_before: date) -> date | None:
    """The newest scores date a report can be written for (monitoring runs on any day)."""
    s = customer_scores.c
    with get_engine(settings.warehouse_url).connect() as conn:
        return conn.execute(sa.select(sa.func.max(s.as_of)).where(s.as_of <= on_or_before)).scalar()


def job_run_id(settings: Settings, command: str, as_of: date) -> str | None:
    """The MLflow run of the newest successful `command` job of the date, from the audit log."""
    log = audit_log.c
    with get_engine(settings.warehouse_url).connect() as conn:
        rows = conn.execute(
            sa.select(log.parameters, log.mlflow_run_id)
            .where(log.command == command, log.status == "succeeded")
            .order_by(log.started_at.desc())
            .limit(RECENT_JOBS)
        ).all()
    for parameters, run_id in rows:
        if run_id and json.loads(parameters or "{}").get("as_of") == as_of.isoformat():
            return str(run_id)
    return None


def attach_report(settings: Settings, path: Path, mlflow_run_id: str) -> None:
    """The page as an artifact of a finished run (by id: Prefect tasks run in worker threads)."""
    configure_tracking(settings).log_artifact(mlflow_run_id, str(path), REPORT_ARTIFACT_DIR)
