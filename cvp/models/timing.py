"""The next-purchase date: BG/NBD's median wait given alive, its window, and its backtest.

The date is as_of + the median of the wait to the next purchase *if the customer is alive*
(`BGNBD.wait_quantile`, columns added by `cvp.models.dataset.add_btyd_features`); the window is
the wait's quartiles (half of the alive customers' next purchases fall inside it). A customer
whose P(alive) is below `scoring.next_purchase_min_p_alive`, or whose median wait is beyond
`scoring.next_purchase_max_days`, gets no date: the model does not expect them back soon
enough to plan on it.

The backtest compares it with "the customer's own rhythm" (their mean days between purchases
minus the days since their last one) on the customers the model dates, against the realised
first purchase after the cutoff. Realised waits are censored at the horizon: a customer who did
not buy within it has waited at least the horizon, an unknown amount more. So errors are taken
on waits truncated at the horizon (|min(predicted, H) - min(realised, H)|), which is known for
every customer and never rewards a prediction past the horizon for a customer who bought
inside it. The window's hit rate counts the customers whose outcome the window settles (they
bought inside the horizon, or the window closed within it without a purchase)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from cvp.models.dataset import WAIT_QUANTILES

EARLIEST, MEDIAN, LATEST = WAIT_QUANTILES  # the columns, in order of their quantile


def predicted_wait(features: pd.DataFrame, min_p_alive: float, max_days: float) -> pd.DataFrame:
    """Days from as_of to the next purchase (`earliest`, `median`, `latest`), NaN where the
    customer gets no date (P(alive) below `min_p_alive` or a median past `max_days`)."""
    dated = (features["btyd_p_alive"] >= min_p_alive) & (features[MEDIAN] <= max_days)
    return pd.DataFrame(
        {
            "earliest": features[EARLIEST].where(dated),
            "median": features[MEDIAN].where(dated),
            "latest": features[LATEST].where(dated),
        },
        index=features.index,
    )


def own_rhythm_wait(features: pd.DataFrame) -> pd.Series:
    """The baseline: the customer's mean gap between purchases minus the days since their last
    purchase, at least one day; customers with one purchase take the population's median gap."""
    gap = features["gap_mean_days"].fillna(features["gap_mean_days"].median())
    return (gap - features["recency_days"]).clip(lower=1)


def next_purchase_dates(wait: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """`predicted_wait` as dates after the end of `as_of` (whole days, rounded up)."""
    out = {}
    for name, column in (
        ("next_purchase_date", "median"),
        ("next_purchase_earliest", "earliest"),
        ("next_purchase_latest", "latest"),
    ):
        days = np.ceil(wait[column].clip(lower=0))
        dates = pd.Timestamp(as_of) + pd.to_timedelta(days, unit="D")
        out[name] = pd.Series(dates.dt.date.where(dates.notna(), None), dtype=object)
    return pd.DataFrame(out).set_axis(wait.index)


def timing_metrics(
    frame: pd.DataFrame, horizon_days: int, min_p_alive: float, max_days: float
) -> dict[str, float]:
    """The next-purchase backtest on one closed window (`frame`: BTYD columns, features and the
    `days_to_next_purchase` label): median absolute error in days of the model and of the
    own-rhythm baseline (on waits truncated at the horizon), the window's hit rate, and the
    share of customers the model dates."""
    wait = predicted_wait(frame, min_p_alive, max_days)
    dated = wait["median"].notna().to_numpy()
    realised = frame["days_to_next_purchase"].to_numpy(float)[dated]
    bought = ~np.isnan(realised)
    seen = np.where(bought, np.minimum(realised, horizon_days), horizon_days)

    def median_error(predicted: np.ndarray) -> float:
        if not len(predicted):
            return float("nan")
        return float(np.median(np.abs(np.minimum(predicted, horizon_days) - seen)))

    earliest = wait["earliest"].to_numpy(float)[dated]
    latest = wait["latest"].to_numpy(float)[dated]
    inside = bought & (realised >= earliest) & (realised <= latest)
    settled = bought | (latest <= horizon_days)
    return {
        "next_purchase_median_abs_error_days": median_error(wait["median"].to_numpy(float)[dated]),
        "next_purchase_own_rhythm_median_abs_error_days": median_error(
            own_rhythm_wait(frame).to_numpy(float)[dated]
        ),
        "next_purchase_window_hit_rate": float(inside[settled].mean()) if settled.any() else 0.0,
        "next_purchase_window_settled_share": float(settled.mean()) if len(settled) else 0.0,
        "next_purchase_dated_share": float(dated.mean()) if len(dated) else 0.0,
    }
