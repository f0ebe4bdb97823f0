"""Thin Prefect pieces of the backfill: its concurrency limit and the report. The per-date task
lives with the flow (`flows/backfill.py`), since it runs the pipeline's steps."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date

from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.states import State

from cvp.orchestration.backfill import DateOutcome

BACKFILL_ARTIFACT = "backfill-report"


@contextlib.contextmanager
def run_concurrency_limit(name: str, limit: int) -> Iterator[str]:
    """A global concurrency limit that lives as long as one backfill run."""
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, limit)
    try:
        yield name
    finally:
        with get_client(sync_client=True) as client:
            client.delete_global_concurrency_limit_by_name(name)


def backfill_report(dates: list[date], states: list[State]) -> list[DateOutcome]:
    """One outcome per date (failed ones carry their final error) and the table artifact."""
    outcomes = []
    for day, state in zip(dates, states, strict=True):
        if state.is_completed():
            outcomes.append(state.result())
        else:
            outcomes.append(DateOutcome(day, "failed", None, 0.0, _error(state)))
    create_table_artifact(
        key=BACKFILL_ARTIFACT,
        table=[o.row() for o in outcomes],
        description=f"Backfill of {len(dates)} dates: "
        + ", ".join(
            f"{s} {sum(o.status == s for o in outcomes)}" for s in ("done", "skipped", "failed")
        ),
    )
    return outcomes


def _error(state: State) -> str:
    try:
        state.result()
    except Exception as exc:  # the task's final exception, after its retries
        return f"{type(exc).__name__}: {exc}"[:500]
    return state.message or state.type.value
