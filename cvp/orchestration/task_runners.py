"""The Prefect task runner `[execution]` asks for: threads in the flow's process (`local`), or a
`prefect_dask.DaskTaskRunner` on the cluster (`dask`): the scheduler of
`[execution] scheduler_address`, else the one `cvp server up --workers N` started, else a
LocalCluster of `local_workers` processes on 127.0.0.1 for the run.

A flow declares `ExecutionTaskRunner()`; Prefect asks a flow's runner for a fresh copy
(`duplicate`) when each run starts, and this one answers with the runner of the settings read
then, so the CLI, a deployment's worker and a test that changes the settings all get the runner of
their own configuration, not of whatever was configured when the flow module was imported.
"""

from __future__ import annotations

from typing import Any

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from cvp.config import Settings, get_settings


def task_runner_for(settings: Settings) -> TaskRunner[Any]:
    """The task runner of `settings.execution`."""
    if settings.execution.engine != "dask":
        return ThreadPoolTaskRunner()
    from prefect_dask import DaskTaskRunner

    from cvp.execution.dask_engine import require_distributable, scheduler_for

    require_distributable(settings.warehouse_url)
    address = scheduler_for(settings)
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": settings.execution.local_workers,
            "threads_per_worker": 1,
            "processes": True,
            "host": "127.0.0.1",
            "dashboard_address": "127.0.0.1:0",
        }
    )


class ExecutionTaskRunner(ThreadPoolTaskRunner):
    """Stands in for the runner of `[execution]`, resolved when a flow run starts."""

    def duplicate(self) -> Any:
        return task_runner_for(get_settings())
