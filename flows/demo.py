"""Flow: everything that exists, end to end, on synthetic data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import flow

from cvp.data.landing import landing_mapping
from cvp.data.synthetic import GeneratorConfig
from cvp.jobs.training_jobs import TrainingConfig
from tasks.data import generate_task, ingest_task, init_task
from tasks.features import features_task
from tasks.reporting import report_task
from tasks.scoring import plan_task, score_task
from tasks.training import train_task
from tasks.validation import validate_task

# import order matters: customers first, so every other file is checked against them
IMPORT_ORDER = (
    "customers",
    "transactions",
    "subscriptions",
    "events",
    "support_tickets",
    "surveys",
    "marketing_touches",
    "consent",
)


@flow(name="demo", log_prints=True)
def demo_flow(
    customers: int = 20_000,
    seed: int = 7,
    start: date = date(2024, 1, 1),
    end: date = date(2025, 12, 31),
    landing_dir: Path = Path("data/landing"),
    trials: int = 10,
    budget: float = 10_000.0,
) -> dict:
    init = init_task()
    generated = generate_task(
        GeneratorConfig(customers=customers, seed=seed, start=start, end=end), landing_dir
    )
    reports = {
        table: ingest_task(table, generated.landing_files[table], landing_mapping(table), True)
        for table in IMPORT_ORDER
    }
    validation = validate_task(end, None)
    features = features_task(end)
    trained = train_task(TrainingConfig(as_of=end, trials=trials, seed=seed))
    scored = score_task(end)
    planned = plan_task(end, budget)
    report = report_task(end, command="plan")
    return {
        "trained": trained,
        "scored": scored,
        "planned": planned,
        "report": report,
        "init": init,
        "generated": generated,
        "ingested": reports,
        "validation": validation,
        "features": features,
    }
