"""The statistical baseline reproduces the published CDNOW parameters."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvp.models.btyd import BGNBD, GammaGamma

CDNOW = pd.read_csv(Path(__file__).parent / "data" / "cdnow_customers_summary.csv")


def test_bgnbd_reproduces_published_cdnow_parameters():
    model = BGNBD.fit(CDNOW["x"], CDNOW["t_x"], CDNOW["T"])
    # Fader, Hardie & Lee (2005): r=0.243, alpha=4.414, a=0.793, b=2.426
    assert model.r == pytest.approx(0.243, abs=0.001)
    assert model.alpha == pytest.approx(4.414, abs=0.005)
    assert model.a == pytest.approx(0.793, abs=0.002)
    assert model.b == pytest.approx(2.426, abs=0.005)
    loglik = BGNBD.log_likelihood(
        np.array([model.r, model.alpha, model.a, model.b]),
        CDNOW["x"].to_numpy(float),
        CDNOW["t_x"].to_numpy(),
        CDNOW["T"].to_numpy(),
    )
    assert loglik.sum() == pytest.approx(-9582.4, abs=0.5)


def test_gamma_gamma_reproduces_published_cdnow_parameters():
    model = GammaGamma.fit(CDNOW["x"], CDNOW["zbar"])
    # Fader, Hardie & Lee (2005, "RFM and CLV"): p=6.25, q=3.74, v=15.44
    assert (model.p, model.q, model.v) == pytest.approx((6.25, 3.74, 15.44), abs=0.02)


def test_bgnbd_predictions_behave():
    model = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426)
    x, t_x, T = np.array([0.0, 5.0, 5.0]), np.array([0.0, 38.0, 10.0]), np.array([38.86] * 3)
    alive = model.p_alive(x, t_x, T)
    assert alive[0] == 1.0  # no repeat purchase yet: BG/NBD cannot have seen a dropout
    assert alive[1] > alive[2]  # same count, the recent buyer is more likely alive
    expected = model.expected_purchases(39, x, t_x, T)
    assert expected[1] > expected[2] > 0
    silent = model.p_no_purchase(39, x, t_x, T)
    assert np.all((silent > 0) & (silent < 1)) and silent[2] > silent[1]
