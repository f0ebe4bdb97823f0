"""A synthetic subscriber snapshot (the classic telecom churn export) with planted truth.

One row per subscriber as a billing system exports it at a snapshot date: a text id with leading
zeros, demographics, services, contract, billing, monthly and total charges, and a Yes/No churn
label; no transactions. How it is made, so that models can be judged against the truth:

- each subscriber joined `a` months before the snapshot, `a` uniform on [0, max_tenure_months);
- their lifetime T is Weibull (shape `SHAPE`) with a scale set by an accelerated-failure-time
  model of their contract, fee and services (`DRIVERS`, the planted drivers): log scale =
  `INTERCEPT` + sum of the drivers' effects; gender and senior citizen have no effect;
- churned (Yes) when T <= a, with tenure floor(T); otherwise active, tenure floor(a);
- total charges about monthly x tenure, blank when tenure is 0 (as the real file has).

The truth file holds, per source id, the planted scale, the oracle P(churn | attributes, tenure)
(Bayes' rule over the join time and the lifetime, integrated over the tenure month) and the
remaining lifetime of active subscribers. It is written next to the snapshot and never imported:
tests and the README compare the models with it.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SHAPE = 0.8  # Weibull shape < 1: the hazard falls with tenure, as subscriber churn does
INTERCEPT = 4.4  # log-scale (months) of a month-to-month DSL customer with a 65 fee
# planted effects on the log of the lifetime scale (positive: stays longer)
DRIVERS: dict[str, float] = {
    "contract=One year": 1.5,
    "contract=Two year": 2.6,
    "internet_service=Fiber optic": -0.5,
    "internet_service=No": 0.5,
    "tech_support=Yes": 0.4,
    "online_security=Yes": 0.4,
    "payment_method=Electronic check": -0.5,
    "paperless_billing=Yes": -0.2,
    "partner=Yes": 0.2,
    "monthly_charges_per_10": -0.15,
}
ADD_ONS = (
    "online_security",
    "online_backup",
    "device_protection",
    "tech_support",
    "streaming_tv",
    "streaming_movies",
)
PAYMENT_METHODS = (
    "Electronic check",
    "Mailed check",
    "Bank transfer (automatic)",
    "Credit card (automatic)",
)
SNAPSHOT_FILE = "subscribers.csv"
TRUTH_FILE = "subscribers_truth.csv"


@dataclass(frozen=True)
class SubscriberSnapshot:
    snapshot: pd.DataFrame  # as exported: text-like values, source ids
    truth: pd.DataFrame  # customer_id (source id), planted scale, oracle probability, ...


def _yes_no(flags: np.ndarray) -> np.ndarray:
    return np.where(flags, "Yes", "No")


def _ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """'0042-KXQZT'-style ids: numeric part with leading zeros, letters after."""
    width = max(4, len(str(2 * n)))
    numbers = rng.choice(10**width, size=n, replace=False)
    letters = rng.choice(list(string.ascii_uppercase), size=(n, 5))
    return np.array(
        [f"{num:0{width}d}-{''.join(chars)}" for num, chars in zip(numbers, letters, strict=True)]
    )


def log_scale(frame: pd.DataFrame) -> np.ndarray:
    """The planted log lifetime scale (months) of each subscriber from its attributes."""
    effect = np.full(len(frame), INTERCEPT)
    for driver, weight in DRIVERS.items():
        if driver == "monthly_charges_per_10":
            fee = frame["monthly_charges"].astype(float).to_numpy()
            effect += weight * (fee - 65.0) / 10.0
            continue
        column, value = driver.split("=")
        effect += weight * (frame[column].to_numpy() == value)
    return effect


def _survival(t: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.exp(-((np.maximum(t, 0) / scale) ** SHAPE))


def oracle_probability(tenure: np.ndarray, scale: np.ndarray, max_months: int) -> np.ndarray:
    """P(churned | attributes, observed tenure m): over u in [m, m+1), a churner has T = u and
    joined earlier than u (density f(u) (A - u) / A), an active subscriber joined at u and has
    T > u (density S(u) / A)."""
    steps = (np.arange(16) + 0.5) / 16
    u = tenure[:, None] + steps[None, :]
    s = _survival(u, scale[:, None])
    density = SHAPE / scale[:, None] * (u / scale[:, None]) ** (SHAPE - 1) * s
    churned = (density * np.clip(max_months - u, 0, None)).mean(axis=1)
    active = s.mean(axis=1)
    return churned / (churned + active)


def generate_subscribers(n: int, seed: int, max_tenure_months: int = 72) -> SubscriberSnapshot:
    """`n` subscribers, seeded: same seed, same rows."""
    rng = np.random.default_rng(seed)
    partner = rng.random(n) < 0.48
    frame = pd.DataFrame(
        {
            "customer_id": _ids(rng, n),
            "gender": rng.choice(["Female", "Male"], size=n),
            "senior_citizen": (rng.random(n) < 0.16).astype(int),
            "partner": _yes_no(partner),
            "dependents": _yes_no(rng.random(n) < np.where(partner, 0.5, 0.1)),
        }
    )
    phone = rng.random(n) < 0.9
    internet = rng.choice(["DSL", "Fiber optic", "No"], size=n, p=[0.34, 0.44, 0.22])
    contract = rng.choice(["Month-to-month", "One year", "Two year"], size=n, p=[0.55, 0.21, 0.24])
    fee = np.where(phone, 20.0, 0.0) + np.select(
        [internet == "DSL", internet == "Fiber optic"], [25.0, 50.0], 0.0
    )
    frame["phone_service"] = _yes_no(phone)
    frame["multiple_lines"] = np.where(phone, _yes_no(rng.random(n) < 0.45), "No phone service")
    frame["internet_service"] = internet
    for add_on in ADD_ONS:
        has = rng.random(n) < (0.45 if add_on.startswith("streaming") else 0.35)
        frame[add_on] = np.where(internet == "No", "No internet service", _yes_no(has))
        fee = fee + np.where((internet != "No") & has, 7.5, 0.0)
    frame["contract"] = contract
    frame["paperless_billing"] = _yes_no(rng.random(n) < 0.59)
    frame["payment_method"] = rng.choice(PAYMENT_METHODS, size=n, p=[0.34, 0.23, 0.22, 0.21])
    frame["monthly_charges"] = np.round(np.maximum(fee + rng.normal(0, 3, n), 18.25), 2)

    scale = np.exp(log_scale(frame))
    joined = rng.uniform(0, max_tenure_months, n)  # months before the snapshot
    lifetime = scale * rng.weibull(SHAPE, n)
    churned = lifetime <= joined
    tenure = np.floor(np.where(churned, lifetime, joined)).astype(int)
    frame["tenure"] = tenure
    total = frame["monthly_charges"] * tenure * rng.uniform(0.95, 1.05, n)
    frame["total_charges"] = np.where(tenure > 0, np.round(total, 2).astype(str), " ")
    frame["churn"] = _yes_no(churned)
    columns = [c for c in frame.columns if c not in ("tenure", "churn", "total_charges")]
    order = columns[:5] + ["tenure"] + columns[5:] + ["total_charges", "churn"]
    truth = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "log_scale": np.log(scale),
            "scale_months": scale,
            "oracle_churn_probability": oracle_probability(tenure, scale, max_tenure_months),
            "lifetime_months": lifetime,
            "remaining_months": np.where(churned, 0.0, lifetime - joined),
            "churned": churned,
        }
    )
    return SubscriberSnapshot(frame[order], truth)


def export_subscribers(snapshot: SubscriberSnapshot, directory: Path) -> dict[str, Path]:
    """The snapshot as a billing export (CSV) and, beside it, the truth file."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"subscribers": directory / SNAPSHOT_FILE, "truth": directory / TRUTH_FILE}
    snapshot.snapshot.to_csv(paths["subscribers"], index=False)
    snapshot.truth.to_csv(paths["truth"], index=False)
    return paths
