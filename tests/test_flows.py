"""Flows on a real (temporary) Prefect server: the demo path from landing files to warehouse."""

from __future__ import annotations

import pandas as pd
import pytest

from cvp.data import schema
from cvp.data.warehouse import get_engine, read_frame, table_counts

pytestmark = pytest.mark.slow  # a Prefect test server and the whole pipeline


@pytest.mark.usefixtures("prefect_server")
def test_demo_flow_imports_every_landing_file_with_pii_split_off(env_settings, tmp_path):
    from flows.demo import IMPORT_ORDER, demo_flow  # Prefect is imported only when this runs

    result = demo_flow(
        customers=1_500, seed=5, landing_dir=tmp_path / "landing", trials=2, budget=2_000
    )
    generated = result["generated"].row_counts
    reports = result["ingested"]
    assert list(reports) == list(IMPORT_ORDER)
    for table, report in reports.items():
        assert report.reconciles, table
        assert report.quarantined_rows == 0, (table, report.issue_summary())
        assert report.inserted == generated[table], table
    with get_engine(env_settings.warehouse_url).connect() as conn:
        counts = table_counts(conn, schema.RAW_TABLES)
        customers = read_frame(conn, "SELECT customer_id, origin FROM customers")
        truth = read_frame(conn, "SELECT customer_id FROM ground_truth_customers")
        audit = read_frame(conn, "SELECT command, status FROM audit_log")
    assert counts["customer_identities"] == counts["customers"] == 1_500
    assert (customers["origin"] == "master").all()
    # ground truth is keyed by the same pseudonymous ids the import produced
    assert set(truth["customer_id"]) == set(customers["customer_id"])
    assert (audit["status"] == "succeeded").all()
    assert (audit["command"] == "ingest").sum() == len(IMPORT_ORDER)
    assert {"validate", "features", "train", "score", "plan"} <= set(audit["command"])
    assert result["validation"].passed and result["validation"].failures.empty
    features = result["features"]
    assert 0 < features.customers <= 1_500 and len(features.families) == 8
    assert set(result["trained"].outcomes) == {"churn", "clv"}
    opted_out = result["scored"].consent.summary()["profiling_opt_out"]  # not scored, counted
    assert 0 < opted_out < features.customers * 0.1
    assert len(result["scored"].scores) == features.customers - opted_out
    assert result["planned"].cost <= 2_000

    # the daily pipeline on the same date: the snapshot is a Prefect cache hit on unchanged data
    from cvp.orchestration.parameters import PipelineParameters
    from flows.pipeline import pipeline_flow

    before = _commands(env_settings)
    daily = pipeline_flow(PipelineParameters(as_of=features.as_of, budget=1_000))
    after = _commands(env_settings)
    assert daily["customers"] == features.customers
    assert daily["scored"] == features.customers - opted_out
    assert daily["plan_cost"] <= 1_000
    assert after["features"] == before["features"]  # cached, not rebuilt
    assert after["score"] == before["score"] + 1 and after["plan"] == before["plan"] + 1


def _commands(settings) -> pd.Series:
    with get_engine(settings.warehouse_url).connect() as conn:
        audit = read_frame(conn, "SELECT command FROM audit_log WHERE status = 'succeeded'")
    return audit["command"].value_counts()


@pytest.mark.usefixtures("prefect_server")
def test_malformed_landing_rows_are_quarantined_not_lost(env_settings, tmp_path):
    from cvp.data.landing import landing_mapping
    from flows.generate import generate_flow
    from flows.ingest import ingest_flow

    generated = generate_flow(customers=800, seed=9, inject_errors=True, export_dir=tmp_path / "l")
    ingest_flow("customers", generated.landing_files["customers"], landing_mapping("customers"))
    report = ingest_flow(
        "transactions", generated.landing_files["transactions"], landing_mapping("transactions")
    )
    assert report.reconciles
    reasons = report.issue_summary().set_index(["column_name", "reason"])["rows"]
    assert reasons[("amount", "not a number")] >= 1
    assert reasons[("ts", "not a valid date/time")] >= 1
    assert reasons[("amount", "missing value")] >= 1
    assert reasons[("amount", "negative amount not flagged as refund")] >= 1
    assert reasons[("ts", "timestamp in the future")] >= 1
    assert reasons[("customer_id", "unknown customer id")] >= 1
    assert ("transaction_id", "duplicate of row") in {
        (c, r.rsplit(" ", 1)[0]) for c, r in reasons.index
    }
    landing = pd.read_csv(generated.landing_files["transactions"], dtype=str)
    assert report.rows_read == len(landing)
