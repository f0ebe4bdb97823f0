"""Retry what may pass on a second try (locks, connections, servers), not what cannot."""

from __future__ import annotations

from prefect import Task
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from cvp.scoring.score import NoChampionModel
from cvp.validation.runner import ValidationFailed

PERMANENT_ERRORS = (ValidationFailed, NoChampionModel, ValueError, TypeError, KeyError)


def retry_transient(task: Task, task_run: TaskRun, state: State) -> bool:
    try:
        state.result()
    except PERMANENT_ERRORS:
        return False
    except Exception:
        return True
    return False
