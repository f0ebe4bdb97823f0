"""Time to churn of contractual customers: a Weibull accelerated-failure-time model over
subscriptions, fitted by maximum likelihood with scipy (lifelines needs pandas<3).

Each subscription is a duration in months (its tenure) that ended in churn or is still running
(censored). The log of the Weibull scale is linear in the covariates (plan, fee and the static
attributes), the shape is shared: a shape below 1 is a hazard that falls with tenure. Stored as
plain numbers (`to_dict`), so scoring needs no pickle. What it gives scoring:

- `expected_remaining(t, x)`: E[T - t | T > t], the expected months still to come for a
  subscriber with tenure t;
- `discounted_months(t, x, r, M)`: the expected number of the next M monthly payments, each
  discounted at the monthly rate r, which times the fee is the contractual CLV.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

MAX_REMAINING_MONTHS = 1200.0  # the Weibull tail can be long; 100 years is "stays"


@dataclass
class WeibullAFT:
    columns: list[str] = field(default_factory=list)
    means: list[float] = field(default_factory=list)
    stds: list[float] = field(default_factory=list)
    coef: list[float] = field(default_factory=list)
    intercept: float = 0.0
    shape: float = 1.0

    def _design(self, x: pd.DataFrame) -> np.ndarray:
        values = x[self.columns].to_numpy(dtype=float)
        values = np.where(np.isnan(values), np.asarray(self.means), values)
        return (values - np.asarray(self.means)) / np.asarray(self.stds)

    def log_scale(self, x: pd.DataFrame) -> np.ndarray:
        """log of the Weibull scale in months: higher lives longer."""
        return self.intercept + self._design(x) @ np.asarray(self.coef)

    def survival(self, t: np.ndarray, x: pd.DataFrame) -> np.ndarray:
        scale = np.exp(self.log_scale(x))
        return np.exp(-((np.maximum(np.asarray(t, float), 0) / scale) ** self.shape))

    def expected_remaining(self, t: np.ndarray, x: pd.DataFrame) -> np.ndarray:
        """E[T - t | T > t] = integral of S from t to infinity over S(t), in closed form with
        the regularised upper incomplete gamma function."""
        k = self.shape
        scale = np.exp(self.log_scale(x))
        z = np.minimum((np.maximum(np.asarray(t, float), 0) / scale) ** k, 500.0)
        tail = scale * special.gamma(1 + 1 / k) * special.gammaincc(1 / k, z) * np.exp(z)
        return np.clip(tail, 0, MAX_REMAINING_MONTHS)

    def discounted_months(
        self, t: np.ndarray, x: pd.DataFrame, monthly_rate: float, months: int
    ) -> np.ndarray:
        """sum over m = 1..months of P(T > t + m | T > t) / (1 + r)^m."""
        k = self.shape
        scale = np.exp(self.log_scale(x))[:, None]
        start = np.maximum(np.asarray(t, float), 0)[:, None]
        steps = np.arange(1, months + 1)[None, :]
        log_ratio = (start / scale) ** k - ((start + steps) / scale) ** k
        discount = (1 + monthly_rate) ** -steps
        return (np.exp(log_ratio) * discount).sum(axis=1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> WeibullAFT:
        return cls(**data)


def fit_weibull(
    x: pd.DataFrame, duration: np.ndarray, event: np.ndarray, l2: float = 1e-2
) -> WeibullAFT:
    """Maximum likelihood with censoring (L-BFGS, analytic gradient); covariates standardised,
    a small ridge penalty keeps rare categories finite."""
    model = WeibullAFT(columns=list(x.columns))
    raw = x.to_numpy(dtype=float)
    means = np.nanmean(raw, axis=0)
    stds = np.nanstd(raw, axis=0)
    model.means, model.stds = means.tolist(), np.where(stds > 0, stds, 1.0).tolist()
    design = model._design(x)
    log_t = np.log(np.asarray(duration, float))
    e = np.asarray(event, float)
    n, p = design.shape

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        b0, beta, rho = theta[0], theta[1 : p + 1], theta[-1]
        k = np.exp(rho)
        eta = b0 + design @ beta
        z = k * (log_t - eta)
        ez = np.exp(np.minimum(z, 50))
        ll = e * (rho + (k - 1) * log_t - k * eta) - ez
        d_eta = -e * k + k * ez
        d_rho = e * (1 + z) - z * ez
        value = -ll.sum() / n + l2 * beta @ beta
        grad = np.concatenate(
            [[-d_eta.sum()], -(design.T @ d_eta), [-d_rho.sum()]]
        ) / n + np.concatenate([[0.0], 2 * l2 * beta, [0.0]])
        return float(value), grad

    start = np.zeros(p + 2)
    start[0] = float(np.mean(log_t)) + 1.0
    result = optimize.minimize(loss, start, jac=True, method="L-BFGS-B")
    model.intercept = float(result.x[0])
    model.coef = result.x[1 : p + 1].tolist()
    model.shape = float(np.exp(result.x[-1]))
    return model


def concordance_index(duration: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C: of the pairs where the shorter duration ended in churn, the share where that
    subscriber had the higher risk (ties in risk count one half)."""
    duration = np.asarray(duration, float)
    event = np.asarray(event, bool)
    risk = np.asarray(risk, float)
    concordant, comparable = 0.0, 0.0
    for start in range(0, len(duration), 1000):
        rows = slice(start, start + 1000)
        shorter = (duration[rows, None] < duration[None, :]) & event[rows, None]
        higher = risk[rows, None] > risk[None, :]
        tied = risk[rows, None] == risk[None, :]
        concordant += float((shorter & higher).sum() + 0.5 * (shorter & tied).sum())
        comparable += float(shorter.sum())
    return concordant / comparable if comparable else float("nan")
