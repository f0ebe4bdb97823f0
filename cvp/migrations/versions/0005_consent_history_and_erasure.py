"""consent history and erasure tombstones

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 01:00:00

`consent` becomes a history keyed by (customer, purpose, ts, granted), with the source file and
load time of each change. DuckDB cannot alter a primary key, so the table is rebuilt and the
existing rows are copied. `erased_customers` holds the tombstones `cvp forget` leaves.
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _consent_table(name: str, history: bool) -> None:
    key = ['customer_id', 'purpose', 'ts', 'granted'] if history else ['customer_id', 'purpose']
    columns: list[sa.schema.SchemaItem] = [
        sa.Column('customer_id', sa.String(length=32), nullable=False),
        sa.Column('purpose', sa.String(length=32), nullable=False),
        sa.Column('ts', sa.DateTime(), nullable=False),
        sa.Column('granted', sa.Boolean(), nullable=False),
    ]
    if history:
        columns += [
            sa.Column('source', sa.String(length=300), nullable=True),
            sa.Column('loaded_at', sa.DateTime(), nullable=True),
        ]
    op.create_table(name, *columns, sa.PrimaryKeyConstraint(*key))


def upgrade() -> None:
    _consent_table('consent_0005', history=True)
    op.execute(
        "INSERT INTO consent_0005 (customer_id, purpose, ts, granted, source) "
        "SELECT customer_id, purpose, ts, granted, 'before revision 0005' FROM consent"
    )
    op.drop_table('consent')
    op.rename_table('consent_0005', 'consent')
    op.create_table('erased_customers',
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('erased_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('customer_id')
    )


def downgrade() -> None:
    op.drop_table('erased_customers')
    _consent_table('consent_0004', history=False)
    # keep the latest change per customer and purpose, as the old table could only hold one
    op.execute(
        "INSERT INTO consent_0004 (customer_id, purpose, ts, granted) "
        "SELECT customer_id, purpose, ts, granted FROM ("
        " SELECT *, ROW_NUMBER() OVER (PARTITION BY customer_id, purpose"
        " ORDER BY ts DESC, granted ASC) AS rn FROM consent) AS latest WHERE rn = 1"
    )
    op.drop_table('consent')
    op.rename_table('consent_0004', 'consent')
