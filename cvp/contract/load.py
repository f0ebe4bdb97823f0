"""Writing a snapshot's attributes, their catalog and the derived subscriptions (inside the
import's transaction, so a refused or failed import leaves none of them)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.contract.attributes import TypedAttributes, derive_subscriptions, long_form
from cvp.contract.store import attribute_catalog, customer_attributes
from cvp.data import schema
from cvp.data.warehouse import write_frame

CHUNK = 10_000


def _delete_for(conn: Connection, table: sa.Table, column: str, keys: list[str]) -> None:
    for start in range(0, len(keys), CHUNK):
        conn.execute(sa.delete(table).where(table.c[column].in_(keys[start : start + CHUNK])))


def write_snapshot(
    conn: Connection,
    typed: TypedAttributes,
    customer_ids: pd.Series,
    rows: pd.Index,
    source: str,
    snapshot: date,
    now: datetime,
) -> tuple[int, int]:
    """Replace the accepted customers' attributes and snapshot subscriptions (a snapshot is the
    truth at its date: re-importing it, or a newer one, replaces rather than adds), upsert the
    catalog. Returns (attribute values written, subscriptions derived)."""
    loaded = pd.Timestamp(now).floor("s")
    keys = customer_ids.loc[rows].dropna().astype(str).tolist()
    values = long_form(typed, customer_ids, rows).assign(loaded_at=loaded)
    _delete_for(conn, customer_attributes, "customer_id", keys)
    write_frame(conn, customer_attributes, values)
    catalog = pd.DataFrame(
        {
            "attribute": [a.name for a in typed.attributes],
            "kind": [a.kind for a in typed.attributes],
            "role": [a.role for a in typed.attributes],
            "subscription_field": [a.subscription_field for a in typed.attributes],
            "declared": ["declared" if a.declared else "inferred" for a in typed.attributes],
            "snapshot_date": pd.Timestamp(snapshot),
            "source": source,
            "loaded_at": loaded,
        }
    )
    _delete_for(conn, attribute_catalog, "attribute", catalog["attribute"].tolist())
    write_frame(conn, attribute_catalog, catalog)
    subscriptions = derive_subscriptions(typed, customer_ids, rows, snapshot)
    if subscriptions.empty:
        return len(values), 0
    _delete_for(
        conn, schema.subscriptions, "subscription_id", subscriptions["subscription_id"].tolist()
    )
    write_frame(conn, schema.subscriptions, subscriptions)
    customers = schema.customers
    for start in range(0, len(keys), CHUNK):
        conn.execute(
            sa.update(customers)
            .where(customers.c.customer_id.in_(keys[start : start + CHUNK]))
            .values(is_contractual=True)
        )
    return len(values), len(subscriptions)
