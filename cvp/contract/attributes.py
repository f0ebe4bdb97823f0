"""Typed customer attributes from a customer file: every column kept, each with a type and a role.

A subscriber snapshot is a customer master with many more columns than `customers` has. Each
column that is not a `customers` column (and every column named by a flag) becomes an attribute:

- its **type** is declared (`--type tenure=months`) or inferred from the values, as a
  featuretools/woodwork user expects: Yes/No, true/false or 0/1 -> boolean; numbers -> integer or
  number; few distinct texts -> category (`[contract] category_max_levels`); otherwise text.
  `months` (a duration in whole months, the tenure) and `date` are only ever declared;
- its **role**: `label` (`--label`, a boolean), `sensitive` (`--sensitive`, and always the
  customers' own sensitive columns gender, birth_year, region): kept for the fairness audit,
  never a feature; `feature` otherwise. The customer id is the `id` and stays out of the table
  (it is pseudonymised like every import);
- `--plan` and `--fee` name the columns that, with the months column, make each customer's
  subscription: start = snapshot date - tenure, end = the snapshot date when the label says churned.

A flag that cannot be right (an unknown column, an unknown type, a label that is also sensitive)
refuses the file in one line before anything is written (`IngestError`, exit 2). A value that
does not fit its declared type quarantines its row with a reason, like any other import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from cvp.contract.options import AttributeOptions
from cvp.data.parsing import parse_datetimes, parse_numbers
from cvp.data.source import IngestError

KINDS: tuple[str, ...] = ("boolean", "number", "integer", "months", "category", "text", "date")
ROLES: tuple[str, ...] = ("feature", "sensitive", "label", "id")
NUMERIC_KINDS = ("boolean", "number", "integer", "months")
ALWAYS_SENSITIVE = ("gender", "birth_year", "region")
PII = ("name", "email", "phone")
TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0"}
TEXT_LENGTH = 200
MAX_ATTRIBUTES = 500


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: str
    role: str
    declared: bool
    subscription_field: str | None = None


@dataclass
class TypedAttributes:
    """Per attribute, its parsed values (number or text) and the rows that failed, with why."""

    attributes: list[Attribute]
    numbers: dict[str, pd.Series] = field(default_factory=dict)
    texts: dict[str, pd.Series] = field(default_factory=dict)
    failures: list[tuple[str, pd.Series, str]] = field(default_factory=list)


def parse_type_pairs(pairs: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """`--type column=kind` pairs; a malformed pair or unknown type is refused in one line."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        column, sep, kind = pair.partition("=")
        column, kind = column.strip(), kind.strip().lower()
        if not sep or not column or kind not in KINDS:
            raise IngestError(
                f"--type {pair!r}: expected column=type with type one of {', '.join(KINDS)} "
                f"(e.g. --type tenure=months)"
            )
        parsed[column] = kind
    return tuple(parsed.items())


def split_names(values: Sequence[str]) -> tuple[str, ...]:
    """`--sensitive gender,senior_citizen` and repeated flags alike."""
    return tuple(n.strip() for v in values for n in v.split(",") if n.strip())


def _blank(values: pd.Series) -> pd.Series:
    return values.isna() | (values.str.strip() == "")


def infer_kind(values: pd.Series, decimal: str | None, max_levels: int) -> str:
    """The narrowest type every non-blank value fits."""
    present = values[~_blank(values)].str.strip()
    if present.empty:
        return "text"
    lowered = set(present.str.lower().unique())
    if lowered <= TRUE_WORDS | FALSE_WORDS and len(lowered) <= 2:
        return "boolean"
    numbers = parse_numbers(present, decimal)
    if not (numbers.not_a_number.any() or numbers.not_finite.any()):
        whole = (numbers.values == np.floor(numbers.values)).all()
        return "integer" if whole else "number"
    return "category" if present.nunique() <= max_levels else "text"


def plan_attributes(
    path: object, frame: pd.DataFrame, options: AttributeOptions, decimal: str | None
) -> list[Attribute]:
    """Types and roles of the attribute columns of a customer file; refuses a wrong flag."""
    columns = list(frame.columns)
    available = ", ".join(columns)
    for name in options.named():
        if name not in columns:
            raise IngestError(
                f"{path}: no column {name!r} for the attribute flags; file columns: {available}"
            )
    if options.label and options.label in options.sensitive:
        raise IngestError(f"--label {options.label}: a label cannot also be --sensitive")
    declared = dict(options.types)
    if options.label and declared.get(options.label, "boolean") != "boolean":
        raise IngestError(
            f"--label {options.label}: the label must be boolean (Yes/No, 1/0), not "
            f"--type {options.label}={declared[options.label]}"
        )
    months = [c for c, k in declared.items() if k == "months"]
    if len(months) > 1:
        raise IngestError(f"--type: only one months column (the tenure); got {', '.join(months)}")
    if (options.plan or options.fee) and not (options.plan and options.fee and months):
        raise IngestError(
            "--plan and --fee go together with a months column (--type tenure=months): "
            "subscriptions need tenure, plan and fee"
        )
    if len(columns) > MAX_ATTRIBUTES:
        raise IngestError(f"{path}: {len(columns)} attribute columns; at most {MAX_ATTRIBUTES}")
    fields: dict[str, str] = {m: "tenure" for m in months}
    if options.plan and options.fee:
        fields |= {options.plan: "plan", options.fee: "fee"}
    plan = []
    for column in columns:
        kind = declared.get(column) or (
            "boolean"  # a label or fee is typed by its flag: a stray value is quarantined
            if column == options.label
            else "number"
            if column == options.fee
            else infer_kind(frame[column], decimal, options.category_max_levels)
        )
        if column == options.fee and kind not in ("number", "integer"):
            raise IngestError(f"--fee {column}: declared {kind}; a fee is a number")
        role = (
            "label"
            if column == options.label
            else "sensitive"
            if column in options.sensitive or column in ALWAYS_SENSITIVE
            else "feature"
        )
        plan.append(Attribute(column, kind, role, column in declared, fields.get(column)))
    return plan


def coerce_attributes(
    frame: pd.DataFrame,
    attributes: list[Attribute],
    decimal: str | None,
    date_format: str | None,
) -> TypedAttributes:
    """Parse each attribute to its type; a value that does not fit, or a missing label, tenure,
    plan or fee, is a failure (column, row mask, reason) for the quarantine."""
    out = TypedAttributes(attributes)
    for attribute in attributes:
        raw = frame[attribute.name]
        blank = _blank(raw)
        text = raw.str.strip().where(~blank)
        if attribute.role == "label" or attribute.subscription_field:
            out.failures.append((attribute.name, blank, "missing value"))
        kind = attribute.kind
        if kind == "boolean":
            lowered = text.str.lower()
            values = pd.Series(np.nan, index=frame.index)
            values[lowered.isin(TRUE_WORDS).fillna(False).astype(bool)] = 1.0
            values[lowered.isin(FALSE_WORDS).fillna(False).astype(bool)] = 0.0
            out.failures.append((attribute.name, ~blank & values.isna(), "not a yes/no value"))
            out.numbers[attribute.name] = values
        elif kind in ("number", "integer", "months"):
            parsed = parse_numbers(text, decimal)
            values = parsed.values
            bad = parsed.not_a_number | parsed.not_finite
            out.failures.append((attribute.name, bad, f"not a number (declared {kind})"))
            if kind != "number":
                fractional = values.notna() & (values != np.floor(values))
                out.failures.append((attribute.name, fractional, f"not a whole number ({kind})"))
            if kind == "months":
                out.failures.append((attribute.name, (values < 0).fillna(False), "negative months"))
            out.numbers[attribute.name] = values
        elif kind == "date":
            parsed_dates = parse_datetimes(text, date_format, None)
            out.failures.append((attribute.name, ~blank & parsed_dates.isna(), "not a valid date"))
            out.texts[attribute.name] = parsed_dates.dt.strftime("%Y-%m-%d").astype("string")
        else:
            too_long = (text.str.len() > TEXT_LENGTH).fillna(False)
            out.failures.append((attribute.name, too_long, f"longer than {TEXT_LENGTH} characters"))
            out.texts[attribute.name] = text.astype("string")
    return out


def long_form(typed: TypedAttributes, customer_ids: pd.Series, rows: pd.Index) -> pd.DataFrame:
    """One row per customer and attribute (only `rows`, the accepted ones)."""
    parts = []
    for attribute in typed.attributes:
        number = typed.numbers.get(attribute.name)
        text = typed.texts.get(attribute.name)
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": customer_ids.loc[rows].to_numpy(),
                    "attribute": attribute.name,
                    "value_number": (
                        number.loc[rows].astype(float).to_numpy()
                        if number is not None
                        else np.full(len(rows), np.nan)
                    ),
                    "value_text": (
                        text.loc[rows].astype(object).to_numpy()
                        if text is not None
                        else np.full(len(rows), None, dtype=object)
                    ),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame["value_text"] = frame["value_text"].where(frame["value_text"].notna(), None)
    return frame


def derive_subscriptions(
    typed: TypedAttributes, customer_ids: pd.Series, rows: pd.Index, snapshot: date
) -> pd.DataFrame:
    """Subscriptions from tenure and status: start = snapshot - tenure months, end = the snapshot
    date for customers the label marks as churned. Empty without tenure, plan and fee."""
    by_field = {a.subscription_field: a for a in typed.attributes if a.subscription_field}
    if set(by_field) != {"tenure", "plan", "fee"}:
        return pd.DataFrame()
    tenure = typed.numbers[by_field["tenure"].name].loc[rows].astype(int)
    snap = pd.Timestamp(snapshot)
    start = pd.Series(
        [snap - pd.DateOffset(months=int(m)) for m in tenure], index=rows, dtype="datetime64[ns]"
    )
    label = next((a for a in typed.attributes if a.role == "label"), None)
    churned = (
        (typed.numbers[label.name].loc[rows] == 1).fillna(False).astype(bool)
        if label is not None
        else pd.Series(False, index=rows)
    )
    end = pd.Series(pd.NaT, index=rows, dtype="datetime64[ns]")
    end[churned] = snap
    plan = by_field["plan"]
    plan_values = (
        typed.texts[plan.name] if plan.name in typed.texts else typed.numbers[plan.name].astype(str)
    )
    ids = customer_ids.loc[rows]
    return pd.DataFrame(
        {
            "subscription_id": ("sub_" + ids).to_numpy(),
            "customer_id": ids.to_numpy(),
            "plan": plan_values.loc[rows].str.slice(0, 32).to_numpy(),
            "start_date": start.dt.normalize().to_numpy(),
            "end_date": end.to_numpy(),
            "monthly_fee": typed.numbers[by_field["fee"].name].loc[rows].astype(float).to_numpy(),
        }
    )
