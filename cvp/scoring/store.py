"""Tables written by scoring and planning."""

from __future__ import annotations

import sqlalchemy as sa

from cvp.data import schema

_ID = schema.CUSTOMER_ID

customer_scores = sa.Table(
    "customer_scores",
    schema.metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("customer_id", sa.String(_ID), primary_key=True),
    sa.Column("churn_model_version", sa.String(16), nullable=False),
    sa.Column("clv_model_version", sa.String(16), nullable=False),
    sa.Column("feature_set_version", sa.String(64), nullable=False),
    sa.Column("churn_probability", sa.Double, nullable=False),
    sa.Column("risk_tier", sa.String(8), nullable=False),
    sa.Column("clv_expected", sa.Double, nullable=False, comment="revenue expected in the horizon"),
    sa.Column("clv_lifetime", sa.Double, nullable=False, comment="discounted multi-period value"),
    sa.Column("value_index", sa.Double, nullable=False),
    sa.Column("value_tier", sa.String(8), nullable=False),
    sa.Column("rfm_r", sa.Integer, nullable=False),
    sa.Column("rfm_f", sa.Integer, nullable=False),
    sa.Column("rfm_m", sa.Integer, nullable=False),
    sa.Column("rfm_segment", sa.String(32), nullable=False),
    sa.Column("lifecycle_stage", sa.String(16), nullable=False),
    sa.Column("previous_stage", sa.String(16), nullable=True),
    sa.Column("top_reasons", sa.Text, nullable=False),
    sa.Column("reason_families", sa.String(128), nullable=False),
    sa.Column("next_best_action", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("incentive", sa.String(64), nullable=False),
    sa.Column("action_cost", sa.Double, nullable=False),
    sa.Column("save_rate", sa.Double, nullable=False),
    sa.Column("expected_loss", sa.Double, nullable=False),
    sa.Column("expected_saved_value", sa.Double, nullable=False),
    sa.Column("priority_rank", sa.Integer, nullable=False),
    sa.Column("in_control_group", sa.Boolean, nullable=False),
    sa.Column("marketing_consent", sa.Boolean, nullable=False),
    sa.Column("next_purchase_date", sa.Date, nullable=True),
    sa.Column(
        "next_purchase_earliest",
        sa.Date,
        nullable=True,
        comment="first quartile of the wait to the next purchase if alive",
    ),
    sa.Column(
        "next_purchase_latest",
        sa.Date,
        nullable=True,
        comment="third quartile of the wait to the next purchase if alive",
    ),
    sa.Column("scored_at", sa.DateTime, nullable=False),
)

value_index_versions = sa.Table(
    "value_index_versions",
    schema.metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("weights", sa.Text, nullable=False, comment="JSON indicator -> weight"),
    sa.Column("weights_source", sa.String(16), nullable=False, comment="entropy or config"),
    sa.Column("tier_thresholds", sa.Text, nullable=False, comment="JSON"),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

stage_transitions = sa.Table(
    "stage_transitions",
    schema.metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("previous_as_of", sa.Date, nullable=False),
    sa.Column("from_stage", sa.String(16), primary_key=True),
    sa.Column("to_stage", sa.String(16), primary_key=True),
    sa.Column("customers", sa.Integer, nullable=False),
)

alerts = sa.Table(
    "alerts",
    schema.metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("customer_id", sa.String(_ID), primary_key=True),
    sa.Column("alert_type", sa.String(32), primary_key=True),
    sa.Column("previous_value", sa.String(32), nullable=True),
    sa.Column("current_value", sa.String(32), nullable=True),
)

retention_plan = sa.Table(
    "retention_plan",
    schema.metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("campaign", sa.String(64), nullable=False),
    sa.Column("customer_id", sa.String(_ID), primary_key=True),
    sa.Column("arm", sa.String(16), nullable=False, comment="treatment or control (held out)"),
    sa.Column("next_best_action", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("incentive", sa.String(64), nullable=False),
    sa.Column("cost", sa.Double, nullable=False),
    sa.Column("expected_saved_value", sa.Double, nullable=False),
    sa.Column("budget", sa.Double, nullable=False),
)
