"""The generator's ground truth turned into the quantity a churn model estimates, so tests can
compare a model with an oracle that knows every customer's latent state."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from cvp.data.synthetic import seasonality


def oracle_no_purchase_probability(
    truth: pd.DataFrame, as_of: date, horizon_days: int, rate_factor: float = 1.0
) -> pd.Series:
    """P(no purchase in (as_of, as_of + horizon]) given the latent state at as_of.

    Churned already: 1. Otherwise competing exponentials with the current hazard h and purchase
    rate l (pre- or post-onset, times the generator's seasonality averaged over the window):
    P = h/(h+l) (1 - e^{-(h+l)H}) + e^{-(h+l)H}. A future onset inside the window is ignored
    and the seasonal rate is taken at its window mean, so the oracle is close to, not exactly,
    optimal.
    `rate_factor` multiplies every purchase rate: the generator's activity shift
    (`activity_shift_factor`) when `as_of` is on or after `activity_shift_date`.
    """
    cutoff = pd.Timestamp(as_of)
    churned = pd.to_datetime(truth["churn_date"]) <= cutoff
    onset = pd.to_datetime(truth["onset_date"])
    deteriorating = onset.notna() & (onset <= cutoff)
    hazard = np.where(deteriorating, truth["post_onset_hazard"], truth["base_hazard"])
    days = np.datetime64(as_of, "D").astype(np.int64) + 1 + np.arange(horizon_days)
    season = float(seasonality(days).mean())
    rate = (
        season
        * rate_factor
        * np.where(deteriorating, truth["post_onset_purchase_rate"], truth["purchase_rate"])
    )
    total = hazard + rate
    decay = np.exp(-total * horizon_days)
    p = hazard / total * (1 - decay) + decay
    return pd.Series(np.where(churned, 1.0, p), index=truth.index, name="oracle")
