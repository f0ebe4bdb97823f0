"""Thin Prefect tasks around the data jobs: retries on I/O, artifacts for the UI."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from cvp.config import get_settings
from cvp.data.ingest import IngestReport, ReadOptions
from cvp.data.synthetic import GeneratorConfig
from cvp.jobs.data_jobs import GenerateResult, run_generate, run_ingest
from cvp.jobs.setup import InitResult, initialise
from cvp.progress import stage
from tasks.retry import retry_transient


@task(name="init", retries=2, retry_delay_seconds=[1, 2], retry_condition_fn=retry_transient)
def init_task() -> InitResult:
    with stage("Preparing the warehouse, MLflow store and expectations"):
        return initialise(get_settings())


@task(name="generate")
def generate_task(config: GeneratorConfig, export_dir: Path | None) -> GenerateResult:
    with stage(f"Generating {config.customers:,} synthetic customers"):
        result = run_generate(get_settings(), config, export_dir)
    create_table_artifact(
        key="generated-rows",
        table=[{"table": k, "rows": v} for k, v in result.row_counts.items()],
        description=f"Synthetic data, seed {config.seed}, fingerprint {result.fingerprint[:12]}",
    )
    return result


@task(name="ingest")
def ingest_task(
    table: str,
    path: Path,
    mapping: dict[str, str],
    header: bool | None,
    options: ReadOptions | None = None,
) -> IngestReport:
    with stage(f"Importing {table} from {path.name}"):
        report = run_ingest(get_settings(), table, path, mapping, header, options)
    lines = [
        f"# Ingest {table} from `{path.name}`",
        "",
        "| rows read | inserted | already present | quarantined |",
        "|---|---|---|---|",
        f"| {report.rows_read} | {report.inserted} | {report.already_present} "
        f"| {report.quarantined_rows} |",
    ]
    if not report.issues.empty:
        summary = report.issue_summary()
        lines += ["", "| column | reason | rows |", "|---|---|---|"]
        lines += [f"| {r.column_name} | {r.reason} | {r.rows} |" for r in summary.itertuples()]
    create_markdown_artifact(key=f"ingest-{table.replace('_', '-')}", markdown="\n".join(lines))
    return report
