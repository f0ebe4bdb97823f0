"""Who ran what, on which data, with which model versions: one `audit_log` row per job.

A row's status is `running` while the job runs, then `succeeded`, `failed` (an unexpected error),
`refused` (an expected refusal: validation gate, bad parameters, a date the data cannot support,
a lock held by another job; the reason is in `notes`) or `interrupted` (the process died without
closing its row; set by the next job, see `close_stale`)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cvp.data import schema
from cvp.errors import CvpError


@dataclass
class AuditRecord:
    run_id: str
    command: str
    run_by: str
    parameters: dict[str, Any]
    data_fingerprint: str | None = None
    model_versions: dict[str, str] = field(default_factory=dict)
    mlflow_run_id: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def _start_row(record: AuditRecord, status: str, lock_key: str | None) -> dict[str, Any]:
    return {
        "run_id": record.run_id,
        "command": record.command,
        "run_by": record.run_by,
        "started_at": datetime.now(),
        "status": status,
        "parameters": _json(record.parameters),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "lock_key": lock_key,
    }


def record_refusal(
    engine: Engine, command: str, run_by: str, parameters: dict[str, Any], reason: str
) -> str:
    """A job that was refused before it could start (e.g. its lock is held) still leaves a row."""
    record = AuditRecord(uuid.uuid4().hex, command, run_by, parameters, notes={"reason": reason})
    row = _start_row(record, "refused", None)
    with engine.begin() as conn:
        conn.execute(
            schema.audit_log.insert().values(
                **row, finished_at=row["started_at"], notes=_json(record.notes)
            )
        )
    return record.run_id


@contextlib.contextmanager
def audited(
    engine: Engine,
    command: str,
    run_by: str,
    parameters: dict[str, Any],
    lock_key: str | None = None,
) -> Iterator[AuditRecord]:
    """Write a 'running' row first, so a crashed job still leaves a trace, then its outcome."""
    record = AuditRecord(uuid.uuid4().hex, command, run_by, parameters)
    with engine.begin() as conn:
        conn.execute(schema.audit_log.insert().values(**_start_row(record, "running", lock_key)))
    status = "failed"
    try:
        yield record
        status = "succeeded"
    except CvpError as exc:
        status = "refused"
        record.notes = {**record.notes, "reason": str(exc)}
        raise
    except BaseException as exc:
        record.notes = {**record.notes, "error": f"{type(exc).__name__}: {exc}"[:2000]}
        raise
    finally:
        with engine.begin() as conn:
            conn.execute(
                sa.update(schema.audit_log)
                .where(schema.audit_log.c.run_id == record.run_id)
                .values(
                    finished_at=datetime.now(),
                    status=status,
                    data_fingerprint=record.data_fingerprint,
                    model_versions=_json(record.model_versions),
                    mlflow_run_id=record.mlflow_run_id,
                    notes=_json(record.notes) if record.notes else None,
                )
            )


def running_rows(engine: Engine, lock_key: str | None = None) -> list[sa.Row]:
    log = schema.audit_log
    query = sa.select(log).where(log.c.status == "running").order_by(log.c.started_at.desc())
    if lock_key is not None:
        query = query.where(log.c.lock_key == lock_key)
    with engine.connect() as conn:
        return list(conn.execute(query).all())


def close_stale(
    engine: Engine, is_stale: Callable[[sa.Row], str | None], closed_by: str
) -> list[str]:
    """Mark `running` rows whose job is gone as `interrupted`. `is_stale(row)` returns why the
    row's job cannot still be running (its process is dead, its lock is free), or None."""
    closed = []
    for row in running_rows(engine):
        if row.run_id == closed_by:
            continue
        reason = is_stale(row)
        if reason is None:
            continue
        notes = {**json.loads(row.notes or "{}"), "reason": reason, "closed_by": closed_by}
        log = schema.audit_log
        with engine.begin() as conn:
            updated = conn.execute(
                sa.update(log)
                .where(log.c.run_id == row.run_id, log.c.status == "running")
                .values(status="interrupted", finished_at=datetime.now(), notes=_json(notes))
            ).rowcount
        if updated:
            closed.append(row.run_id)
    return closed
