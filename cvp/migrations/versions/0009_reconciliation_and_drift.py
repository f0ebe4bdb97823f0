"""touch reconciliation counts on campaigns; calendar flag on drift results

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 05:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('campaigns', sa.Column('contacts', sa.Integer(), nullable=True, comment='touches with a channel, at launch or import'))
    op.add_column('campaigns', sa.Column('touched_outside', sa.Integer(), nullable=True, comment='contacted customers not in the campaign'))
    op.add_column('campaigns', sa.Column('touched_control', sa.Integer(), nullable=True, comment='control customers contacted (contamination)'))
    op.add_column('campaigns', sa.Column('untouched_treatment', sa.Integer(), nullable=True, comment='treatment customers never contacted'))
    op.add_column('drift_results', sa.Column('calendar', sa.Boolean(), nullable=True, comment='moves with the calendar by construction; never counts'))


def downgrade() -> None:
    op.drop_column('drift_results', 'calendar')
    op.drop_column('campaigns', 'untouched_treatment')
    op.drop_column('campaigns', 'touched_control')
    op.drop_column('campaigns', 'touched_outside')
    op.drop_column('campaigns', 'contacts')
