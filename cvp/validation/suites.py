"""Expectation suites per table, built from the rules in `cvp/data/rules.py`.

Every rule with a severity becomes one Great Expectations expectation carrying the rule's name
and severity. Cross-column and cross-table rules (referential integrity, refunds, resolution
order) are checked on boolean helper columns computed here from the same condition functions the
importer uses, so the suites run on a pandas batch read from DuckDB or PostgreSQL. `critical`
failures stop training and scoring; `warning` ones are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import great_expectations.expectations as gxe
import pandas as pd

from cvp.config import Settings
from cvp.data import rules as data_rules
from cvp.data.rules import CONDITIONS, CRITICAL, WARNING, Rule

__all__ = ["CRITICAL", "WARNING", "Check", "ValidationWindow", "suite_checks", "derived_checks"]


def _class_name(expectation_type: str) -> str:
    return "".join(part.capitalize() for part in expectation_type.split("_"))


@dataclass(frozen=True)
class Check:
    """One expectation of a suite: a rule with its parameters resolved for this run."""

    name: str
    severity: str
    expectation_type: str
    kwargs: dict[str, Any]

    def expectation(self) -> gxe.Expectation:
        expectation = getattr(gxe, _class_name(self.expectation_type))(**self.kwargs)
        expectation.meta = {"name": self.name, "severity": self.severity}
        expectation.description = f"{self.name} ({self.severity})"
        return expectation


@dataclass(frozen=True)
class ValidationWindow:
    """The run date the checks are relative to: no event after it, the newest within N days."""

    as_of_end: datetime
    floor: datetime
    freshness_days: int

    @property
    def freshness_floor(self) -> datetime:
        return self.as_of_end - timedelta(days=self.freshness_days)


def _check(rule: Rule, settings: Any, run: dict[str, Any]) -> Check:
    params = rule.resolved(settings, run)
    for key, value in params.items():  # dates from settings compare as timestamps
        if isinstance(value, date) and not isinstance(value, datetime):
            params[key] = datetime.combine(value, time.min)
    return Check(
        rule.name,
        str(rule.severity),
        data_rules.EXPECTATION_TYPES[rule.kind],
        rule.expectation_kwargs(params),
    )


def suite_checks(table: str, settings: Settings, window: ValidationWindow) -> list[Check]:
    run = {"as_of_end": window.as_of_end, "freshness_floor": window.freshness_floor}
    if table in data_rules.DERIVED_TABLES + data_rules.CAMPAIGN_TABLES:
        raise KeyError(f"no suite for table {table!r}")
    return [_check(rule, settings, run) for rule in data_rules.expectation_rules(table)]


def campaign_checks(table: str) -> list[Check]:
    """Suites for the campaign ledger, checked for one campaign after each write."""
    if table not in data_rules.CAMPAIGN_TABLES:
        raise KeyError(f"no campaign suite for {table!r}")
    return [_check(rule, None, {}) for rule in data_rules.expectation_rules(table)]


def derived_checks(table: str, expected_rows: int) -> list[Check]:
    """Suites for tables the platform writes, checked for one as_of after each write."""
    if table not in data_rules.DERIVED_TABLES:
        raise KeyError(f"no derived suite for {table!r}")
    run = {"expected_rows": expected_rows}
    return [_check(rule, None, run) for rule in data_rules.expectation_rules(table)]


def add_helper_columns(table: str, frame: pd.DataFrame, known_customers: pd.Series) -> pd.DataFrame:
    """Boolean columns for the rules a single-column expectation cannot express."""
    out = frame.copy()
    for rule in data_rules.expectation_rules(table):
        if rule.kind == "known_customer":
            out[rule.helper_column] = ~out["customer_id"].isin(known_customers)
        elif rule.kind == "condition":
            out[rule.helper_column] = CONDITIONS[rule.params["condition"]](out)
    return out
