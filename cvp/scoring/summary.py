"""What a scoring run found, in the words every place that shows it uses (`cvp score`, the
Prefect `scoring-summary` artifact), so the terminal and the UI never disagree.

Alerts compare a date with the previous *scored* date: the same date scored before and after
an earlier date was scored (a backfill) gets different alerts. The summary therefore names the
date it compared with."""

from __future__ import annotations

from datetime import date

import pandas as pd

from cvp.scoring.score import ScoreResult

TOP_COLUMNS = [
    "customer_id",  # pseudonymous (`c_...`): safe for the UI, looked up with `cvp customer`
    "expected_loss",
    "churn_probability",
    "risk_tier",
    "clv_lifetime",
    "value_tier",
    "lifecycle_stage",
    "next_best_action",
    "channel",
]
ALERT_WORDS = {"entered_high_risk": "entered high risk", "value_index_drop": "value index drops"}


def top_expected_loss(scores: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The `n` customers with the largest expected loss (P(churn) x lifetime value), largest
    first; ties by customer id, so the list is the same on every run."""
    ordered = scores.sort_values(["expected_loss", "customer_id"], ascending=[False, True])
    return ordered.head(n)[TOP_COLUMNS].reset_index(drop=True)


def compared_with(result: ScoreResult) -> date | None:
    """The previous scored date the alerts and stage transitions compare with (None: first)."""
    if result.transitions is None or result.transitions.empty:
        return None
    return pd.Timestamp(result.transitions["previous_as_of"].iloc[0]).date()


def alert_line(result: ScoreResult) -> str:
    """ "119 alerts since the scores of 2025-12-01: 100 entered high risk, 19 value index drops"."""
    previous = compared_with(result)
    if previous is None:
        return "0 alerts: no earlier scored date to compare with"
    counts = result.alerts["alert_type"].value_counts()
    parts = [f"{int(counts.get(kind, 0)):,} {words}" for kind, words in ALERT_WORDS.items()]
    return f"{len(result.alerts):,} alerts since the scores of {previous}: " + ", ".join(parts)
