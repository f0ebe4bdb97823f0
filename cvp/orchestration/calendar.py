"""Backfill calendars: `every` is a count and a unit, `1d`, `1w`, `2w`, `1mo`, `3mo`."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd

EVERY_PATTERN = r"^[1-9][0-9]*(d|w|mo)$"
MAX_BACKFILL_DATES = 400


def step(every: str) -> pd.DateOffset:
    """A calendar step; months are calendar months clamped to the month's end (Jan 31 -> Feb 28)."""
    match = re.fullmatch(r"([1-9][0-9]*)(d|w|mo)", every.strip())
    if match is None:
        raise ValueError(f"every={every!r}: use a count and a unit, e.g. 1d, 1w, 2w, 1mo")
    count, unit = int(match[1]), match[2]
    return {
        "d": pd.DateOffset(days=count),
        "w": pd.DateOffset(weeks=count),
        "mo": pd.DateOffset(months=count),
    }[unit]


def backfill_dates(start: date, end: date, every: str) -> list[date]:
    """`start`, then every step after it up to and including `end`."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    offset, first = step(every), pd.Timestamp(start)
    dates: list[date] = []
    k = 0
    while (current := first + offset * k) <= pd.Timestamp(end):
        dates.append(current.date())
        k += 1
        if len(dates) > MAX_BACKFILL_DATES:
            raise ValueError(
                f"{start}..{end} every {every} is more than {MAX_BACKFILL_DATES} dates; "
                "split the range or use a longer step"
            )
    return dates
