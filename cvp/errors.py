"""Expected failures, each with its documented exit code (README, "Exit codes and logs").

A job raises one of these when it refuses to run or cannot go on for a reason the user can fix;
the CLI prints its message as one line and exits with `exit_code`, and the full traceback goes to
the log file. Anything else is a bug or an environment problem (exit 5, same log file)."""

from __future__ import annotations

import os
import re
import traceback
from datetime import datetime
from pathlib import Path

OK = 0
REFUSED = 1  # validation gate or a derived-table check refused the run
BAD_INPUT = 2  # bad file, arguments or configuration (click's usage errors also exit 2)
STATE = 3  # the warehouse or registry cannot support the request: no model, no data for a date
LOCKED = 4  # another job holds the warehouse or the same date; retry later
UNEXPECTED = 5  # anything not listed above: a bug or an environment problem


class CvpError(Exception):
    """Base of every expected failure: its message is the one line the user sees."""

    exit_code = REFUSED


class JobRefused(CvpError):
    """A check before (or right after) the write said no: the validation gate, a suite."""

    exit_code = REFUSED


class BadInput(CvpError, ValueError):
    """The input cannot be used as given: a file, a parameter, a setting."""

    exit_code = BAD_INPUT


class StateError(CvpError):
    """The request is well-formed but the current state cannot serve it (no model, no data)."""

    exit_code = STATE


class DateNotSupported(StateError):
    """The date lies outside what the data can support; the message says which dates can."""


class LockHeld(CvpError):
    """Another job holds the lock this one needs; the message says who, what and since when."""

    exit_code = LOCKED


def translate(exc: BaseException) -> CvpError | None:
    """Known third-party failures as expected ones: today DuckDB's own file lock, raised when a
    program outside cvp's lock (the duckdb shell, a notebook) holds the warehouse file."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        if "Could not set lock on file" in text:
            pid = re.search(r"PID (\d+)", text)
            path = re.search(r"Could not set lock on file \"([^\"]+)\"", text)
            where = path.group(1) if path else "the warehouse file"
            who = f" (pid {pid.group(1)})" if pid else ""
            return LockHeld(
                f"{where} is open in another program{who}: DuckDB allows one writer per file; "
                "close that program or retry later"
            )
        current = current.__cause__ or current.__context__
    return None


def classify(exc: BaseException) -> CvpError | None:
    """The expected failure `exc` stands for, or None for a bug or an environment problem."""
    if isinstance(exc, CvpError):
        return exc
    known = translate(exc)
    if known is not None:
        return known
    from pydantic import ValidationError

    if isinstance(exc, ValidationError) and exc.title == "Settings":
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3]
        )
        return BadInput(f"invalid setting in cvp.toml or CVP_* variables: {problems}")
    return None


def write_log(exc: BaseException, log_dir: Path, argv: list[str]) -> Path | None:
    """The full traceback (with its causes) in `<log_dir>/cvp-<time>-<pid>.log`; None if the
    log cannot be written (the one-line message still is)."""
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        now = datetime.now()
        path = log_dir / f"cvp-{now:%Y%m%d-%H%M%S}-{os.getpid()}.log"
        lines = [
            f"time     {now.isoformat(timespec='seconds')}",
            f"command  {' '.join(argv)}",
            f"pid      {os.getpid()}",
            "",
            *traceback.format_exception(exc),
        ]
        path.write_text("\n".join(line.rstrip("\n") for line in lines) + "\n")
    except OSError:
        return None
    return path


def failure_line(exc: BaseException, log: Path | None) -> tuple[str, int]:
    """What the CLI prints for a failure, and the exit code (README, "Exit codes and logs")."""
    known = classify(exc)
    where = f" (details: {log})" if log else ""
    if isinstance(exc, KeyboardInterrupt):
        return f"interrupted{where}", 130
    if known is None:
        return (
            f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            f" — a bug or an environment problem{where}",
            UNEXPECTED,
        )
    first, *rest = str(known).splitlines() or [type(known).__name__]
    return "\n".join([f"{first}{where}", *rest]), known.exit_code
