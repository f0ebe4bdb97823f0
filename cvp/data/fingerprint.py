"""A cheap, portable fingerprint of the warehouse contents, so a run records which data it saw
and a cached feature snapshot is reused only on the data it was built from.

Per table, one aggregate query: the row count, the sum of a hash of each row (entity tables) or
of its key (event logs; changes when rows are replaced by others at the same count), the latest
`loaded_at` where the table has one, and aggregates of the columns the features read (changes
when events are edited in place).
Importing a customer master over derived customers, for example, keeps the count and the keys
but changes `origin`, `signup_date` and `loaded_at`."""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.data import schema

_FLAG = "SUM(CASE WHEN {0} THEN 1 ELSE 0 END)"

# per table, aggregates of the content the features (and scoring) read
_PROBES: dict[str, tuple[str, ...]] = {
    "customers": (
        "MIN(signup_date)",
        "MAX(signup_date)",
        "COUNT(signup_date)",
        _FLAG.format("is_contractual"),
        _FLAG.format("origin = 'master'"),
        "COUNT(country)",
        "COUNT(acquisition_channel)",
    ),
    "transactions": (
        "SUM(amount)",
        "MAX(ts)",
        "MIN(ts)",
        "SUM(discount)",
        "SUM(cost)",
        _FLAG.format("is_refund"),
    ),
    "subscriptions": ("MAX(start_date)", "MAX(end_date)", "COUNT(end_date)", "SUM(monthly_fee)"),
    "events": ("MAX(ts)", "MIN(ts)"),
    "support_tickets": ("MAX(opened_at)", "MAX(resolved_at)", "COUNT(resolved_at)"),
    "surveys": ("MAX(ts)", "SUM(nps)", "SUM(csat)"),
    "marketing_touches": ("MAX(ts)", "SUM(cost)", _FLAG.format("responded")),
    "consent": ("MAX(ts)", _FLAG.format("granted")),
}

# the raw tables `build_features` reads: the feature cache key covers exactly these
FEATURE_TABLES: tuple[str, ...] = (
    "customers",
    "transactions",
    "subscriptions",
    "events",
    "support_tickets",
    "surveys",
    "marketing_touches",
)


# entity tables are corrected in place (a master re-import, a fix by hand): their whole rows are
# hashed. Event logs are append-only (re-imports skip known ids): their keys are hashed, and the
# content probes above catch edits of the columns the features read.
_ROW_HASHED = frozenset({"customers", "subscriptions", "consent"})


def _hash_sum(dialect: str, expression: str) -> str | None:
    """SQL summing a 32-bit hash of `expression` over the table (aliased `t`)."""
    if dialect == "duckdb":
        return f"SUM(hash({expression}) % 4294967296)"
    if dialect == "postgresql":
        return f"SUM(('x' || substr(md5(CAST({expression} AS TEXT)), 1, 8))::bit(32)::int)"
    return None  # other dialects: count and content probes only


def _key_expression(table: sa.Table) -> str:
    columns = [f'CAST("{c.name}" AS VARCHAR)' for c in table.primary_key.columns]
    return columns[0] if len(columns) == 1 else " || '|' || ".join(columns)


def table_fingerprint(conn: Connection, table: str) -> list[str]:
    """Count, row- or key-hash sum, latest `loaded_at` and content aggregates of one table."""
    meta = schema.metadata.tables[table]
    probes = ["COUNT(*)"]
    hashed = "t" if table in _ROW_HASHED else _key_expression(meta)
    hash_sum = _hash_sum(conn.dialect.name, hashed)
    if hash_sum:
        probes.append(hash_sum)
    if "loaded_at" in meta.c:
        probes.append("MAX(loaded_at)")
    probes.extend(_PROBES.get(table, ()))
    row = conn.execute(sa.text(f'SELECT {", ".join(probes)} FROM "{table}" AS t')).one()
    return [_canonical(v) for v in row]


def content_fingerprint(conn: Connection, tables: tuple[str, ...]) -> tuple[str, dict[str, int]]:
    """Returns (sha256 over every table's probes, row counts per table)."""
    summary = {table: table_fingerprint(conn, table) for table in tables}
    counts = {table: int(values[0]) for table, values in summary.items()}
    digest = hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()
    return digest, counts


def warehouse_fingerprint(conn: Connection) -> tuple[str, dict[str, int]]:
    """Every raw table: what a job records as the data it ran on."""
    return content_fingerprint(conn, schema.RAW_TABLES)


def features_fingerprint(conn: Connection) -> str:
    """The tables a feature snapshot is built from: the snapshot cache key."""
    return content_fingerprint(conn, FEATURE_TABLES)[0]


def _canonical(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
