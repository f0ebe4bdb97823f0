"""Per-customer reasons: the features pushing churn risk up most (TreeSHAP contributions from
LightGBM's `pred_contrib`), phrased with the customer's own numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ReasonCode:
    family: str  # service, price, engagement, value, satisfaction, contract
    phrase: Callable[[float], str]


def _pct_change(ratio: float) -> str:
    if ratio != ratio:  # NaN
        return "purchases stopped compared with the previous 90 days"
    change = (ratio - 1) * 100
    if abs(change) < 0.5:
        return "purchases flat vs the previous 90 days"
    return f"purchases {'down' if change < 0 else 'up'} {abs(change):.0f}% vs the previous 90 days"


def _days(v: float, none: str, some: str) -> str:
    """`some` with the day count ("no purchase for {} days"), `none` under half a day."""
    n = int(round(v))
    return none if n == 0 else some.format("1 day" if n == 1 else f"{n:,} days")


def _of_previous(what: str) -> Callable[[float], str]:
    def phrase(v: float) -> str:
        if v < 0.005:
            return f"no {what} in the last 90 days, after some in the 90 before"
        return f"{what} at {v:.0%} of the previous 90 days"

    return phrase


def _count(noun: str, plural: str | None = None, rest: str = "") -> Callable[[float], str]:
    """ "no logins in the last 30 days", "1 login ...", "12 logins ...": a count read aloud."""
    many = plural or noun + "s"

    def phrase(v: float) -> str:
        n = int(round(v))
        text = f"no {many}" if n == 0 else f"1 {noun}" if n == 1 else f"{n:,} {many}"
        return f"{text}{rest}"

    return phrase


def _share(v: float) -> str:
    """A probability in words a retention agent reads: never "0%" or "100%" for a model's guess."""
    if v < 0.005:
        return "under 1%"
    if v > 0.995:
        return "over 99%"
    return f"{v:.0%}"


def _expected_purchases(v: float) -> str:
    if v < 0.05:
        return "no purchase expected next period"
    if v < 0.95:
        return f"less than one purchase expected next period ({v:.1f})"
    if v < 1.5:
        return "about one purchase expected next period"
    return f"only {v:.1f} purchases expected next period"


REASON_CODES: dict[str, ReasonCode] = {
    "recency_days": ReasonCode(
        "value", lambda v: _days(v, "last purchase today", "no purchase for {}")
    ),
    "frequency_trend_90d": ReasonCode("value", _pct_change),
    "spend_trend_90d": ReasonCode("value", _of_previous("spend")),
    "tx_count_90d": ReasonCode("value", _count("purchase", rest=" in the last 90 days")),
    "days_overdue": ReasonCode(
        "value",
        lambda v: _days(v, "due to buy by their usual rhythm", "{} overdue vs their usual rhythm"),
    ),
    "overdue_ratio": ReasonCode(
        "value", lambda v: f"{v:.1f}x their usual gap since the last purchase"
    ),
    "btyd_p_alive": ReasonCode(
        "value", lambda v: f"buying pattern gives {_share(v)} chance still active"
    ),
    "btyd_expected_purchases": ReasonCode("value", _expected_purchases),
    "btyd_p_no_purchase": ReasonCode(
        "value", lambda v: f"{_share(v)} chance of no purchase next period (BG/NBD)"
    ),
    "frequency": ReasonCode(
        "value",
        lambda v: "no purchase so far" if v < 0.5 else f"only {_count('purchase')(v)} so far",
    ),
    "unresolved_complaints": ReasonCode("service", _count("unresolved complaint")),
    "unresolved_tickets": ReasonCode("service", _count("open support ticket")),
    "tickets_90d": ReasonCode("service", _count("support ticket", rest=" in 90 days")),
    "resolution_days_mean": ReasonCode(
        "service",
        lambda v: (
            "tickets resolved within the day"
            if v < 0.5
            else f"tickets take {v:.1f} days to resolve"
        ),
    ),
    "discount_share": ReasonCode(
        "price",
        lambda v: (
            "never buys on discount" if v < 0.005 else f"buys on discount {v:.0%} of the time"
        ),
    ),
    "discount_mean": ReasonCode(
        "price", lambda v: "no discounts taken" if v < 0.005 else f"average discount {v:.0%}"
    ),
    "days_since_last_event": ReasonCode(
        "engagement", lambda v: _days(v, "app/web activity today", "no app/web activity for {}")
    ),
    "logins_30d": ReasonCode("engagement", _count("login", rest=" in the last 30 days")),
    "logins_90d": ReasonCode("engagement", _count("login", rest=" in the last 90 days")),
    "events_30d": ReasonCode("engagement", _count("app/web event", rest=" in the last 30 days")),
    "events_90d": ReasonCode("engagement", _count("app/web event", rest=" in the last 90 days")),
    "engagement_trend_90d": ReasonCode("engagement", _of_previous("activity")),
    "nps_latest": ReasonCode("satisfaction", lambda v: f"latest NPS answer {v:.0f}/10"),
    "csat_latest": ReasonCode("satisfaction", lambda v: f"latest CSAT {v:.0f}/5"),
    "nps_trend": ReasonCode("satisfaction", lambda v: f"NPS {v:+.0f} vs earlier answers"),
    "subscription_active": ReasonCode(
        "contract", lambda v: "no running subscription" if v < 1 else "subscription running"
    ),
    "days_to_renewal": ReasonCode("contract", lambda v: _days(v, "renewal today", "renewal in {}")),
    "subscription_tenure_days": ReasonCode(
        "contract", lambda v: _days(v, "subscribed today", "subscribed for {}")
    ),
}
FAMILY_BY_FEATURE_FAMILY = {
    "rfm": "value",
    "windows": "value",
    "trends": "value",
    "timing": "value",
    "breadth_price": "price",
    "engagement": "engagement",
    "service": "service",
    "satisfaction": "satisfaction",
    "campaign": "price",
    "subscription": "contract",
}


def reason_code(feature: str) -> ReasonCode:
    """The hand-written phrase, else the catalog description with the customer's value."""
    if feature in REASON_CODES:
        return REASON_CODES[feature]
    from cvp.features.build import catalog

    entry = next((f for f in catalog() if f.name == feature), None)
    if entry is None:
        label = feature.replace("_", " ")
        return ReasonCode("value", lambda v: f"{label} {v:,.2f}")
    family = FAMILY_BY_FEATURE_FAMILY.get(entry.family, "value")
    text = entry.description
    return ReasonCode(family, lambda v: f"{text}: {v:,.0f}")


def top_reasons(
    contributions: np.ndarray, features: pd.DataFrame, k: int = 3
) -> tuple[list[str], list[str]]:
    """For each row: up to k phrases (joined by '; ') and their families (comma-joined), from
    the features with the largest positive contribution to churn risk."""
    names = list(features.columns)
    codes = [reason_code(name) for name in names]
    values = features.to_numpy(dtype=float)
    # a missing value (no subscription, no surveys) is not something to tell a customer about
    usable = ~np.isnan(values) | (np.array(names) == "frequency_trend_90d")
    ranked = np.where(usable & (contributions > 0), contributions, -np.inf)
    k = min(k, ranked.shape[1])
    # the k largest per row, then ordered: a full argsort would sort every feature of every row
    top = np.argpartition(-ranked, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(
        top, np.argsort(-np.take_along_axis(ranked, top, axis=1), axis=1, kind="stable"), axis=1
    )
    texts, families = [], []
    for row, picks in enumerate(order):
        phrases, fams = [], []
        for j in picks:
            if not np.isfinite(ranked[row, j]):
                break
            phrases.append(codes[j].phrase(values[row, j]))
            fams.append(codes[j].family)
        texts.append("; ".join(phrases))
        families.append(",".join(fams))
    return texts, families


EXPLAIN_CHUNK_ROWS = 100_000


def explain(booster, features: pd.DataFrame, k: int = 3) -> tuple[list[str], list[str]]:
    """`top_reasons` from LightGBM's TreeSHAP (`pred_contrib`), a chunk of rows at a time so the
    contribution matrix of a million customers never exists at once."""
    texts: list[str] = []
    families: list[str] = []
    for start in range(0, len(features), EXPLAIN_CHUNK_ROWS):
        part = features.iloc[start : start + EXPLAIN_CHUNK_ROWS]
        contributions = booster.predict(part, pred_contrib=True)[:, :-1]
        part_texts, part_families = top_reasons(contributions, part, k)
        texts += part_texts
        families += part_families
    return texts, families
