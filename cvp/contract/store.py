"""Tables of contractual snapshots, on the warehouse metadata (migration 0011).

Attributes are stored long (one row per customer and attribute, a number or a text value) so a
snapshot can bring any number of columns without a schema change; `attribute_catalog` says what
each one is (its type and role), which is what training reads to pick features, the label and
the sensitive attributes."""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Double, String, Table

from cvp.data.schema import CUSTOMER_ID, metadata

customer_attributes = Table(
    "customer_attributes",
    metadata,
    Column("customer_id", String(CUSTOMER_ID), primary_key=True),
    Column("attribute", String(64), primary_key=True),
    Column("value_number", Double, nullable=True, comment="number, integer, months, boolean 0/1"),
    Column("value_text", String(200), nullable=True, comment="category, text, date (ISO)"),
    Column("loaded_at", DateTime, nullable=False),
)

attribute_catalog = Table(
    "attribute_catalog",
    metadata,
    Column("attribute", String(64), primary_key=True),
    Column(
        "kind",
        String(16),
        nullable=False,
        comment="boolean number integer months category text date",
    ),
    Column("role", String(16), nullable=False, comment="feature, sensitive, label or id"),
    Column("subscription_field", String(16), nullable=True, comment="tenure, plan or fee"),
    Column("declared", String(16), nullable=False, comment="declared at import or inferred"),
    Column("snapshot_date", Date, nullable=True),
    Column("source", String(300), nullable=False, comment="table:file:fingerprint"),
    Column("loaded_at", DateTime, nullable=False),
)

contract_scores = Table(
    "contract_scores",
    metadata,
    Column("snapshot_date", Date, primary_key=True),
    Column("customer_id", String(CUSTOMER_ID), primary_key=True),
    Column("status", String(8), nullable=False, comment="active or churned (the label)"),
    Column("churn_probability", Double, nullable=False),
    Column("expected_remaining_months", Double, nullable=False),
    Column("contract_clv", Double, nullable=False, comment="fee x discounted expected months"),
    Column("risk_tier", String(8), nullable=False),
    Column("model_version", String(16), nullable=False),
    Column("scored_at", DateTime, nullable=False),
)

CONTRACT_TABLES: tuple[str, ...] = ("customer_attributes", "attribute_catalog", "contract_scores")
