"""The data rules, declared once: what a valid row of each table looks like.

Each `Rule` names its table and columns, what it checks (`kind`), its parameters (literal values,
`Setting` references into `cvp.toml`, or `RunValue`s known only when a run starts, like the run
date), the validation `severity` (`None`: checked at import only), whether a violating row is
`quarantined` at import, and the `reason` people read. Two consumers derive everything from here:

- `cvp/data/ingest.py` quarantines the rows that break a rule with `quarantine=True`;
- `cvp/validation/suites.py` turns every rule with a severity into a Great Expectations
  expectation of the same name.

`expectations/suites/<table>.json` is the declarative form of these rules (what GX runs, with
the settings and run values as placeholders), written by `python -m cvp.data.suite_files
--write`; a test fails when it is not current. Type rules (number, date, boolean, length) come from the
column types in `cvp/data/schema.py` and are applied at import only, because the warehouse
columns are typed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cvp.data import schema

CRITICAL = "critical"
WARNING = "warning"


@dataclass(frozen=True)
class Setting:
    """A parameter read from the settings (`cvp.toml`), e.g. `ingest.max_abs_amount`."""

    path: str
    scale: float = 1.0

    def resolve(self, settings: Any) -> Any:
        value: Any = settings
        for part in self.path.split("."):
            value = getattr(value, part)
        return value * self.scale if self.scale != 1.0 else value

    def placeholder(self) -> dict[str, Any]:
        out: dict[str, Any] = {"$setting": self.path}
        if self.scale != 1.0:
            out["scale"] = self.scale
        return out


@dataclass(frozen=True)
class RunValue:
    """A parameter known when a run starts: `as_of_end` (the end of the run date; at import,
    the current time), `freshness_floor`, `expected_rows`."""

    name: str

    def placeholder(self) -> dict[str, Any]:
        return {"$run": self.name}


# Cross-column conditions: each returns True where a row breaks the rule. The validation suites
# compute them as boolean helper columns (`_<name>`), the importer as quarantine masks.
def _negative_not_refund(frame: pd.DataFrame) -> pd.Series:
    refund = (
        frame["is_refund"].fillna(False).astype(bool)
        if "is_refund" in frame
        else pd.Series(False, index=frame.index)
    )
    return (frame["amount"] < 0).fillna(False).astype(bool) & ~refund


def _resolved_before_opened(frame: pd.DataFrame) -> pd.Series:
    if "resolved_at" not in frame:
        return pd.Series(False, index=frame.index)
    resolved = pd.to_datetime(frame["resolved_at"])
    return (resolved < pd.to_datetime(frame["opened_at"])).fillna(False).astype(bool)


def _end_before_start(frame: pd.DataFrame) -> pd.Series:
    if "end_date" not in frame:
        return pd.Series(False, index=frame.index)
    ends = pd.to_datetime(frame["end_date"])
    return (ends < pd.to_datetime(frame["start_date"])).fillna(False).astype(bool)


def _control_with_cost(frame: pd.DataFrame) -> pd.Series:
    return ((frame["arm"] == "control") & (frame["expected_cost"] > 0)).fillna(False).astype(bool)


def _uplift_outside_interval(frame: pd.DataFrame) -> pd.Series:
    tolerance = 1e-9 * (1 + frame["uplift"].abs())
    outside = (frame["uplift"] < frame["ci_low"] - tolerance) | (
        frame["uplift"] > frame["ci_high"] + tolerance
    )
    return outside.fillna(False).astype(bool)


CONDITIONS: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "negative_not_refund": _negative_not_refund,
    "resolved_before_opened": _resolved_before_opened,
    "end_before_start": _end_before_start,
    "control_with_cost": _control_with_cost,
    "uplift_outside_interval": _uplift_outside_interval,
}

# kind -> Great Expectations expectation type
EXPECTATION_TYPES: dict[str, str] = {
    "row_count_at_least": "expect_table_row_count_to_be_between",
    "row_count_equals": "expect_table_row_count_to_equal",
    "columns_present": "expect_table_columns_to_match_set",
    "not_null": "expect_column_values_to_not_be_null",
    "unique": "expect_column_values_to_be_unique",
    "compound_unique": "expect_compound_columns_to_be_unique",
    "between": "expect_column_values_to_be_between",
    "max_between": "expect_column_max_to_be_between",
    "in_set": "expect_column_values_to_be_in_set",
    "condition": "expect_column_values_to_be_in_set",
    "known_customer": "expect_column_values_to_be_in_set",
}


@dataclass(frozen=True)
class Rule:
    table: str
    name: str
    kind: str
    columns: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    severity: str | None = CRITICAL
    quarantine: bool = False
    reason: str = ""

    @property
    def column(self) -> str:
        return self.columns[0]

    @property
    def helper_column(self) -> str:
        """The boolean column a condition rule is validated on."""
        if self.kind == "known_customer":
            return "_unknown_customer"
        return f"_{self.params['condition']}"

    def resolved(self, settings: Any, run: Mapping[str, Any]) -> dict[str, Any]:
        """Parameters with settings and run values filled in."""
        out = {}
        for key, value in self.params.items():
            if isinstance(value, Setting):
                value = value.resolve(settings)
            elif isinstance(value, RunValue):
                value = run[value.name]
            out[key] = value
        return out

    def reason_text(self, settings: Any, run: Mapping[str, Any]) -> str:
        params = self.resolved(settings, run)
        shown = {k: ", ".join(map(str, v)) if isinstance(v, list) else v for k, v in params.items()}
        return self.reason.format(**shown)

    def expectation_kwargs(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword arguments of the Great Expectations expectation, from resolved parameters
        (or from placeholders, for the committed declarative form)."""
        kind = self.kind
        if kind == "row_count_at_least":
            return {"min_value": params["min_value"]}
        if kind == "row_count_equals":
            return {"value": params["value"]}
        if kind == "columns_present":
            return {"column_set": list(self.columns), "exact_match": False}
        if kind == "not_null":
            extra = {"mostly": params["mostly"]} if "mostly" in params else {}
            return {"column": self.column, **extra}
        if kind == "unique":
            return {"column": self.column}
        if kind == "compound_unique":
            return {"column_list": list(self.columns)}
        if kind == "between":
            return {
                "column": self.column,
                "min_value": params.get("min_value"),
                "max_value": params.get("max_value"),
            }
        if kind == "max_between":
            return {"column": self.column, "min_value": params["min_value"]}
        if kind == "in_set":
            return {"column": self.column, "value_set": params["value_set"]}
        if kind in ("condition", "known_customer"):
            return {"column": self.helper_column, "value_set": [False]}
        raise ValueError(f"rule {self.name}: unknown kind {kind!r}")

    def declaration(self) -> dict[str, Any]:
        placeholders = {
            k: v.placeholder() if isinstance(v, Setting | RunValue) else v
            for k, v in self.params.items()
        }
        out: dict[str, Any] = {"name": self.name}
        if self.severity is not None:
            out["type"] = EXPECTATION_TYPES[self.kind]
            out["kwargs"] = self.expectation_kwargs(placeholders)
            out["severity"] = self.severity
        else:
            out["check"] = self.kind
            out["columns"] = list(self.columns)
            if placeholders:
                out["params"] = placeholders
        out["quarantined_at_import"] = self.quarantine
        if self.reason:
            out["reason"] = self.reason
        return out


AS_OF_END = RunValue("as_of_end")
FLOOR = Setting("ingest.timestamp_floor")


def _has_rows(table: str) -> Rule:
    return Rule(table, f"{table}_has_rows", "row_count_at_least", params={"min_value": 1})


def _columns(table: str, *columns: str) -> Rule:
    return Rule(table, f"{table}_required_columns", "columns_present", columns)


def _not_null(table: str, column: str, severity: str | None = CRITICAL, quarantine=True) -> Rule:
    return Rule(
        table,
        f"{column}_not_null",
        "not_null",
        (column,),
        severity=severity,
        quarantine=quarantine,
        reason="missing value",
    )


def _unique(table: str, column: str, quarantine: bool = True) -> Rule:
    return Rule(
        table, f"{column}_unique", "unique", (column,), quarantine=quarantine, reason="duplicate"
    )


def _known_customer(table: str, name: str = "customer_id_references_customers") -> Rule:
    return Rule(
        table,
        name,
        "known_customer",
        ("customer_id",),
        quarantine=True,
        reason="unknown customer id",
    )


def _time(table: str, column: str, future: str | None, floor: str | None) -> list[Rule]:
    """Not after the run date (at import: now) and not before `ingest.timestamp_floor`."""
    return [
        Rule(
            table,
            f"{column}_not_in_future",
            "between",
            (column,),
            {"max_value": AS_OF_END},
            severity=future,
            quarantine=True,
            reason="timestamp in the future",
        ),
        Rule(
            table,
            f"{column}_after_floor",
            "between",
            (column,),
            {"min_value": FLOOR},
            severity=floor,
            quarantine=True,
            reason="timestamp before floor {min_value}",
        ),
    ]


def _fresh(table: str, column: str) -> Rule:
    return Rule(
        table,
        f"{column}_fresh",
        "max_between",
        (column,),
        {"min_value": RunValue("freshness_floor")},
        severity=WARNING,
        reason="newest row older than validation.freshness_days",
    )


def _in_set(
    table: str, column: str, vocabulary: str, severity: str = WARNING, quarantine: bool = False
) -> Rule:
    return Rule(
        table,
        f"{column}_in_known_set",
        "in_set",
        (column,),
        {"value_set": Setting(f"validation.{vocabulary}")},
        severity=severity,
        quarantine=quarantine,
        reason=f"unknown {column} (known: {{value_set}})",
    )


def _between(
    table: str,
    name: str,
    column: str,
    low: Any,
    high: Any,
    severity: str | None,
    quarantine: bool,
    reason: str,
) -> Rule:
    return Rule(
        table,
        name,
        "between",
        (column,),
        {"min_value": low, "max_value": high},
        severity=severity,
        quarantine=quarantine,
        reason=reason,
    )


def _condition(table: str, name: str, condition: str, column: str, reason: str) -> Rule:
    return Rule(
        table,
        name,
        "condition",
        (column,),
        {"condition": condition},
        quarantine=True,
        reason=reason,
    )


LIMIT = Setting("ingest.max_abs_amount")
NEGATIVE_LIMIT = Setting("ingest.max_abs_amount", scale=-1.0)

RAW_RULES: tuple[Rule, ...] = (
    # customers
    _has_rows("customers"),
    _columns("customers", "customer_id", "signup_date", "origin"),
    _not_null("customers", "customer_id"),
    _unique("customers", "customer_id"),
    *_time("customers", "signup_date", future=CRITICAL, floor=WARNING),
    # customer_identities (written by the importer alongside a customer master)
    _not_null("customer_identities", "customer_id", quarantine=False),
    _unique("customer_identities", "customer_id", quarantine=False),
    Rule(
        "customer_identities",
        "identity_references_customers",
        "known_customer",
        ("customer_id",),
        reason="identity of an unknown customer",
    ),
    # transactions
    _has_rows("transactions"),
    _columns("transactions", "transaction_id", "customer_id", "ts", "amount"),
    _not_null("transactions", "transaction_id", quarantine=False),
    _not_null("transactions", "customer_id"),
    _not_null("transactions", "ts"),
    _not_null("transactions", "amount"),
    _unique("transactions", "transaction_id"),
    Rule(
        "transactions",
        "transaction_content_unique",
        "compound_unique",
        ("customer_id", "ts", "amount", "category", "channel"),
        severity=WARNING,
        reason="identical purchases: repeat orders in a log without ids, or a resent row",
    ),
    _known_customer("transactions"),
    *_time("transactions", "ts", future=CRITICAL, floor=WARNING),
    _fresh("transactions", "ts"),
    _condition(
        "transactions",
        "amount_negative_only_for_refunds",
        "negative_not_refund",
        "amount",
        "negative amount not flagged as refund",
    ),
    _between(
        "transactions",
        "amount_plausible",
        "amount",
        NEGATIVE_LIMIT,
        LIMIT,
        WARNING,
        True,
        "amount beyond ±{max_value:g}",
    ),
    _between(
        "transactions",
        "discount_between_0_and_1",
        "discount",
        0,
        1,
        CRITICAL,
        True,
        "discount outside 0..1",
    ),
    _in_set("transactions", "category", "categories"),
    _in_set("transactions", "channel", "channels"),
    # events
    _not_null("events", "customer_id"),
    _not_null("events", "ts", severity=None),
    _not_null("events", "event_type", severity=None),
    _unique("events", "event_id"),
    _known_customer("events"),
    *_time("events", "ts", future=CRITICAL, floor=WARNING),
    _fresh("events", "ts"),
    _in_set("events", "event_type", "event_types"),
    # support_tickets
    _not_null("support_tickets", "customer_id"),
    _not_null("support_tickets", "opened_at", severity=None),
    _not_null("support_tickets", "category", severity=None),
    _unique("support_tickets", "ticket_id"),
    _known_customer("support_tickets"),
    *_time("support_tickets", "opened_at", future=CRITICAL, floor=WARNING),
    *_time("support_tickets", "resolved_at", future=None, floor=None),
    _condition(
        "support_tickets",
        "resolved_not_before_opened",
        "resolved_before_opened",
        "resolved_at",
        "resolved before opened",
    ),
    _in_set("support_tickets", "category", "ticket_categories"),
    _between(
        "support_tickets",
        "satisfaction_1_to_5",
        "satisfaction",
        1,
        5,
        WARNING,
        False,
        "satisfaction outside 1..5",
    ),
    # surveys
    _not_null("surveys", "customer_id", severity=None),
    _not_null("surveys", "ts", severity=None),
    _unique("surveys", "survey_id"),
    _known_customer("surveys"),
    *_time("surveys", "ts", future=CRITICAL, floor=WARNING),
    _between("surveys", "nps_0_to_10", "nps", 0, 10, CRITICAL, True, "nps outside 0..10"),
    _between("surveys", "csat_1_to_5", "csat", 1, 5, CRITICAL, True, "csat outside 1..5"),
    # subscriptions
    _not_null("subscriptions", "customer_id", severity=None),
    _not_null("subscriptions", "plan", severity=None),
    _not_null("subscriptions", "start_date", severity=None),
    _not_null("subscriptions", "monthly_fee", severity=None),
    _unique("subscriptions", "subscription_id"),
    _known_customer("subscriptions"),
    *_time("subscriptions", "start_date", future=CRITICAL, floor=WARNING),
    Rule(
        "subscriptions",
        "end_date_after_floor",
        "between",
        ("end_date",),
        {"min_value": FLOOR},
        severity=None,
        quarantine=True,
        reason="timestamp before floor {min_value}",
    ),
    _condition(
        "subscriptions",
        "end_not_before_start",
        "end_before_start",
        "end_date",
        "ends before it starts",
    ),
    _between(
        "subscriptions",
        "monthly_fee_positive",
        "monthly_fee",
        0,
        None,
        CRITICAL,
        True,
        "negative monthly fee",
    ),
    # marketing_touches
    _not_null("marketing_touches", "customer_id", severity=None),
    _not_null("marketing_touches", "ts", severity=None),
    _not_null("marketing_touches", "campaign", severity=None),
    _not_null("marketing_touches", "arm", severity=None),
    _unique("marketing_touches", "touch_id"),
    _known_customer("marketing_touches"),
    *_time("marketing_touches", "ts", future=CRITICAL, floor=WARNING),
    _in_set("marketing_touches", "arm", "arms", CRITICAL, quarantine=True),
    _between(
        "marketing_touches",
        "cost_not_negative",
        "cost",
        0,
        None,
        WARNING,
        False,
        "negative cost",
    ),
    # consent
    _not_null("consent", "customer_id", severity=None),
    _not_null("consent", "purpose", severity=None),
    _not_null("consent", "granted", severity=None),
    _not_null("consent", "ts", severity=None),
    Rule(  # consent is a history: one row per change, repeated changes are duplicates
        "consent",
        "consent_change_unique",
        "compound_unique",
        ("customer_id", "purpose", "ts", "granted"),
        quarantine=True,
        reason="duplicate",
    ),
    _known_customer("consent"),
    *_time("consent", "ts", future=None, floor=None),
    _in_set("consent", "purpose", "consent_purposes", quarantine=True),
)

EXPECTED_ROWS = RunValue("expected_rows")

DERIVED_RULES: tuple[Rule, ...] = (
    Rule(
        "feature_snapshots",
        "one_row_per_customer_and_date",
        "compound_unique",
        ("feature_set_version", "as_of", "customer_id"),
    ),
    Rule(
        "feature_snapshots",
        "every_known_customer_has_features",
        "row_count_equals",
        params={"value": EXPECTED_ROWS},
    ),
    *(
        _between("feature_snapshots", f"{c}_not_negative", c, 0, None, CRITICAL, False, "")
        for c in ("recency_days", "tenure_days")
    ),
    _between(
        "feature_snapshots", "discount_share_0_to_1", "discount_share", 0, 1, CRITICAL, False, ""
    ),
    _between(
        "feature_snapshots", "frequency_not_negative", "frequency", 0, None, CRITICAL, False, ""
    ),
    *(
        Rule(
            "feature_snapshots",
            f"{c}_null_rate_below_1pct",
            "not_null",
            (c,),
            {"mostly": 0.99},
            severity=WARNING,
        )
        for c in ("recency_days", "frequency")
    ),
    Rule(
        "customer_scores",
        "one_row_per_customer_and_date",
        "compound_unique",
        ("as_of", "customer_id"),
    ),
    Rule(
        "customer_scores",
        "every_known_customer_scored",
        "row_count_equals",
        params={"value": EXPECTED_ROWS},
    ),
    _between(
        "customer_scores",
        "churn_probability_0_to_1",
        "churn_probability",
        0,
        1,
        CRITICAL,
        False,
        "",
    ),
    _between("customer_scores", "clv_not_negative", "clv_lifetime", 0, None, CRITICAL, False, ""),
    _between("customer_scores", "value_index_0_to_100", "value_index", 0, 100, CRITICAL, False, ""),
    _between(
        "customer_scores",
        "expected_loss_not_negative",
        "expected_loss",
        0,
        None,
        CRITICAL,
        False,
        "",
    ),
    *(
        Rule(
            "customer_scores",
            f"{c}_in_known_set",
            "in_set",
            (c,),
            {"value_set": ["high", "medium", "low"]},
        )
        for c in ("risk_tier", "value_tier")
    ),
    Rule("customer_scores", "next_best_action_not_null", "not_null", ("next_best_action",)),
)


def _flag(table: str, name: str, condition: str, column: str) -> Rule:
    """A cross-column check on a table the platform writes (nothing is imported there)."""
    return Rule(table, name, "condition", (column,), {"condition": condition})


def _vocabulary(table: str, column: str, values: list[str]) -> Rule:
    return Rule(table, f"{column}_in_known_set", "in_set", (column,), {"value_set": values})


# the campaign ledger: the activation team reads assignments, the business reads results
CAMPAIGN_RULES: tuple[Rule, ...] = (
    Rule(
        "campaign_assignments",
        "one_row_per_campaign_and_customer",
        "compound_unique",
        ("campaign", "customer_id"),
    ),
    _vocabulary("campaign_assignments", "arm", ["treatment", "control"]),
    _between(
        "campaign_assignments",
        "expected_cost_not_negative",
        "expected_cost",
        0,
        None,
        CRITICAL,
        False,
        "",
    ),
    _flag("campaign_assignments", "control_arm_has_no_cost", "control_with_cost", "arm"),
    _between(
        "campaign_assignments",
        "churn_probability_0_to_1",
        "churn_probability",
        0,
        1,
        CRITICAL,
        False,
        "",
    ),
    Rule("campaign_assignments", "customer_id_not_null", "not_null", ("customer_id",)),
    Rule(
        "campaign_results",
        "one_row_per_segment_and_metric",
        "compound_unique",
        ("campaign", "segment_type", "segment", "metric"),
    ),
    _vocabulary("campaign_results", "metric", ["retention", "repurchase", "revenue"]),
    _vocabulary("campaign_results", "segment_type", ["overall", "risk_tier", "value_tier"]),
    _flag("campaign_results", "uplift_inside_its_interval", "uplift_outside_interval", "uplift"),
    *(
        _between("campaign_results", f"{c}_not_negative", c, 0, None, CRITICAL, False, "")
        for c in ("n_treatment", "n_control")
    ),
)

RULES: tuple[Rule, ...] = RAW_RULES + DERIVED_RULES + CAMPAIGN_RULES
DERIVED_TABLES: tuple[str, ...] = ("feature_snapshots", "customer_scores")
CAMPAIGN_TABLES: tuple[str, ...] = ("campaign_assignments", "campaign_results")


def rules_for(table: str) -> list[Rule]:
    found = [r for r in RULES if r.table == table]
    if not found:
        raise KeyError(f"no rules for table {table!r}")
    return found


def expectation_rules(table: str) -> list[Rule]:
    """The rules a validation suite checks, in order."""
    return [r for r in rules_for(table) if r.severity is not None]


def import_rules(table: str) -> list[Rule]:
    """The rules whose violations are quarantined at import."""
    return [r for r in rules_for(table) if r.quarantine]


def required_columns(table: str) -> tuple[str, ...]:
    """Columns a file must provide: those that may not be missing at import."""
    return tuple(r.column for r in import_rules(table) if r.kind == "not_null")


def key_columns(table: str) -> list[str]:
    """The columns whose duplicates are quarantined at import (the table's key)."""
    for rule in import_rules(table):
        if rule.kind in ("unique", "compound_unique"):
            return list(rule.columns)
    return [c.name for c in schema.metadata.tables[table].primary_key.columns]


# Type rules, from the warehouse column types: reason texts shared by import and docs.
TYPE_REASONS = {
    "number": "not a number",
    "finite": "not a finite number",
    "whole": "not a whole number",
    "too_large": "number too large for a whole-number column",
    "datetime": "not a valid date/time",
    "boolean": "not a boolean",
    "length": "longer than {length} characters",
    "nul": "contains a NUL character",
}
SOURCE_ID_LENGTH: int = (
    getattr(schema.customer_identities.c.source_customer_id.type, "length", None) or 128
)


def column_kind(table: str, column: str) -> str:
    """number, integer, datetime, date, boolean or text, from the warehouse column type."""
    target = schema.metadata.tables[table]
    sql_type = target.columns[column].type if column in target.columns else sa.String()
    if isinstance(sql_type, sa.Integer):
        return "integer"
    if isinstance(sql_type, sa.Float | sa.Double | sa.Numeric):
        return "number"
    if isinstance(sql_type, sa.DateTime):
        return "datetime"
    if isinstance(sql_type, sa.Date):
        return "date"
    if isinstance(sql_type, sa.Boolean):
        return "boolean"
    return "text"


def max_length(table: str, column: str) -> int | None:
    """The longest text a column takes; for the source customer id, its identity column."""
    if column == "customer_id":
        return SOURCE_ID_LENGTH
    target = schema.metadata.tables[table]
    if column not in target.columns and column in schema.PII_COLUMNS:
        target = schema.customer_identities
    if column not in target.columns:
        return None
    return getattr(target.columns[column].type, "length", None)
