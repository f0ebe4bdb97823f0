"""campaign ledger, measurements, monitoring tables, optional sensitive customer columns

Revision ID: 0008
Revises: 0004
Create Date: 2026-11-30 01:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('customers', sa.Column('birth_year', sa.Integer(), nullable=True))
    op.add_column('customers', sa.Column('gender', sa.String(length=16), nullable=True))
    op.add_column('customers', sa.Column('region', sa.String(length=32), nullable=True))
    op.create_table('campaigns',
    sa.Column('campaign', sa.String(length=64), nullable=False),
    sa.Column('scores_as_of', sa.Date(), nullable=False, comment='customer_scores date planned on'),
    sa.Column('budget', sa.Double(), nullable=False),
    sa.Column('control_share', sa.Double(), nullable=False),
    sa.Column('launch_date', sa.Date(), nullable=False, comment='planned, or actual once launched'),
    sa.Column('outcome_days', sa.Integer(), nullable=False, comment='outcome window after launch'),
    sa.Column('churn_model_version', sa.String(length=16), nullable=False),
    sa.Column('clv_model_version', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False, comment='planned, launched, measured'),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('launched_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('campaign')
    )
    op.create_table('campaign_assignments',
    sa.Column('campaign', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('arm', sa.String(length=16), nullable=False, comment='treatment or control, drawn once'),
    sa.Column('next_best_action', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('incentive', sa.String(length=64), nullable=False),
    sa.Column('expected_cost', sa.Double(), nullable=False, comment='0 for control'),
    sa.Column('expected_saved_value', sa.Double(), nullable=False, comment='0 for control'),
    sa.Column('churn_probability', sa.Double(), nullable=False),
    sa.Column('risk_tier', sa.String(length=8), nullable=False),
    sa.Column('value_tier', sa.String(length=8), nullable=False),
    sa.Column('assigned_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('campaign', 'customer_id')
    )
    op.create_table('campaign_results',
    sa.Column('campaign', sa.String(length=64), nullable=False),
    sa.Column('segment_type', sa.String(length=16), nullable=False, comment='overall, risk_tier, value_tier'),
    sa.Column('segment', sa.String(length=16), nullable=False),
    sa.Column('metric', sa.String(length=16), nullable=False, comment='retention, repurchase, revenue'),
    sa.Column('n_treatment', sa.Integer(), nullable=False),
    sa.Column('n_control', sa.Integer(), nullable=False),
    sa.Column('treatment_mean', sa.Double(), nullable=True),
    sa.Column('control_mean', sa.Double(), nullable=True),
    sa.Column('uplift', sa.Double(), nullable=True, comment='treatment mean - control mean'),
    sa.Column('ci_low', sa.Double(), nullable=True),
    sa.Column('ci_high', sa.Double(), nullable=True),
    sa.Column('p_value', sa.Double(), nullable=True),
    sa.Column('incremental_revenue', sa.Double(), nullable=True, comment='revenue rows only'),
    sa.Column('cost', sa.Double(), nullable=True),
    sa.Column('roi', sa.Double(), nullable=True, comment='(incremental revenue - cost) / cost'),
    sa.Column('measured_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('campaign', 'segment_type', 'segment', 'metric')
    )
    op.create_table('realised_accuracy',
    sa.Column('scores_as_of', sa.Date(), nullable=False),
    sa.Column('model', sa.String(length=8), nullable=False, comment='churn or clv'),
    sa.Column('model_version', sa.String(length=16), nullable=False),
    sa.Column('metric', sa.String(length=32), nullable=False),
    sa.Column('realised', sa.Double(), nullable=True, comment='on what happened after the date'),
    sa.Column('promised', sa.Double(), nullable=True, comment='backtest of the version at training'),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('horizon_end', sa.Date(), nullable=False),
    sa.Column('evaluated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('scores_as_of', 'model', 'model_version', 'metric')
    )
    op.create_table('drift_results',
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('feature', sa.String(length=64), nullable=False, comment='or score:<column>'),
    sa.Column('reference_as_of', sa.Date(), nullable=False, comment='training snapshot date'),
    sa.Column('psi', sa.Double(), nullable=True),
    sa.Column('ks_statistic', sa.Double(), nullable=True),
    sa.Column('ks_p_value', sa.Double(), nullable=True),
    sa.Column('drifted', sa.Boolean(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('as_of', 'feature')
    )
    op.create_table('kpi_monthly',
    sa.Column('month', sa.Date(), nullable=False, comment='first day of the month'),
    sa.Column('segment_type', sa.String(length=32), nullable=False, comment='overall or a column'),
    sa.Column('segment', sa.String(length=32), nullable=False),
    sa.Column('kpi', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Double(), nullable=True),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'segment_type', 'segment', 'kpi')
    )
    op.create_table('monitor_decisions',
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.Column('retrain', sa.Boolean(), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False, comment='JSON list of reasons'),
    sa.Column('triggered', sa.String(length=200), nullable=True, comment='flow run id, or why not'),
    sa.PrimaryKeyConstraint('as_of', 'decided_at')
    )


def downgrade() -> None:
    op.drop_table('monitor_decisions')
    op.drop_table('kpi_monthly')
    op.drop_table('drift_results')
    op.drop_table('realised_accuracy')
    op.drop_table('campaign_results')
    op.drop_table('campaign_assignments')
    op.drop_table('campaigns')
    op.drop_column('customers', 'region')
    op.drop_column('customers', 'gender')
    op.drop_column('customers', 'birth_year')
