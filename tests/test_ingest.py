"""Bring-your-own-data import against the real warehouse (DuckDB and PostgreSQL)."""

from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from cvp.config import Settings
from cvp.data.ingest import IngestError, ReadOptions, ingest_file
from cvp.data.migrate import upgrade_warehouse
from cvp.data.pseudonym import Pseudonymiser
from cvp.data.schema import quarantine
from cvp.data.warehouse import get_engine, read_frame, table_counts
from cvp.experiments.tracking import ensure_experiment
from cvp.jobs.data_jobs import run_ingest
from tests.conftest import TEST_KEY, _backends, _postgres_base, cvp_env, make_settings

pytestmark = pytest.mark.slow  # each import is an audited job with its own MLflow store

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


def _load(settings, table: str, path: Path, mapping: dict[str, str] | None = None):
    with get_engine(settings.warehouse_url).begin() as conn:
        return ingest_file(
            conn,
            table,
            path,
            ReadOptions(mapping or {}),
            Pseudonymiser(TEST_KEY.encode()),
            settings,
        )


def test_source_ids_keep_their_exact_text_and_integer_dates_parse(settings):
    """Leading zeros and case are part of an id, in CSV and Parquet; YYYYMMDD integers are dates;
    SQL-looking text is stored as text."""
    _load(settings, "customers", CORPUS / "master.csv", {"customer_id": "customer_ref"})
    report = _load(settings, "transactions", CORPUS / "unknown_ids.csv")
    assert (report.inserted, report.quarantined_rows) == (2, 2)  # 0007 and ab7 are unknown
    with get_engine(settings.warehouse_url).connect() as conn:
        ids = read_frame(conn, "SELECT source_customer_id FROM customer_identities")
    assert sorted(ids["source_customer_id"]) == ["007", "7", "Ab7", "aB7"]


def test_bare_log_ids_dates_and_repeats(settings):
    report = _load(settings, "transactions", CORPUS / "yyyymmdd_int.parquet")
    assert (report.inserted, report.quarantined_rows, report.customers_derived) == (3, 0, 2)
    with get_engine(settings.warehouse_url).connect() as conn:
        tx = read_frame(conn, "SELECT customer_id, ts FROM transactions ORDER BY ts")
    assert [str(t.date()) for t in tx["ts"]] == ["1997-01-01", "1997-01-02", "1997-01-03"]
    assert tx["customer_id"].nunique() == 2  # '00123' and '123' are different customers
    repeats = _load(settings, "transactions", CORPUS / "bare_log_repeats.csv")
    assert (repeats.inserted, repeats.repeated_rows) == (5, 3)
    again = _load(settings, "transactions", CORPUS / "bare_log_repeats.csv")
    assert (again.inserted, again.already_present) == (0, 5)
    sql = _load(settings, "transactions", CORPUS / "sql_looking_strings.csv")
    assert (sql.inserted, sql.quarantined_rows) == (1, 2)
    with get_engine(settings.warehouse_url).connect() as conn:
        stored = read_frame(conn, "SELECT category FROM transactions WHERE category IS NOT NULL")
        counts = table_counts(conn, ["transactions", "customers"])
    assert stored["category"].tolist() == ["'; DELETE FROM t;--"]
    assert counts == {"transactions": 9, "customers": 5}


# --- the bad-input corpus: every case through the real `cvp ingest` CLI ------------------------

CORPUS = Path(__file__).parent / "data" / "bad_inputs"
CORPUS_CASES: list[dict] = yaml.safe_load((CORPUS / "cases.yaml").read_text())
POSTGRES_CORPUS = ("sql_looking_strings", "nul_characters_in_parquet", "overlong_strings")
COUNTS_LINE = re.compile(
    r"(\d+) rows read = (\d+) inserted \+ (\d+) already present \+ (\d+) quarantined"
)
CLI = str(Path(sys.executable).with_name("cvp"))


def _corpus_params() -> list:
    params = []
    for backend in _backends():
        for case in CORPUS_CASES:
            if backend == "duckdb" or case["id"] in POSTGRES_CORPUS:
                params.append(pytest.param(backend, case, id=f"{backend}-{case['id']}"))
    return params


@dataclass
class CorpusRun:
    """What one case did: the CLI's output and the warehouse before and after."""

    returncode: int
    stdout: str
    stderr: str
    before: dict[str, int]
    after: dict[str, int]
    quarantined_rows: int


class CorpusRunner:
    """Runs the selected cases a few at a time (each in its own copy of an initialised
    warehouse, so cases cannot see each other) and hands each test its result."""

    def __init__(self, root: Path, template: Path, cases: list[tuple[str, dict]]) -> None:
        self.root, self.template = root, template
        workers = int(os.environ.get("CVP_CORPUS_WORKERS", min(4, (os.cpu_count() or 2) + 1)))
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
        self.futures = {
            (backend, case["id"]): self._submit(backend, case) for backend, case in cases
        }

    def result(self, backend: str, case: dict) -> CorpusRun:
        key = (backend, case["id"])
        if key not in self.futures:
            self.futures[key] = self._submit(backend, case)
        return self.futures[key].result()

    def _submit(self, backend: str, case: dict) -> concurrent.futures.Future[CorpusRun]:
        """Read the environment here, on the main thread, and hand the worker a copy: pytest
        sets and deletes `PYTEST_CURRENT_TEST` on this thread, and iterating `os.environ` from
        another one meanwhile (a dict comprehension, or pydantic-settings building `Settings`)
        raises KeyError."""
        workdir = self.root / f"{backend}-{case['id']}"
        env = _cli_env(workdir)
        settings = make_settings(workdir, env["CVP_WAREHOUSE_URL"])
        return self.pool.submit(self._run, backend, case, workdir, env, settings)

    def _run(
        self, backend: str, case: dict, workdir: Path, env: dict[str, str], settings: Settings
    ) -> CorpusRun:
        shutil.copytree(self.template, workdir)
        schema_name = None
        if backend == "postgres":
            schema_name = f"cvp_corpus_{uuid.uuid4().hex[:10]}"
            env["CVP_WAREHOUSE_URL"] = _make_postgres_schema(schema_name)
            settings = settings.model_copy(update={"warehouse_url": env["CVP_WAREHOUSE_URL"]})
        url = env["CVP_WAREHOUSE_URL"]
        engine = sa.create_engine(url)
        try:
            if backend == "postgres":
                with _ALEMBIC_LOCK:  # Alembic's context is process-global: one at a time
                    upgrade_warehouse(engine)
            for step in case.get("before", []):
                options = ReadOptions(_cli_mapping(step.get("args", [])))
                with engine.begin() as conn:
                    ingest_file(
                        conn,
                        step.get("table", "transactions"),
                        CORPUS / step["file"],
                        options,
                        Pseudonymiser(TEST_KEY.encode()),
                        settings,
                    )
            before = _all_counts(engine)
            engine.dispose()  # DuckDB: one process holds the file
            path = workdir / "a_directory" if case["file"] == "<directory>" else None
            if path is not None:
                (path / "part").mkdir(parents=True)
            target = str(path or CORPUS / case["file"])
            args = [case.get("table", "transactions"), target, *case.get("args", [])]
            out = subprocess.run(
                [CLI, "ingest", *args, "--no-flow"],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            after = _all_counts(engine)
            with engine.connect() as conn:
                quarantined = conn.execute(
                    sa.select(sa.func.count(sa.distinct(quarantine.c.row_number))).where(
                        quarantine.c.source.like(f"{args[0]}:{Path(target).name}:%")
                    )
                ).scalar_one()
            return CorpusRun(out.returncode, out.stdout, out.stderr, before, after, quarantined)
        finally:
            engine.dispose()
            if schema_name:
                _drop_postgres_schema(schema_name)


def _cli_mapping(args: list[str]) -> dict[str, str]:
    pairs = [args[i + 1] for i, arg in enumerate(args) if arg == "--map"]
    return dict(pair.split("=", 1) for pair in pairs)


def _cli_env(workdir: Path) -> dict[str, str]:
    env = cvp_env(make_settings(workdir, f"duckdb:///{workdir / 'wh.duckdb'}"), workdir)
    if _PYCACHE:  # compile the modules once for all the CLI processes, not once per process
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = _PYCACHE[0]
    return env


_PYCACHE: list[str] = []
_ALEMBIC_LOCK = threading.Lock()


def _make_postgres_schema(name: str) -> str:
    base = sa.create_engine(_postgres_base())
    with base.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    base.dispose()
    return f"{_postgres_base()}?options=-csearch_path%3D{name}"


def _drop_postgres_schema(name: str) -> None:
    base = sa.create_engine(_postgres_base())
    with base.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    base.dispose()


def _all_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        return table_counts(conn, sorted(names))


@pytest.fixture(scope="module")
def corpus(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[CorpusRunner]:
    """One initialised warehouse (and MLflow store) copied per case; the selected cases start
    together so the CLI processes overlap."""
    root = tmp_path_factory.mktemp("corpus")
    cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    _PYCACHE[:] = [str(cache.mkdir("cvp-pycache") if cache else root / "pycache")]
    template = root / "template"
    template.mkdir()
    settings = make_settings(template, f"duckdb:///{template / 'wh.duckdb'}")
    engine = sa.create_engine(settings.warehouse_url)
    upgrade_warehouse(engine)
    engine.dispose()
    ensure_experiment(settings, "data")
    # warm the bytecode cache once, so parallel first runs do not all compile the same modules
    subprocess.run(
        [sys.executable, "-c", "import cvp.cli, cvp.jobs.data_jobs, cvp.data.ingest"],
        env=_cli_env(template),
        check=True,
        capture_output=True,
    )
    selected = [
        (item.callspec.params["backend"], item.callspec.params["case"])
        for item in request.session.items
        if item.originalname == "test_bad_input_corpus"
    ]
    runner = CorpusRunner(root, template, selected)
    yield runner
    runner.pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize(("backend", "case"), _corpus_params())
def test_bad_input_corpus(corpus: CorpusRunner, backend: str, case: dict) -> None:
    """Each file: the documented exit code and message, never a traceback, counts that
    reconcile with the warehouse, and no other table touched."""
    run = corpus.result(backend, case)
    output = run.stdout + run.stderr
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout, output
    assert run.returncode == case["exit"], output
    assert case.get("message", "") in " ".join(output.split()), output
    table = case.get("table", "transactions")
    changed = {t for t in run.after if run.after[t] != run.before.get(t)}
    if case["exit"] == 2:
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), output
        assert not run.stdout.strip(), output
        assert not changed, f"a refused file changed {changed}"
        return
    found = COUNTS_LINE.search(run.stdout)
    assert found, run.stdout
    read, inserted, already, quarantined = map(int, found.groups())
    assert read == inserted + already + quarantined
    expected = (case["inserted"], case.get("already", 0), case["quarantined"])
    assert (inserted, already, quarantined) == expected
    assert run.after[table] - run.before[table] == inserted
    assert run.quarantined_rows == quarantined
    derived = re.search(r"customers derived from the file: (\d+)", run.stdout)
    customers = inserted if table == "customers" else int(derived.group(1)) if derived else 0
    assert run.after["customers"] - run.before["customers"] == customers
    assert run.after["audit_log"] - run.before["audit_log"] == 1
    allowed = {table, "customers", "audit_log", "quarantine"}
    if table == "customers" or customers:  # derived customers keep their source id
        allowed.add("customer_identities")
        assert run.after["customer_identities"] - run.before["customer_identities"] == customers
    assert changed <= allowed, f"unexpected tables changed: {changed - allowed}"
