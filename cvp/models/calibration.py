"""Probability calibration on held-out data: isotonic or Platt, whichever validates better.
Stored as plain numbers so scoring can apply it without pickles."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@dataclass
class Calibrator:
    method: str
    x: list[float] = field(default_factory=list)  # isotonic knots
    y: list[float] = field(default_factory=list)
    coef: float = 1.0  # Platt on the logit
    intercept: float = 0.0
    holdout_brier: dict[str, float] = field(default_factory=dict)

    def apply(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic":
            return np.interp(raw, self.x, self.y)
        return 1 / (1 + np.exp(-(self.coef * _logit(raw) + self.intercept)))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Calibrator:
        return cls(**data)


def _fit(method: str, raw: np.ndarray, y: np.ndarray) -> Calibrator:
    if method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(raw, y)
        return Calibrator("isotonic", x=iso.X_thresholds_.tolist(), y=iso.y_thresholds_.tolist())
    platt = LogisticRegression(C=1e6).fit(_logit(raw).reshape(-1, 1), y)
    return Calibrator("platt", coef=float(platt.coef_[0, 0]), intercept=float(platt.intercept_[0]))


def choose_calibrator(raw: np.ndarray, y: np.ndarray, seed: int) -> Calibrator:
    """Fit both on one half of the held-out set, compare Brier on the other, refit the winner."""
    rng = np.random.default_rng(seed)
    half = rng.random(len(y)) < 0.5
    scores = {}
    for method in ("isotonic", "platt"):
        fitted = _fit(method, raw[half], y[half])
        scores[method] = float(brier_score_loss(y[~half], fitted.apply(raw[~half])))
    best = min(scores, key=scores.__getitem__)
    chosen = _fit(best, raw, y)
    chosen.holdout_brier = scores
    return chosen
