"""Reason texts read like a sentence a retention agent would say, at every size of number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cvp.actions.reasons import REASON_CODES, reason_code, top_reasons


@pytest.mark.parametrize(
    ("feature", "value", "text"),
    [
        ("btyd_expected_purchases", 0.0, "no purchase expected next period"),
        ("btyd_expected_purchases", 0.04, "no purchase expected next period"),
        ("btyd_expected_purchases", 0.4, "less than one purchase expected next period (0.4)"),
        ("btyd_expected_purchases", 1.2, "about one purchase expected next period"),
        ("btyd_expected_purchases", 2.4, "only 2.4 purchases expected next period"),
        ("btyd_p_alive", 0.001, "buying pattern gives under 1% chance still active"),
        ("btyd_p_no_purchase", 0.9996, "over 99% chance of no purchase next period (BG/NBD)"),
        ("btyd_p_no_purchase", 0.42, "42% chance of no purchase next period (BG/NBD)"),
        ("frequency", 0.0, "no purchase so far"),
        ("frequency", 1.0, "only 1 purchase so far"),
        ("frequency", 3.0, "only 3 purchases so far"),
        ("tx_count_90d", 0.0, "no purchases in the last 90 days"),
        ("tx_count_90d", 1.0, "1 purchase in the last 90 days"),
        ("logins_30d", 0.0, "no logins in the last 30 days"),
        ("unresolved_complaints", 1.0, "1 unresolved complaint"),
        ("unresolved_complaints", 2.0, "2 unresolved complaints"),
        ("tickets_90d", 1.0, "1 support ticket in 90 days"),
    ],
)
def test_small_numbers_are_phrased_in_words(feature, value, text):
    assert REASON_CODES[feature].phrase(value) == text


def test_no_phrase_says_zero_point_zero():
    for name, code in REASON_CODES.items():
        for value in (0.0, 0.01, 0.999):
            phrase = code.phrase(value)
            assert "0.0 " not in phrase and " 0 " not in f" {phrase} ", (name, phrase)


def _top_reasons_row_by_row(
    contributions: np.ndarray, features: pd.DataFrame, k: int = 3
) -> tuple[list[str], list[str]]:
    """The definition, one row and one phrase at a time (what `top_reasons` computes in bulk)."""
    names = list(features.columns)
    texts, families = [], []
    for row in range(len(features)):
        candidates = [
            (-contributions[row, j], j)
            for j, name in enumerate(names)
            if contributions[row, j] > 0
            and (not np.isnan(features.iat[row, j]) or name == "frequency_trend_90d")
        ]
        picked = [j for _, j in sorted(candidates)[:k]]  # ties: the earlier column first
        codes = [reason_code(names[j]) for j in picked]
        texts.append(
            "; ".join(c.phrase(features.iat[row, j]) for c, j in zip(codes, picked, strict=True))
        )
        families.append(",".join(c.family for c in codes))
    return texts, families


def test_top_reasons_in_bulk_equal_the_row_by_row_definition():
    rng = np.random.default_rng(3)
    n = 2_000
    features = pd.DataFrame(
        {
            "recency_days": rng.integers(0, 400, n).astype(float),
            "frequency_trend_90d": np.where(rng.random(n) < 0.3, np.nan, rng.random(n) * 2),
            "unresolved_complaints": rng.integers(0, 3, n).astype(float),
            "nps_latest": np.where(rng.random(n) < 0.5, np.nan, rng.integers(0, 11, n)),
            "btyd_p_alive": rng.random(n),
            "not_in_the_catalog": rng.normal(size=n),
        }
    )
    contributions = rng.normal(size=features.shape)
    contributions[rng.random(features.shape) < 0.4] = -1.0
    contributions[:20] = -1.0  # nothing pushes these customers' risk up, the first row included
    contributions[20:40, :3] = 0.5  # ties
    for k in (1, 3, 10):
        assert top_reasons(contributions, features, k) == _top_reasons_row_by_row(
            contributions, features, k
        )
    texts, families = top_reasons(contributions, features)
    assert texts[0] == "" and families[0] == "" and len(texts) == n
    assert top_reasons(contributions[:0], features.iloc[:0]) == ([], [])
