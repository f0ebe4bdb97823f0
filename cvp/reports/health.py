"""Data health of a scores date: validation results, quarantined rows, freshness of sources."""

from __future__ import annotations

from datetime import date, datetime, time

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.data import schema
from cvp.data.warehouse import read_frame
from cvp.reports.readings import SectionData
from cvp.validation.store import validation_results

# raw tables and the column saying when their newest row happened (customers: the newest
# signup; their loaded_at is when the file was imported, which may be after the scores date)
FRESHNESS_COLUMNS = {
    "transactions": "ts",
    "events": "ts",
    "support_tickets": "opened_at",
    "surveys": "ts",
    "marketing_touches": "ts",
    "customers": "signup_date",
}


def _validation(conn: Connection, as_of: date) -> pd.DataFrame:
    """The latest run of each table's suite for the date (a table validated twice counts once)."""
    v = validation_results.c
    frame = read_frame(
        conn,
        sa.select(v.run_id, v.table_name, v.severity, v.success, v.validated_at).where(
            v.as_of == as_of
        ),
    )
    if frame.empty:
        return frame
    latest = frame.groupby("table_name")["validated_at"].transform("max")
    frame = frame[frame["validated_at"] == latest]
    frame["status"] = frame["success"].map({True: "passed", False: "failed"})
    frame.loc[~frame["success"] & (frame["severity"] != "critical"), "status"] = "warning"
    return frame.groupby(["table_name", "status"]).size().rename("expectations").reset_index()


def _quarantine(conn: Connection) -> pd.DataFrame:
    q = schema.quarantine.c
    return read_frame(
        conn,
        sa.select(q.target_table, q.reason, sa.func.count().label("rows"))
        .group_by(q.target_table, q.reason)
        .order_by(sa.func.count().desc()),
    )


def _freshness(conn: Connection, as_of: date) -> pd.DataFrame:
    """Newest row of each source and its lag behind the end of the scores date, in days."""
    end = datetime.combine(as_of, time.max)
    rows = []
    for table_name, column in FRESHNESS_COLUMNS.items():
        col = schema.metadata.tables[table_name].c[column]
        newest = conn.execute(sa.select(sa.func.max(col)).where(col <= end)).scalar()
        lag = (end - pd.Timestamp(newest).to_pydatetime()).days if newest is not None else None
        newest = pd.Timestamp(newest).to_pydatetime() if newest is not None else None
        rows.append({"table": table_name, "newest": newest, "lag_days": lag})
    return pd.DataFrame(rows)


def data_health(conn: Connection, as_of: date) -> SectionData:
    section = SectionData("health", "Data health")
    validation = _validation(conn, as_of)
    quarantine = _quarantine(conn)
    freshness = _freshness(conn, as_of)
    section.frames = {"validation": validation, "quarantine": quarantine, "freshness": freshness}
    if validation.empty:
        section.unavailable.append(
            f"no validation results for {as_of}: run `cvp validate --as-of {as_of}` to record them"
        )
        first = f"No validation run is recorded for {as_of}."
    else:
        by_status = validation.groupby("status")["expectations"].sum()
        failed = int(by_status.get("failed", 0))
        first = (
            f"{int(by_status.sum())} expectations on {validation['table_name'].nunique()} tables: "
            f"{int(by_status.get('passed', 0))} passed, {int(by_status.get('warning', 0))} "
            f"warnings, {failed} critical failures"
            + (" — the scores rest on data that failed a critical check." if failed else ".")
        )
    stale = freshness.dropna(subset=["lag_days"]).sort_values("lag_days").tail(1)
    second = f"{int(quarantine['rows'].sum()) if not quarantine.empty else 0} rows quarantined"
    if not quarantine.empty:
        top = quarantine.iloc[0]
        second += f" (most often: {top['target_table']} — {top['reason']}, {int(top['rows'])})"
    if not stale.empty:
        row = stale.iloc[0]
        second += f"; the stalest source is {row['table']}, {int(row['lag_days'])} days behind."
    section.reading = [first, second]
    return section
