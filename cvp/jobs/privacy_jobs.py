"""`cvp forget`: erase one customer, audited; the logic is in `cvp.privacy.erasure`."""

from __future__ import annotations

from dataclasses import asdict

import sqlalchemy as sa

from cvp.audit import audited
from cvp.config import Settings
from cvp.data import schema
from cvp.data.pseudonym import Pseudonymiser, load_key
from cvp.data.warehouse import get_engine
from cvp.privacy.erasure import (
    ErasureReport,
    UnknownCustomer,
    earlier_exports,
    erase_customer,
    resolve_customer,
    rewrite_exports,
    scrub_files,
)


def run_forget(settings: Settings, given_id: str) -> ErasureReport:
    """Erase the customer named by a source id or a pseudonym. The audit row records the
    pseudonym only; a customer already erased is reported as such (rerunning is harmless)."""
    engine = get_engine(settings.warehouse_url)
    pseudonymiser = Pseudonymiser(load_key(settings))
    with engine.connect() as conn:
        customer_id = resolve_customer(conn, given_id, pseudonymiser)
        i = schema.customer_identities
        source_id = conn.execute(
            sa.select(i.c.source_customer_id).where(i.c.customer_id == customer_id)
        ).scalar()
        known = conn.execute(
            sa.select(sa.func.count())
            .select_from(schema.customers)
            .where(schema.customers.c.customer_id == customer_id)
        ).scalar_one()
        tombstoned = conn.execute(
            sa.select(sa.func.count())
            .select_from(schema.erased_customers)
            .where(schema.erased_customers.c.customer_id == customer_id)
        ).scalar_one()
    if not known and source_id is None and not tombstoned:
        raise UnknownCustomer(
            f"{given_id!r} matches no customer (neither a source id nor a pseudonymous id); "
            "check the id, or the pseudonymisation key if it is a source id"
        )
    with audited(engine, "forget", settings.operator, {"customer_id": customer_id}) as audit:
        with engine.begin() as conn:
            report = erase_customer(conn, customer_id, source_id)
            exports = earlier_exports(conn)
        report.files_rewritten = rewrite_exports(exports, customer_id, source_id)
        report.files_scrubbed = scrub_files(settings.expectations_dir, customer_id)
        if engine.dialect.name == "duckdb":
            with engine.connect() as conn:  # fold the deletes into the database file now
                conn.exec_driver_sql("CHECKPOINT")
        audit.notes = {k: v for k, v in asdict(report).items() if k != "customer_id"}
    return report
