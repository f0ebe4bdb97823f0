"""The `feature_snapshots` table: one wide row per (feature set version, as_of, customer), and
its staging twin `feature_snapshot_staging`, where the partition tasks of the Dask engine write
their rows before the job validates and promotes them (`cvp/execution/dask_engine.py`).

Their columns come from the feature catalog, so a new feature is a new Alembic revision that adds
the column to both tables."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.data import schema
from cvp.data.warehouse import read_frame, write_frame
from cvp.execution.partitions import Partition
from cvp.features.build import catalog


def _snapshot_columns() -> list[sa.Column]:
    """The snapshot's columns, new objects per table (a Column belongs to one Table)."""
    return [
        sa.Column("feature_set_version", sa.String(64), primary_key=True),
        sa.Column("as_of", sa.Date, primary_key=True),
        sa.Column("customer_id", sa.String(schema.CUSTOMER_ID), primary_key=True),
        sa.Column("is_contractual", sa.Double),
        sa.Column("country", sa.String(8)),
        sa.Column("acquisition_channel", sa.String(32)),
        *(sa.Column(feature.name, sa.Double, comment=feature.description) for feature in catalog()),
    ]


feature_snapshots = sa.Table("feature_snapshots", schema.metadata, *_snapshot_columns())

# Same columns and key: a (version, as_of) belongs to one features job at a time (the job lock is
# per command and date), so its staged rows need no run id, and the next run of a date clears
# what a crashed one left.
feature_snapshot_staging = sa.Table(
    "feature_snapshot_staging",
    schema.metadata,
    *_snapshot_columns(),
    comment="partition tasks' rows before validation and promotion to feature_snapshots",
)


def snapshot_rows(version: str, as_of: date, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows `write_snapshot` stores, in the table's shape: what the snapshot suite checks
    before they replace the stored ones."""
    return frame.assign(feature_set_version=version, as_of=pd.Timestamp(as_of).date())


def _of(table: sa.Table, version: str, as_of: date) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.feature_set_version == version, table.c.as_of == as_of)


def write_snapshot(conn: Connection, version: str, as_of: date, frame: pd.DataFrame) -> int:
    """Replace the snapshot for (version, as_of) inside the caller's transaction; validate
    `snapshot_rows(...)` first, so a failing snapshot never replaces a good one."""
    conn.execute(sa.delete(feature_snapshots).where(_of(feature_snapshots, version, as_of)))
    return write_frame(conn, feature_snapshots, snapshot_rows(version, as_of, frame))


def read_snapshot(conn: Connection, version: str, as_of: date) -> pd.DataFrame:
    """The stored snapshot in the shape `build_features` returns (empty if none is stored).

    Selected without the version column and ordered by the database, read one column at a time
    (`low_memory`): at 1 M customers a pandas sort and a column drop each copied the whole
    frame. The database's order is checked, not trusted (PostgreSQL orders text by its
    collation): pandas sorts only if it differs."""
    columns = [c for c in feature_snapshots.c if c.name != "feature_set_version"]
    statement = (
        sa.select(*columns)
        .where(_of(feature_snapshots, version, as_of))
        .order_by(feature_snapshots.c.customer_id)
    )
    frame = read_frame(conn, statement, low_memory=True)
    if not frame["customer_id"].is_monotonic_increasing:
        frame = frame.sort_values("customer_id", ignore_index=True)
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[ns]")
    return frame


# --- staging: the Dask engine's partition tasks write here, the job promotes -----------------


def clear_staging(conn: Connection, version: str, as_of: date) -> int:
    """Remove every staged row of (version, as_of): a crashed run's, or a finished run's."""
    staging = feature_snapshot_staging
    return conn.execute(sa.delete(staging).where(_of(staging, version, as_of))).rowcount


def stage_partition(
    conn: Connection, version: str, as_of: date, partition: Partition, frame: pd.DataFrame
) -> int:
    """Replace one partition's staged rows inside the caller's transaction, so a task that Dask
    runs again (its worker died after writing) stages its rows once; returns rows staged."""
    staging = feature_snapshot_staging
    conn.execute(
        sa.delete(staging).where(
            _of(staging, version, as_of), partition.predicate(staging.c.customer_id)
        )
    )
    return write_frame(conn, staging, snapshot_rows(version, as_of, frame))


def read_staged(conn: Connection, version: str, as_of: date) -> pd.DataFrame:
    """The staged rows in the table's shape (`snapshot_rows`'), for the snapshot suite."""
    staging = feature_snapshot_staging
    frame = read_frame(
        conn, sa.select(staging).where(_of(staging, version, as_of)), low_memory=True
    )
    return frame.sort_values("customer_id", kind="stable", ignore_index=True)


def promote_staged(conn: Connection, version: str, as_of: date) -> int:
    """Replace the stored snapshot of (version, as_of) by the staged rows and clear them, inside
    the caller's transaction (one transaction: readers see the old snapshot or the new one, and a
    failure leaves both tables as they were); returns the rows promoted."""
    staging = feature_snapshot_staging
    conn.execute(sa.delete(feature_snapshots).where(_of(feature_snapshots, version, as_of)))
    names = [column.name for column in feature_snapshots.columns]
    conn.execute(
        sa.insert(feature_snapshots).from_select(
            names,
            sa.select(*(staging.c[name] for name in names)).where(_of(staging, version, as_of)),
        )
    )
    # counted in the table, not taken from the driver's rowcount (-1 for INSERT ... SELECT here)
    promoted = conn.execute(
        sa.select(sa.func.count())
        .select_from(feature_snapshots)
        .where(_of(feature_snapshots, version, as_of))
    ).scalar_one()
    clear_staging(conn, version, as_of)
    return int(promoted)
