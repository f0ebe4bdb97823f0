"""Generation and ingestion jobs, with their audit rows and MLflow runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd

from cvp.audit import audited
from cvp.config import Settings
from cvp.data import schema
from cvp.data.fingerprint import warehouse_fingerprint
from cvp.data.ingest import IngestReport, ReadOptions, ingest_source, read_source, source_name
from cvp.data.landing import export_landing
from cvp.data.load import load_dataset, pseudonymise_frame
from cvp.data.pseudonym import Pseudonymiser, load_key
from cvp.data.synthetic import GeneratorConfig, generate
from cvp.data.warehouse import get_engine, write_frame
from cvp.experiments.tracking import tracked_run

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
    engine = get_engine(settings.warehouse_url)
    pseudonymiser = Pseudonymiser(load_key(settings))
    params = {
        "customers": config.customers,
        "seed": config.seed,
        "start": config.start.isoformat(),
        "end": config.end.isoformat(),
        "inject_errors": config.inject_errors,
        "export_dir": str(export_dir) if export_dir else None,
    }
    with (
        audited(engine, "generate", settings.operator, params) as audit,
        tracked_run(settings, DATA_EXPERIMENT, "generate", {"cvp.command": "generate"}) as run,
    ):
        audit.mlflow_run_id = run.info.run_id
        mlflow.log_params(params)
        dataset = generate(config)
        landing: dict[str, Path] = {}
        with engine.begin() as conn:
            if export_dir is None:
                counts = load_dataset(conn, dataset, pseudonymiser)
            else:
                malformed = max(3, config.customers // 1000) if config.inject_errors else 0
                landing = export_landing(dataset, export_dir, malformed, config.seed)
                counts = dataset.row_counts()
                _replace_ground_truth(conn, dataset.ground_truth, pseudonymiser)
        with engine.connect() as conn:
            fingerprint, _ = warehouse_fingerprint(conn)
        audit.data_fingerprint = fingerprint
        mlflow.log_metrics({f"rows_{name}": value for name, value in counts.items()})
        mlflow.set_tag("cvp.data_fingerprint", fingerprint)
        return GenerateResult(counts, fingerprint, run.info.run_id, landing)


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
    engine = get_engine(settings.warehouse_url)
    pseudonymiser = Pseudonymiser(load_key(settings))
    params = {"table": table, "path": str(path), **options.as_params()}
    with (
        audited(engine, "ingest", settings.operator, params) as audit,
        tracked_run(settings, DATA_EXPERIMENT, f"ingest {table}", {"cvp.command": "ingest"}) as run,
    ):
        audit.mlflow_run_id = run.info.run_id
        mlflow.log_params({"table": table, "file": path.name, **options.as_params()})
        with engine.begin() as conn:
            report = ingest_source(conn, source, source_name(table, path), pseudonymiser, settings)
        with engine.connect() as conn:
            fingerprint, _ = warehouse_fingerprint(conn)
        audit.data_fingerprint = fingerprint
        if report.warnings:
            audit.notes["warnings"] = report.warnings
        mlflow.log_metrics(report.as_metrics())
        mlflow.set_tags({"cvp.data_fingerprint": fingerprint, "cvp.source": report.source})
        if not report.issues.empty:
            mlflow.log_table(report.issue_summary(), artifact_file="quarantine_summary.json")
        return report
