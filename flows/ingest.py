"""Flow: import one CSV or Parquet file into a raw table."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from cvp.data.ingest import IngestReport, ReadOptions
from tasks.data import ingest_task, init_task


@flow(name="ingest", log_prints=True)
def ingest_flow(
    table: str,
    path: Path,
    mapping: dict[str, str] | None = None,
    header: bool | None = None,
    options: ReadOptions | None = None,
) -> IngestReport:
    init_task()
    return ingest_task(table, path, mapping or {}, header, options)
