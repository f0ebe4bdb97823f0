"""The next-purchase date (`cvp.models.timing`): BG/NBD's wait given alive, who gets a date,
and the censored backtest. Fast: no database, no models."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from cvp.models.btyd import BGNBD
from cvp.models.timing import next_purchase_dates, predicted_wait, timing_metrics


def test_wait_quantiles_match_simulated_alive_customers():
    model = BGNBD(r=0.8, alpha=6.0, a=0.5, b=2.0)
    x, T = np.array([0.0, 3.0, 12.0]), np.array([10.0, 30.0, 50.0])
    rng = np.random.default_rng(0)
    for i in range(len(x)):
        # an alive customer's rate from its posterior, then an exponential wait at that rate
        rate = rng.gamma(model.r + x[i], 1 / (model.alpha + T[i]), 200_000)
        waits = rng.exponential(1 / rate)
        for q in (0.25, 0.5, 0.75):
            expected = np.quantile(waits, q)
            got = model.wait_quantile(q, x[i : i + 1], T[i : i + 1])[0]
            assert got == pytest.approx(expected, rel=0.03)
    # more purchases in the same time: a shorter wait
    assert (
        model.wait_quantile(0.5, np.array([12.0]), np.array([30.0]))[0]
        < model.wait_quantile(0.5, np.array([3.0]), np.array([30.0]))[0]
    )


def _features(**columns: list[float]) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_dates_only_for_customers_likely_alive_and_back_within_the_cap():
    features = _features(
        btyd_p_alive=[0.9, 0.4, 0.9, 0.9],
        btyd_wait_q25_days=[4.2, 5.0, 200.0, 0.0],
        btyd_wait_median_days=[10.1, 12.0, 400.0, 0.3],
        btyd_wait_q75_days=[30.0, 31.0, 900.0, 2.0],
    )
    wait = predicted_wait(features, min_p_alive=0.5, max_days=365)
    got = next_purchase_dates(wait, date(2025, 1, 1))
    assert got.iloc[0].tolist() == [date(2025, 1, 12), date(2025, 1, 6), date(2025, 1, 31)]
    assert got.iloc[1].isna().all() and got.iloc[2].isna().all()  # P(alive) 0.4; median 400 days
    assert got.iloc[3].tolist() == [date(2025, 1, 2), date(2025, 1, 1), date(2025, 1, 3)]


def test_backtest_errors_on_waits_truncated_at_the_horizon():
    frame = _features(
        btyd_p_alive=[0.9, 0.9, 0.9, 0.2],
        btyd_wait_q25_days=[5.0, 50.0, 100.0, 1.0],
        btyd_wait_median_days=[10.0, 80.0, 200.0, 2.0],
        btyd_wait_q75_days=[20.0, 85.0, 300.0, 3.0],
        gap_mean_days=[30.0, 30.0, 30.0, 30.0],
        recency_days=[10.0, 10.0, 10.0, 10.0],
        days_to_next_purchase=[12.0, np.nan, 60.0, 1.0],
    )
    got = timing_metrics(frame, horizon_days=90, min_p_alive=0.5, max_days=365)
    # dated: the first three. Errors |min(pred, 90) - min(real, 90)|: 2, 10 (no purchase: >= 90),
    # 30 (predicted 200 counts as 90); own rhythm 20 days: 8, 70, 40
    assert got["next_purchase_median_abs_error_days"] == 10
    assert got["next_purchase_own_rhythm_median_abs_error_days"] == 40
    # windows: 12 in [5, 20] hit; no purchase and the window closed by day 85: settled, miss;
    # 60 before [100, 300]: miss
    assert got["next_purchase_window_hit_rate"] == pytest.approx(1 / 3)
    assert got["next_purchase_dated_share"] == 0.75
