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
    return f"purchases {'down' if change < 0 else 'up'} {abs(change):.0f}% vs the previous 90 days"


REASON_CODES: dict[str, ReasonCode] = {
    "recency_days": ReasonCode("value", lambda v: f"no purchase for {v:.0f} days"),
    "frequency_trend_90d": ReasonCode("value", _pct_change),
    "spend_trend_90d": ReasonCode("value", lambda v: f"spend at {v:.0%} of the previous 90 days"),
    "tx_count_90d": ReasonCode("value", lambda v: f"{v:.0f} purchases in the last 90 days"),
    "days_overdue": ReasonCode("value", lambda v: f"{v:.0f} days overdue vs their usual rhythm"),
    "overdue_ratio": ReasonCode(
        "value", lambda v: f"{v:.1f}x their usual gap since the last purchase"
    ),
    "btyd_p_alive": ReasonCode(
        "value", lambda v: f"buying pattern gives {v:.0%} chance still active"
    ),
    "btyd_expected_purchases": ReasonCode(
        "value", lambda v: f"only {v:.1f} purchases expected next period"
    ),
    "btyd_p_no_purchase": ReasonCode(
        "value", lambda v: f"{v:.0%} chance of no purchase next period (BG/NBD)"
    ),
    "frequency": ReasonCode("value", lambda v: f"only {v:.0f} purchases so far"),
    "unresolved_complaints": ReasonCode(
        "service", lambda v: f"{v:.0f} unresolved complaint{'s' if v != 1 else ''}"
    ),
    "unresolved_tickets": ReasonCode(
        "service", lambda v: f"{v:.0f} open support ticket{'s' if v != 1 else ''}"
    ),
    "tickets_90d": ReasonCode("service", lambda v: f"{v:.0f} support tickets in 90 days"),
    "resolution_days_mean": ReasonCode(
        "service", lambda v: f"tickets take {v:.1f} days to resolve"
    ),
    "discount_share": ReasonCode("price", lambda v: f"buys on discount {v:.0%} of the time"),
    "discount_mean": ReasonCode("price", lambda v: f"average discount {v:.0%}"),
    "days_since_last_event": ReasonCode(
        "engagement", lambda v: f"no app/web activity for {v:.0f} days"
    ),
    "logins_30d": ReasonCode("engagement", lambda v: f"{v:.0f} logins in the last 30 days"),
    "logins_90d": ReasonCode("engagement", lambda v: f"{v:.0f} logins in the last 90 days"),
    "events_30d": ReasonCode("engagement", lambda v: f"{v:.0f} app/web events in the last 30 days"),
    "events_90d": ReasonCode("engagement", lambda v: f"{v:.0f} app/web events in the last 90 days"),
    "engagement_trend_90d": ReasonCode(
        "engagement", lambda v: f"activity at {v:.0%} of the previous 90 days"
    ),
    "nps_latest": ReasonCode("satisfaction", lambda v: f"latest NPS {v:.0f}"),
    "csat_latest": ReasonCode("satisfaction", lambda v: f"latest CSAT {v:.0f}/5"),
    "nps_trend": ReasonCode("satisfaction", lambda v: f"NPS {v:+.0f} vs earlier answers"),
    "subscription_active": ReasonCode(
        "contract", lambda v: "no running subscription" if v < 1 else "subscription running"
    ),
    "days_to_renewal": ReasonCode("contract", lambda v: f"renewal in {v:.0f} days"),
    "subscription_tenure_days": ReasonCode("contract", lambda v: f"subscribed for {v:.0f} days"),
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
