"""Bring-your-own-data import against the real warehouse (DuckDB and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cvp.data.ingest import IngestError
from cvp.data.warehouse import get_engine, read_frame, table_counts
from cvp.jobs.data_jobs import run_ingest

MESSY = """cust,date,dollars
A1,2025-01-03,10.50
A1,2025-02-03 10:00,20
A2,2025-01-05,abc
A3,not-a-date,5
,2025-01-05,7
A4,2025-01-06,-3
A1,2025-01-03,10.50
A5,2030-01-01,4
A6,2025-03-01,
A7,2025-03-02T08:00:00Z,12.25
"""
MAPPING = {"customer_id": "cust", "timestamp": "date", "amount": "dollars"}  # timestamp = ts
EXPECTED_ISSUES = {
    (3, "amount", "not a number"),
    (4, "ts", "not a valid date/time"),
    (5, "customer_id", "missing value"),
    (6, "amount", "negative amount not flagged as refund"),
    (8, "ts", "timestamp in the future"),
    (9, "amount", "missing value"),
}


@pytest.fixture
def messy_csv(tmp_path: Path) -> Path:
    path = tmp_path / "renamed.csv"
    path.write_text(MESSY)
    return path


def test_renamed_log_reports_bad_rows_by_row_and_column_and_reconciles(settings, messy_csv):
    report = run_ingest(settings, "transactions", messy_csv, MAPPING)
    got = {(r.row_number, r.column_name, r.reason) for r in report.issues.itertuples()}
    assert got == EXPECTED_ISSUES
    # row 7 repeats row 1 in a log without ids: a second, identical purchase, kept with a warning
    assert (report.rows_read, report.inserted, report.quarantined_rows) == (10, 4, 6)
    assert report.repeated_rows == 1 and "rows 7" in report.warnings[0]
    assert report.reconciles
    assert report.customers_derived == 2  # A1 and A7: a bare log defines the customers
    engine = get_engine(settings.warehouse_url)
    with engine.connect() as conn:
        counts = table_counts(conn, ["transactions", "customers", "quarantine"])
        quarantine = read_frame(conn, "SELECT * FROM quarantine ORDER BY row_number")
        tx = read_frame(conn, "SELECT * FROM transactions ORDER BY amount")
    assert counts == {"transactions": 4, "customers": 2, "quarantine": 6}
    assert set(quarantine["raw_value"].dropna()) >= {"abc", "not-a-date", "-3", "2030-01-01"}
    assert tx["amount"].tolist() == [10.5, 10.5, 12.25, 20.0]
    assert str(tx["ts"].iloc[2]) == "2025-03-02 08:00:00"  # UTC offset normalised


def test_reingesting_the_same_file_adds_nothing(settings, messy_csv):
    run_ingest(settings, "transactions", messy_csv, MAPPING)
    again = run_ingest(settings, "transactions", messy_csv, MAPPING)
    assert (again.inserted, again.already_present, again.quarantined_rows) == (0, 4, 6)
    assert again.reconciles
    with get_engine(settings.warehouse_url).connect() as conn:
        assert table_counts(conn, ["transactions", "customers", "quarantine"]) == {
            "transactions": 4,
            "customers": 2,
            "quarantine": 6,
        }


def test_headerless_log_in_default_order(settings, tmp_path):
    path = tmp_path / "bare.csv"
    path.write_text("B1,2025-01-03,10.5\nB2,2025-01-04,11\nB2,2025-01-09,x\n")
    report = run_ingest(settings, "transactions", path, {})
    assert (report.rows_read, report.inserted, report.quarantined_rows) == (3, 2, 1)
    assert report.issues.iloc[0][["row_number", "column_name"]].tolist() == [3, "amount"]


def test_headerless_with_positional_mapping(settings, tmp_path):
    path = tmp_path / "bare.csv"
    path.write_text("2025-01-03,B1,10.5\n2025-01-04,B2,11\n")
    report = run_ingest(
        settings, "transactions", path, {"ts": "0", "customer_id": "1", "amount": "2"}, header=False
    )
    assert report.inserted == 2 and report.reconciles


def test_parquet_input(settings, tmp_path):
    path = tmp_path / "log.parquet"
    pd.DataFrame(
        {
            "client": ["P1", "P2"],
            "when": pd.to_datetime(["2025-01-01", "2025-01-02"]),
            "value": [1.5, 2.5],
        }
    ).to_parquet(path)
    report = run_ingest(
        settings, "transactions", path, {"customer_id": "client", "ts": "when", "amount": "value"}
    )
    assert report.inserted == 2 and report.quarantined_rows == 0


def test_customer_master_pseudonymises_pii_and_makes_unknown_ids_errors(settings, tmp_path):
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "customer_ref,name,email,phone,country\n"
        "K1,Ada Lovelace,ada@example.com,+44-1,GB\n"
        "K2,Alan Turing,alan@example.com,+44-2,GB\n"
        "K2,Alan Turing,alan@example.com,+44-2,GB\n"
    )
    report = run_ingest(settings, "customers", customers, {"customer_id": "customer_ref"})
    assert (report.inserted, report.quarantined_rows) == (2, 1)
    tx = tmp_path / "tx.csv"
    tx.write_text("customer_id,ts,amount\nK1,2025-01-01,5\nK9,2025-01-02,6\n")
    tx_report = run_ingest(settings, "transactions", tx, {})
    assert tx_report.inserted == 1
    assert tx_report.issues[["row_number", "column_name", "reason"]].values.tolist() == [
        [2, "customer_id", "unknown customer id"]
    ]
    with get_engine(settings.warehouse_url).connect() as conn:
        identities = read_frame(
            conn, "SELECT * FROM customer_identities ORDER BY source_customer_id"
        )
        others = {
            t: read_frame(conn, f"SELECT * FROM {t}")
            for t in ("customers", "transactions", "quarantine")
        }
    assert identities["email"].tolist() == ["ada@example.com", "alan@example.com"]
    for name, frame in others.items():
        text = frame.astype(str).to_string()
        for secret in ("Ada", "ada@example.com", "+44-1", "K1", "K9"):
            assert secret not in text, f"{secret!r} leaked into {name}"


def test_unreadable_inputs_fail_clearly(settings, tmp_path):
    with pytest.raises(IngestError, match="no such file"):
        run_ingest(settings, "transactions", tmp_path / "absent.csv", {})
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("who,when\nA,2025-01-01\n")
    with pytest.raises(IngestError, match=r"required column\(s\) \['amount'\]"):
        run_ingest(settings, "transactions", wrong, {"customer_id": "who", "ts": "when"})
    sheet = tmp_path / "x.xlsx"
    sheet.write_bytes(b"PK")
    with pytest.raises(IngestError, match="unsupported file type"):
        run_ingest(settings, "transactions", sheet, {})
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("customer_id,ts,amount\nA,2025-01-01,1\nB,2025-01-01,1,extra,more\n")
    with pytest.raises(IngestError, match="malformed file"):
        run_ingest(settings, "transactions", ragged, {})
