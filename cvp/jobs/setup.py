"""`cvp init`: create or upgrade everything a run needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cvp.config import Settings
from cvp.data.migrate import current_revision, upgrade_warehouse
from cvp.data.pseudonym import ensure_key_file
from cvp.data.warehouse import get_engine
from cvp.experiments.tracking import ensure_experiment

EXPERIMENTS = ("data", "validation", "features", "training", "scoring")


@dataclass
class InitResult:
    warehouse_url: str
    warehouse_revision: str | None
    mlflow_tracking_uri: str
    expectations_dir: Path
    key_created: bool


def initialise(settings: Settings) -> InitResult:
    engine = get_engine(settings.warehouse_url)
    upgrade_warehouse(engine)
    key_created = False
    if not settings.pseudonym_key:
        key_created = ensure_key_file(settings.pseudonym_key_file)
    for name in EXPERIMENTS:
        ensure_experiment(settings, name)
    _ensure_gx_context(settings.expectations_dir)
    return InitResult(
        warehouse_url=settings.warehouse_url,
        warehouse_revision=current_revision(engine),
        mlflow_tracking_uri=settings.mlflow_tracking_uri,
        expectations_dir=settings.expectations_dir,
        key_created=key_created,
    )


def _ensure_gx_context(directory: Path) -> None:
    import great_expectations as gx  # slow import, only needed here

    directory.mkdir(parents=True, exist_ok=True)
    gx.get_context(mode="file", project_root_dir=str(directory))
