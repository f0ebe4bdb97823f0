"""A cheap, portable fingerprint of the warehouse contents, so a run records which data it saw."""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.data import schema

# per table, aggregates that change when rows are added, removed or edited
_PROBES: dict[str, tuple[str, ...]] = {
    "transactions": ("SUM(amount)", "MAX(ts)", "MIN(ts)"),
    "events": ("MAX(ts)",),
    "support_tickets": ("MAX(opened_at)",),
    "surveys": ("MAX(ts)", "SUM(nps)"),
}


def warehouse_fingerprint(conn: Connection) -> tuple[str, dict[str, int]]:
    """Returns (sha256 over counts and probes, row counts per raw table)."""
    summary: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for table in schema.RAW_TABLES:
        probes = ("COUNT(*)", *_PROBES.get(table, ()))
        row = conn.execute(sa.text(f'SELECT {", ".join(probes)} FROM "{table}"')).one()
        counts[table] = int(row[0])
        summary[table] = [_canonical(v) for v in row]
    digest = hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()
    return digest, counts


def _canonical(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
