"""Fixed metric names, logged for every model and its baseline so MLflow's compare view lines up."""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn import metrics

CHURN_METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "lift_at_10pct", "ece")
CLV_METRICS = ("spearman", "normalized_gini", "rmse", "mae", "decile_mape", "total_error_pct")


def lift_at(y: np.ndarray, score: np.ndarray, share: float = 0.1) -> float:
    """Churn rate in the top `share` by score over the overall churn rate."""
    k = max(1, int(round(len(y) * share)))
    top = np.argsort(-score, kind="stable")[:k]
    return float(np.mean(y[top]) / max(np.mean(y), 1e-12))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(total)


def churn_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return {
        "roc_auc": float(metrics.roc_auc_score(y, p)),
        "pr_auc": float(metrics.average_precision_score(y, p)),
        "brier": float(metrics.brier_score_loss(y, p)),
        "log_loss": float(metrics.log_loss(y, p)),
        "lift_at_10pct": lift_at(y, p, 0.1),
        "ece": expected_calibration_error(y, p),
    }


def normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Gini of the ranking by prediction over the Gini of the perfect ranking (1 = perfect)."""

    def gini(a: np.ndarray, p: np.ndarray) -> float:
        order = np.lexsort((np.arange(len(p)), -p))
        cumulative = np.cumsum(a[order]) / max(a.sum(), 1e-12)
        return float(cumulative.sum() / len(a) - (len(a) + 1) / (2 * len(a)))

    actual = np.asarray(actual, dtype=float)
    perfect = gini(actual, actual)  # 0 when every actual value is the same: no ranking to judge
    return gini(actual, np.asarray(predicted, dtype=float)) / perfect if perfect else float("nan")


def decile_mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute % error of total value per predicted decile: is each decile sized right?"""
    order = np.argsort(predicted, kind="stable")
    errors = []
    for chunk in np.array_split(order, 10):
        truth = actual[chunk].sum()
        if truth > 0:
            errors.append(abs(predicted[chunk].sum() - truth) / truth)
    return float(np.mean(errors) * 100) if errors else float("nan")


def clv_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    return {
        "spearman": float(stats.spearmanr(actual, predicted).statistic),
        "normalized_gini": normalized_gini(actual, predicted),
        "rmse": float(np.sqrt(metrics.mean_squared_error(actual, predicted))),
        "mae": float(metrics.mean_absolute_error(actual, predicted)),
        "decile_mape": decile_mape(actual, predicted),
        "total_error_pct": float((predicted.sum() - actual.sum()) / max(actual.sum(), 1e-12) * 100),
    }
