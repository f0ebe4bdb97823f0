"""Composite value index with entropy weights: indicators that separate customers more get more
weight. Weights are stored per run and can be overridden in config."""

from __future__ import annotations

import numpy as np
import pandas as pd

# indicator -> dimension; all "higher is more valuable"
INDICATORS: dict[str, str] = {
    "clv_expected": "financial",
    "monetary_total": "financial",
    "frequency": "behavioural",
    "active_days_365d": "behavioural",
    "events_90d": "engagement",
    "nps_latest": "satisfaction",
}


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    filled = frame.fillna(frame.median()).fillna(0)
    low, high = filled.min(), filled.max()
    return (filled - low) / (high - low).replace(0, 1)


def entropy_weights(frame: pd.DataFrame) -> pd.Series:
    x = _normalise(frame) + 1e-12
    p = x / x.sum()
    k = 1 / np.log(len(frame))
    entropy = -k * (p * np.log(p)).sum()
    divergence = 1 - entropy
    return divergence / divergence.sum()


def value_index(
    frame: pd.DataFrame, weights: dict[str, float] | None = None
) -> tuple[pd.Series, pd.Series]:
    """Index 0..100 and the weights used (given ones, else entropy-learned)."""
    indicators = frame[list(INDICATORS)].astype(float)
    learned = pd.Series(weights, dtype=float) if weights else entropy_weights(indicators)
    learned = learned / learned.sum()
    index = (_normalise(indicators)[learned.index] * learned).sum(axis=1) * 100
    return index.round(4), learned


def tier_thresholds(index: pd.Series, high_share: float, medium_share: float) -> dict[str, float]:
    """Index values above which the top `high_share` is high and the next `medium_share` is
    medium; recomputed per run, so tiers are relative to the current customer base
    (`scoring.high_value_share`, `scoring.medium_value_share`)."""
    return {
        "high": float(index.quantile(1 - high_share)),
        "medium": float(index.quantile(1 - high_share - medium_share)),
    }


def value_tiers(index: pd.Series, thresholds: dict[str, float]) -> pd.Series:
    return pd.Series(
        np.select(
            [index >= thresholds["high"], index >= thresholds["medium"]], ["high", "medium"], "low"
        ),
        index=index.index,
    )
