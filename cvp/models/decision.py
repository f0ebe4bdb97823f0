"""Decision threshold for contacting a customer: maximise expected saved value minus contact
cost on held-out data, not accuracy."""

from __future__ import annotations

import numpy as np


def expected_profit(
    p: np.ndarray, value: np.ndarray, save_rate: float, contact_cost: float
) -> np.ndarray:
    """Per customer if contacted: P(churn) x value x P(save | contacted) - cost."""
    return p * value * save_rate - contact_cost


def choose_threshold(
    p: np.ndarray, churned: np.ndarray, value: np.ndarray, save_rate: float, contact_cost: float
) -> tuple[float, float]:
    """Threshold on P(churn) with the highest realised profit on held-out labels
    (contacted churners are saved at `save_rate`); returns (threshold, profit)."""
    gains = churned * value * save_rate - contact_cost
    order = np.argsort(-p, kind="stable")
    cumulative = np.concatenate([[0.0], np.cumsum(gains[order])])
    best = int(np.argmax(cumulative))
    if best == 0:
        return 1.0, 0.0
    return float(p[order][best - 1]), float(cumulative[best])
