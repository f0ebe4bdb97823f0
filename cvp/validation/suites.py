"""Expectation suites per raw table, with a name and a severity for every expectation.

Cross-column and cross-table rules (referential integrity, refunds, resolution order) become
boolean helper columns computed before validation, so the same suites run on a pandas batch read
from DuckDB or PostgreSQL. `critical` failures stop training and scoring; `warning` ones are reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import great_expectations.expectations as gxe
import pandas as pd

from cvp.config import Settings

CRITICAL = "critical"
WARNING = "warning"


@dataclass(frozen=True)
class Check:
    name: str
    severity: str
    build: Callable[[], gxe.Expectation]

    def expectation(self) -> gxe.Expectation:
        expectation = self.build()
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


def _columns(table: str, required: list[str]) -> Check:
    return Check(
        f"{table}_required_columns",
        CRITICAL,
        lambda: gxe.ExpectTableColumnsToMatchSet(column_set=required, exact_match=False),
    )


def _not_null(column: str) -> Check:
    return Check(
        f"{column}_not_null", CRITICAL, lambda: gxe.ExpectColumnValuesToNotBeNull(column=column)
    )


def _unique(column: str) -> Check:
    return Check(
        f"{column}_unique", CRITICAL, lambda: gxe.ExpectColumnValuesToBeUnique(column=column)
    )


def _flag_false(name: str, column: str, severity: str = CRITICAL) -> Check:
    return Check(
        name, severity, lambda: gxe.ExpectColumnValuesToBeInSet(column=column, value_set=[False])
    )


def _known_customer() -> Check:
    return _flag_false("customer_id_references_customers", "_unknown_customer")


def _time_checks(column: str, window: ValidationWindow, freshness: bool) -> list[Check]:
    checks = [
        Check(
            f"{column}_not_in_future",
            CRITICAL,
            lambda: gxe.ExpectColumnValuesToBeBetween(column=column, max_value=window.as_of_end),
        ),
        Check(
            f"{column}_after_floor",
            WARNING,
            lambda: gxe.ExpectColumnValuesToBeBetween(column=column, min_value=window.floor),
        ),
    ]
    if freshness:
        checks.append(
            Check(
                f"{column}_fresh",
                WARNING,
                lambda: gxe.ExpectColumnMaxToBeBetween(
                    column=column, min_value=window.freshness_floor
                ),
            )
        )
    return checks


def _in_set(column: str, values: list[str], severity: str = WARNING) -> Check:
    return Check(
        f"{column}_in_known_set",
        severity,
        lambda: gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values),
    )


def _between(name: str, column: str, low: float | None, high: float | None, severity: str) -> Check:
    return Check(
        name,
        severity,
        lambda: gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high),
    )


def _has_rows(table: str, severity: str = CRITICAL) -> Check:
    return Check(
        f"{table}_has_rows", severity, lambda: gxe.ExpectTableRowCountToBeBetween(min_value=1)
    )


def suite_checks(table: str, settings: Settings, window: ValidationWindow) -> list[Check]:
    v = settings.validation
    limit = settings.ingest.max_abs_amount
    if table == "customers":
        return [
            _has_rows(table),
            _columns(table, ["customer_id", "signup_date", "origin"]),
            _not_null("customer_id"),
            _unique("customer_id"),
            *_time_checks("signup_date", window, freshness=False),
        ]
    if table == "customer_identities":
        return [
            _not_null("customer_id"),
            _unique("customer_id"),
            _flag_false("identity_references_customers", "_unknown_customer"),
        ]
    if table == "transactions":
        return [
            _has_rows(table),
            _columns(table, ["transaction_id", "customer_id", "ts", "amount"]),
            _not_null("transaction_id"),
            _not_null("customer_id"),
            _not_null("ts"),
            _not_null("amount"),
            _unique("transaction_id"),
            Check(
                "transaction_content_unique",
                CRITICAL,
                lambda: gxe.ExpectCompoundColumnsToBeUnique(
                    column_list=["customer_id", "ts", "amount", "category", "channel"]
                ),
            ),
            _known_customer(),
            *_time_checks("ts", window, freshness=True),
            _flag_false("amount_negative_only_for_refunds", "_negative_not_refund"),
            _between("amount_plausible", "amount", -limit, limit, WARNING),
            _between("discount_between_0_and_1", "discount", 0, 1, CRITICAL),
            _in_set("category", v.categories),
            _in_set("channel", v.channels),
        ]
    if table == "events":
        return [
            _not_null("customer_id"),
            _unique("event_id"),
            _known_customer(),
            *_time_checks("ts", window, freshness=True),
            _in_set("event_type", v.event_types),
        ]
    if table == "support_tickets":
        return [
            _not_null("customer_id"),
            _unique("ticket_id"),
            _known_customer(),
            *_time_checks("opened_at", window, freshness=False),
            _flag_false("resolved_not_before_opened", "_resolved_before_opened"),
            _in_set("category", v.ticket_categories),
            _between("satisfaction_1_to_5", "satisfaction", 1, 5, WARNING),
        ]
    if table == "surveys":
        return [
            _unique("survey_id"),
            _known_customer(),
            *_time_checks("ts", window, freshness=False),
            _between("nps_0_to_10", "nps", 0, 10, CRITICAL),
            _between("csat_1_to_5", "csat", 1, 5, CRITICAL),
        ]
    if table == "subscriptions":
        return [
            _unique("subscription_id"),
            _known_customer(),
            *_time_checks("start_date", window, freshness=False),
            _flag_false("end_not_before_start", "_end_before_start"),
            _between("monthly_fee_positive", "monthly_fee", 0, None, CRITICAL),
        ]
    if table == "marketing_touches":
        return [
            _unique("touch_id"),
            _known_customer(),
            *_time_checks("ts", window, freshness=False),
            _in_set("arm", v.arms, CRITICAL),
            _between("cost_not_negative", "cost", 0, None, WARNING),
        ]
    if table == "consent":
        return [
            Check(
                "consent_change_unique",  # a history: one row per change
                CRITICAL,
                lambda: gxe.ExpectCompoundColumnsToBeUnique(
                    column_list=["customer_id", "purpose", "ts", "granted"]
                ),
            ),
            _known_customer(),
            _in_set("purpose", v.consent_purposes),
        ]
    raise KeyError(f"no suite for table {table!r}")


def derived_checks(table: str, expected_rows: int) -> list[Check]:
    """Suites for tables the platform writes, checked for one as_of after each write."""
    if table == "feature_snapshots":
        return [
            Check(
                "one_row_per_customer_and_date",
                CRITICAL,
                lambda: gxe.ExpectCompoundColumnsToBeUnique(
                    column_list=["feature_set_version", "as_of", "customer_id"]
                ),
            ),
            Check(
                "every_known_customer_has_features",
                CRITICAL,
                lambda: gxe.ExpectTableRowCountToEqual(value=expected_rows),
            ),
            _between("recency_days_not_negative", "recency_days", 0, None, CRITICAL),
            _between("tenure_days_not_negative", "tenure_days", 0, None, CRITICAL),
            _between("discount_share_0_to_1", "discount_share", 0, 1, CRITICAL),
            _between("frequency_not_negative", "frequency", 0, None, CRITICAL),
            Check(
                "recency_days_null_rate_below_1pct",
                WARNING,
                lambda: gxe.ExpectColumnValuesToNotBeNull(column="recency_days", mostly=0.99),
            ),
            Check(
                "frequency_null_rate_below_1pct",
                WARNING,
                lambda: gxe.ExpectColumnValuesToNotBeNull(column="frequency", mostly=0.99),
            ),
        ]
    if table == "customer_scores":
        return [
            Check(
                "one_row_per_customer_and_date",
                CRITICAL,
                lambda: gxe.ExpectCompoundColumnsToBeUnique(column_list=["as_of", "customer_id"]),
            ),
            Check(
                "every_known_customer_scored",
                CRITICAL,
                lambda: gxe.ExpectTableRowCountToEqual(value=expected_rows),
            ),
            _between("churn_probability_0_to_1", "churn_probability", 0, 1, CRITICAL),
            _between("clv_not_negative", "clv_lifetime", 0, None, CRITICAL),
            _between("value_index_0_to_100", "value_index", 0, 100, CRITICAL),
            _between("expected_loss_not_negative", "expected_loss", 0, None, CRITICAL),
            _in_set("risk_tier", ["high", "medium", "low"], CRITICAL),
            _in_set("value_tier", ["high", "medium", "low"], CRITICAL),
            _not_null("next_best_action"),
        ]
    raise KeyError(f"no derived suite for {table!r}")


def add_helper_columns(table: str, frame: pd.DataFrame, known_customers: pd.Series) -> pd.DataFrame:
    """Boolean columns for rules a single-column expectation cannot express."""
    out = frame.copy()
    if "customer_id" in out and table != "customers":
        out["_unknown_customer"] = ~out["customer_id"].isin(known_customers)
    if table == "transactions":
        out["_negative_not_refund"] = (out["amount"] < 0) & ~out["is_refund"].astype(bool)
    if table == "support_tickets":
        out["_resolved_before_opened"] = (out["resolved_at"] < out["opened_at"]).fillna(False)
    if table == "subscriptions":
        ends = pd.to_datetime(out["end_date"])
        out["_end_before_start"] = (ends < pd.to_datetime(out["start_date"])).fillna(False)
    return out
