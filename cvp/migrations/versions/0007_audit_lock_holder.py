"""audit_log: the process and lock of each job, so the next job can close a killed one's row

Revision ID: 0007
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("host", sa.String(length=255), nullable=True))
    op.add_column("audit_log", sa.Column("pid", sa.Integer(), nullable=True))
    op.add_column(
        "audit_log",
        sa.Column("lock_key", sa.String(length=128), nullable=True, comment="cvp.data.lock key"),
    )


def downgrade() -> None:
    op.drop_column("audit_log", "lock_key")
    op.drop_column("audit_log", "pid")
    op.drop_column("audit_log", "host")
