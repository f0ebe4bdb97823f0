"""contractual snapshots: customer attributes, their catalog, contract scores

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-07 00:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customer_attributes',
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('attribute', sa.String(length=64), nullable=False),
    sa.Column('value_number', sa.Double(), nullable=True, comment='number, integer, months, boolean 0/1'),
    sa.Column('value_text', sa.String(length=200), nullable=True, comment='category, text, date (ISO)'),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', 'attribute')
    )
    op.create_table('attribute_catalog',
    sa.Column('attribute', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False, comment='boolean number integer months category text date'),
    sa.Column('role', sa.String(length=16), nullable=False, comment='feature, sensitive, label or id'),
    sa.Column('subscription_field', sa.String(length=16), nullable=True, comment='tenure, plan or fee'),
    sa.Column('declared', sa.String(length=16), nullable=False, comment='declared at import or inferred'),
    sa.Column('snapshot_date', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=300), nullable=False, comment='table:file:fingerprint'),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('attribute')
    )
    op.create_table('contract_scores',
    sa.Column('snapshot_date', sa.Date(), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False, comment='active or churned (the label)'),
    sa.Column('churn_probability', sa.Double(), nullable=False),
    sa.Column('expected_remaining_months', sa.Double(), nullable=False),
    sa.Column('contract_clv', sa.Double(), nullable=False, comment='fee x discounted expected months'),
    sa.Column('risk_tier', sa.String(length=8), nullable=False),
    sa.Column('model_version', sa.String(length=16), nullable=False),
    sa.Column('scored_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('snapshot_date', 'customer_id')
    )


def downgrade() -> None:
    op.drop_table('contract_scores')
    op.drop_table('attribute_catalog')
    op.drop_table('customer_attributes')
