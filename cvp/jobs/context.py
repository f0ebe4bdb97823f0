"""One way to open and close a job. Every job in `cvp/jobs/` runs inside `open_job`, which in
this order: takes the warehouse (DuckDB file lock, in `get_engine`) and the job's lock (waiting up
to `[jobs] lock_wait_seconds`), writes the `running` audit row, closes stale `running` rows of
killed jobs as `interrupted`, records the data fingerprint, runs the job's own `require` check
(e.g. champion models), refuses dates the data cannot support, passes the validation gate,
and only then starts the MLflow run. A refusal at any step raises a `cvp.errors` exception and
leaves a `refused` audit row with the reason (and no MLflow run); closing records the outcome."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, Generic

import mlflow
import sqlalchemy as sa
from mlflow.entities import Run
from sqlalchemy.engine import Connection, Engine
from typing_extensions import TypeVar

from cvp.audit import AuditRecord, audited, close_stale, record_refusal, running_rows
from cvp.config import Settings
from cvp.data.coverage import check_as_of, data_span
from cvp.data.fingerprint import warehouse_fingerprint
from cvp.data.lock import (
    Holder,
    announce,
    holds_warehouse_file,
    job_lock,
    job_lock_key,
    pid_alive,
    release_advisory,
    try_advisory,
)
from cvp.data.warehouse import get_engine
from cvp.errors import LockHeld
from cvp.experiments.tracking import tracked_run
from cvp.validation.gate import GateOutcome, validation_gate

T = TypeVar("T", default=None)  # what `require` returns; None when a job requires nothing
PAUSE_IN_WRITE_ENV = "CVP_TEST_PAUSE_IN_WRITE"  # seconds; crash tests kill -9 during the pause
PAUSE_MARKER_ENV = "CVP_TEST_PAUSE_MARKER"  # a file created when the pause starts
PAUSE_RELEASE_ENV = "CVP_TEST_PAUSE_RELEASE"  # a file that ends the pause early
PAUSE_AT_ENV = "CVP_TEST_PAUSE_AT"  # where: opened | write | committed

_ACTIVE: set[str] = set()  # audit run ids of the jobs this process runs now
_ACTIVE_GUARD = threading.Lock()


@dataclass
class Job(Generic[T]):
    """What a job body gets: its settings, engine, audit record, MLflow run and checks passed."""

    settings: Settings
    engine: Engine
    kind: str
    as_of: date | None
    audit: AuditRecord
    run: Run
    gate: GateOutcome | None
    required: T

    @property
    def mlflow_run_id(self) -> str:
        return self.run.info.run_id

    def refresh_fingerprint(self) -> str:
        """After a job changed the raw tables (generate, ingest): record the data it left."""
        with self.engine.connect() as conn:
            self.audit.data_fingerprint, _ = warehouse_fingerprint(conn)
        mlflow.set_tag("cvp.data_fingerprint", self.audit.data_fingerprint)
        return self.audit.data_fingerprint


@contextlib.contextmanager
def open_job(
    settings: Settings,
    kind: str,
    params: dict[str, Any],
    *,
    experiment: str,
    run_name: str | None = None,
    as_of: date | None = None,
    history_days: int | None = None,
    gate: bool = False,
    force_validation: bool = False,
    require: Callable[[], T] | None = None,
    tags: dict[str, str] | None = None,
) -> Iterator[Job[T]]:
    """`history_days`: refuse `as_of` outside the dates the data supports, needing this many
    days of data before it (None: no date check). `gate`: validation gate at `as_of`.
    `require`: the job's own precondition, run before the MLflow run; its result is
    `job.required`."""
    engine = get_engine(settings.warehouse_url)  # DuckDB: waits for or refuses another process
    key = job_lock_key(kind, as_of)
    holder = Holder(kind, as_of.isoformat() if as_of else None, user=settings.operator)
    with contextlib.ExitStack() as stack:
        try:
            lock_conn = stack.enter_context(
                job_lock(
                    engine,
                    key,
                    holder,
                    settings.jobs.lock_wait_seconds,
                    partial(_holder_of, engine),
                )
            )
        except LockHeld as exc:
            with contextlib.suppress(Exception):  # the refusal is what matters, not its row
                record_refusal(engine, kind, settings.operator, params, str(exc))
            raise
        audit = stack.enter_context(audited(engine, kind, settings.operator, params, key))
        holder.run_id = audit.run_id
        announce(settings.warehouse_url, holder)
        stack.callback(announce, settings.warehouse_url, None)
        with _ACTIVE_GUARD:
            _ACTIVE.add(audit.run_id)
        stack.callback(_forget, audit.run_id)
        closed = close_stale(engine, partial(_stale_reason, engine, lock_conn), audit.run_id)
        if closed:
            audit.notes["closed_interrupted_runs"] = closed
        pause_for_crash_test("opened")
        with engine.connect() as conn:
            audit.data_fingerprint, _ = warehouse_fingerprint(conn)
            span = data_span(conn) if history_days is not None and as_of else None
        required = require() if require is not None else None
        if span is not None and as_of is not None and history_days is not None:
            check_as_of(span, as_of, kind, settings.validation.freshness_days, history_days)
        outcome = (
            validation_gate(engine, settings, as_of, force=force_validation)
            if gate and as_of
            else None
        )
        if outcome is not None:
            audit.notes.update(
                validation_override=outcome.overridden, validation_run_id=outcome.report.run_id
            )
        run = stack.enter_context(
            tracked_run(
                settings,
                experiment,
                run_name or (f"{kind} {as_of}" if as_of else kind),
                {"cvp.command": kind, **(outcome.tags() if outcome else {}), **(tags or {})},
            )
        )
        audit.mlflow_run_id = run.info.run_id
        mlflow.set_tag("cvp.data_fingerprint", audit.data_fingerprint)
        yield Job(settings, engine, kind, as_of, audit, run, outcome, required)  # type: ignore[arg-type]


def pause_for_crash_test(point: str = "write") -> None:
    """Test hook: sleep at `point` so a crash test can kill the process there. Points: "opened"
    (audit row written, nothing read yet), "write" (inside the write transaction), "committed"
    (after the commit, before the audit row is closed). Does nothing unless
    CVP_TEST_PAUSE_IN_WRITE (seconds) is set; CVP_TEST_PAUSE_AT picks the point (default write)."""
    seconds = float(os.environ.get(PAUSE_IN_WRITE_ENV) or 0)
    if seconds <= 0 or os.environ.get(PAUSE_AT_ENV, "write") != point:
        return
    marker = os.environ.get(PAUSE_MARKER_ENV)
    if marker:
        Path(marker).touch()
    release = os.environ.get(PAUSE_RELEASE_ENV)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (release and Path(release).exists()):
        time.sleep(0.2)


def _forget(run_id: str) -> None:
    with _ACTIVE_GUARD:
        _ACTIVE.discard(run_id)


def _holder_of(engine: Engine, key: str) -> Holder | None:
    """The job holding `key`, from its `running` audit row (written after it took the lock)."""
    with contextlib.suppress(Exception):
        for row in running_rows(engine, key):
            params = json.loads(row.parameters or "{}")
            return Holder(
                kind=row.command,
                as_of=params.get("as_of"),
                pid=row.pid or 0,
                host=row.host or "?",
                user=row.run_by,
                started_at=row.started_at.isoformat(timespec="seconds"),
                run_id=row.run_id,
            )
    return None


def _stale_reason(engine: Engine, lock_conn: Connection | None, row: sa.Row) -> str | None:
    """Why the job of a `running` row cannot still be running, or None if it may be."""
    with _ACTIVE_GUARD:
        if row.run_id in _ACTIVE:
            return None
    if holds_warehouse_file(str(engine.url.render_as_string(hide_password=False))):
        return "interrupted: its process no longer held the warehouse (DuckDB single writer)"
    if engine.dialect.name != "postgresql":
        return None
    same_host = row.host == socket.gethostname() and row.pid
    if same_host and (row.pid == os.getpid() or not pid_alive(row.pid)):
        return f"interrupted: process {row.pid} on {row.host} is no longer running its job"
    if row.lock_key:
        with contextlib.ExitStack() as stack:
            conn = lock_conn or stack.enter_context(engine.connect())
            if try_advisory(conn, row.lock_key):
                release_advisory(conn, row.lock_key)
                return f"interrupted: nothing holds its lock '{row.lock_key}' any more"
    return None
