"""Who ran what, on which data, with which model versions: one `audit_log` row per job."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cvp.data import schema


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


@contextlib.contextmanager
def audited(
    engine: Engine, command: str, run_by: str, parameters: dict[str, Any]
) -> Iterator[AuditRecord]:
    """Write a 'running' row first, so a crashed job still leaves a trace, then its outcome."""
    record = AuditRecord(uuid.uuid4().hex, command, run_by, parameters)
    with engine.begin() as conn:
        conn.execute(
            schema.audit_log.insert().values(
                run_id=record.run_id,
                command=command,
                run_by=run_by,
                started_at=datetime.now(),
                status="running",
                parameters=json.dumps(parameters, default=str, sort_keys=True),
            )
        )
    status = "failed"
    try:
        yield record
        status = "succeeded"
    finally:
        with engine.begin() as conn:
            conn.execute(
                sa.update(schema.audit_log)
                .where(schema.audit_log.c.run_id == record.run_id)
                .values(
                    finished_at=datetime.now(),
                    status=status,
                    data_fingerprint=record.data_fingerprint,
                    model_versions=json.dumps(record.model_versions, sort_keys=True),
                    mlflow_run_id=record.mlflow_run_id,
                    notes=json.dumps(record.notes, default=str, sort_keys=True)
                    if record.notes
                    else None,
                )
            )
