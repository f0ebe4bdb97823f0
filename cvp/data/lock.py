"""Who may write the warehouse now: one lock design over DuckDB's and PostgreSQL's rules.

- DuckDB lets one process at a time open a database file for writing. cvp takes a file lock
  (`fcntl.flock`) on `<database>.cvp-lock` before it opens the file, and holds it until the
  process releases its engines; the lock file says who holds it and which job runs, so a second
  process waits up to `[jobs] lock_wait_seconds` and then refuses in one line naming the holder.
- PostgreSQL lets many writers in, so each job locks only what it writes: a session-level
  advisory lock (`pg_try_advisory_lock`) on its key (the date for features, score and plan; the
  raw tables for ingest and generate; the registry for train), on a connection kept for the job.
  A killed process's session ends and PostgreSQL frees the lock.
- Within one process (a backfill's threads) the same keys are taken from an in-process registry,
  on either backend.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from cvp.errors import LockHeld

POLL_SECONDS = 0.2
JOB_NOUNS = {
    "score": "scoring run",
    "features": "feature build",
    "plan": "planning run",
    "train": "training run",
    "train-contract": "contract training run",
    "score-contract": "contract scoring run",
    "validate": "validation run",
    "ingest": "import",
    "generate": "data generation",
}


def job_phrase(kind: str, as_of: date | str | None) -> str:
    """'a scoring run for 2025-12-31': how messages name a job."""
    noun = JOB_NOUNS.get(kind, f"'{kind}' run")
    article = "an" if noun[0] in "aeiou" else "a"
    return f"{article} {noun}" + (f" for {as_of}" if as_of else "")


@dataclass
class Holder:
    """Who holds a lock: enough for the waiting user to find and ask them."""

    kind: str
    as_of: str | None = None
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    user: str = "unknown"
    started_at: str = field(default_factory=lambda: datetime.now().isoformat(timespec="seconds"))
    run_id: str | None = None

    def describe(self) -> str:
        started = self.started_at.replace("T", " ")
        if started[:10] == date.today().isoformat():
            started = started[11:]
        where = f"pid {self.pid}" + (
            "" if self.host == socket.gethostname() else f" on {self.host}"
        )
        return (
            f"{job_phrase(self.kind, self.as_of)} is in progress "
            f"({where}, started at {started} by {self.user})"
        )


def refusal(holder: Holder | None, what: str, waited: float) -> LockHeld:
    """The one line a refused job prints."""
    busy = holder.describe() if holder else f"another job holds {what}"
    return LockHeld(f"{busy}; retry later or raise [jobs] lock_wait_seconds (waited {waited:g} s)")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _wait_for(attempt: Callable[[], bool], wait_seconds: float) -> bool:
    """Call `attempt` until it returns True or the wait is over."""
    deadline = time.monotonic() + wait_seconds
    while True:
        if attempt():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)


# ---------------------------------------------------------------- DuckDB: one process per file


@dataclass
class _FileLock:
    path: Path
    fd: int
    base: Holder  # what the file says between jobs: the process itself


_FILE_LOCKS: dict[Path, _FileLock] = {}
_FILE_GUARD = threading.RLock()


def duckdb_lock_path(url: str) -> Path | None:
    """`<database>.cvp-lock` beside a DuckDB file; None for other backends and in-memory DuckDB."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "duckdb" or parsed.database in (None, "", ":memory:"):
        return None
    database = Path(parsed.database).expanduser().resolve()
    return database.with_name(database.name + ".cvp-lock")


def _read_holder(path: Path) -> Holder | None:
    try:
        return Holder(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write_holder(lock: _FileLock, holder: Holder) -> None:
    data = json.dumps(asdict(holder)).encode()
    os.ftruncate(lock.fd, 0)
    os.pwrite(lock.fd, data, 0)


def hold_warehouse_file(url: str, wait_seconds: float, user: str) -> None:
    """Before this process opens a DuckDB warehouse: take its file lock (waiting up to
    `wait_seconds`) or raise LockHeld naming the process that has it. Held until
    `release_warehouse_files`; a no-op when already held or not DuckDB."""
    path = duckdb_lock_path(url)
    if path is None:
        return
    with _FILE_GUARD:
        if path in _FILE_LOCKS:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

        def attempt() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        if not _wait_for(attempt, wait_seconds):
            os.close(fd)
            raise refusal(_read_holder(path), f"the warehouse {path.stem}", wait_seconds)
        command = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv[:2]))
        lock = _FileLock(path, fd, Holder(kind=command or "cvp", user=user))
        _FILE_LOCKS[path] = lock
        _write_holder(lock, lock.base)


def announce(url: str, holder: Holder | None) -> None:
    """Say in the lock file which job this process now runs (what a waiter's message names);
    None when the job is over."""
    path = duckdb_lock_path(url)
    with _FILE_GUARD:
        lock = _FILE_LOCKS.get(path) if path else None
        if lock is not None:
            _write_holder(lock, holder or lock.base)


def holds_warehouse_file(url: str) -> bool:
    path = duckdb_lock_path(url)
    return path is not None and path in _FILE_LOCKS


def release_warehouse_files() -> None:
    """Give every DuckDB file lock of this process back (after its engines are disposed)."""
    with _FILE_GUARD:
        for lock in _FILE_LOCKS.values():
            with contextlib.suppress(OSError):
                fcntl.flock(lock.fd, fcntl.LOCK_UN)
                os.close(lock.fd)
        _FILE_LOCKS.clear()


# ---------------------------------------------------------------- job keys on either backend


def job_lock_key(kind: str, as_of: date | None) -> str | None:
    """What a job writes, as a lock key: jobs with the same key never run at once."""
    if kind in ("features", "score", "plan"):
        return f"date:{as_of}"
    if kind in ("ingest", "generate"):
        return "raw"
    if kind in ("train", "train-contract"):  # both register models and move aliases
        return "registry"
    if kind == "score-contract":
        return "contract-scores"
    return None  # validate writes only its own rows


_LOCAL: dict[tuple[str, str], Holder] = {}
_LOCAL_GUARD = threading.Lock()


def local_holders() -> dict[tuple[str, str], Holder]:
    """The jobs this process runs now, by (warehouse url, key)."""
    with _LOCAL_GUARD:
        return dict(_LOCAL)


def _advisory_id(conn: Connection, key: str) -> int:
    """A 64-bit advisory lock id, per database and schema (test schemas do not collide)."""
    database, schema = conn.execute(sa.text("SELECT current_database(), current_schema()")).one()
    digest = hashlib.sha256(f"cvp|{database}|{schema}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def try_advisory(conn: Connection, key: str) -> bool:
    """Take the advisory lock on `key` now if free (session level; reentrant)."""
    got = bool(
        conn.execute(
            sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _advisory_id(conn, key)}
        ).scalar_one()
    )
    conn.commit()
    return got


def release_advisory(conn: Connection, key: str) -> None:
    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _advisory_id(conn, key)})
    conn.commit()


@contextlib.contextmanager
def job_lock(
    engine: Engine,
    key: str | None,
    holder: Holder,
    wait_seconds: float,
    who_holds: Callable[[str], Holder | None],
) -> Iterator[Connection | None]:
    """Hold `key` for the job: in this process, and on PostgreSQL across processes. Yields the
    PostgreSQL connection that holds it (for stale-row checks), else None."""
    if key is None:
        yield None
        return
    local = (engine.url.render_as_string(hide_password=True), key)

    def take_local() -> bool:
        with _LOCAL_GUARD:
            if local in _LOCAL:
                return False
            _LOCAL[local] = holder
            return True

    if not _wait_for(take_local, wait_seconds):
        raise refusal(local_holders().get(local), key, wait_seconds)
    conn: Connection | None = None
    held = False
    try:
        if engine.dialect.name == "postgresql":
            conn = engine.connect()
            started = time.monotonic()
            held = _wait_for(lambda: try_advisory(conn, key), wait_seconds)
            if not held:
                raise refusal(who_holds(key), key, round(time.monotonic() - started))
        yield conn
    finally:
        if conn is not None:
            if held:
                with contextlib.suppress(Exception):
                    release_advisory(conn, key)
            conn.close()
        with _LOCAL_GUARD:
            _LOCAL.pop(local, None)
