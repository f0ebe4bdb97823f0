"""Flow: synthetic data into the warehouse (or landing files)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import flow

from cvp.data.synthetic import GeneratorConfig
from cvp.jobs.data_jobs import GenerateResult
from tasks.data import generate_task, init_task


@flow(name="generate", log_prints=True)
def generate_flow(
    customers: int = 20_000,
    seed: int = 7,
    start: date = date(2024, 1, 1),
    end: date = date(2025, 12, 31),
    inject_errors: bool = False,
    export_dir: Path | None = None,
    drift_date: date | None = None,
    activity_shift_date: date | None = None,
    activity_shift_factor: float = 0.6,
) -> GenerateResult:
    init_task()
    config = GeneratorConfig(
        customers=customers,
        seed=seed,
        start=start,
        end=end,
        inject_errors=inject_errors,
        drift_date=drift_date,
        activity_shift_date=activity_shift_date,
        activity_shift_factor=activity_shift_factor,
    )
    return generate_task(config, export_dir)
