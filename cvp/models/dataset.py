"""Time-based training data: features and labels per cutoff, BTYD features per cutoff. The
cutoffs themselves (rolling origin, from the history available) are `cvp.models.windows`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from cvp.features.build import catalog
from cvp.features.labels import training_set
from cvp.models.btyd import BGNBD, GammaGamma
from cvp.models.windows import Cutoffs

BTYD_FEATURES = (
    "btyd_p_alive",
    "btyd_expected_purchases",
    "btyd_expected_spend",
    "btyd_p_no_purchase",
)
NON_FEATURES = {"as_of", "customer_id", "country", "acquisition_channel"}
LABELS = ("churned", "contract_churned", "future_revenue", "future_margin", "insufficient_history")


def feature_columns() -> list[str]:
    return [f.name for f in catalog()] + ["is_contractual", *BTYD_FEATURES]


BTYD_FIT_SAMPLE = 50_000  # population parameters; a seeded sample fits them as well as everyone


def add_btyd_features(frame: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """Fit BG/NBD and Gamma-Gamma on one cutoff's history (weeks) and add their predictions.
    Above BTYD_FIT_SAMPLE customers the fit uses a seeded sample (the likelihood is a mean over
    customers, so the sample estimates the same parameters) and predicts for everyone."""
    out = frame.copy()
    x = np.maximum(out["frequency"].fillna(0).to_numpy() - 1, 0)
    T = np.maximum(out["tenure_days"].fillna(0).to_numpy() / 7, 1e-3)
    t_x = np.clip(T - out["recency_days"].fillna(out["tenure_days"]).fillna(0).to_numpy() / 7, 0, T)
    t_x = np.where(x > 0, t_x, 0.0)
    spend = out["monetary_mean"].fillna(0).to_numpy()
    fit = np.arange(len(out))
    if len(out) > BTYD_FIT_SAMPLE:
        fit = np.sort(np.random.default_rng(0).choice(len(out), BTYD_FIT_SAMPLE, replace=False))
    bgnbd = BGNBD.fit(x[fit], t_x[fit], T[fit])
    gamma = GammaGamma.fit(x[fit], spend[fit])
    weeks = horizon_days / 7
    out["btyd_p_alive"] = bgnbd.p_alive(x, t_x, T)
    out["btyd_expected_purchases"] = bgnbd.expected_purchases(weeks, x, t_x, T)
    out["btyd_expected_spend"] = gamma.expected_spend(x, spend)
    out["btyd_p_no_purchase"] = bgnbd.p_no_purchase(weeks, x, t_x, T)
    return out


def baseline_revenue(frame: pd.DataFrame) -> np.ndarray:
    return (frame["btyd_expected_purchases"] * frame["btyd_expected_spend"]).to_numpy()


@dataclass
class Splits:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    cutoffs: Cutoffs


def load_splits(
    conn: Connection, cutoffs: Cutoffs, horizon_days: int, labels_known_by: date
) -> Splits:
    """Features + labels per cutoff, BTYD fitted per cutoff, young customers left out."""
    frame = training_set(conn, cutoffs.all, horizon_days, labels_known_by)
    parts = []
    for _, one in frame.groupby("as_of", sort=True):
        parts.append(add_btyd_features(one, horizon_days))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[frame["insufficient_history"] == 0]
    day = frame["as_of"].dt.date
    return Splits(
        train=frame[day.isin(cutoffs.train)].reset_index(drop=True),
        valid=frame[day == cutoffs.valid].reset_index(drop=True),
        test=frame[day == cutoffs.test].reset_index(drop=True),
        cutoffs=cutoffs,
    )
