"""Retry what may pass on a second try (locks, connections, servers), not what cannot."""

from __future__ import annotations

from prefect import Task
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from cvp.errors import CvpError

# every expected failure (cvp.errors) is permanent: a gate, a date or a missing model does not
# change on a second try, and a held lock has already been waited for ([jobs] lock_wait_seconds)
PERMANENT_ERRORS = (CvpError, ValueError, TypeError, KeyError)


def retry_transient(task: Task, task_run: TaskRun, state: State) -> bool:
    try:
        state.result()
    except PERMANENT_ERRORS:
        return False
    except Exception:
        return True
    return False
