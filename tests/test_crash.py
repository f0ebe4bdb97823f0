"""kill -9 at several points of `cvp score`, including inside its write transaction, and two
`cvp score` for one date at once, on DuckDB and PostgreSQL: the date always holds one complete
set of scores, the rerun succeeds and closes the killed run's audit row, and the second of two
concurrent runs refuses in one line with exit code 4."""

from __future__ import annotations

import json
import re
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from cvp.data import schema
from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import dispose_engines, get_engine
from cvp.errors import LOCKED
from cvp.jobs.context import (
    PAUSE_AT_ENV,
    PAUSE_IN_WRITE_ENV,
    PAUSE_MARKER_ENV,
    PAUSE_RELEASE_ENV,
)
from cvp.jobs.data_jobs import run_generate
from cvp.jobs.scoring_jobs import run_score
from cvp.jobs.training_jobs import TrainingConfig, run_train
from cvp.scoring.store import customer_scores
from tests.conftest import CVP, cvp_env

AS_OF = date(2025, 12, 31)
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def _env(settings, tmp_path: Path) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return cvp_env(
        settings,
        tmp_path,
        isolate=("CVP_", "PREFECT_"),
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
    )


def _score(tmp_path: Path, env: dict[str, str], name: str, **extra: str) -> subprocess.Popen:
    out = (tmp_path / f"{name}.out").open("w")
    err = (tmp_path / f"{name}.err").open("w")
    return subprocess.Popen(
        [CVP, "score", "--as-of", AS_OF.isoformat()],
        cwd=tmp_path,
        env={**env, **extra},
        stdout=out,
        stderr=err,
    )


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"exited {process.returncode} before the marker"
        assert time.monotonic() < deadline, "never reached the write"
        time.sleep(0.2)


def _scores_of_date(settings) -> tuple[int, int, object]:
    """(rows, distinct scored_at, the scored_at) of AS_OF: one set has one scored_at."""
    c = customer_scores.c
    with get_engine(settings.warehouse_url).connect() as conn:
        rows, runs, at = conn.execute(
            sa.select(
                sa.func.count(), sa.func.count(sa.distinct(c.scored_at)), sa.func.max(c.scored_at)
            ).where(c.as_of == AS_OF)
        ).one()
    dispose_engines()  # release the DuckDB file for the next cvp process
    return rows, runs, at


def _audit(settings, run_by_pid: int | None = None) -> list[sa.Row]:
    log = schema.audit_log
    query = sa.select(log).where(log.c.command == "score")
    if run_by_pid is not None:
        query = query.where(log.c.pid == run_by_pid)
    with get_engine(settings.warehouse_url).connect() as conn:
        rows = list(conn.execute(query.order_by(log.c.started_at)).all())
    dispose_engines()
    return rows


def test_kill_anywhere_leaves_one_complete_set_and_two_runs_do_not_mix(settings, tmp_path):
    run_generate(settings, GeneratorConfig(customers=2_000, seed=7))
    run_train(settings, TrainingConfig(as_of=AS_OF, trials=1))
    customers = len(run_score(settings, AS_OF).scores)
    old = _scores_of_date(settings)
    assert old[:2] == (customers, 1)
    env = _env(settings, tmp_path)

    # kill -9 during start-up, right after the job opened (audit row written), inside the write
    # transaction, and after the commit before the audit row is closed
    early = _score(tmp_path, env, "early")
    time.sleep(3)
    early.kill()
    early.wait()
    assert _scores_of_date(settings) == old
    killed: dict[str, int] = {}
    for point in ("opened", "write", "committed"):
        marker = tmp_path / f"at-{point}"
        process = _score(
            tmp_path,
            env,
            point,
            **{PAUSE_IN_WRITE_ENV: "600", PAUSE_AT_ENV: point, PAUSE_MARKER_ENV: str(marker)},
        )
        _wait_for(marker, process)
        process.kill()
        process.wait()
        killed[point] = process.pid
        rows, runs, at = _scores_of_date(settings)
        assert (rows, runs) == (customers, 1), point  # one complete set, never a mix
        if point == "committed":
            assert at > old[2]  # the new set, complete
            old = (rows, runs, at)
        else:
            assert at == old[2]  # the old set, untouched
        assert [r.status for r in _audit(settings, process.pid)] == ["running"], point

    # two at once: the first holds the date inside its write, the second refuses in one line
    marker, release = tmp_path / "first-in-write", tmp_path / "release"
    first = _score(
        tmp_path,
        env,
        "first",
        **{
            PAUSE_IN_WRITE_ENV: "600",
            PAUSE_MARKER_ENV: str(marker),
            PAUSE_RELEASE_ENV: str(release),
        },
    )
    _wait_for(marker, first)
    second = _score(tmp_path, env, "second", CVP_JOBS__LOCK_WAIT_SECONDS="1")
    try:
        assert second.wait(timeout=300) == LOCKED, (tmp_path / "second.err").read_text()
    finally:
        release.touch()
    assert first.wait(timeout=300) == 0, (tmp_path / "first.err").read_text()
    stderr = (tmp_path / "second.err").read_text()
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(
        f"error: a scoring run for {AS_OF} is in progress (pid {first.pid}, started at "
    ), stderr
    assert "by pytest); retry later or raise [jobs] lock_wait_seconds" in lines[0]
    assert "Traceback" not in stderr + (tmp_path / "second.out").read_text()
    log = Path(re.search(r"\(details: (\S+\.log)\)", lines[0]).group(1))
    assert "Traceback" in (tmp_path / log if not log.is_absolute() else log).read_text()

    # one complete, new set; the killed runs' rows were closed as interrupted by the next runs
    rows, runs, at = _scores_of_date(settings)
    assert (rows, runs) == (customers, 1) and at > old[2]
    for point, pid in killed.items():
        [row] = _audit(settings, pid)
        assert row.status == "interrupted", point
        assert json.loads(row.notes)["reason"].startswith("interrupted: ")
    [rerun] = _audit(settings, first.pid)
    assert rerun.status == "succeeded"
    assert json.loads(rerun.notes)["closed_interrupted_runs"] == [
        r.run_id for r in _audit(settings, killed["committed"])
    ]
    if settings.warehouse_url.startswith("postgresql"):  # the refusal is audited too
        [refused] = _audit(settings, second.pid)
        assert refused.status == "refused" and "in progress" in json.loads(refused.notes)["reason"]
