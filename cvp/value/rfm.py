"""RFM quintile scores and the usual named segments."""

from __future__ import annotations

import numpy as np
import pandas as pd

# (segment, rule on R and FM scores), first match wins; the common 11-segment scheme
SEGMENTS: tuple[tuple[str, str], ...] = (
    ("champions", "r >= 4 and fm >= 4"),
    ("loyal", "r >= 3 and fm >= 4"),
    ("potential_loyalist", "r >= 4 and fm >= 2"),
    ("new", "r >= 4 and fm < 2"),
    ("promising", "r == 3 and fm < 2"),
    ("need_attention", "r == 3 and fm >= 2"),
    ("cant_lose", "r <= 2 and fm >= 4"),
    ("at_risk", "r == 2 and fm >= 2"),
    ("about_to_sleep", "r == 2 and fm < 2"),
    ("hibernating", "r == 1 and fm >= 2"),
    ("lost", "r == 1 and fm < 2"),
)


def quintile(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """1..5 by rank, so ties and skew do not collapse the bins."""
    ranks = values.rank(
        method="first",
        ascending=higher_is_better,
        na_option="bottom" if higher_is_better else "top",
    )
    return np.ceil(ranks / len(values) * 5).clip(1, 5).astype(int)


def rfm_scores(frame: pd.DataFrame) -> pd.DataFrame:
    r = quintile(-frame["recency_days"].fillna(frame["recency_days"].max()))
    f = quintile(frame["frequency"].fillna(0))
    m = quintile(frame["monetary_total"].fillna(0))
    fm = np.floor((f + m) / 2).astype(int)
    segment = pd.Series("lost", index=frame.index, dtype=object)
    assigned = pd.Series(False, index=frame.index)
    env = pd.DataFrame({"r": r, "fm": fm})
    for name, rule in SEGMENTS:
        hit = env.eval(rule) & ~assigned
        segment[hit] = name
        assigned |= hit
    return pd.DataFrame(
        {"rfm_r": r, "rfm_f": f, "rfm_m": m, "rfm_segment": segment}, index=frame.index
    )
