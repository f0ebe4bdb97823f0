"""Bring-your-own-data import: CSV or Parquet into a raw table, with column mapping, type
coercion, row-level quarantine and idempotent re-runs.

A file that cannot be read safely is refused whole, with one line (`cvp.data.source`). Otherwise
every input row ends in exactly one bucket, so the counts reconcile:
`rows_read == inserted + already_present + quarantined_rows`. The row rules come from
`cvp.data.rules`, the same declarations the validation suites are built from.

Rows without an id get one from their content. Identical rows in such a file are real repeat
purchases (two equal orders on one day), so each repeat gets an occurrence number in its id
(`t_<hash>`, `t_<hash>_1`, ...): they are kept, reported as a warning, and re-importing the file
finds every one of them already present. Rows whose id repeats are quarantined as duplicates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.config import Settings
from cvp.data import rules, schema
from cvp.data.parsing import parse_datetimes, parse_numbers, whole_numbers
from cvp.data.pseudonym import Pseudonymiser
from cvp.data.source import (
    INGESTIBLE_TABLES,
    IngestError,
    ReadOptions,
    SourceFile,
    read_source,
)
from cvp.data.warehouse import write_frame
from cvp.privacy.erasure import ERASED_REASON, erased_mask

PII_FIELDS = set(schema.PII_COLUMNS)
REDACTED = "<redacted>"
TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0"}
REASONS = rules.TYPE_REASONS
__all__ = [
    "INGESTIBLE_TABLES",
    "IngestError",
    "IngestReport",
    "ReadOptions",
    "ingest_file",
    "ingest_source",
    "read_source",
]


@dataclass
class IngestReport:
    table: str
    source: str
    rows_read: int = 0
    inserted: int = 0
    already_present: int = 0
    quarantined_rows: int = 0
    customers_derived: int = 0
    repeated_rows: int = 0
    attribute_values: int = 0
    subscriptions_derived: int = 0
    attributes: list[str] = field(default_factory=list)  # "name (kind, role)"
    read_as: str = ""
    issues: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        return self.rows_read == self.inserted + self.already_present + self.quarantined_rows

    def issue_summary(self) -> pd.DataFrame:
        """Rows per (column, reason): what to show people, without the raw values."""
        if self.issues.empty:
            return pd.DataFrame(columns=["column_name", "reason", "rows"])
        by_reason = self.issues.groupby(["column_name", "reason"])
        return by_reason.size().reset_index(name="rows")

    def as_metrics(self) -> dict[str, float]:
        return {
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "already_present": self.already_present,
            "quarantined_rows": self.quarantined_rows,
            "customers_derived": self.customers_derived,
            "repeated_rows": self.repeated_rows,
            "attribute_values": self.attribute_values,
            "subscriptions_derived": self.subscriptions_derived,
        }


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def source_name(table: str, path: Path) -> str:
    """How quarantine records name a file: table, name and content fingerprint."""
    return f"{table}:{path.name}:{file_fingerprint(path)[:16]}"


class _Issues:
    """Collects (row, column, raw value, reason); one row may fail on several columns."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def add(
        self, mask: pd.Series, column: str, raw: pd.Series | None, reason: str | pd.Series
    ) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        rows = mask[mask].index
        raw_values = (
            pd.Series(None, index=rows, dtype="string")
            if raw is None
            else raw.loc[rows].astype("string")
        )
        if column in PII_FIELDS:
            raw_values = pd.Series(REDACTED, index=rows, dtype="string")
        # PostgreSQL text cannot hold NUL: keep it visible as an escape
        raw_values = raw_values.str.replace("\x00", "\\x00", regex=False)
        reasons = reason.loc[rows] if isinstance(reason, pd.Series) else reason
        self.parts.append(
            pd.DataFrame(
                {
                    "row_number": rows,
                    "column_name": column,
                    "raw_value": raw_values.to_numpy(),
                    "reason": reasons,
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=["row_number", "column_name", "raw_value", "reason"])
        out = pd.concat(self.parts, ignore_index=True)
        # a row fails once per column: keep the first reason found
        return out.drop_duplicates(["row_number", "column_name"]).sort_values(
            ["row_number", "column_name"]
        )


def _blank(values: pd.Series) -> pd.Series:
    return values.isna() | (values.str.strip() == "")


def coerce(source: SourceFile, settings: Settings, now: datetime) -> tuple[pd.DataFrame, _Issues]:
    """Parse every column to its warehouse type, recording each value that will not parse,
    then apply the table's import rules (`cvp.data.rules`)."""
    frame, table, options = source.frame, source.table, source.options
    issues = _Issues()
    out = pd.DataFrame(index=frame.index)
    for rule in rules.import_rules(table):  # missing values first: the clearest reason
        if rule.kind == "not_null" and rule.column in frame:
            issues.add(_blank(frame[rule.column]), rule.column, frame[rule.column], rule.reason)
    for column in frame.columns:
        raw = frame[column]
        blank = _blank(raw)
        text = raw.str.strip().where(~blank)
        kind = rules.column_kind(table, column)
        # the source id is never stored outside customer_identities, not even in quarantine
        shown = None if column == "customer_id" else raw
        if kind in ("number", "integer"):
            parsed = parse_numbers(text, options.decimal)
            issues.add(parsed.not_a_number, column, raw, REASONS["number"])
            issues.add(parsed.not_finite, column, raw, REASONS["finite"])
            values = parsed.values
            if kind == "integer":
                values, fractional, too_large = whole_numbers(values)
                issues.add(fractional, column, raw, REASONS["whole"])
                issues.add(too_large, column, raw, REASONS["too_large"])
            out[column] = values
        elif kind in ("datetime", "date"):
            parsed = parse_datetimes(text, options.date_format, source.date_orders.get(column))
            reason = REASONS["datetime"] + (
                f" (expected --date-format {options.date_format})" if options.date_format else ""
            )
            issues.add(~blank & parsed.isna(), column, raw, reason)
            out[column] = parsed.dt.normalize() if kind == "date" else parsed
        elif kind == "boolean":
            lowered = text.str.lower()
            parsed = pd.Series(pd.NA, index=frame.index, dtype="boolean")
            parsed[lowered.isin(TRUE_WORDS).fillna(False)] = True
            parsed[lowered.isin(FALSE_WORDS).fillna(False)] = False
            issues.add(~blank & parsed.isna(), column, raw, REASONS["boolean"])
            out[column] = parsed
        else:
            length = rules.max_length(table, column)
            if length:
                reason = REASONS["length"].format(length=length)
                issues.add(text.str.len() > length, column, shown, reason)
            issues.add(text.str.contains("\x00", regex=False), column, shown, REASONS["nul"])
            out[column] = text
    _apply_rules(out, table, settings, now, issues, frame)
    return out, issues


def _apply_rules(
    out: pd.DataFrame,
    table: str,
    settings: Settings,
    now: datetime,
    issues: _Issues,
    raw: pd.DataFrame,
) -> None:
    """Range, vocabulary and cross-column rules that quarantine a row at import."""
    run = {"as_of_end": pd.Timestamp(now)}
    for rule in rules.import_rules(table):
        if rule.kind in ("not_null", "unique", "compound_unique", "known_customer"):
            continue  # missing values above; duplicates and customers need the whole file
        if rule.kind != "condition" and any(c not in out for c in rule.columns):
            continue  # an optional column the file does not have
        reason = rule.reason_text(settings, run)
        if rule.kind == "condition":
            mask = rules.CONDITIONS[rule.params["condition"]](out)
        elif rule.kind == "between":
            params = rule.resolved(settings, run)
            values = out[rule.column]
            low, high = params.get("min_value"), params.get("max_value")
            if pd.api.types.is_datetime64_any_dtype(values):
                low = None if low is None else pd.Timestamp(low)
                high = None if high is None else pd.Timestamp(high)
            mask = pd.Series(False, index=out.index)
            if low is not None:
                mask |= (values < low).fillna(False).astype(bool)
            if high is not None:
                mask |= (values > high).fillna(False).astype(bool)
        elif rule.kind == "in_set":
            allowed = rule.resolved(settings, run)["value_set"]
            values = out[rule.column]
            mask = values.notna() & ~values.isin(allowed)
        else:
            raise ValueError(f"rule {rule.name}: kind {rule.kind!r} is not checked at import")
        issues.add(mask, rule.column, raw.get(rule.column), reason)


def _row_ids(frame: pd.DataFrame, table: str, id_column: str) -> tuple[pd.Series, pd.Series]:
    """Stable ids for rows without one, from the row's content: re-importing the same rows (in
    any file or order) yields the same ids, which is what makes ingestion idempotent. The n-th
    repeat of identical content gets `_n` appended. Returns (ids, occurrence number)."""
    content = frame.drop(columns=[id_column], errors="ignore")
    content = content[sorted(content.columns)]
    hashed = pd.util.hash_pandas_object(content.astype("string").fillna("\x00"), index=False)
    hashed = pd.Series(hashed.to_numpy(), index=frame.index)
    occurrence = hashed.groupby(hashed, sort=False).cumcount()
    ids = table[0] + "_" + hashed.map("{:016x}".format)
    repeat = occurrence > 0
    ids = ids.where(~repeat, ids + "_" + occurrence.astype(str))
    return ids, occurrence


def ingest_source(
    conn: Connection,
    source: SourceFile,
    source_name: str,
    pseudonymiser: Pseudonymiser,
    settings: Settings,
    now: datetime | None = None,
) -> IngestReport:
    """Validate and load a file already read as text; see module docstring for the buckets."""
    table, frame = source.table, source.frame
    now = now or datetime.now()
    report = IngestReport(
        table=table, source=source_name, rows_read=len(frame), read_as=source.description()
    )
    report.warnings.extend(source.warnings)
    values, issues = coerce(source, settings, now)
    source_ids = frame["customer_id"].str.strip()
    values["customer_id"] = pseudonymiser.keys_for(
        source_ids.where(~_blank(frame["customer_id"]))
    ).to_numpy()
    typed = _typed_attributes(source, issues)
    # privacy: erased customers stay erased (unknown consent purposes are a rule in rules.py)
    issues.add(
        erased_mask(conn, values["customer_id"]),
        "customer_id",
        values["customer_id"],
        ERASED_REASON,
    )
    target = schema.metadata.tables[table]
    pk = [c.name for c in target.primary_key.columns]
    id_column = pk[0] if table not in {"customers", "consent"} else None

    repeats = pd.Series(False, index=values.index)
    if id_column:
        content_ids, occurrence = _row_ids(values, table, id_column)
        if id_column in values:  # ids from the file; a blank one gets a content id
            values[id_column] = values[id_column].fillna(content_ids)
        else:
            values[id_column] = content_ids
            repeats = occurrence > 0
    key_columns = [id_column] if id_column else rules.key_columns(table)
    duplicated = values.duplicated(key_columns, keep="first") & values[key_columns].notna().all(
        axis=1
    )
    first_row = (
        values.reset_index().groupby(key_columns, dropna=True)["row_number"].transform("min")
    )
    first_row.index = values.index
    issues.add(
        duplicated,
        key_columns[0],
        values[key_columns[0]],
        "duplicate of row " + first_row.astype(str),
    )

    derive = table != "customers" and _check_customers(conn, values, issues)

    issue_frame = issues.frame()
    bad_rows = set(issue_frame["row_number"].tolist())
    good = values.loc[~values.index.isin(bad_rows)]
    report.quarantined_rows = len(bad_rows)
    report.issues = issue_frame
    kept_repeats = repeats & ~values.index.isin(bad_rows)
    report.repeated_rows = int(kept_repeats.sum())
    if report.repeated_rows:
        rows = ", ".join(str(r) for r in kept_repeats[kept_repeats].index[:5])
        more = ", ..." if report.repeated_rows > 5 else ""
        report.warnings.append(
            f"{report.repeated_rows} row(s) repeat an identical earlier row (rows {rows}{more}); "
            f"the file has no {id_column}, so they are kept as separate purchases"
        )
    _write_quarantine(conn, table, source_name, issue_frame)
    if table == "customers":
        report.inserted, report.already_present = _upsert_customers(
            conn, good, frame.loc[good.index], now
        )
        if typed is not None:
            _write_attributes(conn, report, typed, source, values["customer_id"], good.index, now)
    else:
        if table == "consent":  # a history: each change keeps where and when it came from
            good = good.assign(source=source_name, loaded_at=pd.Timestamp(now).floor("s"))
        report.inserted, report.already_present = _insert_new(conn, target, good, key_columns)
    if derive:
        report.customers_derived = _derive_customers(conn, good, now)
        _record_source_ids(conn, good["customer_id"], source_ids.loc[good.index])
    return report


def _typed_attributes(source: SourceFile, issues: _Issues):  # -> TypedAttributes | None
    """A customer file's extra columns as typed attributes (`cvp.contract.attributes`); values
    that do not fit their type are row issues like any other."""
    if not source.attributes or source.attribute_frame is None:
        return None
    from cvp.contract.attributes import coerce_attributes

    options = source.options
    typed = coerce_attributes(
        source.attribute_frame, source.attributes, options.decimal, options.date_format
    )
    for column, mask, reason in typed.failures:
        issues.add(mask, column, source.attribute_frame[column], reason)
    return typed


def _write_attributes(
    conn: Connection,
    report: IngestReport,
    typed,
    source: SourceFile,
    customer_ids: pd.Series,
    rows: pd.Index,
    now: datetime,
) -> None:
    from cvp.contract.load import write_snapshot

    attributes = source.options.attributes
    snapshot = (attributes.snapshot_date if attributes else None) or now.date()
    report.attribute_values, report.subscriptions_derived = write_snapshot(
        conn, typed, customer_ids, rows, report.source, snapshot, now
    )
    report.attributes = [f"{a.name} ({a.kind}, {a.role})" for a in typed.attributes]


def _check_customers(conn: Connection, values: pd.DataFrame, issues: _Issues) -> bool:
    """With a customer master loaded, unknown ids are errors; with only a transaction log,
    the log defines the customers. Returns whether customers should be derived."""
    has_master = conn.execute(
        sa.select(sa.func.count())
        .select_from(schema.customers)
        .where(schema.customers.c.origin == "master")
    ).scalar_one()
    ids = values["customer_id"].dropna().unique()
    known = _existing_keys(conn, schema.customers, "customer_id", ids)
    unknown = values["customer_id"].notna() & ~values["customer_id"].isin(known)
    if has_master:
        issues.add(unknown, "customer_id", values["customer_id"], "unknown customer id")
        return False
    return bool(unknown.any())


def _existing_keys(
    conn: Connection, table: sa.Table, column: str, keys: np.ndarray, *where: sa.ColumnElement
) -> set[str]:
    found: set[str] = set()
    col = table.c[column]
    key_list = list(keys)
    for start in range(0, len(key_list), 10_000):
        chunk = key_list[start : start + 10_000]
        found.update(conn.execute(sa.select(col).where(col.in_(chunk), *where)).scalars())
    return found


def _insert_new(
    conn: Connection, target: sa.Table, good: pd.DataFrame, key_columns: list[str]
) -> tuple[int, int]:
    """Stage, then insert only keys the table does not hold yet, inside the database."""
    stage = _stage_table(conn, target)
    write_frame(conn, stage, good.reset_index(drop=True))
    exists = sa.exists().where(sa.and_(*(target.c[k] == stage.c[k] for k in key_columns)))
    already = conn.execute(sa.select(sa.func.count()).select_from(stage).where(exists)).scalar_one()
    columns = [c.name for c in target.columns if c.name in good.columns]
    conn.execute(
        target.insert().from_select(
            columns, sa.select(*(stage.c[c] for c in columns)).where(~exists)
        )
    )
    stage.drop(conn)
    return len(good) - int(already), int(already)


def _stage_table(conn: Connection, target: sa.Table) -> sa.Table:
    stage = sa.Table(
        f"_stage_{target.name}",
        sa.MetaData(),
        *(sa.Column(c.name, c.type) for c in target.columns),
    )
    stage.drop(conn, checkfirst=True)
    stage.create(conn)
    return stage


def _derive_customers(conn: Connection, good: pd.DataFrame, now: datetime) -> int:
    time_column = next(c for c in ("ts", "opened_at", "start_date") if c in good.columns)
    first_seen = good.groupby("customer_id")[time_column].min().dt.normalize()
    derived = pd.DataFrame(
        {
            "customer_id": first_seen.index,
            "signup_date": first_seen.to_numpy(),
            "origin": "derived",
            "loaded_at": pd.Timestamp(now).floor("s"),
        }
    )
    inserted, _ = _insert_new(conn, schema.customers, derived, ["customer_id"])
    return inserted


def _record_source_ids(conn: Connection, keys: pd.Series, source_ids: pd.Series) -> None:
    """Derived customers keep their source id (exact text) in `customer_identities`, the only
    place an activation export may re-identify them from."""
    identities = pd.DataFrame(
        {"customer_id": keys.to_numpy(), "source_customer_id": source_ids.to_numpy()}
    ).drop_duplicates("customer_id")
    _insert_new(conn, schema.customer_identities, identities, ["customer_id"])


def _upsert_customers(
    conn: Connection, good: pd.DataFrame, raw: pd.DataFrame, now: datetime
) -> tuple[int, int]:
    """Master data replaces derived customers; PII goes to `customer_identities` only."""
    master = good.drop(columns=[c for c in PII_FIELDS if c in good.columns]).copy()
    master["origin"] = "master"
    master["loaded_at"] = pd.Timestamp(now).floor("s")
    derived_ids = list(
        _existing_keys(
            conn,
            schema.customers,
            "customer_id",
            master["customer_id"].unique(),
            schema.customers.c.origin == "derived",
        )
    )
    for start in range(0, len(derived_ids), 10_000):
        chunk = derived_ids[start : start + 10_000]
        conn.execute(sa.delete(schema.customers).where(schema.customers.c.customer_id.in_(chunk)))
        # the master's identity (with PII) replaces the source-id-only one of a derived customer
        conn.execute(
            sa.delete(schema.customer_identities).where(
                schema.customer_identities.c.customer_id.in_(chunk)
            )
        )
    inserted, already = _insert_new(conn, schema.customers, master, ["customer_id"])
    identities = pd.DataFrame(
        {
            "customer_id": good["customer_id"].to_numpy(),
            "source_customer_id": raw["customer_id"].str.strip().to_numpy(),
            **{c: good[c].to_numpy() for c in PII_FIELDS if c in good.columns},
        }
    )
    _insert_new(conn, schema.customer_identities, identities, ["customer_id"])
    return inserted, already


def _write_quarantine(conn: Connection, table: str, source: str, issues: pd.DataFrame) -> None:
    """Replace this source's quarantine records, so re-running a file does not pile them up."""
    conn.execute(sa.delete(schema.quarantine).where(schema.quarantine.c.source == source))
    if issues.empty:
        return
    records = issues.assign(
        source=source,
        target_table=table,
        quarantined_at=pd.Timestamp.now().floor("s"),
        row_number=issues["row_number"].astype(int),
    )
    write_frame(conn, schema.quarantine, records)


def ingest_file(
    conn: Connection,
    table: str,
    path: Path,
    options: ReadOptions,
    pseudonymiser: Pseudonymiser,
    settings: Settings,
    now: datetime | None = None,
) -> IngestReport:
    """Read (refusing an unusable file whole) and load one file."""
    source = read_source(path, table, options)
    return ingest_source(conn, source, source_name(table, path), pseudonymiser, settings, now)
