"""Calibration and cumulative-gain points of a churn model's backtest, small enough to log as
JSON beside the training run: the report redraws them interactively without the test set."""

from __future__ import annotations

import numpy as np
from sklearn.calibration import calibration_curve

CURVES_ARTIFACT = "curves.json"
GAIN_POINTS = 50


def curve_points(y: np.ndarray, scores: dict[str, np.ndarray], bins: int = 10) -> dict:
    """Per scorer: calibration (mean predicted vs observed rate per quantile bin) and the
    cumulative gain at `GAIN_POINTS` evenly spaced contact shares, plus the base rate."""
    y = np.asarray(y, dtype=float)
    share = np.linspace(0, 1, GAIN_POINTS + 1)
    out: dict = {"base_rate": float(y.mean()) if len(y) else 0.0, "n": len(y), "scores": {}}
    for name, s in scores.items():
        s = np.asarray(s, dtype=float)
        observed, predicted = calibration_curve(y, s, n_bins=bins, strategy="quantile")
        order = np.argsort(-s, kind="stable")
        reached = np.concatenate([[0.0], np.cumsum(y[order]) / max(y.sum(), 1.0)])
        index = np.round(share * len(y)).astype(int)
        out["scores"][name] = {
            "calibration_predicted": [round(float(v), 6) for v in predicted],
            "calibration_observed": [round(float(v), 6) for v in observed],
            "gain_share": [round(float(v), 4) for v in share],
            "gain_reached": [round(float(v), 6) for v in reached[index]],
        }
    return out
