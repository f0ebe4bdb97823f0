"""Rolling-origin training windows derived from the history the warehouse actually holds.

A cutoff is a date at which features are computed; its label window is the `horizon` after it.
Rules, newest first, so that nothing a held-out window judges leaks into what is fitted:

- **test** = as_of - horizon: the most recent *closed* window (its labels close on as_of). The
  backtest is scored there, and the final model is calibrated and its decision threshold chosen
  there (see `cvp/models/train.py`).
- **validation** = test - horizon: its labels close on the test cutoff, so nothing fitted in the
  backtest has seen a label from the test window.
- **training** cutoffs end a *gap* before validation and step back `step_days` at a time, as many
  as fit after the first `min_history_days` of data, at most `max_train_cutoffs`. The gap is one
  horizon when the history allows it (no training label overlaps the validation window) and
  `step_days` otherwise (training labels then overlap the validation window, which only tunes
  and early-stops; the test window stays strictly out of time).

The shortest history that trains is therefore `min_history_days + step_days + 2 x horizon`; a
shorter log, or explicit `--cutoffs` that break these rules, is refused with one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from cvp.errors import BadInput, DateNotSupported


@dataclass(frozen=True)
class Cutoffs:
    """Training, validation and test cutoffs, oldest first."""

    train: tuple[date, ...]
    valid: date
    test: date

    @property
    def all(self) -> list[date]:
        return [*self.train, self.valid, self.test]

    @property
    def gap_days(self) -> int:
        """Days between the last training cutoff and the validation cutoff."""
        return (self.valid - self.train[-1]).days


def required_history_days(horizon_days: int, step_days: int, min_history_days: int) -> int:
    """Days of data a training date needs before it: history for the first cutoff, one step,
    and the validation and test label windows."""
    return min_history_days + step_days + 2 * horizon_days


def longest_horizon(history_days: int, step_days: int, min_history_days: int) -> int:
    """The longest horizon `history_days` of data can train (0 when none can)."""
    return max(0, (history_days - min_history_days - step_days) // 2)


def derive_cutoffs(
    first_day: date,
    as_of: date,
    horizon_days: int,
    step_days: int,
    min_history_days: int,
    max_train_cutoffs: int,
) -> Cutoffs:
    """Rolling-origin cutoffs for data from `first_day` with labels known by `as_of`; raises
    DateNotSupported (one line, saying how long the log must be) when the history is too short."""
    need = required_history_days(horizon_days, step_days, min_history_days)
    have = (as_of - first_day).days
    if have < need:
        longest = longest_horizon(have, step_days, min_history_days)
        shorter = (
            f"a horizon of at most {longest} days (--horizon-days)"
            if longest >= 7
            else "no horizon of 7 days or more"
        )
        raise DateNotSupported(
            f"cannot train a {horizon_days}-day horizon as of {as_of}: the transactions start on "
            f"{first_day}, {have} days before, and it needs at least {need} days "
            f"({min_history_days} days of history, a {step_days}-day step and two "
            f"{horizon_days}-day label windows), i.e. data from {as_of - timedelta(days=need)} "
            f"on; this history allows {shorter}"
        )
    test = as_of - timedelta(days=horizon_days)
    valid = test - timedelta(days=horizon_days)
    earliest = first_day + timedelta(days=min_history_days)
    gap = horizon_days if valid - timedelta(days=horizon_days) >= earliest else step_days
    last_train = valid - timedelta(days=gap)
    fit = (last_train - earliest).days // step_days + 1
    count = max(1, min(max_train_cutoffs, fit))
    train = tuple(last_train - timedelta(days=step_days * k) for k in reversed(range(count)))
    return Cutoffs(train, valid, test)


def explicit_cutoffs(
    cutoffs: list[date] | tuple[date, ...], first_day: date, as_of: date, horizon_days: int
) -> Cutoffs:
    """`--cutoffs` / `[training] cutoffs`: the last is the test cutoff, the one before it the
    validation cutoff, the rest training cutoffs. Checked against the same leakage rules."""
    ordered = sorted(set(cutoffs))
    if len(ordered) < 3:
        raise BadInput(
            f"--cutoffs needs at least 3 distinct dates (training..., validation, test), "
            f"got {len(ordered)}"
        )
    *train, valid, test = ordered
    horizon = timedelta(days=horizon_days)
    problems = []
    if test + horizon > as_of:
        problems.append(f"the test cutoff {test} + {horizon_days} days is after as_of {as_of}")
    if valid + horizon > test:
        problems.append(
            f"the validation cutoff {valid} + {horizon_days} days is after the test cutoff {test}"
        )
    if train[0] <= first_day:
        problems.append(
            f"the first cutoff {train[0]} is not after the first transaction {first_day}"
        )
    if problems:
        raise BadInput("--cutoffs: " + "; ".join(problems))
    return Cutoffs(tuple(train), valid, test)
