"""Tables written by `cvp monitor`."""

from __future__ import annotations

import sqlalchemy as sa

from cvp.data import schema

realised_accuracy = sa.Table(
    "realised_accuracy",
    schema.metadata,
    sa.Column("scores_as_of", sa.Date, primary_key=True),
    sa.Column("model", sa.String(8), primary_key=True, comment="churn or clv"),
    sa.Column("model_version", sa.String(16), primary_key=True),
    sa.Column("metric", sa.String(32), primary_key=True),
    sa.Column("realised", sa.Double, nullable=True, comment="on what happened after the date"),
    sa.Column("promised", sa.Double, nullable=True, comment="backtest of the version at training"),
    sa.Column("customers", sa.Integer, nullable=False),
    sa.Column("horizon_end", sa.Date, nullable=False),
    sa.Column("evaluated_at", sa.DateTime, nullable=False),
)

drift_results = sa.Table(
    "drift_results",
    schema.metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("feature", sa.String(64), primary_key=True, comment="or score:<column>"),
    sa.Column("reference_as_of", sa.Date, nullable=False, comment="training snapshot date"),
    sa.Column("psi", sa.Double, nullable=True),
    sa.Column("ks_statistic", sa.Double, nullable=True),
    sa.Column("ks_p_value", sa.Double, nullable=True),
    sa.Column("drifted", sa.Boolean, nullable=False),
    sa.Column("computed_at", sa.DateTime, nullable=False),
    sa.Column(
        "calendar",
        sa.Boolean,
        nullable=True,
        comment="moves with the calendar by construction; never counts",
    ),
)

kpi_monthly = sa.Table(
    "kpi_monthly",
    schema.metadata,
    sa.Column("month", sa.Date, primary_key=True, comment="first day of the month"),
    sa.Column("segment_type", sa.String(32), primary_key=True, comment="overall or a column"),
    sa.Column("segment", sa.String(32), primary_key=True),
    sa.Column("kpi", sa.String(32), primary_key=True),
    sa.Column("value", sa.Double, nullable=True),
    sa.Column("computed_at", sa.DateTime, nullable=False),
)

monitor_decisions = sa.Table(
    "monitor_decisions",
    schema.metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("decided_at", sa.DateTime, primary_key=True),
    sa.Column("retrain", sa.Boolean, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False, comment="JSON list of reasons"),
    sa.Column("triggered", sa.String(200), nullable=True, comment="flow run id, or why not"),
)
