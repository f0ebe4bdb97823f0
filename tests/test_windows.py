"""Rolling-origin cutoffs from the history available (`cvp.models.windows`): pure date logic."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cvp.errors import BadInput, DateNotSupported, StateError
from cvp.models.windows import derive_cutoffs, explicit_cutoffs, required_history_days

FIRST, AS_OF = date(2024, 7, 1), date(2025, 12, 31)  # an 18-month log


@pytest.mark.parametrize("horizon", [30, 91, 182])
def test_eighteen_months_fit_every_horizon_without_leaking_into_test(horizon):
    cutoffs = derive_cutoffs(FIRST, AS_OF, horizon, 30, 90, 6)
    assert cutoffs.test == AS_OF - timedelta(days=horizon)  # the most recent closed window
    assert cutoffs.valid + timedelta(days=horizon) <= cutoffs.test  # valid labels closed by test
    assert 1 <= len(cutoffs.train) <= 6
    assert cutoffs.train[0] >= FIRST + timedelta(days=90)  # history before the first cutoff
    steps = {(b - a).days for a, b in zip(cutoffs.train, cutoffs.train[1:], strict=False)}
    assert steps <= {30}
    assert cutoffs.train[-1] < cutoffs.valid


def test_gap_is_a_horizon_when_history_allows_and_a_step_when_it_does_not():
    assert derive_cutoffs(FIRST, AS_OF, 91, 30, 90, 6).gap_days == 91
    short = derive_cutoffs(FIRST, AS_OF, 182, 30, 90, 6)
    assert short.gap_days == 30
    # as many as fit: the last one a step before validation, back to 90 days after the start
    assert short.train == (date(2024, 10, 3), date(2024, 11, 2), date(2024, 12, 2))


def test_as_many_training_cutoffs_as_fit_up_to_the_maximum():
    long = derive_cutoffs(date(2020, 1, 1), AS_OF, 90, 30, 90, 6)
    assert len(long.train) == 6
    assert len(derive_cutoffs(FIRST, AS_OF, 30, 30, 90, 50).train) == 13  # (548-2*30-30-90)/30+1


def test_nine_months_with_a_182_day_horizon_is_one_line_saying_how_long():
    first = date(2025, 4, 1)  # 9 months before as_of
    with pytest.raises(DateNotSupported) as caught:
        derive_cutoffs(first, AS_OF, 182, 30, 90, 6)
    message = str(caught.value)
    need = required_history_days(182, 30, 90)
    assert need == 484
    assert "\n" not in message
    assert f"at least {need} days" in message and str(AS_OF - timedelta(days=need)) in message
    assert "at most 77 days" in message  # the longest horizon 274 days can train
    assert isinstance(caught.value, StateError)  # exit code 3


def test_explicit_cutoffs_are_checked_for_leakage():
    cutoffs = explicit_cutoffs(
        [date(2025, 3, 1), date(2025, 1, 1), date(2025, 6, 1), date(2025, 9, 1)], FIRST, AS_OF, 90
    )
    assert cutoffs.train == (date(2025, 1, 1), date(2025, 3, 1))
    assert (cutoffs.valid, cutoffs.test) == (date(2025, 6, 1), date(2025, 9, 1))
    with pytest.raises(BadInput, match="after as_of"):
        explicit_cutoffs([date(2025, 1, 1), date(2025, 6, 1), date(2025, 11, 1)], FIRST, AS_OF, 90)
    with pytest.raises(BadInput, match="validation cutoff"):
        explicit_cutoffs([date(2025, 1, 1), date(2025, 8, 1), date(2025, 9, 1)], FIRST, AS_OF, 90)
    with pytest.raises(BadInput, match="at least 3"):
        explicit_cutoffs([date(2025, 1, 1), date(2025, 6, 1)], FIRST, AS_OF, 90)
