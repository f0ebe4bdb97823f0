"""`cvp validate`: run the checkpoints, record results, audit and track the run."""

from __future__ import annotations

from datetime import date

import mlflow

from cvp.audit import audited
from cvp.config import Settings
from cvp.data.fingerprint import warehouse_fingerprint
from cvp.data.warehouse import get_engine
from cvp.experiments.tracking import tracked_run
from cvp.validation.runner import ValidationReport, validate_warehouse

VALIDATION_EXPERIMENT = "validation"


def run_validate(
    settings: Settings, as_of: date | None = None, tables: list[str] | None = None
) -> ValidationReport:
    engine = get_engine(settings.warehouse_url)
    as_of = as_of or date.today()
    params = {"as_of": as_of.isoformat(), "tables": ",".join(tables or [])}
    with (
        audited(engine, "validate", settings.operator, params) as audit,
        tracked_run(
            settings, VALIDATION_EXPERIMENT, f"validate {as_of}", {"cvp.command": "validate"}
        ) as run,
    ):
        audit.mlflow_run_id = run.info.run_id
        with engine.connect() as conn:
            audit.data_fingerprint, _ = warehouse_fingerprint(conn)
        report = validate_warehouse(engine, settings, as_of, tables)
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
