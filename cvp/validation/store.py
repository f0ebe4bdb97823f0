"""`validation_results`: one row per expectation per run, so quality trends can be charted."""

from __future__ import annotations

import sqlalchemy as sa

from cvp.data import schema

validation_results = sa.Table(
    "validation_results",
    schema.metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("table_name", sa.String(64), primary_key=True),
    sa.Column("expectation", sa.String(128), primary_key=True),
    sa.Column("expectation_type", sa.String(128), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("observed_value", sa.Text, nullable=True),
    sa.Column("unexpected_count", sa.Integer, nullable=True),
    sa.Column("unexpected_percent", sa.Double, nullable=True),
    sa.Column("sample_values", sa.Text, nullable=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("validated_at", sa.DateTime, nullable=False),
)
