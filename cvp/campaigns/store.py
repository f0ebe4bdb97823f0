"""Tables of the campaign ledger and its measurements."""

from __future__ import annotations

import sqlalchemy as sa

from cvp.data import schema

_ID = schema.CUSTOMER_ID

campaigns = sa.Table(
    "campaigns",
    schema.metadata,
    sa.Column("campaign", sa.String(64), primary_key=True),
    sa.Column("scores_as_of", sa.Date, nullable=False, comment="customer_scores date planned on"),
    sa.Column("budget", sa.Double, nullable=False),
    sa.Column("control_share", sa.Double, nullable=False),
    sa.Column("launch_date", sa.Date, nullable=False, comment="planned, or actual once launched"),
    sa.Column("outcome_days", sa.Integer, nullable=False, comment="outcome window after launch"),
    sa.Column("churn_model_version", sa.String(16), nullable=False),
    sa.Column("clv_model_version", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, comment="planned, launched, measured"),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("launched_at", sa.DateTime, nullable=True),
    sa.Column(
        "contacts", sa.Integer, nullable=True, comment="touches with a channel, at launch or import"
    ),
    sa.Column(
        "touched_outside",
        sa.Integer,
        nullable=True,
        comment="contacted customers not in the campaign",
    ),
    sa.Column(
        "touched_control",
        sa.Integer,
        nullable=True,
        comment="control customers contacted (contamination)",
    ),
    sa.Column(
        "untouched_treatment",
        sa.Integer,
        nullable=True,
        comment="treatment customers never contacted",
    ),
)

campaign_assignments = sa.Table(
    "campaign_assignments",
    schema.metadata,
    sa.Column("campaign", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(_ID), primary_key=True),
    sa.Column("arm", sa.String(16), nullable=False, comment="treatment or control, drawn once"),
    sa.Column("next_best_action", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("incentive", sa.String(64), nullable=False),
    sa.Column("expected_cost", sa.Double, nullable=False, comment="0 for control"),
    sa.Column("expected_saved_value", sa.Double, nullable=False, comment="0 for control"),
    sa.Column("churn_probability", sa.Double, nullable=False),
    sa.Column("risk_tier", sa.String(8), nullable=False),
    sa.Column("value_tier", sa.String(8), nullable=False),
    sa.Column("assigned_at", sa.DateTime, nullable=False),
)

campaign_results = sa.Table(
    "campaign_results",
    schema.metadata,
    sa.Column("campaign", sa.String(64), primary_key=True),
    sa.Column(
        "segment_type", sa.String(16), primary_key=True, comment="overall, risk_tier, value_tier"
    ),
    sa.Column("segment", sa.String(16), primary_key=True),
    sa.Column("metric", sa.String(16), primary_key=True, comment="retention, repurchase, revenue"),
    sa.Column("n_treatment", sa.Integer, nullable=False),
    sa.Column("n_control", sa.Integer, nullable=False),
    sa.Column("treatment_mean", sa.Double, nullable=True),
    sa.Column("control_mean", sa.Double, nullable=True),
    sa.Column("uplift", sa.Double, nullable=True, comment="treatment mean - control mean"),
    sa.Column("ci_low", sa.Double, nullable=True),
    sa.Column("ci_high", sa.Double, nullable=True),
    sa.Column("p_value", sa.Double, nullable=True),
    sa.Column("incremental_revenue", sa.Double, nullable=True, comment="revenue rows only"),
    sa.Column("cost", sa.Double, nullable=True),
    sa.Column("roi", sa.Double, nullable=True, comment="(incremental revenue - cost) / cost"),
    sa.Column("measured_at", sa.DateTime, nullable=False),
)
