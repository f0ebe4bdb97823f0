"""Realised accuracy: for every scores date whose horizon has closed, the stored predictions
against what happened (labels from the same definitions training uses), next to what the
model version's backtest promised. Metrics come from `cvp.models.metrics`."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa
from mlflow.tracking import MlflowClient
from sqlalchemy.engine import Connection

from cvp.data.warehouse import read_frame, write_frame
from cvp.features.labels import build_labels
from cvp.models.metrics import churn_metrics, clv_metrics
from cvp.monitoring.models import ModelInfo, model_info
from cvp.monitoring.store import realised_accuracy
from cvp.scoring.store import customer_scores

CHURN_REPORTED = ("roc_auc", "pr_auc", "brier", "ece", "lift_at_10pct")
CLV_REPORTED = ("normalized_gini", "decile_mape", "spearman", "total_error_pct")
# the headline metric per model, higher is better; the retrain rule compares these
HEADLINE = {"churn": "roc_auc", "clv": "normalized_gini"}


def scored_dates(conn: Connection) -> list[date]:
    rows = conn.execute(
        sa.select(customer_scores.c.as_of).distinct().order_by(customer_scores.c.as_of)
    )
    return [r[0] for r in rows]


def _evaluate(scores: pd.DataFrame, labels: pd.DataFrame, info: dict[str, ModelInfo]) -> list[dict]:
    merged = scores.merge(labels, on="customer_id")
    merged = merged[merged["insufficient_history"] == 0]
    rows: list[dict] = []
    if merged.empty:
        return rows
    y = merged["churned"].to_numpy(dtype=float)
    if 0 < y.mean() < 1:
        realised = churn_metrics(y, merged["churn_probability"].to_numpy())
        for metric in CHURN_REPORTED:
            rows.append(_row("churn", info["churn"], metric, realised[metric], len(merged)))
    actual = merged["future_revenue"].clip(lower=0).to_numpy(dtype=float)
    if actual.sum() > 0:
        realised = clv_metrics(actual, merged["clv_expected"].to_numpy(dtype=float))
        for metric in CLV_REPORTED:
            rows.append(_row("clv", info["clv"], metric, realised[metric], len(merged)))
    return rows


def _row(target: str, info: ModelInfo, metric: str, value: float, n: int) -> dict:
    promised = info.promised.get(metric)
    return {
        "model": target,
        "model_version": info.version,
        "metric": metric,
        "realised": float(value) if np.isfinite(value) else None,
        "promised": promised,
        "customers": n,
    }


def realised_accuracy_report(conn: Connection, client: MlflowClient, as_of: date) -> pd.DataFrame:
    """Evaluate every scores date whose horizon closed by `as_of`; replaces their rows."""
    cache: dict[tuple[str, str], ModelInfo] = {}
    out = []
    for scored in scored_dates(conn):
        scores = read_frame(
            conn,
            sa.select(
                customer_scores.c.customer_id,
                customer_scores.c.churn_probability,
                customer_scores.c.clv_expected,
                customer_scores.c.churn_model_version,
                customer_scores.c.clv_model_version,
            ).where(customer_scores.c.as_of == scored),
        )
        versions = {
            "churn": str(scores["churn_model_version"].iloc[0]),
            "clv": str(scores["clv_model_version"].iloc[0]),
        }
        info = {}
        for target, version in versions.items():
            if (target, version) not in cache:
                cache[target, version] = model_info(client, target, version)
            info[target] = cache[target, version]
        horizon = info["churn"].horizon_days
        horizon_end = scored + timedelta(days=horizon)
        if horizon_end > as_of:
            continue
        labels = build_labels(conn, scored, horizon)
        rows = _evaluate(scores, labels, info)
        for row in rows:
            row.update(scores_as_of=scored, horizon_end=horizon_end)
        out += rows
    frame = pd.DataFrame(out)
    if frame.empty:
        return frame
    frame["evaluated_at"] = datetime.now()
    return frame


def write_realised_accuracy(conn: Connection, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    dates = sorted(set(frame["scores_as_of"]))
    conn.execute(sa.delete(realised_accuracy).where(realised_accuracy.c.scores_as_of.in_(dates)))
    write_frame(conn, realised_accuracy, frame)


def accuracy_shortfalls(frame: pd.DataFrame, margin: float) -> list[str]:
    """Reasons to retrain: the latest closed date's headline metric below the promise - margin."""
    if frame.empty:
        return []
    latest = frame[frame["scores_as_of"] == frame["scores_as_of"].max()]
    reasons = []
    for target, metric in HEADLINE.items():
        row = latest[(latest["model"] == target) & (latest["metric"] == metric)]
        if row.empty or pd.isna(row["promised"].iloc[0]) or pd.isna(row["realised"].iloc[0]):
            continue
        realised, promised = float(row["realised"].iloc[0]), float(row["promised"].iloc[0])
        if realised < promised - margin:
            reasons.append(
                f"{target} v{row['model_version'].iloc[0]} realised {metric} {realised:.4f} on "
                f"{row['scores_as_of'].iloc[0]} is below the promised {promised:.4f} by more than {margin}"
            )
    return reasons
