"""Bring-your-own-data import: CSV or Parquet into a raw table, with column mapping, type
coercion, row-level quarantine and idempotent re-runs.

Every input row ends in exactly one bucket, so the counts reconcile:
`rows_read == inserted + already_present + quarantined_rows`.
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

from cvp.config import IngestSettings
from cvp.data import schema
from cvp.data.pseudonym import Pseudonymiser
from cvp.data.warehouse import write_frame
from cvp.privacy.consent import consent_ingest_hook
from cvp.privacy.erasure import ERASED_REASON, erased_mask

INGESTIBLE_TABLES: tuple[str, ...] = tuple(
    t for t in schema.RAW_TABLES if t != "customer_identities"
)
# columns a file must provide, per table; everything else is optional
REQUIRED: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "transactions": ("customer_id", "ts", "amount"),
    "subscriptions": ("customer_id", "plan", "start_date", "monthly_fee"),
    "events": ("customer_id", "ts", "event_type"),
    "support_tickets": ("customer_id", "opened_at", "category"),
    "surveys": ("customer_id", "ts"),
    "marketing_touches": ("customer_id", "ts", "campaign", "arm"),
    "consent": ("customer_id", "purpose", "granted", "ts"),
}
# the order assumed for a headerless file without a mapping
HEADERLESS_ORDER: dict[str, tuple[str, ...]] = {
    "transactions": ("customer_id", "ts", "amount", "category", "channel", "discount"),
}
# friendlier names accepted on the left of --map
TARGET_ALIASES = {"timestamp": "ts", "time": "ts", "customer": "customer_id"}
PII_FIELDS = set(schema.PII_COLUMNS)
REDACTED = "<redacted>"
TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0"}


class IngestError(ValueError):
    """The file cannot be read at all (as opposed to individual bad rows)."""


@dataclass
class IngestReport:
    table: str
    source: str
    rows_read: int = 0
    inserted: int = 0
    already_present: int = 0
    quarantined_rows: int = 0
    customers_derived: int = 0
    issues: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def reconciles(self) -> bool:
        return self.rows_read == self.inserted + self.already_present + self.quarantined_rows

    def issue_summary(self) -> pd.DataFrame:
        """Rows per (column, reason): what to show people, without the raw values."""
        if self.issues.empty:
            return pd.DataFrame(columns=["column_name", "reason", "rows"])
        by_reason = self.issues.groupby(["column_name", "reason"])
        return by_reason.size().reset_index(name="rows")

    def as_metrics(self) -> dict[str, int]:
        return {
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "already_present": self.already_present,
            "quarantined_rows": self.quarantined_rows,
            "customers_derived": self.customers_derived,
        }


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _target_columns(table: str) -> list[str]:
    return [c.name for c in schema.metadata.tables[table].columns]


def read_source(
    path: Path, table: str, mapping: dict[str, str], header: bool | None
) -> pd.DataFrame:
    """Read the file as text columns named by target column; all parsing happens later so
    every bad value can be reported rather than failing the whole file."""
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    mapping = {TARGET_ALIASES.get(target, target): source for target, source in mapping.items()}
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        raw = pd.read_parquet(path)
        raw = raw.astype("string")
    elif suffix in {".csv", ".txt", ".tsv"}:
        sep = "\t" if suffix == ".tsv" else ","
        if header is None:
            header = _looks_like_header(path, sep, table, mapping)
        try:
            raw = pd.read_csv(
                path,
                sep=sep,
                header=0 if header else None,
                dtype="string",
                keep_default_na=False,
                skip_blank_lines=True,
                on_bad_lines="error",
            )
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise IngestError(f"{path}: malformed file: {exc}") from exc
        if not header:
            raw.columns = [str(c) for c in raw.columns]
            if not mapping:
                order = HEADERLESS_ORDER.get(table, tuple(REQUIRED[table]))
                raw.columns = list(order[: raw.shape[1]]) + [
                    f"extra_{i}" for i in range(raw.shape[1] - len(order))
                ]
    else:
        raise IngestError(f"{path}: unsupported file type {suffix!r}; use .csv, .tsv or .parquet")
    raw.columns = [str(c).strip() for c in raw.columns]
    missing_sources = [s for s in mapping.values() if s not in raw.columns]
    if missing_sources:
        raise IngestError(
            f"{path}: mapped source column(s) {missing_sources} not in file columns "
            f"{list(raw.columns)}"
        )
    renamed = raw.rename(columns={source: target for target, source in mapping.items()})
    allowed = set(_target_columns(table)) | (
        {"name", "email", "phone"} if table == "customers" else set()
    )
    keep = [c for c in renamed.columns if c in allowed]
    missing = [c for c in REQUIRED[table] if c not in keep]
    if missing:
        raise IngestError(
            f"{path}: required column(s) {missing} for table {table!r} not found; "
            f"map them with --map target=source (file has {list(raw.columns)})"
        )
    frame = renamed[keep].copy()
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row_number")
    return frame


def _looks_like_header(path: Path, sep: str, table: str, mapping: dict[str, str]) -> bool:
    with path.open(encoding="utf-8", errors="replace") as handle:
        first = handle.readline().strip().split(sep)
    names = {c.strip().lower() for c in first}
    expected = {
        c.lower() for c in (*_target_columns(table), *mapping.values(), "name", "email", "phone")
    }
    return bool(names & expected)


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


def coerce(
    frame: pd.DataFrame, table: str, settings: IngestSettings, now: datetime
) -> tuple[pd.DataFrame, _Issues]:
    """Parse every column to its warehouse type, recording each value that will not parse."""
    issues = _Issues()
    out = pd.DataFrame(index=frame.index)
    target = schema.metadata.tables[table]
    required = set(REQUIRED[table])
    floor = pd.Timestamp(settings.timestamp_floor)
    for column in frame.columns:
        raw = frame[column]
        blank = _blank(raw)
        if column in required:
            issues.add(blank, column, raw, "missing value")
        sql_type = target.columns[column].type if column in target.columns else sa.String()
        text = raw.str.strip()
        if isinstance(sql_type, sa.Float | sa.Double | sa.Integer):
            parsed = pd.to_numeric(text.where(~blank), errors="coerce")
            issues.add(~blank & parsed.isna(), column, raw, "not a number")
            if isinstance(sql_type, sa.Integer):
                fractional = parsed.notna() & (parsed != np.floor(parsed))
                issues.add(fractional, column, raw, "not a whole number")
                parsed = parsed.where(~fractional).astype("Int64")
            out[column] = parsed
        elif isinstance(sql_type, sa.DateTime | sa.Date):
            parsed = pd.to_datetime(text.where(~blank), errors="coerce", format="mixed", utc=True)
            parsed = parsed.dt.tz_convert(None)
            issues.add(~blank & parsed.isna(), column, raw, "not a valid date/time")
            issues.add(parsed > pd.Timestamp(now), column, raw, "timestamp in the future")
            issues.add(
                parsed < floor, column, raw, f"timestamp before floor {settings.timestamp_floor}"
            )
            out[column] = parsed.dt.normalize() if isinstance(sql_type, sa.Date) else parsed
        elif isinstance(sql_type, sa.Boolean):
            lowered = text.str.lower()
            parsed = pd.Series(pd.NA, index=frame.index, dtype="boolean")
            parsed[lowered.isin(TRUE_WORDS)] = True
            parsed[lowered.isin(FALSE_WORDS)] = False
            issues.add(~blank & parsed.isna(), column, raw, "not a boolean")
            out[column] = parsed
        else:
            length = getattr(sql_type, "length", None)
            if length and column != "customer_id":  # the source id is replaced by a key
                issues.add(text.str.len() > length, column, raw, f"longer than {length} characters")
            out[column] = text.where(~blank)
    _plausibility(out, table, settings, issues, frame)
    return out, issues


def _plausibility(
    out: pd.DataFrame, table: str, settings: IngestSettings, issues: _Issues, raw: pd.DataFrame
) -> None:
    if table == "transactions":
        refund = (
            out["is_refund"].fillna(False).astype(bool)
            if "is_refund" in out
            else pd.Series(False, index=out.index)
        )
        amount = out["amount"]
        issues.add(
            (amount < 0) & ~refund, "amount", raw["amount"], "negative amount not flagged as refund"
        )
        issues.add(
            amount.abs() > settings.max_abs_amount,
            "amount",
            raw["amount"],
            f"amount beyond ±{settings.max_abs_amount:g}",
        )
        if "discount" in out:
            issues.add(
                (out["discount"] < 0) | (out["discount"] > 1),
                "discount",
                raw["discount"],
                "discount outside 0..1",
            )
    if table == "surveys":
        for column, low, high in (("nps", 0, 10), ("csat", 1, 5)):
            if column in out:
                issues.add(
                    (out[column] < low) | (out[column] > high),
                    column,
                    raw[column],
                    f"{column} outside {low}..{high}",
                )
    if table == "support_tickets" and "resolved_at" in out:
        issues.add(
            out["resolved_at"] < out["opened_at"],
            "resolved_at",
            raw["resolved_at"],
            "resolved before opened",
        )


def _row_ids(frame: pd.DataFrame, table: str, id_column: str) -> pd.Series:
    """Stable ids for files without one, from the row's content: re-importing the same rows
    (in any file or order) yields the same ids, which is what makes ingestion idempotent."""
    content = frame.drop(columns=[id_column], errors="ignore")
    content = content[sorted(content.columns)]
    hashed = pd.util.hash_pandas_object(content.astype("string").fillna("\x00"), index=False)
    return table[0] + "_" + pd.Series(hashed.to_numpy(), index=frame.index).map("{:016x}".format)


def ingest_frame(
    conn: Connection,
    table: str,
    frame: pd.DataFrame,
    source: str,
    pseudonymiser: Pseudonymiser,
    settings: IngestSettings,
    now: datetime | None = None,
) -> IngestReport:
    """Validate and load rows already read as text; see module docstring for the buckets."""
    if table not in INGESTIBLE_TABLES:
        raise IngestError(f"unknown table {table!r}; choose one of {', '.join(INGESTIBLE_TABLES)}")
    now = now or datetime.now()
    report = IngestReport(table=table, source=source, rows_read=len(frame))
    values, issues = coerce(frame, table, settings, now)
    source_ids = frame["customer_id"].str.strip()
    values["customer_id"] = pseudonymiser.keys_for(
        source_ids.where(~_blank(frame["customer_id"]))
    ).to_numpy()
    # privacy: erased customers stay erased; consent purposes must be known
    issues.add(
        erased_mask(conn, values["customer_id"]),
        "customer_id",
        values["customer_id"],
        ERASED_REASON,
    )
    if table == "consent":
        unknown_purpose, reason = consent_ingest_hook(values)
        issues.add(unknown_purpose, "purpose", frame["purpose"], reason)
    target = schema.metadata.tables[table]
    pk = [c.name for c in target.primary_key.columns]
    id_column = pk[0] if table not in {"customers", "consent"} else None

    if id_column and id_column not in values:
        values[id_column] = _row_ids(values, table, id_column)
    key_columns = [id_column] if id_column else pk
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
    _write_quarantine(conn, table, source, issue_frame)
    if table == "customers":
        report.inserted, report.already_present = _upsert_customers(
            conn, good, frame.loc[good.index], now
        )
    else:
        if table == "consent":  # a history: each change keeps where and when it came from
            good = good.assign(source=source, loaded_at=pd.Timestamp(now).floor("s"))
        report.inserted, report.already_present = _insert_new(conn, target, good, key_columns)
    if derive:
        report.customers_derived = _derive_customers(conn, good, now)
        _record_source_ids(conn, good["customer_id"], source_ids.loc[good.index])
    return report


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
    keys = list(keys)
    for start in range(0, len(keys), 10_000):
        chunk = keys[start : start + 10_000]
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
    mapping: dict[str, str],
    pseudonymiser: Pseudonymiser,
    settings: IngestSettings,
    header: bool | None = None,
    now: datetime | None = None,
) -> IngestReport:
    frame = read_source(path, table, mapping, header)
    source = f"{table}:{path.name}:{file_fingerprint(path)[:16]}"
    return ingest_frame(conn, table, frame, source, pseudonymiser, settings, now)
