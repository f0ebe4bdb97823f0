"""Generation and ingestion jobs, with their audit rows and MLflow runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd

from cvp.config import Settings
from cvp.data import schema
from cvp.data.ingest import IngestReport, ReadOptions, ingest_source, read_source, source_name
from cvp.data.landing import export_landing
from cvp.data.load import load_dataset, pseudonymise_frame
from cvp.data.pseudonym import Pseudonymiser, load_key
from cvp.data.synthetic import GeneratorConfig, generate
from cvp.data.warehouse import write_frame
from cvp.jobs.context import open_job

DATA_EXPERIMENT = "data"


@dataclass
class GenerateResult:
    row_counts: dict[str, int]
    fingerprint: str
    mlflow_run_id: str
    landing_files: dict[str, Path] = field(default_factory=dict)


def run_generate(
    settings: Settings, config: GeneratorConfig, export_dir: Path | None = None
) -> GenerateResult:
    """Load a synthetic dataset into the warehouse, or write it as landing files to import."""
    pseudonymiser = Pseudonymiser(load_key(settings))
    params = {
        "customers": config.customers,
        "seed": config.seed,
        "start": config.start.isoformat(),
        "end": config.end.isoformat(),
        "inject_errors": config.inject_errors,
        "export_dir": str(export_dir) if export_dir else None,
        "drift_date": config.drift_date.isoformat() if config.drift_date else None,
        "activity_shift_date": (
            config.activity_shift_date.isoformat() if config.activity_shift_date else None
        ),
        "activity_shift_factor": config.activity_shift_factor,
    }
    with open_job(settings, "generate", params, experiment=DATA_EXPERIMENT) as job:
        mlflow.log_params(params)
        dataset = generate(config)
        landing: dict[str, Path] = {}
        with job.engine.begin() as conn:
            if export_dir is None:
                counts = load_dataset(conn, dataset, pseudonymiser)
            else:
                malformed = max(3, config.customers // 1000) if config.inject_errors else 0
                landing = export_landing(dataset, export_dir, malformed, config.seed)
                counts = dataset.row_counts()
                _replace_ground_truth(conn, dataset.ground_truth, pseudonymiser)
        fingerprint = job.refresh_fingerprint()
        mlflow.log_metrics({f"rows_{name}": value for name, value in counts.items()})
        return GenerateResult(counts, fingerprint, job.mlflow_run_id, landing)


def _replace_ground_truth(conn, truth: pd.DataFrame, pseudonymiser: Pseudonymiser) -> None:
    conn.execute(schema.ground_truth_customers.delete())
    write_frame(conn, schema.ground_truth_customers, pseudonymise_frame(truth, pseudonymiser))


def run_ingest(
    settings: Settings,
    table: str,
    path: Path,
    mapping: dict[str, str] | None = None,
    header: bool | None = None,
    options: ReadOptions | None = None,
) -> IngestReport:
    """Import one file; the whole file commits or nothing does (quarantine included). A file
    that cannot be read is refused (`IngestError`) before anything is written or tracked."""
    options = options or ReadOptions(mapping or {}, header)
    source = read_source(path, table, options)
    pseudonymiser = Pseudonymiser(load_key(settings))
    params = {"table": table, "path": str(path), **options.as_params()}
    with open_job(
        settings, "ingest", params, experiment=DATA_EXPERIMENT, run_name=f"ingest {table}"
    ) as job:
        mlflow.log_params({"table": table, "file": path.name, **options.as_params()})
        with job.engine.begin() as conn:
            report = ingest_source(conn, source, source_name(table, path), pseudonymiser, settings)
        job.refresh_fingerprint()
        if report.warnings:
            job.audit.notes["warnings"] = report.warnings
        mlflow.log_metrics(report.as_metrics())
        mlflow.set_tag("cvp.source", report.source)
        if not report.issues.empty:
            mlflow.log_table(report.issue_summary(), artifact_file="quarantine_summary.json")
        return report
