"""Which dates the data can support. A date after the newest data (beyond the freshness limit)
would score everyone as churned; a date before the oldest has no customers to build features
for. Jobs refuse both in one line that says which dates are possible."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.data import schema
from cvp.errors import DateNotSupported, StateError

VERBS = {"score": "score", "features": "build features", "train": "train"}


@dataclass(frozen=True)
class DataSpan:
    """First and last day with transactions (the activity every feature and label rests on)."""

    first: date | None
    last: date | None


def data_span(conn: Connection) -> DataSpan:
    ts = schema.transactions.c.ts
    # rows stamped in the future are bad data (validation flags them), not a sign of freshness
    query = sa.select(sa.func.min(ts), sa.func.max(ts)).where(ts <= datetime.now())
    first, last = conn.execute(query).one()
    return DataSpan(_day(first), _day(last))


def _day(value: date | datetime | None) -> date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, datetime) else value


def supported_range(
    span: DataSpan, freshness_days: int, history_days: int = 0
) -> tuple[date, date]:
    """(earliest, latest) date a job may run for. `history_days`: how much data the job needs
    before its date (training's label windows); a date includes its own day's data."""
    assert span.first is not None and span.last is not None
    earliest = span.first + timedelta(days=history_days)
    latest = span.last + timedelta(days=freshness_days)
    return earliest, latest


def check_as_of(
    span: DataSpan, as_of: date, kind: str, freshness_days: int, history_days: int = 0
) -> None:
    """Raise DateNotSupported (or StateError without data) unless `as_of` is supported."""
    verb = VERBS.get(kind, kind)
    if span.first is None or span.last is None:
        raise StateError(
            f"cannot {verb}: the warehouse has no transactions; import them "
            "(`cvp ingest transactions FILE`) or generate data (`cvp generate`) first"
        )
    earliest, latest = supported_range(span, freshness_days, history_days)
    history = f" and needs {history_days} days of history before the date" if history_days else ""
    if earliest > latest:
        raise DateNotSupported(
            f"cannot {verb} as of any date: the data spans {span.first} to {span.last}, "
            f"too short for a job that{history.removeprefix(' and')}; import more history"
        )
    possible = f"possible dates are {earliest} to {latest}"
    if as_of > latest:
        raise DateNotSupported(
            f"cannot {verb} as of {as_of}: the newest data is from {span.last} and "
            f"[validation] freshness_days = {freshness_days}; {possible} (import newer data "
            "for later dates)"
        )
    if as_of < earliest:
        raise DateNotSupported(
            f"cannot {verb} as of {as_of}: the oldest data is from {span.first}{history}; "
            f"{possible}"
        )
