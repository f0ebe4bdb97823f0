"""Run the suites as Great Expectations checkpoints (file context under `expectations/`),
keep every result in `validation_results`, and build Data Docs plus an offline summary page."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import great_expectations as gx
import pandas as pd
import sqlalchemy as sa
from great_expectations.checkpoint import UpdateDataDocsAction
from great_expectations.data_context.types.base import ProgressBarsConfig
from sqlalchemy.engine import Engine

from cvp.config import Settings
from cvp.data import schema
from cvp.data.warehouse import read_frame, write_frame
from cvp.errors import JobRefused
from cvp.validation.store import validation_results
from cvp.validation.suites import (
    CRITICAL,
    ValidationWindow,
    add_helper_columns,
    derived_checks,
    suite_checks,
)
from cvp.validation.summary_page import write_summary_page

VALIDATED_TABLES: tuple[str, ...] = schema.RAW_TABLES
DATASOURCE = "warehouse"
DATE_COLUMNS = ("signup_date", "start_date", "end_date")
SAMPLE_SIZE = 5


class ValidationFailed(JobRefused):
    """A critical expectation failed; the message names the tables and expectations."""


@dataclass
class ValidationReport:
    run_id: str
    as_of: date
    results: pd.DataFrame  # one row per expectation
    data_docs: Path
    summary_page: Path
    checkpoints: list[str] = field(default_factory=list)

    @property
    def critical_failures(self) -> pd.DataFrame:
        r = self.results
        return r[(r["severity"] == CRITICAL) & ~r["success"]]

    @property
    def failures(self) -> pd.DataFrame:
        return self.results[~self.results["success"]]

    @property
    def passed(self) -> bool:
        return self.critical_failures.empty

    def failure_message(self) -> str:
        lines = [
            f"{row.table_name}: {row.expectation} ({row.unexpected_count} rows)"
            for row in self.critical_failures.itertuples()
        ]
        return "critical data validation failures:\n  " + "\n  ".join(lines)


def gx_context(settings: Settings):
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    settings.expectations_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(settings.expectations_dir))
    bars = context.variables.progress_bars  # a config object when set here, a dict once reloaded
    enabled = bars is None or (
        bars.get("globally", True) if isinstance(bars, dict) else bars.globally
    )
    if enabled:
        context.variables.progress_bars = ProgressBarsConfig(globally=False)  # logs, not bars
        context.variables.save()
    return context


def _load_table(engine: Engine, table: str, known: pd.Series) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = read_frame(conn, sa.select(schema.metadata.tables[table]))
    if table == "customer_identities":  # never pull raw PII into validation samples
        frame = frame[["customer_id", "source_customer_id"]]
    for column in DATE_COLUMNS:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column])
    return add_helper_columns(table, frame, known)


def _register(context, table: str, checks: list):
    """Suite, validation definition and checkpoint for one table (one checkpoint per batch)."""
    source = context.data_sources.add_or_update_pandas(name=DATASOURCE)
    try:
        asset = source.get_asset(table)
    except LookupError:
        asset = source.add_dataframe_asset(name=table)
    try:
        batch = asset.get_batch_definition("whole_table")
    except KeyError:
        batch = asset.add_batch_definition_whole_dataframe("whole_table")
    suite = gx.ExpectationSuite(name=f"{table}_suite")
    for check in checks:
        suite.add_expectation(check.expectation())
    suite = context.suites.add_or_update(suite)
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{table}_validation", data=batch, suite=suite)
    )
    checkpoint = gx.Checkpoint(
        name=f"{table}_checkpoint",
        validation_definitions=[definition],
        actions=[UpdateDataDocsAction(name="update_data_docs")],
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE},
    )
    return context.checkpoints.add_or_update(checkpoint)


def _rows(table: str, suite_result, run_id: str, validated_at: datetime) -> list[dict]:
    rows = []
    for result in suite_result.results:
        meta = result.expectation_config.meta or {}
        detail = result.result or {}
        observed = detail.get("observed_value")
        sample = detail.get("partial_unexpected_list") or []
        rows.append(
            {
                "run_id": run_id,
                "validated_at": validated_at,
                "table_name": table,
                "expectation": meta.get("name", result.expectation_config.type),
                "expectation_type": result.expectation_config.type,
                "severity": meta.get("severity", CRITICAL),
                "success": bool(result.success),
                "observed_value": None
                if observed is None
                else json.dumps(observed, default=str)[:500],
                "unexpected_count": detail.get("unexpected_count"),
                "unexpected_percent": detail.get("unexpected_percent"),
                "sample_values": json.dumps(sample[:SAMPLE_SIZE], default=str)[:500]
                if sample
                else None,
            }
        )
    return rows


def gx_docs_index(settings: Settings) -> Path:
    """Where GX builds its own (CDN-styled) Data Docs site."""
    return (
        Path(settings.expectations_dir)
        / "gx"
        / "uncommitted"
        / "data_docs"
        / "local_site"
        / "index.html"
    )


def _store(engine: Engine, rows: list[dict], as_of: date) -> pd.DataFrame:
    results = pd.DataFrame(rows)
    with engine.begin() as conn:
        write_frame(conn, validation_results, results.assign(as_of=as_of))
    return results


# Great Expectations' file context is not safe to share: two dates of a backfill validating at
# once corrupt each other's suites ("JSONDecodeError: Extra data" reading a suite another writer
# was rewriting). Threads of one process take `_GX_LOCK`; processes (the Dask workers of a
# backfill, two `cvp` commands) take an exclusive `flock` on a file in the expectations
# directory. Validation is short next to the jobs around it.
_GX_LOCK = threading.RLock()
_GX_DEPTH = [0]  # the process's file lock is taken once, by the outermost validation
GX_LOCK_FILE = ".cvp-gx.lock"


@contextlib.contextmanager
def _gx_file_lock(directory: Path) -> Iterator[None]:
    with _GX_LOCK:
        if _GX_DEPTH[0]:
            _GX_DEPTH[0] += 1
            try:
                yield
            finally:
                _GX_DEPTH[0] -= 1
            return
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / GX_LOCK_FILE, "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            _GX_DEPTH[0] = 1
            try:
                yield
            finally:
                _GX_DEPTH[0] = 0
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _one_at_a_time(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        settings = next(a for a in (*args, *kwargs.values()) if isinstance(a, Settings))
        with _gx_file_lock(Path(settings.expectations_dir)):
            return function(*args, **kwargs)

    return wrapper


# The latest report per (warehouse, tables, settings, data fingerprint) in this process: a job's
# gate reuses the report of a validation that ran on the same data (the pipeline's or the demo's
# validate step, or another date of a backfill) instead of validating again.
_REPORTS: dict[tuple[str, ...], ValidationReport] = {}


def _report_key(engine: Engine, settings: Settings, tables: list[str]) -> tuple:
    from cvp.data.fingerprint import warehouse_fingerprint

    with engine.connect() as conn:
        fingerprint, _ = warehouse_fingerprint(conn)
    rules = settings.validation.model_dump_json() + settings.ingest.model_dump_json()
    where = (str(engine.url), str(settings.expectations_dir))
    return (*where, ",".join(tables), rules, fingerprint)


def _reusable(report: ValidationReport | None, as_of: date, since: date | None) -> bool:
    """The same date; or, from `since` on, a passed report of a date up to `as_of`: it checked
    "nothing after its date", which is stricter than after `as_of`, and its other critical
    rules do not depend on the date (freshness, which does, only warns)."""
    if report is None:
        return False
    if report.as_of == as_of:
        return True
    return since is not None and since <= report.as_of <= as_of and report.passed


@_one_at_a_time
def validate_warehouse(
    engine: Engine,
    settings: Settings,
    as_of: date | None = None,
    tables: list[str] | None = None,
    reuse: bool = False,
    reuse_since: date | None = None,
) -> ValidationReport:
    """Validate raw tables relative to `as_of` (default today); results go to the warehouse.
    `reuse`: return this process's report on the same data and date if there is one, or with
    `reuse_since`, a passed one of a date from `reuse_since` to `as_of` (see `_reusable`)."""
    as_of = as_of or date.today()
    tables = list(tables or VALIDATED_TABLES)
    unknown = set(tables) - set(VALIDATED_TABLES)
    if unknown:
        raise KeyError(f"no suite for {sorted(unknown)}; tables: {', '.join(VALIDATED_TABLES)}")
    key = _report_key(engine, settings, tables)
    if reuse and _reusable(_REPORTS.get(key), as_of, reuse_since):
        return _REPORTS[key]
    report = _validate_tables(engine, settings, as_of, tables)
    _REPORTS.clear()  # only the latest: older data will not come back
    _REPORTS[key] = report
    return report


def _validate_tables(
    engine: Engine, settings: Settings, as_of: date, tables: list[str]
) -> ValidationReport:
    window = ValidationWindow(
        as_of_end=datetime.combine(as_of, time.max),
        floor=datetime.combine(settings.ingest.timestamp_floor, time.min),
        freshness_days=settings.validation.freshness_days,
    )
    context = gx_context(settings)
    run_id = uuid.uuid4().hex
    validated_at = datetime.now().replace(microsecond=0)
    with engine.connect() as conn:
        known = read_frame(conn, sa.select(schema.customers.c.customer_id))["customer_id"]
    rows: list[dict] = []
    names = []
    for table in tables:
        frame = _load_table(engine, table, known)
        checkpoint = _register(context, table, suite_checks(table, settings, window))
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
        names.append(checkpoint.name)
        for suite_result in outcome.run_results.values():
            rows.extend(_rows(table, suite_result, run_id, validated_at))
    results = _store(engine, rows, as_of)
    summary = write_summary_page(settings, engine, context)
    return ValidationReport(run_id, as_of, results, gx_docs_index(settings), summary, names)


@_one_at_a_time
def validate_derived(
    engine: Engine,
    settings: Settings,
    table: str,
    as_of: date,
    frame: pd.DataFrame | None = None,
    excluded: int = 0,
) -> ValidationReport:
    """Check a derived table's rows for `as_of` (feature snapshot or scores): `frame`, the rows
    a job is about to write, so a failing set never replaces the stored one; else what is
    stored. `excluded` customers are known but deliberately absent (profiling opt-outs)."""
    from cvp.data.schema import metadata

    target = metadata.tables[table]
    with engine.connect() as conn:
        if frame is None:
            frame = read_frame(conn, sa.select(target).where(target.c.as_of == as_of))
        known = conn.execute(
            sa.select(sa.func.count())
            .select_from(schema.customers)
            .where(schema.customers.c.signup_date <= as_of)
        ).scalar_one()
    context = gx_context(settings)
    checkpoint = _register(context, table, derived_checks(table, int(known) - excluded))
    outcome = checkpoint.run(batch_parameters={"dataframe": frame})
    run_id = uuid.uuid4().hex
    validated_at = datetime.now().replace(microsecond=0)
    rows = [
        row
        for result in outcome.run_results.values()
        for row in _rows(table, result, run_id, validated_at)
    ]
    results = _store(engine, rows, as_of)
    summary = write_summary_page(settings, engine, context)
    return ValidationReport(
        run_id, as_of, results, gx_docs_index(settings), summary, [checkpoint.name]
    )
