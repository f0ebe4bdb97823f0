"""Reason texts read like a sentence a retention agent would say, at every size of number."""

from __future__ import annotations

import pytest

from cvp.actions.reasons import REASON_CODES


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
