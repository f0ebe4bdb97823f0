"""Great Expectations checkpoints on the real warehouse (DuckDB and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from cvp.config import Settings
from cvp.data.rules import CAMPAIGN_TABLES, DERIVED_TABLES, import_rules
from cvp.data.suite_files import stale_suite_files
from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import get_engine, read_frame
from cvp.jobs.data_jobs import run_generate
from cvp.jobs.validation_jobs import run_validate
from cvp.validation.gate import validation_gate
from cvp.validation.runner import ValidationFailed
from cvp.validation.suites import ValidationWindow, campaign_checks, derived_checks, suite_checks

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow  # Great Expectations checkpoints take seconds each

DATA_END = date(2025, 12, 31)
# which named expectation must catch each injected error class, per table
CATCHES = {
    ("transactions", "negative_amount"): "amount_negative_only_for_refunds",
    ("transactions", "duplicate"): "transaction_content_unique",
    ("transactions", "future_timestamp"): "ts_not_in_future",
    ("transactions", "orphan_customer"): "customer_id_references_customers",
    ("transactions", "unknown_category"): "category_in_known_set",
    ("events", "future_timestamp"): "ts_not_in_future",
}


def test_clean_generated_data_passes(settings):
    run_generate(settings, GeneratorConfig(customers=1_000, seed=3))
    report = run_validate(settings, DATA_END)
    assert report.passed, report.failures
    assert report.failures.empty
    assert set(report.results["table_name"]) >= {"customers", "transactions", "events", "consent"}
    with get_engine(settings.warehouse_url).connect() as conn:
        stored = read_frame(conn, "SELECT * FROM validation_results")
    assert len(stored) == len(report.results) and stored["success"].all()
    page = report.summary_page.read_text()
    assert "transactions_suite" in page and "<style>" in page and "https://" not in page
    assert report.data_docs.exists()


def test_every_injected_error_class_is_caught_by_a_named_expectation(settings):
    run_generate(settings, GeneratorConfig(customers=3_000, seed=3, inject_errors=True))
    report = run_validate(settings, DATA_END)
    assert not report.passed
    with get_engine(settings.warehouse_url).connect() as conn:
        injected = read_frame(conn, "SELECT * FROM ground_truth_injected_errors")
    planted = injected.groupby(["target_table", "error_class"]).size()
    assert set(planted.index) == set(CATCHES)
    results = report.results.set_index(["table_name", "expectation"])
    for (table, error_class), expectation in CATCHES.items():
        row = results.loc[(table, expectation)]
        assert not row["success"], (table, error_class)
        assert row["unexpected_count"] >= planted[(table, error_class)], (table, error_class)
    critical = set(report.critical_failures["expectation"])
    assert {
        "amount_negative_only_for_refunds",
        "ts_not_in_future",
        "customer_id_references_customers",
    } <= critical
    # an orphan's sample is its pseudonymous key, never a raw id
    sample = results.loc[("transactions", "customer_id_references_customers"), "sample_values"]
    assert sample is None or "X0" not in sample


def test_gate_stops_on_critical_failure_and_records_a_forced_override(settings):
    run_generate(settings, GeneratorConfig(customers=1_000, seed=3, inject_errors=True))
    engine = get_engine(settings.warehouse_url)
    with pytest.raises(
        ValidationFailed, match=r"transactions: amount_negative_only_for_refunds"
    ) as failure:
        validation_gate(engine, settings, DATA_END)
    assert "--force-validation" in str(failure.value)
    outcome = validation_gate(engine, settings, DATA_END, force=True)
    assert outcome.overridden
    tags = outcome.tags()
    assert tags["cvp.validation.override"] == "true"
    assert "transactions.ts_not_in_future" in tags["cvp.validation.critical_failures"]


def test_single_table_and_freshness_warning(settings):
    run_generate(settings, GeneratorConfig(customers=500, seed=3))
    everything = run_validate(settings, DATA_END)
    report = run_validate(settings, date(2026, 6, 30), tables=["transactions"])
    assert set(report.results["table_name"]) == {"transactions"}
    failed = report.failures.set_index("expectation")
    assert list(failed.index) == ["ts_fresh"]  # six months stale is a warning, not critical
    assert failed.loc["ts_fresh", "severity"] == "warning" and report.passed
    observed = json.loads(failed.loc["ts_fresh", "observed_value"])  # the newest transaction
    assert observed.startswith("2025-12-")

    # the page: one table's run replaces that table's section and keeps the others
    page = _sections(report.summary_page.read_text())
    assert set(page) == set(everything.results["table_name"])
    assert "as of 2026-06-30" in page["transactions"] and "as of 2025-12-31" in page["customers"]
    fresh = page["transactions"].split("ts_fresh", 1)[1].split("</tr>", 1)[0]
    # the failed expectation shows its threshold (a week before the date) and what it observed
    assert "min_value=2026-06-23" in fresh and observed[:10] in fresh

    # the derived tables' suites join the page (here: no scores stored, the row count fails)
    from cvp.validation.runner import validate_derived

    derived = validate_derived(
        get_engine(settings.warehouse_url), settings, "customer_scores", DATA_END
    )
    page = _sections(derived.summary_page.read_text())
    assert set(page) == set(everything.results["table_name"]) | {"customer_scores"}
    assert "failed" in page["customer_scores"] and "as of 2026-06-30" in page["transactions"]


def test_a_repeated_event_id_is_refused_or_caught_by_its_unique_expectation(settings):
    """On PostgreSQL the event tables' primary keys refuse a repeated id. On DuckDB they carry no
    index (migration 0014: an ART index cost more than the rest of a load); a row written past
    the loader and the importer with a repeated id is then the validation suite's to catch, as
    a critical failure that stops the pipeline."""
    run_generate(settings, GeneratorConfig(customers=300, seed=3))
    engine = get_engine(settings.warehouse_url)
    copy = sa.text("INSERT INTO transactions SELECT * FROM transactions LIMIT 1")
    if engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(copy)
        return
    with engine.begin() as conn:
        assert conn.execute(copy).rowcount == 1
    report = run_validate(settings, DATA_END, tables=["transactions"])
    failed = report.failures.set_index("expectation")
    assert failed.loc["transaction_id_unique", "unexpected_count"] == 2, failed
    assert "transaction_id_unique" in set(report.critical_failures["expectation"])
    assert not report.passed


def _sections(page: str) -> dict[str, str]:
    """The page's sections by table (each starts with its `<section id=...>`)."""
    assert "https://" not in page and "<style>" in page
    parts = page.split('<section id="')[1:]
    return {part.split('"', 1)[0]: part for part in parts}


def test_committed_suites_are_current():
    """expectations/suites/*.json is the rules' declarative form; regenerate after a change."""
    stale = stale_suite_files(REPO / "expectations" / "suites")
    assert not stale, f"{stale} not current: run python -m cvp.data.suite_files --write"


def test_suites_are_built_from_the_committed_declarations():
    """What GX runs (names, severities, expectation types, columns) is what the files say."""
    window = ValidationWindow(datetime(2025, 12, 31, 23, 59), datetime(1990, 1, 1), 7)
    for path in sorted((REPO / "expectations" / "suites").glob("*.json")):
        document = json.loads(path.read_text())
        table = document["table"]
        if table in DERIVED_TABLES:
            checks = derived_checks(table, 10)
        elif table in CAMPAIGN_TABLES:
            checks = campaign_checks(table)
        else:
            checks = suite_checks(table, Settings(), window)
        built = [(c.name, c.severity, c.expectation().configuration.type) for c in checks]
        declared = [(e["name"], e["severity"], e["type"]) for e in document["expectations"]]
        assert built == declared, table
        for check, entry in zip(checks, document["expectations"], strict=True):
            for key in ("column", "column_list", "column_set"):
                if key in entry["kwargs"]:
                    assert check.kwargs[key] == entry["kwargs"][key], (table, check.name)


def test_import_quarantine_and_suite_share_one_rule():
    """A consent purpose outside the vocabulary is quarantined at import with the rule's reason,
    and the same rule is the suite's `purpose_in_known_set` expectation."""
    rule = next(r for r in import_rules("consent") if r.name == "purpose_in_known_set")
    assert rule.reason_text(Settings(), {}) == (
        "unknown purpose (known: marketing, analytics, profiling)"
    )
    window = ValidationWindow(datetime(2025, 12, 31), datetime(1990, 1, 1), 7)
    check = next(c for c in suite_checks("consent", Settings(), window) if c.name == rule.name)
    assert check.kwargs["value_set"] == ["marketing", "analytics", "profiling"]


def test_validation_holds_a_process_lock_on_the_expectations_directory(tmp_path):
    """Backfill dates on Dask workers validate in separate processes: they must not rewrite
    Great Expectations' suite files at the same time (a thread lock alone does not stop them)."""
    import subprocess
    import sys

    from cvp.validation.runner import GX_LOCK_FILE, _gx_file_lock

    probe = (
        "import fcntl, sys; f = open(sys.argv[1], 'a'); "
        "fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)"
    )
    lock_file = str(tmp_path / GX_LOCK_FILE)
    with _gx_file_lock(tmp_path):
        with _gx_file_lock(tmp_path):  # nested validations in one process do not deadlock
            inner = subprocess.run([sys.executable, "-c", probe, lock_file], capture_output=True)
        outer = subprocess.run([sys.executable, "-c", probe, lock_file], capture_output=True)
    free = subprocess.run([sys.executable, "-c", probe, lock_file], capture_output=True)
    assert inner.returncode != 0 and outer.returncode != 0  # another process waits
    assert free.returncode == 0, free.stderr
