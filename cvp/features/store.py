"""The `feature_snapshots` table: one wide row per (feature set version, as_of, customer).

Its columns come from the feature catalog, so a new feature is a new Alembic revision."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.data import schema
from cvp.data.warehouse import read_frame, write_frame
from cvp.features.build import catalog

feature_snapshots = sa.Table(
    "feature_snapshots",
    schema.metadata,
    sa.Column("feature_set_version", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("customer_id", sa.String(schema.CUSTOMER_ID), primary_key=True),
    sa.Column("is_contractual", sa.Double),
    sa.Column("country", sa.String(8)),
    sa.Column("acquisition_channel", sa.String(32)),
    *(sa.Column(feature.name, sa.Double, comment=feature.description) for feature in catalog()),
)


def snapshot_rows(version: str, as_of: date, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows `write_snapshot` stores, in the table's shape: what the snapshot suite checks
    before they replace the stored ones."""
    return frame.assign(feature_set_version=version, as_of=pd.Timestamp(as_of).date())


def write_snapshot(conn: Connection, version: str, as_of: date, frame: pd.DataFrame) -> int:
    """Replace the snapshot for (version, as_of) inside the caller's transaction; validate
    `snapshot_rows(...)` first, so a failing snapshot never replaces a good one."""
    conn.execute(
        sa.delete(feature_snapshots).where(
            feature_snapshots.c.feature_set_version == version, feature_snapshots.c.as_of == as_of
        )
    )
    return write_frame(conn, feature_snapshots, snapshot_rows(version, as_of, frame))


def read_snapshot(conn: Connection, version: str, as_of: date) -> pd.DataFrame:
    """The stored snapshot in the shape `build_features` returns (empty if none is stored)."""
    frame = read_frame(
        conn,
        sa.select(feature_snapshots).where(
            feature_snapshots.c.feature_set_version == version, feature_snapshots.c.as_of == as_of
        ),
    )
    frame = frame.drop(columns=["feature_set_version"]).sort_values("customer_id")
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[ns]")
    return frame.reset_index(drop=True)
