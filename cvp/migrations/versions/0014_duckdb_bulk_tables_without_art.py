"""DuckDB: the raw event tables and the generator's ground truth keep their keys without an
ART index

On DuckDB a PRIMARY KEY is an Adaptive Radix Tree that must fit in memory and is maintained on
every insert and again at commit: loading a million customers' 28 million rows spent more time
on those indexes than on everything else (at 300k customers: 11.7 s with them, 4.7 s without).
DuckDB's documentation advises keys only where they are needed. These tables' ids stay their
keys (the schema module declares them; imports, fingerprints and the validation suites read
them), and stay unique: the loader writes unique ids by construction, an import inserts only ids
the table does not hold and quarantines repeated ones, and the validation suite's unique
expectations check them before features are built. The planted truth of a synthetic dataset
(`ground_truth_customers`) is written only by the generator's load, one row per customer.
PostgreSQL keeps its primary keys.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 21:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

# table -> its key column
UNINDEXED_TABLES = {
    "transactions": "transaction_id",
    "subscriptions": "subscription_id",
    "events": "event_id",
    "support_tickets": "ticket_id",
    "surveys": "survey_id",
    "marketing_touches": "touch_id",
    "ground_truth_customers": "customer_id",
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "duckdb":
        return
    for table in UNINDEXED_TABLES:
        _rebuild(bind, table, key=None)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "duckdb":
        return
    for table, key in UNINDEXED_TABLES.items():
        _rebuild(bind, table, key=key)


def _rebuild(bind: sa.engine.Connection, table: str, key: str | None) -> None:
    """The table again with the same columns, types, defaults, NOT NULLs, comments and rows,
    with `key` as its primary key or none (DuckDB cannot drop a key in place)."""
    columns = bind.execute(
        sa.text(
            "SELECT column_name, data_type, is_nullable, column_default, comment "
            "FROM duckdb_columns() "
            "WHERE table_name = :table AND schema_name = current_schema() ORDER BY column_index"
        ),
        {"table": table},
    ).all()
    definitions = [
        f'"{name}" {data_type}'
        + ("" if default is None else f" DEFAULT {default}")
        + ("" if nullable else " NOT NULL")
        for name, data_type, nullable, default, _ in columns
    ]
    if key is not None:
        definitions.append(f'PRIMARY KEY ("{key}")')
    op.execute(f'ALTER TABLE "{table}" RENAME TO "{table}__rebuilt"')
    op.execute(f'CREATE TABLE "{table}" ({", ".join(definitions)})')
    op.execute(f'INSERT INTO "{table}" SELECT * FROM "{table}__rebuilt"')
    op.execute(f'DROP TABLE "{table}__rebuilt"')
    for name, _, _, _, comment in columns:
        if comment:
            quoted = comment.replace("'", "''")
            op.execute(f"COMMENT ON COLUMN \"{table}\".\"{name}\" IS '{quoted}'")
