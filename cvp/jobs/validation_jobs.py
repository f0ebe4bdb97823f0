"""`cvp validate`: run the checkpoints, record results, audit and track the run."""

from __future__ import annotations

from datetime import date

import mlflow

from cvp.config import Settings
from cvp.jobs.context import open_job
from cvp.validation.runner import ValidationReport, validate_warehouse

VALIDATION_EXPERIMENT = "validation"


def run_validate(
    settings: Settings, as_of: date | None = None, tables: list[str] | None = None
) -> ValidationReport:
    as_of = as_of or date.today()
    params = {"as_of": as_of.isoformat(), "tables": ",".join(tables or [])}
    with open_job(
        settings, "validate", params, experiment=VALIDATION_EXPERIMENT, as_of=as_of
    ) as job:
        report = validate_warehouse(job.engine, settings, as_of, tables)
        failures = report.failures
        mlflow.log_params(params)
        mlflow.log_metrics(
            {
                "expectations": len(report.results),
                "failed_expectations": len(failures),
                "critical_failures": len(report.critical_failures),
            }
        )
        mlflow.set_tags(
            {
                "cvp.validation.run_id": report.run_id,
                "cvp.validation.passed": str(report.passed).lower(),
            }
        )
        mlflow.log_artifact(str(report.summary_page), artifact_path="data_docs")
        return report
