"""The final model: refit on the most recent closed windows before it is registered and scores.

The backtest model is fitted on the training cutoffs only, so that the validation cutoff can tune
and early-stop it and the test cutoff can judge it. What scores is refit with the same tuned
parameters and number of boosting rounds on the training *and* validation cutoffs together (all
labels closed by the test cutoff), so the newest labelled behaviour is learned. The test window,
the most recent closed one, never enters the refit booster: it is where the final model is
calibrated and its decision threshold chosen, out of sample.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from cvp.models.dataset import Splits


def closed_before_test(splits: Splits) -> pd.DataFrame:
    """Training and validation rows: every cutoff whose labels are closed by the test cutoff."""
    return pd.concat([splits.train, splits.valid], ignore_index=True)


def refit_on_closed_windows(params: dict, x: pd.DataFrame, y: np.ndarray) -> lgb.Booster:
    """Retrain with tuned `params` (including their `num_boost_round`) on `x`, `y`."""
    params = dict(params)
    rounds = int(params.pop("num_boost_round"))
    data = lgb.Dataset(x, y, params={"feature_pre_filter": False})
    return lgb.train(params, data, num_boost_round=rounds)
