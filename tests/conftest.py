"""Shared fixtures. Integration tests run against DuckDB and the local PostgreSQL, each test in
its own database file or schema, so tests never see each other's rows.

`CVP_WAREHOUSE_URL` set to a PostgreSQL URL runs the warehouse tests on that server only.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cvp.config import Settings, reset_settings_cache
from cvp.data.migrate import upgrade_warehouse
from cvp.data.warehouse import dispose_engines, get_engine

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TEST_KEY = "test-pseudonym-key"


def _backends() -> list[str]:
    configured = os.environ.get("CVP_WAREHOUSE_URL", "")
    if configured.startswith("postgresql"):
        return ["postgres"]
    if configured.startswith("duckdb"):
        return ["duckdb"]
    return ["duckdb", "postgres"]


def _postgres_base() -> str:
    configured = os.environ.get("CVP_WAREHOUSE_URL", "")
    return configured if configured.startswith("postgresql") else DEFAULT_POSTGRES_URL


@pytest.fixture(params=_backends())
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated warehouse of each backend."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
        upgrade_warehouse(get_engine(url))
        yield url
        dispose_engines()
        return
    schema_name = f"cvp_test_{uuid.uuid4().hex[:10]}"
    base = sa.create_engine(_postgres_base())
    with base.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema_name}"'))
    url = f"{_postgres_base()}?options=-csearch_path%3D{schema_name}"
    upgrade_warehouse(get_engine(url))
    try:
        yield url
    finally:
        dispose_engines()
        with base.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema_name}" CASCADE'))
        base.dispose()


def make_settings(tmp_path: Path, warehouse_url: str) -> Settings:
    return Settings(
        warehouse_url=warehouse_url,
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}",
        mlflow_artifact_root=tmp_path / "mlruns" / "artifacts",
        expectations_dir=tmp_path / "expectations",
        pseudonym_key=TEST_KEY,
        run_by="pytest",
    )


@pytest.fixture
def settings(tmp_path: Path, warehouse_url: str) -> Settings:
    return make_settings(tmp_path, warehouse_url)


@pytest.fixture
def env_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The same settings exported as CVP_* variables, for code that reads get_settings()."""
    monkeypatch.setenv("CVP_WAREHOUSE_URL", settings.warehouse_url)
    monkeypatch.setenv("CVP_MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    monkeypatch.setenv("CVP_MLFLOW_ARTIFACT_ROOT", str(settings.mlflow_artifact_root))
    monkeypatch.setenv("CVP_EXPECTATIONS_DIR", str(settings.expectations_dir))
    monkeypatch.setenv("CVP_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.setenv("CVP_RUN_BY", "pytest")
    reset_settings_cache()
    yield settings
    reset_settings_cache()


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A real, temporary Prefect server for flow tests."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
