"""Fairness audit of the churn model at training time, with fairlearn.

Per group of each sensitive attribute (age band from birth year, gender, region; optional
columns of the customer master, never read by the features): selection rate (share flagged at
the decision threshold), true and false positive rates, and calibration (mean predicted
probability minus the observed churn rate). The gap of a metric is the largest difference
between groups with at least `fairness_min_group_size` test customers in the metric's
denominator (all, churners for TPR, non-churners for FPR); smaller groups are listed as too
small to judge, never compared. Even between big enough groups a gap is partly noise, so a
checked metric blocks promotion only when the lower confidence bound of its gap (one-sided, at
`fairness_confidence`, normal approximation with each group's standard error) is above
`fairness_max_gap`: the failure names the attribute, the groups, the metric and the bound.
Without sensitive data the report says so and blocks nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import mlflow
import numpy as np
import pandas as pd
import sqlalchemy as sa
from fairlearn.metrics import (
    MetricFrame,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from scipy import stats
from sqlalchemy.engine import Connection

from cvp.config import MonitoringSettings
from cvp.data import schema
from cvp.data.warehouse import read_frame

ATTRIBUTES: tuple[str, ...] = ("age_band", "gender", "region")
AGE_BANDS = [0, 25, 35, 45, 55, 65, 200]
AGE_LABELS = ["<25", "25-34", "35-44", "45-54", "55-64", "65+"]
# a rate is compared only between groups with enough customers in its denominator
DENOMINATORS = {
    "selection_rate": "count",
    "true_positive_rate": "positives",
    "false_positive_rate": "negatives",
    "calibration": "count",
}


def load_sensitive_attributes(conn: Connection, as_of: date) -> pd.DataFrame:
    """customer_id, age_band, gender, region (nulls where the master has none)."""
    c = schema.customers
    frame = read_frame(conn, sa.select(c.c.customer_id, c.c.birth_year, c.c.gender, c.c.region))
    age = as_of.year - pd.to_numeric(frame["birth_year"], errors="coerce")
    frame["age_band"] = pd.cut(age, AGE_BANDS, right=False, labels=AGE_LABELS).astype("string")
    return frame.drop(columns=["birth_year"])


@dataclass
class FairnessReport:
    by_group: pd.DataFrame
    gaps: pd.DataFrame
    failures: list[str] = field(default_factory=list)
    note: str | None = None
    too_small: list[str] = field(default_factory=list)


def _calibration(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_pred) - np.mean(y_true))


def _calibration_se(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    residual = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    return float(np.std(residual, ddof=1) / np.sqrt(len(residual))) if len(residual) > 1 else 0.0


def _standard_error(table: pd.DataFrame, metric: str) -> pd.Series:
    """Per group: binomial standard error of a rate over its denominator; the calibration's
    comes from the residuals (column `calibration_se`)."""
    if metric == "calibration":
        return table["calibration_se"].astype(float)
    rate = table[metric].astype(float)
    n = table[DENOMINATORS[metric]].astype(float).clip(lower=1)
    return np.sqrt(rate * (1 - rate) / n)


def fairness_report(
    customer_ids: pd.Series,
    y_true: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    sensitive: pd.DataFrame,
    rules: MonitoringSettings,
    attributes: Sequence[str] = ATTRIBUTES,
) -> FairnessReport:
    """`attributes`: the sensitive columns of `sensitive` to audit (a snapshot's own)."""
    frame = pd.DataFrame(
        {
            "customer_id": customer_ids.to_numpy(),
            "y": np.asarray(y_true, dtype=int),
            "p": np.asarray(probability, dtype=float),
        }
    ).merge(sensitive, on="customer_id", how="left")
    frame["flag"] = (frame["p"] >= threshold).astype(int)
    groups: list[pd.DataFrame] = []
    gaps: list[dict] = []
    failures: list[str] = []
    too_small: list[str] = []
    for attribute in attributes:
        values = frame[attribute] if attribute in frame else pd.Series(dtype="string")
        if values.isna().all():
            continue
        part = frame[values.notna()]
        labels = part[attribute].astype(str)
        rates = MetricFrame(
            metrics={
                "selection_rate": selection_rate,
                "true_positive_rate": true_positive_rate,
                "false_positive_rate": false_positive_rate,
                "count": lambda y_true, y_pred: len(y_true),
                "positives": lambda y_true, y_pred: int(np.sum(y_true)),
                "negatives": lambda y_true, y_pred: int(len(y_true) - np.sum(y_true)),
            },
            y_true=part["y"],
            y_pred=part["flag"],
            sensitive_features=labels.rename(attribute),
        )
        calibration = MetricFrame(
            metrics={"calibration": _calibration, "calibration_se": _calibration_se},
            y_true=part["y"],
            y_pred=part["p"],
            sensitive_features=labels.rename(attribute),
        )
        table = rates.by_group.join(calibration.by_group).reset_index()
        table = table.rename(columns={attribute: "group"}).assign(attribute=attribute)
        groups.append(table)
        z = float(stats.norm.ppf(rules.fairness_confidence))
        for metric in (
            "selection_rate",
            "true_positive_rate",
            "false_positive_rate",
            "calibration",
        ):
            sized = table.set_index("group")
            enough = sized[DENOMINATORS[metric]] >= rules.fairness_min_group_size
            too_small += [
                f"{attribute}={g} ({metric}: {int(n)} < {rules.fairness_min_group_size})"
                for g, n in sized.loc[~enough, DENOMINATORS[metric]].items()
            ]
            big = sized[enough]
            values = big[metric].astype(float).dropna()
            if len(values) < 2:
                continue
            errors = _standard_error(big.reset_index(), metric).set_axis(big.index)
            high, low = str(values.idxmax()), str(values.idxmin())
            gap = float(values[high] - values[low])
            gap_low = gap - z * float(np.hypot(errors[high], errors[low]))
            gaps.append(
                {
                    "attribute": attribute,
                    "metric": metric,
                    "gap": gap,
                    "gap_lower_bound": gap_low,
                    "highest": high,
                    "lowest": low,
                    "n_highest": int(big.loc[high, DENOMINATORS[metric]]),
                    "n_lowest": int(big.loc[low, DENOMINATORS[metric]]),
                }
            )
            if metric in rules.fairness_metrics and gap_low > rules.fairness_max_gap:
                failures.append(
                    f"fairness: {metric} differs by {gap:.3f} between {attribute} groups "
                    f"{high} ({values[high]:.3f}) and {low} ({values[low]:.3f}); lower "
                    f"{rules.fairness_confidence:.0%} bound {gap_low:.3f} > limit "
                    f"{rules.fairness_max_gap}"
                )
    by_group = pd.concat(groups, ignore_index=True) if groups else pd.DataFrame()
    note = (
        None if groups else "no sensitive attributes in the customer master: fairness not audited"
    )
    return FairnessReport(by_group, pd.DataFrame(gaps), failures, note, sorted(set(too_small)))


def log_fairness(report: FairnessReport) -> None:
    """Into the active MLflow run (the churn model's run)."""
    if report.note:
        mlflow.set_tag("cvp.fairness", report.note)
        return
    mlflow.log_table(report.by_group, "fairness/by_group.json")
    if not report.gaps.empty:
        mlflow.log_table(report.gaps, "fairness/gaps.json")
        mlflow.log_metrics(
            {f"fairness_gap_{r.attribute}_{r.metric}": r.gap for r in report.gaps.itertuples()}
        )
        worst = report.gaps.sort_values("gap").iloc[-1]
        mlflow.set_tag(
            "cvp.fairness.largest_gap",
            f"{worst['attribute']} {worst['metric']} {worst['gap']:.3f} ({worst['highest']} vs {worst['lowest']})",
        )
    if report.too_small:
        mlflow.set_tag("cvp.fairness.too_small", "; ".join(report.too_small)[:4900])
    mlflow.set_tag("cvp.fairness", "blocked" if report.failures else "within limit")


def fairness_gate(
    customer_ids: pd.Series,
    y_true: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    sensitive: pd.DataFrame | None,
    rules: MonitoringSettings,
    attributes: Sequence[str] = ATTRIBUTES,
) -> list[str]:
    """Audit, log into the active run, return the promotion failures (empty = pass)."""
    if sensitive is None:
        sensitive = pd.DataFrame(columns=["customer_id", *attributes])
    report = fairness_report(
        customer_ids, y_true, probability, threshold, sensitive, rules, attributes
    )
    log_fairness(report)
    return report.failures
