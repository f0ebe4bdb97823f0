"""Drift of each feature and of the scores: this date's distribution against the reference
(the training snapshot of the champion). PSI over quantile bins of the reference and scipy's
two-sample Kolmogorov-Smirnov test; a feature drifts when PSI is over its threshold, or the
KS test rejects with a statistic large enough to matter (big samples reject on trifles)."""

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


def drift_table(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], rules: MonitoringSettings
) -> pd.DataFrame:
    """One row per column: psi, ks_statistic, ks_p_value, drifted. Non-numeric columns are
    compared on their category codes."""
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
        if len(r) < 2 or len(c) < 2:
            rows.append(
                {
                    "feature": column,
                    "psi": None,
                    "ks_statistic": None,
                    "ks_p_value": None,
                    "drifted": False,
                }
            )
            continue
        value = psi(r, c, rules.drift_bins)
        ks = stats.ks_2samp(r, c)
        drifted = bool(
            value > rules.psi_threshold
            or (ks.pvalue < rules.ks_p_value and ks.statistic > rules.ks_min_statistic)
        )
        rows.append(
            {
                "feature": column,
                "psi": value,
                "ks_statistic": float(ks.statistic),
                "ks_p_value": float(ks.pvalue),
                "drifted": drifted,
            }
        )
    return pd.DataFrame(rows)
