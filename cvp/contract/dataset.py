"""A labelled snapshot as model inputs: the attributes pivoted wide, split by role.

Features are the `feature` attributes of a type a model can read (boolean, number, integer,
months, category); categories become integer codes in a fixed, stored order (`Encoding`), so
scoring a later snapshot codes them alike and an unseen level is missing. Sensitive attributes
are returned apart, for the fairness audit only; the label is the target. Survival covariates
leave out the tenure (the time axis) and numbers other than the fee: a cumulative amount such
as total charges grows with tenure and would leak the duration into the covariates."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.contract.store import attribute_catalog, customer_attributes
from cvp.data.warehouse import read_frame
from cvp.errors import StateError

FEATURE_KINDS = ("boolean", "number", "integer", "months", "category")
NUMERIC_KINDS = ("boolean", "number", "integer", "months")
DURATION_OFFSET = 0.5  # a tenure of m whole months lies in [m, m+1): its middle


class NoSnapshot(StateError):
    """No imported snapshot (or no label) to train or score on."""


@dataclass
class Snapshot:
    catalog: pd.DataFrame  # attribute, kind, role, subscription_field
    values: pd.DataFrame  # wide: index customer_id, one column per attribute, typed
    snapshot_date: date

    def names(self, role: str, kinds: tuple[str, ...] = FEATURE_KINDS) -> list[str]:
        rows = self.catalog[(self.catalog["role"] == role) & self.catalog["kind"].isin(kinds)]
        return rows["attribute"].tolist()

    def field(self, name: str) -> str | None:
        """The attribute playing a subscription field (tenure, plan, fee), if any."""
        rows = self.catalog[self.catalog["subscription_field"] == name]
        return str(rows["attribute"].iloc[0]) if len(rows) else None

    @property
    def label(self) -> str | None:
        labels = self.catalog.loc[self.catalog["role"] == "label", "attribute"]
        return str(labels.iloc[0]) if len(labels) else None


@dataclass
class Encoding:
    """Feature columns in order, and the levels of each category (code = position)."""

    columns: list[str] = field(default_factory=list)
    levels: dict[str, list[str]] = field(default_factory=dict)

    def transform(self, values: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=values.index)
        for column in self.columns:
            if column in self.levels:
                codes = {level: i for i, level in enumerate(self.levels[column])}
                out[column] = values[column].map(codes).astype("float64")
            else:
                out[column] = pd.to_numeric(values[column], errors="coerce").astype("float64")
        return out

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Encoding:
        return cls(**data)


def load_snapshot(conn: Connection) -> Snapshot:
    """The imported attributes, wide, with their catalog; refuses when there are none."""
    catalog = read_frame(conn, sa.select(attribute_catalog))
    if catalog.empty:
        raise NoSnapshot(
            "no customer attributes in the warehouse: import a snapshot with "
            "`cvp ingest customers FILE --label COLUMN` first"
        )
    long = read_frame(conn, sa.select(customer_attributes))
    kinds = catalog.set_index("attribute")["kind"]
    numeric = long["attribute"].map(kinds).isin(NUMERIC_KINDS)
    long["value"] = long["value_text"].astype(object)
    long.loc[numeric, "value"] = long.loc[numeric, "value_number"].astype(object)
    values = long.pivot(index="customer_id", columns="attribute", values="value")
    for column in values.columns:
        if kinds.get(column) in NUMERIC_KINDS:
            values[column] = pd.to_numeric(values[column], errors="coerce").astype("float64")
        else:
            values[column] = values[column].astype("string")
    dates = pd.to_datetime(catalog["snapshot_date"]).dropna()
    snap = dates.max().date() if len(dates) else date.today()
    return Snapshot(catalog, values.sort_index(), snap)


def fit_encoding(snapshot: Snapshot) -> Encoding:
    columns = snapshot.names("feature")
    kinds = snapshot.catalog.set_index("attribute")["kind"]
    levels = {
        c: sorted(snapshot.values[c].dropna().unique().tolist())
        for c in columns
        if kinds[c] == "category"
    }
    return Encoding(columns, levels)


def labelled(snapshot: Snapshot) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers with a label, and the label as 0/1."""
    label = snapshot.label
    if label is None:
        raise NoSnapshot(
            "the imported snapshot has no label: re-import it with "
            "`cvp ingest customers FILE --label COLUMN` to train with --label supplied"
        )
    rows = snapshot.values[snapshot.values[label].notna()]
    y = rows[label].to_numpy(dtype=int)
    if len(np.unique(y)) < 2 or min(np.bincount(y)) < 10:
        raise NoSnapshot(f"label {label}: needs at least 10 customers of each class to train")
    return rows, y


def survival_covariates(snapshot: Snapshot, values: pd.DataFrame) -> pd.DataFrame:
    """One-hot plan and static categories/booleans, plus the fee (see module docstring)."""
    kinds = snapshot.catalog.set_index("attribute")["kind"]
    fee = snapshot.field("fee")
    names = [
        c
        for c in snapshot.names("feature")
        if c != snapshot.field("tenure") and (kinds[c] in ("boolean", "category") or c == fee)
    ]
    categories = [c for c in names if kinds[c] == "category"]
    out = values[[c for c in names if c not in categories]].astype("float64")
    if categories:
        dummies = pd.get_dummies(values[categories].astype(object), dtype=float)
        out = pd.concat([out, dummies], axis=1)
    return out


def durations(snapshot: Snapshot, values: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(months, churned) per customer from the tenure and the label."""
    tenure = snapshot.field("tenure")
    if tenure is None:
        raise NoSnapshot(
            "no tenure in the snapshot: import it with --type COLUMN=months --plan P --fee F "
            "for the time-to-churn model"
        )
    months = values[tenure].to_numpy(dtype=float) + DURATION_OFFSET
    label = snapshot.label
    churned = values[label].to_numpy(dtype=float) == 1 if label else np.zeros(len(values), bool)
    return months, churned
