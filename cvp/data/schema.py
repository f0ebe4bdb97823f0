"""Raw warehouse tables as SQLAlchemy Core metadata; Alembic migrations are generated from it.

Customer ids everywhere are pseudonymous keys (keyed hash of the source id). Raw PII lives only in
`customer_identities`. Foreign keys are not declared: DuckDB restricts deletes on referenced rows,
and referential integrity is checked at ingestion and by the validation suites instead.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

CUSTOMER_ID = 32  # width of a pseudonymous key


def _customer_fk(nullable: bool = False) -> Column:
    return Column("customer_id", String(CUSTOMER_ID), nullable=nullable, index=False)


customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(CUSTOMER_ID), primary_key=True),
    Column("signup_date", Date, nullable=True),
    Column("country", String(8), nullable=True),
    Column("acquisition_channel", String(32), nullable=True),
    Column("is_contractual", Boolean, nullable=True),
    # sensitive attributes: optional, read only by the fairness audit, never by features
    Column("birth_year", Integer, nullable=True),
    Column("gender", String(16), nullable=True),
    Column("region", String(32), nullable=True),
    Column("origin", String(16), nullable=False, comment="'ingested' master data or 'derived'"),
    Column("loaded_at", DateTime, nullable=False),
)

customer_identities = Table(
    "customer_identities",
    metadata,
    Column("customer_id", String(CUSTOMER_ID), primary_key=True),
    Column("source_customer_id", String(128), nullable=False),
    Column("name", String(200), nullable=True),
    Column("email", String(200), nullable=True),
    Column("phone", String(64), nullable=True),
)

transactions = Table(
    "transactions",
    metadata,
    Column("transaction_id", String(64), primary_key=True),
    _customer_fk(),
    Column("ts", DateTime, nullable=False),
    Column("amount", Double, nullable=False),
    Column("category", String(32), nullable=True),
    Column("channel", String(16), nullable=True),
    Column("discount", Double, nullable=True, comment="share of list price discounted, 0..1"),
    Column("cost", Double, nullable=True, comment="cost of goods, for margin"),
    Column("is_refund", Boolean, nullable=False, server_default="false"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscription_id", String(64), primary_key=True),
    _customer_fk(),
    Column("plan", String(32), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=True),
    Column("monthly_fee", Double, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    _customer_fk(),
    Column("ts", DateTime, nullable=False),
    Column("event_type", String(16), nullable=False),
)

support_tickets = Table(
    "support_tickets",
    metadata,
    Column("ticket_id", String(64), primary_key=True),
    _customer_fk(),
    Column("opened_at", DateTime, nullable=False),
    Column("resolved_at", DateTime, nullable=True),
    Column("category", String(32), nullable=False),
    Column("satisfaction", Integer, nullable=True),
)

surveys = Table(
    "surveys",
    metadata,
    Column("survey_id", String(64), primary_key=True),
    _customer_fk(),
    Column("ts", DateTime, nullable=False),
    Column("nps", Integer, nullable=True),
    Column("csat", Integer, nullable=True),
)

marketing_touches = Table(
    "marketing_touches",
    metadata,
    Column("touch_id", String(64), primary_key=True),
    _customer_fk(),
    Column("ts", DateTime, nullable=False),
    Column("campaign", String(64), nullable=False),
    Column("arm", String(16), nullable=False, comment="'treatment' or 'control'"),
    Column("channel", String(16), nullable=True),
    Column("offer", String(64), nullable=True),
    Column("cost", Double, nullable=True),
    Column("responded", Boolean, nullable=True),
)

consent = Table(
    "consent",
    metadata,
    # a history: one row per change, never overwritten; the state of a purpose at a date is its
    # latest change on or before that date (cvp.privacy.consent.consent_state)
    Column("customer_id", String(CUSTOMER_ID), primary_key=True),
    Column("purpose", String(32), primary_key=True),
    Column("ts", DateTime, primary_key=True, comment="when the change happened (changed_at)"),
    Column("granted", Boolean, primary_key=True),
    Column("source", String(300), nullable=True, comment="table:file:fingerprint it came from"),
    Column("loaded_at", DateTime, nullable=True),
)

erased_customers = Table(
    "erased_customers",
    metadata,
    # the tombstone `cvp forget` leaves: the pseudonym only, so re-imports can refuse the customer
    Column("customer_id", String(CUSTOMER_ID), primary_key=True),
    Column("erased_at", DateTime, nullable=False),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("source", String(300), primary_key=True, comment="table:file fingerprint"),
    Column("row_number", Integer, primary_key=True, comment="1-based data row in the source"),
    Column("column_name", String(64), primary_key=True),
    Column("target_table", String(64), nullable=False),
    Column("raw_value", Text, nullable=True),
    Column("reason", String(200), nullable=False),
    Column("quarantined_at", DateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("command", String(64), nullable=False),
    Column("run_by", String(64), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    Column("status", String(16), nullable=False),
    Column("parameters", Text, nullable=True, comment="JSON"),
    Column("data_fingerprint", String(64), nullable=True),
    Column("model_versions", Text, nullable=True, comment="JSON"),
    Column("mlflow_run_id", String(64), nullable=True),
    Column("notes", Text, nullable=True, comment="JSON: overrides and other decisions"),
    Column("host", String(255), nullable=True),
    Column("pid", Integer, nullable=True),
    Column("lock_key", String(128), nullable=True, comment="cvp.data.lock key"),
)

ground_truth_customers = Table(
    "ground_truth_customers",
    metadata,
    Column("customer_id", String(CUSTOMER_ID), primary_key=True),
    Column("purchase_rate", Double, nullable=False, comment="purchases per day before onset"),
    Column("post_onset_purchase_rate", Double, nullable=False),
    Column("price_sensitivity", Double, nullable=False),
    Column("spend_mean", Double, nullable=False),
    Column("base_hazard", Double, nullable=False, comment="churn hazard per day before onset"),
    Column("onset_date", Date, nullable=True, comment="start of deterioration"),
    Column("post_onset_hazard", Double, nullable=False),
    Column("primary_driver", String(32), nullable=False),
    Column("churn_date", Date, nullable=True),
    Column("true_uplift", Double, nullable=False, comment="P(save) if treated after onset"),
    Column("is_contractual", Boolean, nullable=False),
)

ground_truth_injected_errors = Table(
    "ground_truth_injected_errors",
    metadata,
    Column("target_table", String(64), primary_key=True),
    Column("record_id", String(64), primary_key=True),
    Column("error_class", String(32), nullable=False),
    Column("column_name", String(64), nullable=False),
)

RAW_TABLES: tuple[str, ...] = (
    "customers",
    "customer_identities",
    "transactions",
    "subscriptions",
    "events",
    "support_tickets",
    "surveys",
    "marketing_touches",
    "consent",
)
GROUND_TRUTH_TABLES: tuple[str, ...] = ("ground_truth_customers", "ground_truth_injected_errors")
PII_COLUMNS: tuple[str, ...] = ("name", "email", "phone")
