"""Decision threshold for contacting a customer: maximise the realised retention profit on a
labelled window, with the playbook's costs and save rates, not accuracy.

Who is contacted at a threshold: every customer whose P(churn) is at or above it, with the action
the playbook gives a high-risk customer of their value tier (value tiers from predicted CLV with
`[scoring] high_value_share` / `medium_value_share`; stage `at_risk`, no particular reason
family). A contacted churner is saved with the rule's `save_rate`, keeping their predicted value;
every contact costs the rule's `unit_cost`. What a saved churner keeps is their value *if
retained*: their historical net spend per horizon (`value_if_retained`), not their predicted
CLV, which the churn itself has already pushed towards zero. When no threshold makes money, the choice says so
(`profitable` False, threshold 1.0: contact nobody) and `explanation` is the line the job prints
and the registry records.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cvp.actions.playbook import Playbook, apply_playbook
from cvp.names import CHURN_MODEL


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    profit: float
    contacted: int
    customers: int
    profitable: bool
    explanation: str

    def to_dict(self) -> dict:
        return asdict(self)


def value_if_retained(frame: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """Net spend per horizon at the customer's own historical pace (tenure at least 30 days)."""
    tenure = np.maximum(frame["tenure_days"].fillna(0).to_numpy(float), 30.0)
    total = np.maximum(frame["monetary_total"].fillna(0).to_numpy(float), 0.0)
    return total / tenure * horizon_days


def value_tiers_by_clv(value: np.ndarray, high_share: float, medium_share: float) -> np.ndarray:
    """high for the top `high_share` of value, medium for the next `medium_share`."""
    rank = pd.Series(value).rank(ascending=False, method="first", pct=True).to_numpy()
    return np.select(
        [rank <= high_share, rank <= high_share + medium_share], ["high", "medium"], "low"
    )


def contact_economics(
    value: np.ndarray, playbook: Playbook, high_share: float, medium_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per customer (cost, save rate) of the action the playbook gives them at high risk."""
    frame = pd.DataFrame(
        {
            "value_tier": value_tiers_by_clv(value, high_share, medium_share),
            "risk_tier": "high",
            "lifecycle_stage": "at_risk",
            "reason_family": "unspecified",
        }
    )
    actions = apply_playbook(playbook, frame)
    return actions["unit_cost"].to_numpy(float), actions["save_rate"].to_numpy(float)


def choose_threshold(
    p: np.ndarray,
    churned: np.ndarray,
    value: np.ndarray,
    save_rate: np.ndarray | float,
    contact_cost: np.ndarray | float,
    window: str = "the calibration window",
) -> ThresholdChoice:
    """The threshold on P(churn) with the highest realised profit on labelled data: contacting
    the customers ranked by P(churn) down to it, each contacted churner saved at its save rate."""
    gains = churned * np.maximum(value, 0) * save_rate - contact_cost
    gains = np.broadcast_to(gains, p.shape)
    order = np.argsort(-p, kind="stable")
    cumulative = np.concatenate([[0.0], np.cumsum(gains[order])])
    best = int(np.argmax(cumulative))
    if best == 0 or cumulative[best] <= 0:
        top_decile = cumulative[max(1, len(p) // 10)] if len(p) else 0.0
        return ThresholdChoice(
            1.0,
            0.0,
            0,
            len(p),
            False,
            f"no decision threshold makes a profit on {window}: with the playbook's costs and "
            f"save rates every contact loses money (contacting the riskiest 10% would return "
            f"{top_decile:,.0f}); the model recommends contacting nobody",
        )
    threshold = float(p[order][best - 1])
    return ThresholdChoice(
        threshold,
        float(cumulative[best]),
        best,
        len(p),
        True,
        f"contact when P(churn) >= {threshold:.3f}: {best:,} of {len(p):,} customers on {window}, "
        f"realised profit {cumulative[best]:,.0f}",
    )


def unprofitable_note(client: MlflowClient, churn_version: str) -> str | None:
    """The line a retention plan shows when the churn model scoring it found no profitable
    threshold at training (tag `cvp.decision.profitable`); None otherwise or for older versions."""
    try:
        tags = client.get_model_version(CHURN_MODEL, churn_version).tags
    except MlflowException:
        return None
    if tags.get("cvp.decision.profitable") != "false":
        return None
    return (
        f"churn model v{churn_version}: {tags.get('cvp.decision.explanation', '')}; this plan "
        "still lists contacts whose expected saved value exceeds their cost at today's scores, "
        "but at training no threshold turned such contacts into profit"
    )
