"""A value model that respects zeros: P(buy in the horizon) x E[spend | buy].

Most customers buy nothing in a horizon. A single Tweedie/Poisson regression spreads a little
expected revenue over everyone; the hurdle model separates *whether* a customer buys (binary
LightGBM on revenue > 0) from *how much* a buyer spends (LightGBM with a gamma objective, log
link, on buyers only), and predicts their product, the expected horizon revenue. Both parts
early-stop on the validation cutoff and are refit like every other model
(`cvp.models.refit`). `cvp.models.train.train_clv` chooses between it and the tuned single
model on validation RMSE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from cvp.models.refit import refit_on_closed_windows
from cvp.models.tuning import BASE_PARAMS

PART_PARAMS = {
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
}
EARLY_STOPPING_ROUNDS = 50


@dataclass
class HurdleModel:
    """Two boosters over the same feature columns; `params` hold each part's rounds."""

    purchase: lgb.Booster
    amount: lgb.Booster
    purchase_params: dict
    amount_params: dict

    kind = "hurdle"

    def feature_name(self) -> list[str]:
        return list(self.purchase.feature_name())

    def predict(self, data: pd.DataFrame, /, **kwargs: Any) -> np.ndarray:
        """Expected horizon revenue: P(buy) x E[spend | buy] (never negative)."""
        p_buy = np.asarray(self.purchase.predict(data))
        spend = np.asarray(self.amount.predict(data))
        return p_buy * np.maximum(spend, 0)

    def params(self) -> dict:
        return {
            **{f"purchase_{k}": v for k, v in self.purchase_params.items()},
            **{f"amount_{k}": v for k, v in self.amount_params.items()},
        }

    def refit(self, x: pd.DataFrame, y: np.ndarray) -> HurdleModel:
        """Both parts retrained on `x`, `y` with their early-stopped number of rounds."""
        buyers = y > 0
        return HurdleModel(
            refit_on_closed_windows(self.purchase_params, x, buyers.astype(float)),
            refit_on_closed_windows(self.amount_params, x[buyers], y[buyers]),
            self.purchase_params,
            self.amount_params,
        )


def _early_stopped(
    params: dict,
    train: tuple[pd.DataFrame, np.ndarray],
    valid: tuple[pd.DataFrame, np.ndarray],
    max_rounds: int,
) -> tuple[lgb.Booster, dict]:
    d_train = lgb.Dataset(*train, params={"feature_pre_filter": False})
    d_valid = lgb.Dataset(*valid, reference=d_train)
    booster = lgb.train(
        params,
        d_train,
        num_boost_round=max_rounds,
        valid_sets=[d_valid],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )
    rounds = max(1, booster.best_iteration or booster.current_iteration())
    final = lgb.train(params, d_train, num_boost_round=rounds)
    return final, {**params, "num_boost_round": rounds}


def fit_hurdle(
    train: tuple[pd.DataFrame, np.ndarray],
    valid: tuple[pd.DataFrame, np.ndarray],
    seed: int,
    max_rounds: int = 2000,
) -> HurdleModel:
    """Fit the purchase part on everyone and the amount part on buyers, each early-stopped on
    the validation cutoff's customers (buyers only for the amount)."""
    (x_train, y_train), (x_valid, y_valid) = train, valid
    base = {**BASE_PARAMS, "seed": seed, **PART_PARAMS}
    purchase, purchase_params = _early_stopped(
        {**base, "objective": "binary", "metric": "binary_logloss"},
        (x_train, (y_train > 0).astype(float)),
        (x_valid, (y_valid > 0).astype(float)),
        max_rounds,
    )
    bought, bought_valid = y_train > 0, y_valid > 0
    amount, amount_params = _early_stopped(
        {**base, "objective": "gamma", "metric": "l2"},
        (x_train[bought], y_train[bought]),
        (x_valid[bought_valid], y_valid[bought_valid]),
        max_rounds,
    )
    return HurdleModel(purchase, amount, purchase_params, amount_params)
