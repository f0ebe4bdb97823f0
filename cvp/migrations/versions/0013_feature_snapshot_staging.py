"""feature snapshot staging: the Dask engine's partition tasks write their rows here, the
features job validates them and promotes them to feature_snapshots in one transaction

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 03:54:20
"""

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('feature_snapshot_staging',
    sa.Column('feature_set_version', sa.String(length=64), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('is_contractual', sa.Double(), nullable=True),
    sa.Column('country', sa.String(length=8), nullable=True),
    sa.Column('acquisition_channel', sa.String(length=32), nullable=True),
    sa.Column('recency_days', sa.Double(), nullable=True, comment='days since the last purchase'),
    sa.Column('tenure_days', sa.Double(), nullable=True, comment='days since the first transaction'),
    sa.Column('frequency', sa.Double(), nullable=True, comment='number of purchases'),
    sa.Column('monetary_total', sa.Double(), nullable=True, comment='net spend, refunds subtracted'),
    sa.Column('monetary_mean', sa.Double(), nullable=True, comment='mean purchase amount'),
    sa.Column('monetary_max', sa.Double(), nullable=True, comment='largest transaction'),
    sa.Column('refund_count', sa.Double(), nullable=True, comment='number of refunds'),
    sa.Column('tx_count_7d', sa.Double(), nullable=True, comment='purchases in the last 7 days'),
    sa.Column('spend_7d', sa.Double(), nullable=True, comment='net spend in the last 7 days'),
    sa.Column('active_days_7d', sa.Double(), nullable=True, comment='distinct purchase days in the last 7 days'),
    sa.Column('tx_count_30d', sa.Double(), nullable=True, comment='purchases in the last 30 days'),
    sa.Column('spend_30d', sa.Double(), nullable=True, comment='net spend in the last 30 days'),
    sa.Column('active_days_30d', sa.Double(), nullable=True, comment='distinct purchase days in the last 30 days'),
    sa.Column('tx_count_90d', sa.Double(), nullable=True, comment='purchases in the last 90 days'),
    sa.Column('spend_90d', sa.Double(), nullable=True, comment='net spend in the last 90 days'),
    sa.Column('active_days_90d', sa.Double(), nullable=True, comment='distinct purchase days in the last 90 days'),
    sa.Column('tx_count_180d', sa.Double(), nullable=True, comment='purchases in the last 180 days'),
    sa.Column('spend_180d', sa.Double(), nullable=True, comment='net spend in the last 180 days'),
    sa.Column('active_days_180d', sa.Double(), nullable=True, comment='distinct purchase days in the last 180 days'),
    sa.Column('tx_count_365d', sa.Double(), nullable=True, comment='purchases in the last 365 days'),
    sa.Column('spend_365d', sa.Double(), nullable=True, comment='net spend in the last 365 days'),
    sa.Column('active_days_365d', sa.Double(), nullable=True, comment='distinct purchase days in the last 365 days'),
    sa.Column('frequency_trend_90d', sa.Double(), nullable=True, comment='purchases in the last 90 days / purchases in the 90 before (null if none before)'),
    sa.Column('spend_trend_90d', sa.Double(), nullable=True, comment='spend in the last 90 days / spend in the 90 before'),
    sa.Column('category_change_90d', sa.Double(), nullable=True, comment='distinct categories in the last 90 days minus the 90 before'),
    sa.Column('category_count_365d', sa.Double(), nullable=True, comment='distinct categories bought in the last 365 days'),
    sa.Column('discount_share', sa.Double(), nullable=True, comment='share of purchases with a discount (price sensitivity)'),
    sa.Column('discount_mean', sa.Double(), nullable=True, comment='mean discount rate'),
    sa.Column('channel_share_web', sa.Double(), nullable=True, comment='share of purchases on the web'),
    sa.Column('channel_share_app', sa.Double(), nullable=True, comment='share of purchases in the app'),
    sa.Column('channel_share_store', sa.Double(), nullable=True, comment='share of purchases in store'),
    sa.Column('spend_slope_12m', sa.Double(), nullable=True, comment='slope of 30-day spend over the last 12 periods'),
    sa.Column('gap_mean_days', sa.Double(), nullable=True, comment='mean days between purchases'),
    sa.Column('gap_std_days', sa.Double(), nullable=True, comment='standard deviation of days between purchases'),
    sa.Column('days_overdue', sa.Double(), nullable=True, comment="days since last purchase minus the customer's mean gap"),
    sa.Column('overdue_ratio', sa.Double(), nullable=True, comment="days since last purchase / the customer's mean gap"),
    sa.Column('events_30d', sa.Double(), nullable=True, comment='events in the last 30 days'),
    sa.Column('events_90d', sa.Double(), nullable=True, comment='events in the last 90 days'),
    sa.Column('logins_30d', sa.Double(), nullable=True, comment='logins in the last 30 days'),
    sa.Column('logins_90d', sa.Double(), nullable=True, comment='logins in the last 90 days'),
    sa.Column('feature_use_90d', sa.Double(), nullable=True, comment='feature-use events in the last 90 days'),
    sa.Column('days_since_last_event', sa.Double(), nullable=True, comment='days since the last event (growing login gaps)'),
    sa.Column('engagement_trend_90d', sa.Double(), nullable=True, comment='events in the last 90 days / the 90 before'),
    sa.Column('tickets_90d', sa.Double(), nullable=True, comment='tickets opened in the last 90 days'),
    sa.Column('tickets_365d', sa.Double(), nullable=True, comment='tickets opened in the last 365 days'),
    sa.Column('unresolved_tickets', sa.Double(), nullable=True, comment='tickets still open at as_of'),
    sa.Column('unresolved_complaints', sa.Double(), nullable=True, comment='complaints still open at as_of'),
    sa.Column('resolution_days_mean', sa.Double(), nullable=True, comment='mean days to resolve, tickets resolved by as_of'),
    sa.Column('nps_latest', sa.Double(), nullable=True, comment='latest NPS answer (0-10)'),
    sa.Column('csat_latest', sa.Double(), nullable=True, comment='latest CSAT answer (1-5)'),
    sa.Column('nps_trend', sa.Double(), nullable=True, comment='latest NPS minus the mean of earlier answers'),
    sa.Column('surveys_answered', sa.Double(), nullable=True, comment='surveys answered'),
    sa.Column('offers_365d', sa.Double(), nullable=True, comment='retention offers received in the last 365 days'),
    sa.Column('offers_responded_365d', sa.Double(), nullable=True, comment='offers responded to (responses count 30 days after the touch)'),
    sa.Column('days_since_offer', sa.Double(), nullable=True, comment='days since the last offer'),
    sa.Column('subscription_active', sa.Double(), nullable=True, comment='1 if a subscription is running at as_of'),
    sa.Column('subscription_fee', sa.Double(), nullable=True, comment='monthly fee of the running subscription'),
    sa.Column('subscription_tenure_days', sa.Double(), nullable=True, comment='days since the running subscription started'),
    sa.Column('days_to_renewal', sa.Double(), nullable=True, comment='days to the next monthly renewal'),
    sa.PrimaryKeyConstraint('feature_set_version', 'as_of', 'customer_id'),
    comment="partition tasks' rows before validation and promotion to feature_snapshots"
    )


def downgrade() -> None:
    op.drop_table('feature_snapshot_staging')
