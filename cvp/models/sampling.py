"""Whole-customer samples of a training panel, for tuning at scale.

Optuna's trials compare hyperparameters; they need a sample large enough to rank them, not every
row. A training panel holds one row per customer and cutoff, so the sample takes whole customers
(every cutoff of each one drawn): a customer's rows are strongly alike, and drawing rows instead
would spread the same people thinly over the sample.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def customer_sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """`frame` itself when it has at most `max_rows` rows; else the rows of a seeded random set of
    customers whose rows add up to at most `max_rows`, in `frame`'s order."""
    if len(frame) <= max_rows:
        return frame
    rows_per_customer = frame.groupby("customer_id", sort=True).size()
    order = np.random.default_rng(seed).permutation(len(rows_per_customer))
    drawn = rows_per_customer.iloc[order]
    kept = drawn.index[np.cumsum(drawn.to_numpy()) <= max_rows]
    return frame[frame["customer_id"].isin(kept)].reset_index(drop=True)
