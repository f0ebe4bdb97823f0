"""Drift of each feature and of the scores: this date's distribution against the reference
(the training snapshot of the champion). PSI over quantile bins of the reference measures how
much a distribution moved; scipy's two-sample Kolmogorov-Smirnov test says whether the move is
more than sampling noise. A column drifts when both hold: PSI over `psi_threshold` and KS
p-value under `ks_p_value` (large samples reject on trifles, small ones give noisy PSI).

What is compared, and what counts, is chosen so that an ordinary month is not drift:
- only the customers the business still acts on (`active_population`: a purchase within
  `[lifecycle] lapsed_after_days`); lapsed and churned customers pile up as the calendar moves
  and their recency-like features grow without anything having changed;
- features that move with the calendar by construction (`[monitoring] calendar_features`:
  tenure, lifetime-to-date counters) are reported but never count;
- the retraining decision weighs drifted features by the champion's own importance (share of
  its mean |SHAP|): drift in features the model barely uses is not a reason to retrain."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cvp.config import MonitoringSettings

EPS = 1e-4


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index over quantile bins of the reference (equal-count bins)."""
    reference = reference[np.isfinite(reference)]
    current = current[np.isfinite(current)]
    if len(reference) == 0 or len(current) == 0:
        return float("nan")
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_share = np.bincount(
        np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1
    )
    cur_share = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1)
    ref_share = np.clip(ref_share / ref_share.sum(), EPS, None)
    cur_share = np.clip(cur_share / cur_share.sum(), EPS, None)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def active_population(snapshot: pd.DataFrame, lapsed_after_days: int) -> pd.DataFrame:
    """Customers with a purchase within `lapsed_after_days` of the snapshot date (everyone
    when the snapshot has no recency, e.g. no transactions yet)."""
    if "recency_days" not in snapshot:
        return snapshot
    recency = pd.to_numeric(snapshot["recency_days"], errors="coerce")
    return snapshot[recency <= lapsed_after_days]


def drift_table(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], rules: MonitoringSettings
) -> pd.DataFrame:
    """One row per column: psi, ks_statistic, ks_p_value, drifted, calendar (moves with the
    calendar by construction, never counts). Non-numeric columns are compared on their
    category codes."""
    rows: list[dict[str, Any]] = []
    for column in columns:
        ref, cur = reference[column], current[column]
        if not (pd.api.types.is_numeric_dtype(ref) or pd.api.types.is_bool_dtype(ref)):
            categories = pd.Categorical(pd.concat([ref, cur]).astype("string")).categories
            ref = pd.Categorical(ref.astype("string"), categories=categories).codes
            cur = pd.Categorical(cur.astype("string"), categories=categories).codes
        r = np.asarray(ref, dtype=float)
        c = np.asarray(cur, dtype=float)
        r, c = r[np.isfinite(r)], c[np.isfinite(c)]
        row: dict[str, Any] = {
            "feature": column,
            "psi": None,
            "ks_statistic": None,
            "ks_p_value": None,
            "drifted": False,
            "calendar": column in rules.calendar_features,
        }
        if len(r) >= 2 and len(c) >= 2:
            value = psi(r, c, rules.drift_bins)
            ks = stats.ks_2samp(r, c)
            row.update(
                psi=value,
                ks_statistic=float(ks.statistic),
                ks_p_value=float(ks.pvalue),
                drifted=bool(value > rules.psi_threshold and ks.pvalue < rules.ks_p_value),
            )
        rows.append(row)
    return pd.DataFrame(rows)


def drifted_importance_share(drift: pd.DataFrame, importance: pd.Series) -> float:
    """Share of the model's importance carried by drifted features that count (not calendar
    ones); 0 without importance."""
    total = float(importance.clip(lower=0).sum())
    if drift.empty or total <= 0:
        return 0.0
    counted = drift.loc[drift["drifted"] & ~drift["calendar"].astype(bool), "feature"]
    return float(importance.reindex(counted).fillna(0).clip(lower=0).sum() / total)
