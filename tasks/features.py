"""Thin Prefect task around the feature job."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.context import TaskRunContext

from cvp.config import get_settings
from cvp.data.fingerprint import features_fingerprint
from cvp.data.warehouse import get_engine
from cvp.features.build import feature_set_version
from cvp.jobs.feature_jobs import FeatureResult, run_features
from cvp.progress import stage
from tasks.retry import retry_transient


def features_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """A snapshot is a pure function of the date, the feature definitions and the content of
    the tables it reads (`features_fingerprint`): any import or edit there rebuilds it."""
    settings = get_settings()
    with get_engine(settings.warehouse_url).connect() as conn:
        fingerprint = features_fingerprint(conn)
    key = f"{settings.warehouse_url}|{parameters['as_of']}|{feature_set_version()}|{fingerprint}"
    return "features-" + hashlib.sha256(key.encode()).hexdigest()[:32]


@task(
    name="features",
    retries=2,
    retry_delay_seconds=[1, 2],
    retry_condition_fn=retry_transient,
    cache_key_fn=features_cache_key,
    cache_expiration=timedelta(days=7),
    persist_result=True,
)
def features_task(as_of: date) -> FeatureResult:
    with stage(f"Building point-in-time features as of {as_of}"):
        result = run_features(get_settings(), as_of)
    worst = sorted(result.null_rates.items(), key=lambda kv: -kv[1])[:5]
    create_markdown_artifact(
        key="feature-snapshot",
        markdown="\n".join(
            [
                f"# Features as of {as_of}",
                f"`{result.feature_set_version}`: {result.customers} customers, "
                f"families {', '.join(result.families)}",
                "",
                "| highest null rate | share |",
                "|---|---|",
                *(f"| {name} | {rate:.1%} |" for name, rate in worst),
            ]
        ),
    )
    return result
