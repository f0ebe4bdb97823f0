"""Flow: the point-in-time feature snapshot for one date."""

from __future__ import annotations

from datetime import date

from prefect import flow

from cvp.jobs.feature_jobs import FeatureResult
from tasks.data import init_task
from tasks.features import features_task


@flow(name="features", log_prints=True)
def features_flow(as_of: date) -> FeatureResult:
    init_task()
    return features_task(as_of)
