"""`cvp features`: build and store the snapshot for one date, tracked and audited.

Locally the job builds the snapshot in its process, validates it and writes it in one
transaction. With `[execution] engine = "dask"` the partition tasks write their rows to the
staging table and the job never holds the built snapshot as it comes off the cluster: it clears
the date's staging rows (a crashed run's), has the tasks stage, validates the staged rows, and
promotes them in one transaction (which also clears them); the tasks' row counts must add up to
the rows staged and to the rows promoted. Either way a snapshot that fails its suite never
replaces the stored one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import mlflow
import pandas as pd
from sqlalchemy.engine import Engine

from cvp.config import Settings
from cvp.errors import JobRefused
from cvp.execution.dask_engine import features_for, stage_features_partitioned
from cvp.features.build import available_families, feature_set_version
from cvp.features.store import (
    clear_staging,
    promote_staged,
    read_staged,
    snapshot_rows,
    write_snapshot,
)
from cvp.jobs.context import open_job
from cvp.validation.runner import ValidationFailed, validate_derived

FEATURES_EXPERIMENT = "features"
log = logging.getLogger(__name__)


class StagingMismatch(JobRefused):
    """The partition tasks' row counts do not add up to the rows staged or promoted."""


@dataclass
class FeatureResult:
    as_of: date
    feature_set_version: str
    customers: int
    families: list[str]
    null_rates: dict[str, float]
    mlflow_run_id: str


def run_features(settings: Settings, as_of: date) -> FeatureResult:
    version = feature_set_version()
    params = {"as_of": as_of.isoformat(), "feature_set_version": version}
    with open_job(
        settings, "features", params, experiment=FEATURES_EXPERIMENT, as_of=as_of, history_days=0
    ) as job:
        with job.engine.connect() as conn:
            families = [f.name for f in available_families(conn)]
        if settings.execution.engine == "dask":
            rows, frame = _stage_validate_promote(job.engine, settings, version, as_of)
        else:
            rows, frame = _build_validate_write(job.engine, settings, version, as_of)
        keys = ["feature_set_version", "as_of", "customer_id"]  # the staged rows carry the first
        features = frame.drop(columns=keys, errors="ignore")
        null_rates = features.isna().mean().round(4).to_dict()
        mlflow.log_params({**params, "families": ",".join(families)})
        mlflow.log_metric("customers", rows)
        mlflow.log_dict(null_rates, "null_rates.json")
        return FeatureResult(as_of, version, rows, families, null_rates, job.mlflow_run_id)


def _check(engine: Engine, settings: Settings, as_of: date, rows: pd.DataFrame) -> None:
    """The snapshot suite on the rows about to replace the stored ones."""
    checked = validate_derived(engine, settings, "feature_snapshots", as_of, rows)
    mlflow.set_tag("cvp.validation.snapshot_passed", str(checked.passed).lower())
    if not checked.passed:
        raise ValidationFailed(checked.failure_message())


def _build_validate_write(
    engine: Engine, settings: Settings, version: str, as_of: date
) -> tuple[int, pd.DataFrame]:
    """In this process: build, check, then replace the date's snapshot atomically."""
    with engine.connect() as conn:
        frame = features_for(settings, conn, as_of)
    _check(engine, settings, as_of, snapshot_rows(version, as_of, frame))
    with engine.begin() as conn:
        rows = write_snapshot(conn, version, as_of, frame)
    return rows, frame


def _stage_validate_promote(
    engine: Engine, settings: Settings, version: str, as_of: date
) -> tuple[int, pd.DataFrame]:
    """On the cluster: the tasks stage their partitions, the job checks and promotes."""
    with engine.begin() as conn:
        leftover = clear_staging(conn, version, as_of)
    if leftover:
        mlflow.log_metric("staging_rows_cleared", leftover)
    counts = stage_features_partitioned(settings, version, as_of)
    try:
        with engine.connect() as conn:
            staged = read_staged(conn, version, as_of)
        if len(staged) != sum(counts):
            raise StagingMismatch(
                f"partition tasks staged {sum(counts)} rows, the staging table holds {len(staged)}"
            )
        _check(engine, settings, as_of, staged)
        with engine.begin() as conn:  # the date's snapshot is replaced atomically
            promoted = promote_staged(conn, version, as_of)
            if promoted != sum(counts):  # raising rolls the promotion back
                raise StagingMismatch(
                    f"partition tasks staged {sum(counts)} rows, {promoted} were promoted"
                )
    except BaseException:
        _clear_after_failure(engine, version, as_of)
        raise
    mlflow.log_metric("partitions", len(counts))
    return promoted, staged  # the rows as stored: null rates need no reshaping copy


def _clear_after_failure(engine: Engine, version: str, as_of: date) -> None:
    """A refused or failed run leaves nothing staged; if even that fails (the database went
    away), the next run of the date clears the rows, and the job's own error is the one raised."""
    try:
        with engine.begin() as conn:
            clear_staging(conn, version, as_of)
    except Exception:  # noqa: BLE001 - the original error matters more
        log.warning("could not clear the staged rows of %s %s", version, as_of, exc_info=True)
