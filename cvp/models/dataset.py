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
# quartiles and median of BG/NBD's wait to the next purchase given alive (`BGNBD.wait_quantile`)
WAIT_QUANTILES = {
    "btyd_wait_q25_days": 0.25,
    "btyd_wait_median_days": 0.5,
    "btyd_wait_q75_days": 0.75,
}
NON_FEATURES = {"as_of", "customer_id", "country", "acquisition_channel"}
LABELS = (
    "churned",
    "contract_churned",
    "future_revenue",
    "future_margin",
    "insufficient_history",
    "days_to_next_purchase",
)


def feature_columns() -> list[str]:
    return [f.name for f in catalog()] + ["is_contractual", *BTYD_FEATURES]


BTYD_FIT_SAMPLE = 50_000  # population parameters; a seeded sample fits them as well as everyone


@dataclass(frozen=True)
class BtydFit:
    """BG/NBD and Gamma-Gamma fitted on one date's population."""

    bgnbd: BGNBD
    gamma: GammaGamma


def _btyd_inputs(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(repeat purchases x, recency t_x and age T in weeks, mean spend) per customer."""
    x = np.maximum(frame["frequency"].fillna(0).to_numpy() - 1, 0)
    T = np.maximum(frame["tenure_days"].fillna(0).to_numpy() / 7, 1e-3)
    recency = frame["recency_days"].fillna(frame["tenure_days"]).fillna(0).to_numpy() / 7
    t_x = np.where(x > 0, np.clip(T - recency, 0, T), 0.0)
    return x, t_x, T, frame["monetary_mean"].fillna(0).to_numpy()


def fit_btyd(frame: pd.DataFrame) -> BtydFit:
    """Fit both models on one cutoff's history. Above BTYD_FIT_SAMPLE customers the fit uses a
    seeded sample (the likelihood is a mean over customers, so the sample estimates the same
    parameters). The fit is a population statistic: a partition of the customers must use the
    whole population's fit, or its BTYD features (and the predictions on them) would differ."""
    x, t_x, T, spend = _btyd_inputs(frame)
    fit = np.arange(len(frame))
    if len(frame) > BTYD_FIT_SAMPLE:
        fit = np.sort(np.random.default_rng(0).choice(len(frame), BTYD_FIT_SAMPLE, replace=False))
    return BtydFit(BGNBD.fit(x[fit], t_x[fit], T[fit]), GammaGamma.fit(x[fit], spend[fit]))


def add_btyd_features(
    frame: pd.DataFrame, horizon_days: int, fitted: BtydFit | None = None
) -> pd.DataFrame:
    """Add the BTYD predictions of `fitted` (by default fitted on `frame` itself)."""
    fitted = fit_btyd(frame) if fitted is None else fitted
    out = frame.copy(deep=False)  # copy-on-write: the new columns do not reach `frame`
    x, t_x, T, spend = _btyd_inputs(out)
    weeks = horizon_days / 7
    out["btyd_p_alive"] = fitted.bgnbd.p_alive(x, t_x, T)
    out["btyd_expected_purchases"] = fitted.bgnbd.expected_purchases(weeks, x, t_x, T)
    out["btyd_expected_spend"] = fitted.gamma.expected_spend(x, spend)
    out["btyd_p_no_purchase"] = fitted.bgnbd.p_no_purchase(weeks, x, t_x, T)
    # the wait to the next purchase if alive, in days (not features: the next-purchase date)
    for name, q in WAIT_QUANTILES.items():
        out[name] = 7 * fitted.bgnbd.wait_quantile(q, x, T)
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
