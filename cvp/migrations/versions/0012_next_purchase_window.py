"""next-purchase window on customer scores

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 00:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('customer_scores', sa.Column('next_purchase_earliest', sa.Date(), nullable=True, comment='first quartile of the wait to the next purchase if alive'))
    op.add_column('customer_scores', sa.Column('next_purchase_latest', sa.Date(), nullable=True, comment='third quartile of the wait to the next purchase if alive'))


def downgrade() -> None:
    op.drop_column('customer_scores', 'next_purchase_latest')
    op.drop_column('customer_scores', 'next_purchase_earliest')
