"""Evaluation plots logged as MLflow artifacts, one figure per function."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402


def _figure(title: str) -> tuple[Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.set_title(title)
    return fig, ax


def roc_plot(y: np.ndarray, scores: dict[str, np.ndarray]) -> Figure:
    fig, ax = _figure("ROC")
    for name, s in scores.items():
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend()
    return fig


def pr_plot(y: np.ndarray, scores: dict[str, np.ndarray]) -> Figure:
    fig, ax = _figure("Precision-recall")
    for name, s in scores.items():
        precision, recall, _ = precision_recall_curve(y, s)
        ax.plot(recall, precision, label=name)
    ax.axhline(np.mean(y), color="k", ls=":", lw=1)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend()
    return fig


def calibration_plot(y: np.ndarray, probabilities: dict[str, np.ndarray]) -> Figure:
    fig, ax = _figure("Calibration")
    for name, p in probabilities.items():
        observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
        ax.plot(predicted, observed, marker="o", label=name)
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed churn rate")
    ax.legend()
    return fig


def gain_lift_plot(y: np.ndarray, scores: dict[str, np.ndarray]) -> Figure:
    fig, ax = _figure("Cumulative gain")
    share = np.arange(1, len(y) + 1) / len(y)
    for name, s in scores.items():
        order = np.argsort(-s, kind="stable")
        ax.plot(share, np.cumsum(y[order]) / max(y.sum(), 1), label=name)
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set_xlabel("share of customers contacted (highest score first)")
    ax.set_ylabel("share of churners reached")
    ax.legend()
    return fig


def clv_decile_plot(actual: np.ndarray, predictions: dict[str, np.ndarray]) -> Figure:
    fig, ax = _figure("CLV by predicted decile")
    width = 0.8 / (len(predictions) + 1)
    for i, (name, pred) in enumerate(predictions.items()):
        deciles = pd.qcut(pd.Series(pred).rank(method="first"), 10, labels=False)
        frame = (
            pd.DataFrame({"decile": deciles, "actual": actual, "pred": pred})
            .groupby("decile")
            .mean()
        )
        ax.bar(frame.index + i * width, frame["pred"], width, label=f"{name} predicted")
        if i == 0:
            ax.bar(
                frame.index + len(predictions) * width,
                frame["actual"],
                width,
                label="actual",
                color="k",
            )
    ax.set_xlabel("decile of predicted value (0 = lowest)")
    ax.set_ylabel("mean revenue in horizon")
    ax.legend(fontsize=8)
    return fig


def importance_plot(importance: pd.Series, title: str, top: int = 20) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 6))
    top_features = importance.sort_values().tail(top)
    ax.barh(top_features.index, top_features.values)
    ax.set_title(title)
    fig.tight_layout()
    return fig
