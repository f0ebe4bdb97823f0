"""The gate training and scoring pass through: validate first, stop on a critical failure
unless explicitly forced, and make any override visible."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.engine import Engine

from cvp.config import Settings
from cvp.validation.runner import ValidationFailed, ValidationReport, validate_warehouse


@dataclass
class GateOutcome:
    report: ValidationReport
    overridden: bool

    def tags(self) -> dict[str, str]:
        """For the job's MLflow run and audit record."""
        failures = self.report.critical_failures
        return {
            "cvp.validation.run_id": self.report.run_id,
            "cvp.validation.passed": str(self.report.passed).lower(),
            "cvp.validation.override": str(self.overridden).lower(),
            "cvp.validation.critical_failures": ";".join(
                f"{r.table_name}.{r.expectation}" for r in failures.itertuples()
            )[:5000],
        }


def gate_date(as_of: date) -> date:
    """The date raw data is validated at for a job on `as_of`: "future" means after the run, not
    after the date being trained or scored; a backfill of an old date legitimately sees later
    rows, which point-in-time features ignore anyway."""
    return max(as_of, date.today())


def validation_gate(
    engine: Engine, settings: Settings, as_of: date, force: bool = False
) -> GateOutcome:
    """Validate (or reuse this process's report on the same data, e.g. the pipeline's validate
    step, or a passed one from the job's date on, e.g. the demo's validate step) and stop on a
    critical failure unless forced."""
    report = validate_warehouse(engine, settings, gate_date(as_of), reuse=True, reuse_since=as_of)
    if not report.passed and not force:
        raise ValidationFailed(
            report.failure_message()
            + "\nFix the data, or rerun with --force-validation to override "
            "(the override is recorded in MLflow and the audit log)."
        )
    return GateOutcome(report, overridden=not report.passed)
