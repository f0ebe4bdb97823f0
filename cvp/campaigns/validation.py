"""Great Expectations suites for the campaign tables others read (the activation team reads
`campaign_assignments`, the business reads `campaign_results`), run after each write with the
same machinery, result table and severities as the other suites."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path

import great_expectations.expectations as gxe
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
from cvp.validation.suites import CRITICAL, Check, _between, _flag_false, _in_set, _not_null


def campaign_checks(table: str) -> list[Check]:
    if table == "campaign_assignments":
        return [
            Check(
                "one_row_per_campaign_and_customer",
                CRITICAL,
                lambda: gxe.ExpectCompoundColumnsToBeUnique(
                    column_list=["campaign", "customer_id"]
                ),
            ),
            _in_set("arm", ["treatment", "control"], CRITICAL),
            _between("expected_cost_not_negative", "expected_cost", 0, None, CRITICAL),
            _flag_false("control_arm_has_no_cost", "_control_with_cost"),
            _between("churn_probability_0_to_1", "churn_probability", 0, 1, CRITICAL),
            _not_null("customer_id"),
        ]
    if table == "campaign_results":
        return [
            Check(
                "one_row_per_segment_and_metric",
                CRITICAL,
                lambda: gxe.ExpectCompoundColumnsToBeUnique(
                    column_list=["campaign", "segment_type", "segment", "metric"]
                ),
            ),
            _in_set("metric", ["retention", "repurchase", "revenue"], CRITICAL),
            _in_set("segment_type", ["overall", "risk_tier", "value_tier"], CRITICAL),
            _flag_false("uplift_inside_its_interval", "_uplift_outside_interval"),
            _between("n_treatment_not_negative", "n_treatment", 0, None, CRITICAL),
            _between("n_control_not_negative", "n_control", 0, None, CRITICAL),
        ]
    raise KeyError(f"no campaign suite for {table!r}")


def _helpers(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    if table == "campaign_assignments":
        out["_control_with_cost"] = (out["arm"] == "control") & (out["expected_cost"] > 0)
    if table == "campaign_results":
        tolerance = 1e-9 * (1 + out["uplift"].abs())
        outside = (out["uplift"] < out["ci_low"] - tolerance) | (
            out["uplift"] > out["ci_high"] + tolerance
        )
        out["_uplift_outside_interval"] = outside.fillna(False).astype(bool)
    return out


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
