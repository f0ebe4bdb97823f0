"""MLflow configuration. Experiments get an explicit artifact location, because without a
tracking server MLflow would otherwise write artifacts relative to the current directory."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import mlflow
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from sqlalchemy.engine import make_url

from cvp.config import Settings


def _sqlite_parent(uri: str) -> Path | None:
    if not uri.startswith("sqlite:"):
        return None
    database = make_url(uri).database
    return Path(database).expanduser().parent if database else None


def configure_tracking(settings: Settings) -> MlflowClient:
    """Point MLflow at the configured store, creating the embedded folders if needed."""
    parent = _sqlite_parent(settings.mlflow_tracking_uri)
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    if "://" not in str(settings.mlflow_artifact_root):
        settings.mlflow_artifact_root.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri)


def artifact_location(settings: Settings, experiment: str) -> str:
    root = str(settings.mlflow_artifact_root)
    if "://" in root:
        return f"{root.rstrip('/')}/{experiment}"
    return (settings.mlflow_artifact_root.resolve() / experiment).as_uri()


def ensure_experiment(settings: Settings, name: str) -> str:
    client = configure_tracking(settings)
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    return client.create_experiment(name, artifact_location=artifact_location(settings, name))


@contextlib.contextmanager
def tracked_run(
    settings: Settings, experiment: str, run_name: str, tags: dict[str, str] | None = None
) -> Iterator[Run]:
    """A run under `experiment`, tagged with who ran it; ended even if the job fails."""
    experiment_id = ensure_experiment(settings, experiment)
    all_tags = {"cvp.run_by": settings.operator, **(tags or {})}
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=all_tags) as run:
        yield run
