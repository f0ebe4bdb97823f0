"""Backfill calendars, deployment parameters and the skip rule, without a server."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from cvp.audit import audited
from cvp.data.warehouse import get_engine
from cvp.orchestration.backfill import job_done
from cvp.orchestration.calendar import backfill_dates
from cvp.orchestration.parameters import (
    BackfillParameters,
    PipelineParameters,
    TrainParameters,
    resolve_as_of,
)


def test_weekly_and_monthly_calendars():
    assert backfill_dates(date(2025, 12, 10), date(2025, 12, 31), "1w") == [
        date(2025, 12, 10),
        date(2025, 12, 17),
        date(2025, 12, 24),
        date(2025, 12, 31),
    ]
    # calendar months from the start, clamped to the month's end, not drifting
    assert backfill_dates(date(2025, 1, 31), date(2025, 4, 30), "1mo") == [
        date(2025, 1, 31),
        date(2025, 2, 28),
        date(2025, 3, 31),
        date(2025, 4, 30),
    ]
    assert backfill_dates(date(2025, 1, 1), date(2025, 1, 1), "2w") == [date(2025, 1, 1)]


@pytest.mark.parametrize("every", ["", "0d", "1y", "w", "1 w", "-1d"])
def test_bad_steps_are_rejected(every):
    with pytest.raises(ValueError, match="every"):
        backfill_dates(date(2025, 1, 1), date(2025, 2, 1), every)


def test_backfill_parameters_check_range_bounds_and_targets():
    params = BackfillParameters(
        start=date(2025, 1, 1), end=date(2025, 3, 1), every="1mo", targets=["plan", "score"]
    )
    assert params.dates() == [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]
    assert params.ordered_targets() == ["score", "plan"]
    with pytest.raises(ValidationError, match="before start"):
        BackfillParameters(start=date(2025, 2, 1), end=date(2025, 1, 1))
    with pytest.raises(ValidationError, match="more than"):
        BackfillParameters(start=date(2020, 1, 1), end=date(2025, 1, 1), every="1d")
    with pytest.raises(ValidationError):
        BackfillParameters(start=date(2025, 1, 1), end=date(2025, 2, 1), max_concurrency=9)
    with pytest.raises(ValidationError):
        BackfillParameters(start=date(2025, 1, 1), end=date(2025, 2, 1), targets=["deploy"])
    with pytest.raises(ValidationError):
        TrainParameters(trials=0)


def test_today_is_resolved_at_run_time_not_at_definition():
    assert PipelineParameters().as_of is None
    assert resolve_as_of(None) == date.today()
    assert resolve_as_of(date(2025, 5, 1)) == date(2025, 5, 1)
    schema = BackfillParameters.model_json_schema()
    assert schema["properties"]["targets"]["default"] == ["features", "score"]
    assert schema["properties"]["max_concurrency"]["maximum"] == 8


def test_a_job_counts_as_done_only_on_the_same_data_and_models(warehouse_url):
    engine = get_engine(warehouse_url)
    day = date(2025, 12, 31)
    versions = {"cvp-churn": "1", "cvp-clv": "1"}
    with audited(engine, "score", "pytest", {"as_of": day.isoformat()}) as record:
        record.data_fingerprint = "abc"
        record.model_versions = versions
    with pytest.raises(RuntimeError), audited(engine, "score", "pytest", {"as_of": "2025-12-24"}):
        raise RuntimeError("a failed run is not done")
    assert job_done(engine, "score", day, "abc", model_versions=versions)
    assert not job_done(engine, "score", day, "changed-data", model_versions=versions)
    assert not job_done(engine, "score", day, "abc", model_versions={**versions, "cvp-clv": "2"})
    assert not job_done(engine, "score", date(2025, 12, 24), "abc")
    assert not job_done(engine, "plan", day, "abc")
    assert not job_done(engine, "score", day, "abc", {"budget": 5.0})
