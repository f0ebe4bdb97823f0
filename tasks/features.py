"""Thin Prefect task around the feature job."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.artifacts import create_markdown_artifact

from cvp.config import get_settings
from cvp.jobs.feature_jobs import FeatureResult, run_features


@task(name="features", retries=2, retry_delay_seconds=[1, 2])
def features_task(as_of: date) -> FeatureResult:
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
