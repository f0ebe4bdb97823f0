"""Safe jobs: refused dates, one-line errors with a log, locks on DuckDB and PostgreSQL, refused
and interrupted audit rows."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from cvp.data import schema
from cvp.data.coverage import DataSpan, check_as_of
from cvp.data.lock import Holder, hold_warehouse_file, job_lock, release_warehouse_files
from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import get_engine
from cvp.errors import (
    BAD_INPUT,
    LOCKED,
    STATE,
    UNEXPECTED,
    BadInput,
    DateNotSupported,
    LockHeld,
    StateError,
    failure_line,
    write_log,
)
from cvp.jobs.data_jobs import run_generate
from cvp.jobs.feature_jobs import run_features
from cvp.jobs.scoring_jobs import run_plan, run_score
from cvp.jobs.training_jobs import TrainingConfig, run_train
from cvp.scoring.score import NoChampionModel

pytestmark = pytest.mark.slow  # trains models, runs jobs or the cvp script: not in make test-fast

SPAN = DataSpan(date(2024, 1, 1), date(2025, 12, 31))


# ------------------------------------------------------------------ dates the data can support


def test_date_after_the_data_is_refused_with_the_possible_dates():
    with pytest.raises(DateNotSupported) as refused:
        check_as_of(SPAN, date(2099, 1, 1), "score", freshness_days=7)
    assert str(refused.value) == (
        "cannot score as of 2099-01-01: the newest data is from 2025-12-31 and "
        "[validation] freshness_days = 7; possible dates are 2024-01-01 to 2026-01-07 "
        "(import newer data for later dates)"
    )
    assert refused.value.exit_code == STATE


def test_date_before_the_data_and_short_history_are_refused():
    with pytest.raises(DateNotSupported, match="oldest data is from 2024-01-01; possible dates"):
        check_as_of(SPAN, date(1990, 1, 1), "features", freshness_days=7)
    # training needs 420 days before its date: 2024-01-01 + 420 days = 2025-02-24
    with pytest.raises(DateNotSupported, match="possible dates are 2025-02-24 to 2026-01-07"):
        check_as_of(SPAN, date(2025, 2, 23), "train", freshness_days=7, history_days=420)
    check_as_of(SPAN, date(2025, 2, 24), "train", freshness_days=7, history_days=420)
    check_as_of(SPAN, date(2026, 1, 7), "score", freshness_days=7)  # last day allowed
    with pytest.raises(DateNotSupported, match="too short"):
        check_as_of(SPAN, date(2025, 6, 1), "train", freshness_days=0, history_days=800)
    with pytest.raises(StateError, match="no transactions"):
        check_as_of(DataSpan(None, None), date(2025, 6, 1), "score", freshness_days=7)


# ------------------------------------------------------------------ one line, traceback in log


def test_failure_line_names_the_log_and_the_documented_code(tmp_path):
    try:
        try:
            raise OSError(
                'IO Error: Could not set lock on file "/w/wh.duckdb": Conflicting '
                "lock is held in /usr/bin/python3 (PID 4242) by user x."
            )
        except OSError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as exc:
        log = write_log(exc, tmp_path / "logs", ["cvp", "score"])
        line, code = failure_line(exc, log)
    assert code == LOCKED
    assert line.startswith("/w/wh.duckdb is open in another program (pid 4242)")
    assert line.endswith(f"(details: {log})") and "\n" not in line
    text = log.read_text()
    assert "Traceback" in text and "Could not set lock" in text and "cvp score" in text

    line, code = failure_line(KeyError("x"), None)
    assert code == UNEXPECTED and line.startswith("unexpected KeyError")
    from cvp.data.ingest import IngestError

    assert failure_line(IngestError("f.csv: empty file"), None) == ("f.csv: empty file", BAD_INPUT)


# ------------------------------------------------------------------ locks


def test_second_process_on_a_duckdb_file_waits_then_refuses_naming_the_holder(tmp_path):
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    started = tmp_path / "started"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time, pathlib
                from cvp.data.lock import Holder, announce, hold_warehouse_file
                hold_warehouse_file({url!r}, 0, "alice")
                announce({url!r}, Holder("score", "2025-12-31", user="alice"))
                pathlib.Path({str(started)!r}).touch()
                time.sleep(60)
                """
            ),
        ]
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        t0 = time.monotonic()
        with pytest.raises(LockHeld) as refused:
            hold_warehouse_file(url, 1.0, "bob")
        assert time.monotonic() - t0 >= 1.0  # it waited
        message = str(refused.value)
        assert message.startswith(
            f"a scoring run for 2025-12-31 is in progress (pid {holder.pid}, started at "
        )
        assert "by alice); retry later or raise [jobs] lock_wait_seconds" in message
    finally:
        holder.kill()
        holder.wait()
    hold_warehouse_file(url, 5.0, "bob")  # the killed holder's lock is gone with its process
    release_warehouse_files()


def test_same_key_twice_is_refused_in_process_and_on_postgres(warehouse_url):
    engine = get_engine(warehouse_url)
    first = Holder("score", "2025-12-31", user="alice")
    with job_lock(engine, "date:2025-12-31", first, 0, lambda key: None):
        with (
            pytest.raises(LockHeld, match="a scoring run for 2025-12-31 is in progress"),
            job_lock(engine, "date:2025-12-31", Holder("plan"), 0.3, lambda key: None),
        ):
            pass
        with job_lock(engine, "date:2025-11-30", Holder("score"), 0, lambda key: None):
            pass  # another date is free
    if engine.dialect.name != "postgresql":
        return
    # another process's session (here: another engine) holds the advisory lock
    from cvp.data.lock import release_advisory, try_advisory

    other = sa.create_engine(warehouse_url)
    with other.connect() as conn:
        assert try_advisory(conn, "date:2025-12-31")
        who = Holder("score", "2025-12-31", pid=999, user="carol")
        with (
            pytest.raises(LockHeld, match=r"\(pid 999, started at .* by carol\)"),
            job_lock(engine, "date:2025-12-31", Holder("score"), 0.3, lambda key: who),
        ):
            pass
        release_advisory(conn, "date:2025-12-31")
    other.dispose()
    with job_lock(engine, "date:2025-12-31", Holder("score"), 0, lambda key: None):
        pass


# ------------------------------------------------------------------ refused and interrupted rows


def _audit(settings) -> list[sa.Row]:
    with get_engine(settings.warehouse_url).connect() as conn:
        return list(
            conn.execute(sa.select(schema.audit_log).order_by(schema.audit_log.c.started_at)).all()
        )


def test_refused_runs_leave_a_refused_row_and_stale_rows_are_closed(settings):
    run_generate(settings, GeneratorConfig(customers=300, seed=3))
    with pytest.raises(DateNotSupported, match="possible dates are 2024-01-01 to 2026-01-07"):
        run_features(settings, date(2099, 1, 1))
    with pytest.raises(DateNotSupported, match="oldest data"):
        run_features(settings, date(1990, 1, 1))
    with pytest.raises(NoChampionModel, match="cvp train"):
        run_score(settings, date(2025, 12, 31))
    with pytest.raises(StateError, match="no scores for 2025-12-31"):
        run_plan(settings, date(2025, 12, 31), 100.0)
    with pytest.raises(BadInput, match="targets \\['nope'\\]"):
        run_train(settings, TrainingConfig(as_of=date(2025, 12, 31), targets=("nope",)))
    rows = _audit(settings)
    assert [(r.command, r.status) for r in rows] == [
        ("generate", "succeeded"),
        ("features", "refused"),
        ("features", "refused"),
        ("score", "refused"),
        ("plan", "refused"),
        ("train", "refused"),
    ]
    assert "2099-01-01" in json.loads(rows[1].notes)["reason"]
    assert all(r.mlflow_run_id is None for r in rows[1:])  # refused before any MLflow run
    assert rows[1].lock_key == "date:2099-01-01" and rows[1].finished_at is not None

    # a job killed after its commit: its row stays 'running' with a dead pid and a free lock
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    with get_engine(settings.warehouse_url).begin() as conn:
        conn.execute(
            schema.audit_log.insert().values(
                run_id="killed",
                command="score",
                run_by="alice",
                status="running",
                started_at=datetime(2026, 1, 1),
                parameters="{}",
                host=rows[0].host,
                pid=int(dead.stdout),
                lock_key="date:2025-11-30",
            )
        )
    run_features(settings, date(2025, 12, 31))
    rows = {r.run_id: r for r in _audit(settings)}
    assert rows["killed"].status == "interrupted"
    notes = json.loads(rows["killed"].notes)
    assert notes["reason"].startswith("interrupted: ")
    latest = max(rows.values(), key=lambda r: r.started_at)
    assert latest.command == "features" and latest.status == "succeeded"
    assert notes["closed_by"] == latest.run_id
