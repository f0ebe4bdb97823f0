"""`cvp features`: build and store the snapshot for one date, tracked and audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import mlflow

from cvp.config import Settings
from cvp.execution.dask_engine import features_for
from cvp.features.build import available_families, feature_set_version
from cvp.features.store import snapshot_rows, write_snapshot
from cvp.jobs.context import open_job
from cvp.validation.runner import ValidationFailed, validate_derived

FEATURES_EXPERIMENT = "features"


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
            frame = features_for(settings, conn, as_of)
        # checked before it replaces the stored snapshot: a failing one leaves the old in place
        rows_to_write = snapshot_rows(version, as_of, frame)
        checked = validate_derived(job.engine, settings, "feature_snapshots", as_of, rows_to_write)
        mlflow.set_tag("cvp.validation.snapshot_passed", str(checked.passed).lower())
        if not checked.passed:
            raise ValidationFailed(checked.failure_message())
        with job.engine.begin() as conn:  # the date's snapshot is replaced atomically
            rows = write_snapshot(conn, version, as_of, frame)
        null_rates = frame.drop(columns=["as_of", "customer_id"]).isna().mean().round(4).to_dict()
        mlflow.log_params({**params, "families": ",".join(families)})
        mlflow.log_metric("customers", rows)
        mlflow.log_dict(null_rates, "null_rates.json")
        return FeatureResult(as_of, version, rows, families, null_rates, job.mlflow_run_id)
