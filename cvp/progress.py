"""Stage progress for long commands, reported from wherever the work happens.

The library and the flows say what they are doing (`with stage("Training churn", total=20)`,
`advance()`); the CLI decides how it looks (rich progress bars on a terminal). Nobody else
listens by default, so a notebook or a worker pays nothing. The reporter is process-global, not
a context variable, because Prefect runs tasks in worker threads that do not inherit contexts.

Every stage is also a log line on the `cvp.progress` logger (started; units done; finished or
failed, with the elapsed time): inside a Prefect run those lines are what its run page shows
(`cvp.orchestration.run_logging`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

log = logging.getLogger(__name__)
# where nobody configured logging (`--no-flow`, a notebook), Python's last-resort handler would
# print warnings and errors to stderr next to the CLI's own one-line message: the CLI speaks
log.addHandler(logging.NullHandler())


class Reporter(Protocol):
    def begin(self, name: str, total: int | None) -> None: ...
    def advance(self, steps: int) -> None: ...
    def end(self, ok: bool) -> None: ...


class _Silent:
    def begin(self, name: str, total: int | None) -> None:
        pass

    def advance(self, steps: int) -> None:
        pass

    def end(self, ok: bool) -> None:
        pass


_reporter: Reporter = _Silent()


def set_reporter(reporter: Reporter | None) -> None:
    """Install a reporter for this process (None restores the silent default)."""
    global _reporter
    _reporter = reporter or _Silent()


@contextmanager
def stage(name: str, total: int | None = None) -> Iterator[None]:
    """One named step; `total` known units (trials, files) make a bar, otherwise a spinner."""
    log.info("%s%s", name, f" ({total} steps)" if total is not None else "")
    _stages.append([name, total, 0])
    started = time.monotonic()
    _reporter.begin(name, total)
    ok = False
    try:
        yield
        ok = True
    finally:
        _reporter.end(ok)
        if _stages:
            _stages.pop()
        elapsed = time.monotonic() - started
        if ok:
            log.info("%s: done in %.1f s", name, elapsed)
        else:
            log.error("%s: failed after %.1f s", name, elapsed)


# name, total and units done of the open stages, for the log lines of `advance`
_stages: list[list] = []


def advance(steps: int = 1) -> None:
    """Count units of the current stage (a finished trial, an imported file)."""
    _reporter.advance(steps)
    if _stages:
        current = _stages[-1]
        current[2] += steps
        log.info("%s: %d/%s", current[0], current[2], current[1] if current[1] else "?")


class RichReporter:
    """A line per stage on the terminal: spinner or bar, units done, elapsed; kept when done
    (a short log of what ran and how long it took), marked failed if it raised."""

    def __init__(self, console: object) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            ProgressColumn,
            SpinnerColumn,
            Task,
            TaskID,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.table import Column
        from rich.text import Text

        class CountColumn(ProgressColumn):
            """`3/10` for a counted stage (trials, files), nothing for a spinner stage."""

            def render(self, task: Task) -> Text:
                if not task.fields.get("counted"):
                    return Text("")
                return Text(f"{int(task.completed)}/{int(task.total or 0)}", style="cyan")

        self._progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/green]"),
            TextColumn(
                "{task.description}",
                table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis", min_width=20),
            ),
            BarColumn(bar_width=20),
            CountColumn(table_column=Column(width=7, justify="right")),
            TimeElapsedColumn(),
            console=console,  # type: ignore[arg-type]
        )
        self._stack: list[TaskID] = []

    def __enter__(self) -> RichReporter:
        self._progress.start()
        set_reporter(self)
        return self

    def __exit__(self, *exc: object) -> None:
        set_reporter(None)
        self._progress.stop()

    def begin(self, name: str, total: int | None) -> None:
        self._stack.append(self._progress.add_task(name, total=total, counted=total is not None))

    def advance(self, steps: int) -> None:
        if self._stack:
            self._progress.advance(self._stack[-1], steps)

    def end(self, ok: bool) -> None:
        if not self._stack:
            return
        task_id = self._stack.pop()
        task = self._progress.tasks[task_id]
        if ok:
            done = task.total if task.total is not None else 1
            self._progress.update(task_id, total=done, completed=done)
        else:
            self._progress.update(task_id, description=f"[red]✗ {task.description}[/red]")
        self._progress.stop_task(task_id)
