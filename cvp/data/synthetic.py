"""Seeded synthetic customer base with planted ground truth.

The generative story, so tests can check what models recover:
- purchase rate and spend vary across customers (Gamma rates as in NBD, Gamma-Gamma spend);
- each customer has one primary churn driver; at a random onset the driver's signal appears
  (purchases thin out, complaints stay unresolved, discounts dominate, login gaps grow, NPS drops)
  and the churn hazard jumps from a small background rate to a high post-onset rate;
- purchases follow yearly seasonality with a holiday peak;
- ~30% of customers are contractual and hold a subscription that ends when they churn;
- retention campaigns target customers; treated customers in deterioration recover with a
  driver-dependent probability (the true, heterogeneous uplift); a control arm gets nothing.
Everything observable goes to raw tables; the latent truth goes to `ground_truth_*` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.extensions import ExtensionArray

DRIVERS: tuple[str, ...] = (
    "declining_frequency",
    "unresolved_complaints",
    "price_sensitivity",
    "login_gaps",
    "low_nps",
)
DRIVER_SHARE = np.array([0.25, 0.2, 0.2, 0.2, 0.15])
# purchase-rate multiplier after onset, per driver (the frequency driver is the strong one)
POST_ONSET_PURCHASE_MULTIPLIER = np.array([0.2, 0.6, 0.6, 0.7, 0.7])
# login-rate multiplier after onset, per driver
POST_ONSET_LOGIN_MULTIPLIER = np.array([0.8, 0.8, 0.8, 0.15, 0.8])
# probability that a treated customer in deterioration recovers, per driver (mean of a Beta)
UPLIFT_BY_DRIVER = np.array([0.30, 0.08, 0.50, 0.20, 0.15])

CATEGORIES: tuple[str, ...] = ("grocery", "fashion", "electronics", "home", "beauty", "sports")
CHANNELS: tuple[str, ...] = ("web", "app", "store")
EVENT_TYPES: tuple[str, ...] = ("login", "view", "search", "cart", "feature_use")
EVENT_TYPE_SHARE = np.array([0.45, 0.25, 0.12, 0.08, 0.10])
TICKET_CATEGORIES: tuple[str, ...] = ("billing", "delivery", "product", "account", "complaint")
PLANS = {"basic": 9.99, "plus": 19.99, "premium": 39.99}
COUNTRIES = ("US", "GB", "DE", "FR", "NL")
ACQUISITION_CHANNELS = ("organic", "paid_search", "social", "referral", "affiliate")
CONSENT_PURPOSES = {"marketing": 0.92, "analytics": 0.97, "profiling": 0.95}
FIRST_NAMES = (
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jon",
    "Kira",
    "Liam",
    "Mona",
    "Nils",
    "Olga",
    "Pablo",
    "Qi",
    "Rosa",
    "Sven",
    "Tara",
)
LAST_NAMES = (
    "Adams",
    "Berg",
    "Costa",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ivanova",
    "Jensen",
    "Khan",
    "Lopez",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Rossi",
    "Smith",
)
ERROR_CLASSES: tuple[str, ...] = (
    "negative_amount",
    "duplicate",
    "future_timestamp",
    "orphan_customer",
    "unknown_category",
)
DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class GeneratorConfig:
    customers: int = 20_000
    seed: int = 7
    start: date = date(2024, 1, 1)
    end: date = date(2025, 12, 31)
    inject_errors: bool = False
    error_rate: float = 0.002
    today: date = field(default_factory=date.today)
    # planted behaviour shift: from this day on, spend per purchase is multiplied and most
    # purchases move to the app (monitoring tests look for it); None plants nothing
    drift_date: date | None = None
    drift_spend_factor: float = 1.8
    # planted shift in purchase activity: from this day on each purchase is kept with
    # probability `activity_shift_factor` (every customer buys less often; spend per purchase
    # and channels unchanged, unlike the drift above); None plants nothing
    activity_shift_date: date | None = None
    activity_shift_factor: float = 0.6


@dataclass
class SyntheticDataset:
    """Frames keyed by *source* customer ids; loading pseudonymises them."""

    tables: dict[str, pd.DataFrame]
    ground_truth: pd.DataFrame
    injected_errors: pd.DataFrame

    def row_counts(self) -> dict[str, int]:
        return {name: len(frame) for name, frame in self.tables.items()}


def seasonality(days_since_epoch: np.ndarray) -> np.ndarray:
    """Yearly wave plus a late-November-to-Christmas peak; max is SEASONALITY_MAX."""
    dates = days_since_epoch.astype("datetime64[D]")
    doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64)
    wave = 1.0 + 0.25 * np.sin(2 * np.pi * (doy - 80) / 365.25)
    holiday = ((doy >= 323) & (doy <= 358)) * 0.5
    return wave + holiday


SEASONALITY_MAX = 1.75


def _poisson_times(
    rng: np.random.Generator,
    owner: np.ndarray,
    seg_start: np.ndarray,
    seg_end: np.ndarray,
    rate: np.ndarray,
    seasonal: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Event times (fractional days) of inhomogeneous Poisson processes, one per segment,
    by thinning: draw at the peak rate, keep each with probability seasonality/peak."""
    length = np.clip(seg_end - seg_start, 0, None)
    peak = SEASONALITY_MAX if seasonal else 1.0
    counts = rng.poisson(rate * length * peak)
    who = np.repeat(owner, counts)
    t = np.repeat(seg_start, counts) + rng.random(counts.sum()) * np.repeat(length, counts)
    if seasonal:
        keep = rng.random(len(t)) < seasonality(np.floor(t).astype(np.int64)) / peak
        who, t = who[keep], t[keep]
    return who, t


def _to_timestamps(days: np.ndarray) -> np.ndarray:
    """Fractional days since the epoch to datetime64[s]."""
    return (days * 86400).astype(np.int64).astype("datetime64[s]")


# pandas' default string dtype (`str`): what a numpy string column becomes in a frame
STR = pd.StringDtype("pyarrow", na_value=np.nan)


def _strings(array: pa.Array) -> ExtensionArray:
    """An Arrow string array as a `str` column, without copying it. The generator builds its
    large string columns in Arrow directly: a numpy string array (4 bytes a character) plus its
    Arrow copy was the generator's peak memory at a million customers."""
    return pd.array(array.cast(pa.large_string()), dtype=STR)


def _padded(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """`prefix` + the zero-padded non-negative numbers (numpy's `zfill`), built in Arrow."""
    digits = pc.cast(pa.array(numbers, type=pa.int64()), pa.large_string())
    text = pa.scalar(prefix, pa.large_string()), pa.scalar("", pa.large_string())
    return pc.binary_join_element_wise(text[0], pc.utf8_lpad(digits, width, "0"), text[1])


def _pick(values: tuple[str, ...] | list[str], codes: np.ndarray) -> ExtensionArray:
    """`np.array(values)[codes]` as a `str` column, built in Arrow."""
    return _strings(pa.array(values, type=pa.large_string()).take(pa.array(codes)))


def _ids(prefix: str, n: int, offset: int = 0) -> ExtensionArray:
    return _strings(_padded(prefix, np.arange(offset, offset + n), 9))


def generate(config: GeneratorConfig) -> SyntheticDataset:
    rng = np.random.default_rng(config.seed)
    n = config.customers
    start = np.datetime64(config.start, "D").astype(np.int64)
    end = int(np.datetime64(config.end, "D").astype(np.int64)) + 1  # exclusive, fractional days
    source_ids = _padded("C", np.arange(1, n + 1), 8)

    # --- latent customer traits -------------------------------------------------------------
    signup = rng.integers(start, end - 60, size=n).astype(float)
    is_contractual = rng.random(n) < 0.3
    purchase_rate = rng.gamma(1.5, 1 / 40, size=n)  # mean ~ 1 purchase / 27 days
    spend_mean = rng.gamma(3.0, 20.0, size=n)
    driver = rng.choice(len(DRIVERS), size=n, p=DRIVER_SHARE)
    is_price_driver = driver == DRIVERS.index("price_sensitivity")
    price_sensitivity = np.where(is_price_driver, rng.beta(6, 2, size=n), rng.beta(2, 5, size=n))
    base_hazard = (1 / 1500) * np.exp(1.2 * (price_sensitivity - 0.3))
    post_onset_hazard = (1 / 45) * rng.lognormal(0, 0.3, size=n)
    onset = signup + rng.exponential(400, size=n)
    background_churn = signup + rng.exponential(1 / base_hazard)
    churn = np.minimum(background_churn, onset + rng.exponential(1 / post_onset_hazard))
    uplift = np.clip(rng.beta(4, 4, size=n) * 2 * UPLIFT_BY_DRIVER[driver], 0, 0.95)

    # --- retention campaigns with a control arm ---------------------------------------------
    touches = []
    for k, offset in enumerate((150, 330, 510, 660)):
        when = start + offset
        if when >= end - 30:
            continue
        alive = np.flatnonzero((signup < when) & (churn > when))
        targeted = rng.choice(alive, size=max(1, len(alive) // 8), replace=False)
        targeted.sort()
        control = rng.random(len(targeted)) < 0.2
        treated = targeted[~control]
        deteriorating = treated[onset[treated] <= when]
        saved = deteriorating[rng.random(len(deteriorating)) < uplift[deteriorating]]
        # a saved customer recovers: the deterioration ends, a new onset lies in the future
        onset[saved] = when + rng.exponential(400, size=len(saved))
        churn[saved] = np.minimum(
            background_churn[saved], onset[saved] + rng.exponential(1 / post_onset_hazard[saved])
        )
        responded = np.isin(targeted, saved) | (rng.random(len(targeted)) < 0.05)
        offer = np.where(is_price_driver[targeted], "discount_20", "loyalty_points")
        touches.append(
            pd.DataFrame(
                {
                    "customer_idx": targeted,
                    "ts": _to_timestamps(np.full(len(targeted), float(when)) + 0.375),
                    "campaign": f"retention_{k + 1}",
                    "arm": np.where(control, "control", "treatment"),
                    "channel": rng.choice(["email", "sms", "call"], size=len(targeted)),
                    "offer": np.where(control, np.full(len(offer), None, dtype=object), offer),
                    "cost": np.where(control, 0.0, np.where(offer == "discount_20", 8.0, 3.0)),
                    "responded": np.where(control, False, responded),
                }
            )
        )
    active_end = np.minimum(churn, end)
    onset_seen = np.minimum(onset, active_end)

    tables: dict[str, pd.DataFrame] = {}
    tables["customers"] = pd.DataFrame(
        {
            "customer_idx": np.arange(n),
            "signup_date": signup.astype(np.int64).astype("datetime64[D]"),
            "country": rng.choice(COUNTRIES, size=n, p=[0.4, 0.2, 0.15, 0.15, 0.1]),
            "acquisition_channel": rng.choice(ACQUISITION_CHANNELS, size=n),
            "is_contractual": is_contractual,
        }
    )
    first = rng.choice(FIRST_NAMES, size=n)
    last = rng.choice(LAST_NAMES, size=n)
    tables["customer_identities"] = pd.DataFrame(
        {
            "customer_idx": np.arange(n),
            "name": np.char.add(np.char.add(first, " "), last),
            "email": np.char.add(
                np.char.add(np.char.lower(np.char.add(np.char.add(first, "."), last)), "."),
                np.char.add(np.arange(n).astype(str), "@example.com"),
            ),
            "phone": np.char.add(
                "+1-555-", np.char.zfill(rng.integers(0, 10**7, n).astype(str), 7)
            ),
        }
    )
    tables["transactions"] = _transactions(
        rng,
        n,
        signup,
        onset_seen,
        active_end,
        purchase_rate,
        driver,
        spend_mean,
        price_sensitivity,
        end,
    )
    tables["events"] = _events(rng, n, signup, onset_seen, active_end, driver)
    tables["support_tickets"] = _tickets(rng, n, signup, onset_seen, active_end, driver, end)
    tables["surveys"] = _surveys(rng, n, signup, onset_seen, active_end, driver)
    tables["subscriptions"] = _subscriptions(rng, signup, churn, is_contractual, end)
    tables["marketing_touches"] = (
        pd.concat(touches, ignore_index=True) if touches else pd.DataFrame()
    )
    if not tables["marketing_touches"].empty:
        tables["marketing_touches"].insert(
            0, "touch_id", _ids("m", len(tables["marketing_touches"]))
        )
    tables["consent"] = _consent(rng, n, signup)
    # separate streams, so these additions leave every other generated value unchanged
    _sensitive_attributes(np.random.default_rng([config.seed, 1]), tables["customers"])
    if config.drift_date is not None:
        _plant_drift(np.random.default_rng([config.seed, 2]), tables, config)
    if config.activity_shift_date is not None:
        _plant_activity_shift(np.random.default_rng([config.seed, 3]), tables, config)

    ground_truth = pd.DataFrame(
        {
            "customer_idx": np.arange(n),
            "purchase_rate": purchase_rate,
            "post_onset_purchase_rate": purchase_rate * POST_ONSET_PURCHASE_MULTIPLIER[driver],
            "price_sensitivity": price_sensitivity,
            "spend_mean": spend_mean,
            "base_hazard": base_hazard,
            "onset_date": np.where(onset < end, onset, np.nan),
            "post_onset_hazard": post_onset_hazard,
            "primary_driver": np.array(DRIVERS)[driver],
            "churn_date": np.where(churn < end, churn, np.nan),
            "true_uplift": uplift,
            "is_contractual": is_contractual,
        }
    )
    for column in ("onset_date", "churn_date"):
        ground_truth[column] = pd.to_datetime(np.floor(ground_truth[column]), unit="D").dt.date
    injected = pd.DataFrame(columns=["target_table", "record_id", "error_class", "column_name"])
    if config.inject_errors:
        injected = inject_errors(rng, tables, config)
    for frame in list(tables.values()) + [ground_truth]:
        if "customer_idx" in frame.columns:
            idx = frame.pop("customer_idx").to_numpy()
            frame.insert(0, "source_customer_id", _lookup_source_ids(source_ids, idx))
    return SyntheticDataset(tables=tables, ground_truth=ground_truth, injected_errors=injected)


REGIONS: dict[str, tuple[str, ...]] = {
    "US": ("us_east", "us_west", "us_south"),
    "GB": ("gb_north", "gb_south"),
    "DE": ("de_north", "de_south"),
    "FR": ("fr_north", "fr_south"),
    "NL": ("nl",),
}


def _sensitive_attributes(rng: np.random.Generator, customers: pd.DataFrame) -> None:
    """Birth year, gender and region for the fairness audit (never model features)."""
    n = len(customers)
    customers["birth_year"] = rng.integers(1945, 2006, n)
    customers["gender"] = rng.choice(["female", "male", "non_binary"], size=n, p=[0.49, 0.49, 0.02])
    customers["region"] = [
        REGIONS[c][i % len(REGIONS[c])]
        for c, i in zip(customers["country"], rng.integers(0, 6, n), strict=True)
    ]


def _plant_drift(
    rng: np.random.Generator, tables: dict[str, pd.DataFrame], config: GeneratorConfig
) -> None:
    tx = tables["transactions"]
    after = tx["ts"] >= pd.Timestamp(config.drift_date)
    tx.loc[after, "amount"] = (tx.loc[after, "amount"] * config.drift_spend_factor).round(2)
    tx.loc[after, "cost"] = (tx.loc[after, "cost"] * config.drift_spend_factor).round(2)
    moved = after & (rng.random(len(tx)) < 0.8)
    tx.loc[moved, "channel"] = "app"


def _plant_activity_shift(
    rng: np.random.Generator, tables: dict[str, pd.DataFrame], config: GeneratorConfig
) -> None:
    """Thin the purchases from `activity_shift_date` on: each is kept with probability
    `activity_shift_factor`, so every customer's purchase rate is multiplied by it (a thinned
    Poisson process is Poisson). A customer's first purchase (on signup day) is kept, so
    everyone who signs up still buys once. The ground truth's rates stay the pre-shift ones;
    the config's date and factor say how they change."""
    if not 0 < config.activity_shift_factor <= 1:
        raise ValueError(
            f"activity_shift_factor must be in (0, 1], got {config.activity_shift_factor}: "
            "the shift thins purchases"
        )
    tx = tables["transactions"]
    after = (tx["ts"] >= pd.Timestamp(config.activity_shift_date)).to_numpy()
    first = (tx["ts"] == tx.groupby("customer_idx")["ts"].transform("min")).to_numpy()
    dropped = after & ~first & (rng.random(len(tx)) >= config.activity_shift_factor)
    tables["transactions"] = tx.loc[~dropped].reset_index(drop=True)


def _lookup_source_ids(source_ids: pa.Array, idx: np.ndarray) -> ExtensionArray:
    """Negative indices mark orphans planted by error injection: ids nobody was given.
    One Arrow `take` per table (no per-row Python strings)."""
    known = idx >= 0
    if known.all():
        return _strings(source_ids.take(pa.array(idx)))
    orphans = _padded("X", -idx[~known], 8)
    positions = idx.copy()
    positions[~known] = len(source_ids) + np.arange(len(orphans))
    return _strings(pa.concat_arrays([source_ids, orphans]).take(pa.array(positions)))


def _transactions(
    rng: np.random.Generator,
    n: int,
    signup: np.ndarray,
    onset: np.ndarray,
    active_end: np.ndarray,
    purchase_rate: np.ndarray,
    driver: np.ndarray,
    spend_mean: np.ndarray,
    price_sensitivity: np.ndarray,
    end: int,
) -> pd.DataFrame:
    owners = np.arange(n)
    who_a, t_a = _poisson_times(rng, owners, signup, onset, purchase_rate, seasonal=True)
    post_rate = purchase_rate * POST_ONSET_PURCHASE_MULTIPLIER[driver]
    who_b, t_b = _poisson_times(rng, owners, onset, active_end, post_rate, seasonal=True)
    # every customer starts with a first purchase on signup day
    first_t = signup + rng.random(n) * 0.9
    who = np.concatenate([owners, who_a, who_b])
    t = np.concatenate([first_t, t_a, t_b])
    order = np.lexsort((t, who))
    who, t = who[order], t[order]
    m = len(who)
    discounted = rng.random(m) < 0.1 + 0.8 * price_sensitivity[who]
    discount = np.where(discounted, np.round(rng.uniform(0.05, 0.35, m), 2), 0.0)
    gross = rng.gamma(4.0, spend_mean[who] / 4.0)
    amount = np.round(np.maximum(gross * (1 - discount), 0.5), 2)
    favourite = rng.integers(0, len(CATEGORIES), n)
    category = np.where(rng.random(m) < 0.6, favourite[who], rng.integers(0, len(CATEGORIES), m))
    preferred_channel = rng.integers(0, len(CHANNELS), n)
    channel = np.where(
        rng.random(m) < 0.7, preferred_channel[who], rng.integers(0, len(CHANNELS), m)
    )
    frame = pd.DataFrame(
        {
            "customer_idx": who,
            "ts": _to_timestamps(t),
            "amount": amount,
            "category": _pick(CATEGORIES, category),
            "channel": _pick(CHANNELS, channel),
            "discount": discount,
            "cost": np.round(amount * rng.uniform(0.5, 0.7, m), 2),
            "is_refund": False,
        }
    )
    # ~1.5% of purchases are partly or fully refunded a few days later, as negative rows
    refunded = np.flatnonzero(rng.random(m) < 0.015)
    refund_t = t[refunded] + rng.uniform(1, 20, len(refunded))
    refunded, refund_t = refunded[refund_t < end], refund_t[refund_t < end]
    refunds = frame.iloc[refunded].copy()
    refunds["ts"] = _to_timestamps(refund_t)
    refunds["amount"] = -refunds["amount"]
    refunds["cost"] = -refunds["cost"]
    refunds["is_refund"] = True
    frame = pd.concat([frame, refunds], ignore_index=True)
    frame.insert(0, "transaction_id", _ids("t", len(frame)))
    return frame


def _events(
    rng: np.random.Generator,
    n: int,
    signup: np.ndarray,
    onset: np.ndarray,
    active_end: np.ndarray,
    driver: np.ndarray,
) -> pd.DataFrame:
    digital = np.flatnonzero(rng.random(n) < 0.7)
    rate = rng.gamma(2.0, 1 / 28, size=len(digital))  # mean one event a fortnight
    who_a, t_a = _poisson_times(rng, digital, signup[digital], onset[digital], rate, False)
    post = rate * POST_ONSET_LOGIN_MULTIPLIER[driver[digital]]
    who_b, t_b = _poisson_times(rng, digital, onset[digital], active_end[digital], post, False)
    who = np.concatenate([who_a, who_b])
    t = np.concatenate([t_a, t_b])
    event_type = rng.choice(len(EVENT_TYPES), size=len(who), p=EVENT_TYPE_SHARE)
    return pd.DataFrame(
        {
            "event_id": _ids("e", len(who)),
            "customer_idx": who,
            "ts": _to_timestamps(t),
            "event_type": _pick(EVENT_TYPES, event_type),
        }
    )


def _tickets(
    rng: np.random.Generator,
    n: int,
    signup: np.ndarray,
    onset: np.ndarray,
    active_end: np.ndarray,
    driver: np.ndarray,
    end: int,
) -> pd.DataFrame:
    owners = np.arange(n)
    who_a, t_a = _poisson_times(rng, owners, signup, active_end, np.full(n, 1 / 300), False)
    resolve_days = rng.exponential(3.0, len(who_a))
    unresolved_by_chance = rng.random(len(who_a)) < 0.03
    resolved = np.where(unresolved_by_chance, np.nan, t_a + resolve_days)
    category_a = rng.choice(len(TICKET_CATEGORIES) - 1, size=len(who_a))
    satisfaction_a = rng.integers(3, 6, len(who_a)).astype(float)
    # complaint driver: 1-3 complaints after onset that are never resolved
    complainers = np.flatnonzero(
        (driver == DRIVERS.index("unresolved_complaints")) & (onset < active_end)
    )
    k = rng.integers(1, 4, len(complainers))
    who_b = np.repeat(complainers, k)
    span = np.repeat(active_end[complainers] - onset[complainers], k)
    t_b = np.repeat(onset[complainers], k) + rng.random(len(who_b)) * span
    who = np.concatenate([who_a, who_b])
    t = np.concatenate([t_a, t_b])
    resolved_at = np.concatenate([resolved, np.full(len(who_b), np.nan)])
    resolved_at = np.where(resolved_at < end, resolved_at, np.nan)
    category = np.concatenate(
        [category_a, np.full(len(who_b), TICKET_CATEGORIES.index("complaint"))]
    )
    satisfaction = np.concatenate([satisfaction_a, np.full(len(who_b), np.nan)])
    frame = pd.DataFrame(
        {
            "ticket_id": _ids("k", len(who)),
            "customer_idx": who,
            "opened_at": _to_timestamps(t),
            "resolved_at": pd.to_datetime(_to_timestamps(np.nan_to_num(resolved_at))).where(
                ~np.isnan(resolved_at)
            ),
            "category": _pick(TICKET_CATEGORIES, category),
            "satisfaction": pd.array(satisfaction, dtype="Int64"),
        }
    )
    return frame


def _surveys(
    rng: np.random.Generator,
    n: int,
    signup: np.ndarray,
    onset: np.ndarray,
    active_end: np.ndarray,
    driver: np.ndarray,
) -> pd.DataFrame:
    owners = np.arange(n)
    who_a, t_a = _poisson_times(rng, owners, signup, active_end, np.full(n, 1 / 200), False)
    low_nps = driver == DRIVERS.index("low_nps")
    after_onset = t_a >= onset[who_a]
    unhappy = low_nps[who_a] & after_onset
    nps = np.where(
        unhappy,
        rng.integers(0, 5, len(who_a)),
        np.clip(np.round(rng.normal(8, 1.5, len(who_a))), 0, 10),
    )
    csat = np.where(unhappy, rng.integers(1, 3, len(who_a)), rng.integers(3, 6, len(who_a)))
    # the low-NPS driver always leaves at least one unhappy survey after onset
    planted = np.flatnonzero(low_nps & (onset < active_end))
    t_b = onset[planted] + rng.random(len(planted)) * (active_end[planted] - onset[planted])
    who = np.concatenate([who_a, planted])
    t = np.concatenate([t_a, t_b])
    nps = np.concatenate([nps, rng.integers(0, 5, len(planted))]).astype(int)
    csat = np.concatenate([csat, rng.integers(1, 3, len(planted))]).astype(int)
    return pd.DataFrame(
        {
            "survey_id": _ids("s", len(who)),
            "customer_idx": who,
            "ts": _to_timestamps(t),
            "nps": nps,
            "csat": csat,
        }
    )


def _subscriptions(
    rng: np.random.Generator,
    signup: np.ndarray,
    churn: np.ndarray,
    is_contractual: np.ndarray,
    end: int,
) -> pd.DataFrame:
    holders = np.flatnonzero(is_contractual)
    plans = np.array(list(PLANS))
    plan = rng.choice(len(plans), size=len(holders), p=[0.5, 0.35, 0.15])
    ended = churn[holders] < end
    end_day = np.where(ended, np.floor(churn[holders]), np.nan)
    return pd.DataFrame(
        {
            "subscription_id": _ids("u", len(holders)),
            "customer_idx": holders,
            "plan": plans[plan],
            "start_date": signup[holders].astype(np.int64).astype("datetime64[D]"),
            "end_date": pd.to_datetime(end_day, unit="D").date,
            "monthly_fee": np.array(list(PLANS.values()))[plan],
        }
    )


def _consent(rng: np.random.Generator, n: int, signup: np.ndarray) -> pd.DataFrame:
    frames = []
    for purpose, share in CONSENT_PURPOSES.items():
        frames.append(
            pd.DataFrame(
                {
                    "customer_idx": np.arange(n),
                    "purpose": purpose,
                    "granted": rng.random(n) < share,
                    "ts": _to_timestamps(signup + 0.01),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def inject_errors(
    rng: np.random.Generator, tables: dict[str, pd.DataFrame], config: GeneratorConfig
) -> pd.DataFrame:
    """Plant labelled bad rows of every class that a typed warehouse can hold."""
    tx = tables["transactions"]
    k = max(3, int(len(tx) * config.error_rate))
    picks = rng.choice(np.flatnonzero(~tx["is_refund"].to_numpy()), size=4 * k, replace=False)
    negative, future, orphan, unknown = np.split(picks, 4)
    tx.loc[negative, "amount"] = -tx.loc[negative, "amount"].abs()
    future_days = rng.integers(30, 365, len(future))
    today = np.datetime64(config.today, "s")
    tx.loc[future, "ts"] = today + future_days.astype("timedelta64[D]")
    tx.loc[orphan, "customer_idx"] = -np.arange(1, len(orphan) + 1)
    tx.loc[unknown, "category"] = "unknown_category"
    duplicates = tx.iloc[rng.choice(len(tx), size=k, replace=False)].copy()
    duplicates["transaction_id"] = _ids("d", k)
    tables["transactions"] = pd.concat([tx, duplicates], ignore_index=True)
    labels = [
        (negative, "negative_amount", "amount"),
        (future, "future_timestamp", "ts"),
        (orphan, "orphan_customer", "customer_id"),
        (unknown, "unknown_category", "category"),
    ]
    rows = [
        pd.DataFrame(
            {
                "target_table": "transactions",
                "record_id": tx.loc[idx, "transaction_id"].to_numpy(),
                "error_class": name,
                "column_name": column,
            }
        )
        for idx, name, column in labels
    ]
    rows.append(
        pd.DataFrame(
            {
                "target_table": "transactions",
                "record_id": duplicates["transaction_id"].to_numpy(),
                "error_class": "duplicate",
                "column_name": "transaction_id",
            }
        )
    )
    # a future-dated event too, since freshness checks look at events
    ev = tables["events"]
    if len(ev):
        e_idx = rng.choice(len(ev), size=min(k, len(ev)), replace=False)
        ev.loc[e_idx, "ts"] = today + np.timedelta64(60, "D")
        rows.append(
            pd.DataFrame(
                {
                    "target_table": "events",
                    "record_id": ev.loc[e_idx, "event_id"].to_numpy(),
                    "error_class": "future_timestamp",
                    "column_name": "ts",
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


@dataclass
class CampaignResponse:
    """Outcome-window purchases of a campaign's customers and the effect that was planted."""

    transactions: pd.DataFrame
    true_repurchase_uplift: float
    true_revenue_uplift: float


def campaign_response(
    assignments: pd.DataFrame,
    launch: date,
    days: int,
    effect: float,
    seed: int,
) -> CampaignResponse:
    """Purchases in (launch, launch + days] for every assigned customer, with a planted effect.

    `assignments` holds `customer_id`, `arm`, `churn_probability` (P(no purchase) in the window
    without treatment), `spend_mean` and optionally `uplift_weight` (who responds: the
    generator's per-customer `true_uplift`). A treated customer who would not have bought buys
    with probability u = effect x weight / mean weight (capped at 1), so the true average effect
    on repurchase is mean((1 - p0) x u) over the randomised population, returned with the rows.
    `effect=0` plants nothing: both arms buy at their own baseline rate."""
    rng = np.random.default_rng(seed)
    n = len(assignments)
    p0 = np.clip(1 - assignments["churn_probability"].to_numpy(dtype=float), 0, 1)
    weight = (
        assignments["uplift_weight"].to_numpy(dtype=float)
        if "uplift_weight" in assignments
        else np.ones(n)
    )
    weight = weight / weight.mean() if n and weight.mean() > 0 else np.ones(n)
    u = np.clip(effect * weight, 0, 1)
    treated = assignments["arm"].eq("treatment").to_numpy()
    p = np.where(treated, p0 + (1 - p0) * u, p0)
    buys = rng.random(n) < p
    spend = assignments["spend_mean"].to_numpy(dtype=float)
    purchases_per_buyer = 1.5  # 1 + Poisson(0.5)
    k = np.where(buys, 1 + rng.poisson(0.5, n), 0)
    who = np.repeat(np.arange(n), k)
    start = np.datetime64(launch, "D").astype(np.int64) + 1
    t = start + rng.random(len(who)) * days
    amount = np.round(np.maximum(rng.gamma(4.0, spend[who] / 4.0), 0.5), 2)
    frame = pd.DataFrame(
        {
            "customer_id": assignments["customer_id"].to_numpy()[who],
            "ts": _to_timestamps(t),
            "amount": amount,
            "category": rng.choice(CATEGORIES, size=len(who)),
            "channel": rng.choice(CHANNELS, size=len(who)),
            "discount": 0.0,
            "cost": np.round(amount * 0.6, 2),
            "is_refund": False,
        }
    )
    lift = (1 - p0) * u
    return CampaignResponse(
        transactions=frame,
        true_repurchase_uplift=float(lift.mean()) if n else 0.0,
        true_revenue_uplift=float((lift * purchases_per_buyer * spend).mean()) if n else 0.0,
    )
