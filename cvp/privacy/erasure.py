"""The right to be forgotten: `cvp forget ID` deletes a customer's identity and every personal
row, keeps a tombstone (pseudonym, date) so re-imports cannot bring them back, scrubs the
pseudonym from stored validation samples and reports, and rewrites exports this workspace wrote
(as recorded in `audit_log`) without them.

What stays: the tombstone (a keyed hash that identifies nobody without the secret key) and the
`forget` audit row, which names the pseudonym only. Aggregates already computed (counts, model
weights) are not personal data and stay.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.data import schema
from cvp.data.pseudonym import DIGEST_CHARS, KEY_PREFIX, Pseudonymiser

ERASED_REASON = "erased"
ERASED_MARK = "<erased>"
TOMBSTONE = schema.erased_customers.name
KEEP_TABLES = {TOMBSTONE, "alembic_version", "audit_log"}
PSEUDONYM = re.compile(rf"^{KEY_PREFIX}[0-9a-f]{{{DIGEST_CHARS}}}$")
SCRUBBED_FILE_TYPES = {".html", ".json", ".md", ".csv", ".txt"}


class UnknownCustomer(LookupError):
    """The id matches no customer, identity or tombstone."""


@dataclass
class ErasureReport:
    customer_id: str
    already_erased: bool
    rows_deleted: dict[str, int] = field(default_factory=dict)
    values_scrubbed: dict[str, int] = field(default_factory=dict)
    files_rewritten: list[str] = field(default_factory=list)
    files_scrubbed: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows_deleted.values())


def erased_ids(conn: Connection) -> set[str]:
    """Every tombstoned pseudonym; ingestion refuses their rows with reason 'erased'."""
    return set(conn.execute(sa.select(schema.erased_customers.c.customer_id)).scalars())


def resolve_customer(conn: Connection, given: str, pseudonymiser: Pseudonymiser) -> str:
    """The pseudonym for a source id or a pseudonym: the identity table first (exact text), then
    the pseudonym pattern, then the keyed hash of the id as a source id."""
    given = given.strip()
    i = schema.customer_identities
    found = conn.execute(sa.select(i.c.customer_id).where(i.c.source_customer_id == given)).scalar()
    if found is not None:
        return str(found)
    if PSEUDONYM.match(given):
        return given
    return pseudonymiser.key_for(given)


def _tables_with_customers(conn: Connection) -> list[str]:
    """Every table with a customer_id column, as the database has them (also tables that other
    modules add later), except the tombstone itself."""
    inspector = sa.inspect(conn)
    names = []
    for name in inspector.get_table_names():
        if name in KEEP_TABLES or name.startswith("_stage_"):
            continue
        if any(col["name"] == "customer_id" for col in inspector.get_columns(name)):
            names.append(name)
    return sorted(names)


def _light_table(conn: Connection, name: str) -> sa.TableClause:
    """Columns only: full reflection of constraints fails on DuckDB (pg_catalog casts)."""
    columns = sa.inspect(conn).get_columns(name)
    return sa.table(name, *(sa.column(c["name"], c["type"]) for c in columns))


def _text_columns(conn: Connection, table: str) -> list[str]:
    return [
        col["name"]
        for col in sa.inspect(conn).get_columns(table)
        if isinstance(col["type"], sa.String | sa.Text) and col["name"] != "customer_id"
    ]


def erase_customer(
    conn: Connection, customer_id: str, source_id: str | None, now: datetime | None = None
) -> ErasureReport:
    """Delete every row of the customer, in the caller's transaction, and leave the tombstone."""
    now = now or datetime.now().replace(microsecond=0)
    tomb = schema.erased_customers
    already = conn.execute(
        sa.select(sa.func.count()).select_from(tomb).where(tomb.c.customer_id == customer_id)
    ).scalar_one()
    report = ErasureReport(customer_id, bool(already))
    for name in _tables_with_customers(conn):
        table = _light_table(conn, name)
        deleted = conn.execute(sa.delete(table).where(table.c.customer_id == customer_id))
        if deleted.rowcount:
            report.rows_deleted[name] = int(deleted.rowcount)
    # quarantine keeps raw values: the pseudonym (customer id issues) or, at worst, the source id
    q = schema.quarantine
    values = [v for v in (customer_id, source_id) if v]
    deleted = conn.execute(sa.delete(q).where(q.c.raw_value.in_(values)))
    if deleted.rowcount:
        report.rows_deleted["quarantine"] = int(deleted.rowcount)
    # free text that may quote the pseudonym (validation samples, observed values)
    for name in sorted(set(sa.inspect(conn).get_table_names()) - KEEP_TABLES - {"quarantine"}):
        if name.startswith("_stage_"):
            continue
        table = _light_table(conn, name)
        for column in _text_columns(conn, name):
            col = table.c[column]
            changed = conn.execute(
                sa.update(table)
                .where(col.contains(customer_id, autoescape=True))
                .values({column: sa.func.replace(col, customer_id, ERASED_MARK)})
            )
            if changed.rowcount:
                report.values_scrubbed[f"{name}.{column}"] = int(changed.rowcount)
    if not already:
        conn.execute(tomb.insert().values(customer_id=customer_id, erased_at=now))
    return report


def earlier_exports(conn: Connection) -> list[Path]:
    """Files this workspace exported (destinations recorded in `audit_log.notes`)."""
    a = schema.audit_log
    rows = conn.execute(
        sa.select(a.c.notes).where(a.c.command.like("export%"), a.c.status == "succeeded")
    ).scalars()
    paths = []
    for notes in rows:
        destination = json.loads(notes or "{}").get("destination")
        if destination and Path(destination).is_file():
            paths.append(Path(destination))
    return sorted(set(paths))


def rewrite_exports(paths: list[Path], customer_id: str, source_id: str | None) -> list[str]:
    """Rewrite each export without the customer's rows; returns the files changed."""
    from cvp.privacy.exports import read_export, write_export

    changed = []
    for path in paths:
        frame = read_export(path)
        keep = pd.Series(True, index=frame.index)
        if "customer_id" in frame:
            keep &= frame["customer_id"].astype("string").fillna("") != customer_id
        if source_id is not None and "source_customer_id" in frame:
            keep &= frame["source_customer_id"].astype("string").fillna("") != source_id
        if not keep.all():
            write_export(frame.loc[keep.to_numpy()].reset_index(drop=True), path)
            changed.append(str(path))
    return changed


def scrub_files(root: Path, customer_id: str) -> list[str]:
    """Replace the pseudonym in generated text files under `root` (Data Docs, summary pages,
    validation result JSON), which quote samples of failing values."""
    changed: list[str] = []
    if not root.exists():
        return changed
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix.lower() not in SCRUBBED_FILE_TYPES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if customer_id in text:
            path.write_text(text.replace(customer_id, ERASED_MARK), encoding="utf-8")
            changed.append(str(path))
    return changed


def erased_mask(conn: Connection, customer_ids: pd.Series) -> pd.Series:
    """True for rows whose pseudonym has a tombstone (the ingestion hook)."""
    return customer_ids.isin(erased_ids(conn)).fillna(False).astype(bool)
