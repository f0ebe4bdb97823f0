"""Shared fixtures. Integration tests run against DuckDB and the local PostgreSQL, each test in
its own database file or schema, so tests never see each other's rows.

`CVP_WAREHOUSE_URL` set to a PostgreSQL URL runs the warehouse tests on that server only.

Markers (see `make test-fast`):
- `postgres`: needs the PostgreSQL server; the `postgres` variant of `warehouse_url` and every
  test using `postgres_url` carry it. When the server does not answer, those tests are skipped
  with the reason (checked once per session), never errored.
- `slow`: trains models, starts a Prefect server or runs the `cvp` script. Tests using the
  `trained_warehouse` or `prefect_server` fixtures are marked automatically.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from cvp.config import Settings, reset_settings_cache
from cvp.data.migrate import upgrade_warehouse
from cvp.data.warehouse import dispose_engines, get_engine

if TYPE_CHECKING:
    from cvp.jobs.training_jobs import TrainingResult

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TEST_KEY = "test-pseudonym-key"
# fixtures whose users are slow by construction: they train models or start servers
SLOW_FIXTURES = ("trained_warehouse", "prefect_server")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if any(name in fixtures for name in SLOW_FIXTURES):
            item.add_marker(pytest.mark.slow)
        if "postgres_url" in fixtures:
            item.add_marker(pytest.mark.postgres)


def _backends() -> list[str]:
    configured = os.environ.get("CVP_WAREHOUSE_URL", "")
    if configured.startswith("postgresql"):
        return ["postgres"]
    if configured.startswith("duckdb"):
        return ["duckdb"]
    return ["duckdb", "postgres"]


def _backend_params() -> list:
    marks = {"duckdb": (), "postgres": (pytest.mark.postgres,)}
    return [pytest.param(name, marks=marks[name], id=name) for name in _backends()]


def _postgres_base() -> str:
    configured = os.environ.get("CVP_WAREHOUSE_URL", "")
    return configured if configured.startswith("postgresql") else DEFAULT_POSTGRES_URL


@functools.cache
def postgres_unavailable() -> str | None:
    """Why the test PostgreSQL cannot be used (None if it answers); asked once per session."""
    url = sa.make_url(_postgres_base())
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # refused, unknown host, no such database: all mean "not here"
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"PostgreSQL not reachable at {url.render_as_string(hide_password=True)} "
            f"({first_line}); start it or set CVP_WAREHOUSE_URL"
        )
    finally:
        engine.dispose()
    return None


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL on the test PostgreSQL whose search_path is a fresh schema, dropped afterwards;
    skips the calling test when the server does not answer."""
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    schema_name = f"cvp_test_{uuid.uuid4().hex[:10]}"
    base = sa.create_engine(_postgres_base())
    with base.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema_name}"'))
    try:
        yield f"{_postgres_base()}?options=-csearch_path%3D{schema_name}"
    finally:
        dispose_engines()
        with base.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema_name}" CASCADE'))
        base.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty schema on the test PostgreSQL (not migrated); the test is marked `postgres`."""
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=_backend_params())
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated warehouse of each backend."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
        upgrade_warehouse(get_engine(url))
        yield url
        dispose_engines()
        return
    with postgres_schema() as url:
        upgrade_warehouse(get_engine(url))
        yield url


CVP = str(Path(sys.executable).with_name("cvp"))  # the installed console script


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for servers a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cvp_env(
    settings: Settings,
    workdir: Path,
    *,
    isolate: tuple[str, ...] = ("CVP_",),
    base: Mapping[str, str] | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of a `cvp` process that uses `settings`' warehouse and stores and nothing
    of the developer's: no inherited variable starting with one of `isolate`, a config file that
    does not exist (so no `cvp.toml` is read), then `extra`.

    `base` is the environment to start from (default: this process's). A worker thread must pass
    a copy taken on the main thread: pytest sets and deletes `PYTEST_CURRENT_TEST` there, and
    reading `os.environ` while it does raises KeyError."""
    inherited = os.environ if base is None else base
    env = {k: v for k, v in inherited.items() if not k.startswith(isolate)}
    env.update(
        CVP_CONFIG_FILE=str(workdir / "absent.toml"),
        CVP_WAREHOUSE_URL=settings.warehouse_url,
        CVP_MLFLOW_TRACKING_URI=settings.mlflow_tracking_uri,
        CVP_MLFLOW_ARTIFACT_ROOT=str(settings.mlflow_artifact_root),
        CVP_EXPECTATIONS_DIR=str(settings.expectations_dir),
        COLUMNS="200",
    )
    if settings.pseudonym_key:
        env["CVP_PSEUDONYM_KEY"] = settings.pseudonym_key
    else:
        env["CVP_PSEUDONYM_KEY_FILE"] = str(settings.pseudonym_key_file)
    if settings.run_by:
        env["CVP_RUN_BY"] = settings.run_by
    env.update(extra)
    return env


def newcomer_settings(workdir: Path) -> Settings:
    """What a new user's project has: a DuckDB warehouse, a key file that `cvp init` creates,
    the login name as operator."""
    return make_settings(workdir, f"duckdb:///{workdir / 'wh.duckdb'}").model_copy(
        update={
            "pseudonym_key": None,
            "pseudonym_key_file": workdir / ".secrets" / "key",
            "run_by": None,
        }
    )


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
    export_settings(monkeypatch, settings)
    yield settings
    reset_settings_cache()


def export_settings(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Export `settings` as the CVP_* variables `get_settings()` reads (flows, tasks)."""
    monkeypatch.setenv("CVP_WAREHOUSE_URL", settings.warehouse_url)
    monkeypatch.setenv("CVP_MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    monkeypatch.setenv("CVP_MLFLOW_ARTIFACT_ROOT", str(settings.mlflow_artifact_root))
    monkeypatch.setenv("CVP_EXPECTATIONS_DIR", str(settings.expectations_dir))
    monkeypatch.setenv("CVP_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.setenv("CVP_RUN_BY", "pytest")
    reset_settings_cache()


TRAINED_AS_OF = date(2025, 12, 31)
TRAINED_CUSTOMERS, TRAINED_SEED, TRAINED_TRIALS = 8_000, 7, 6


@pytest.fixture(scope="session")
def trained_warehouse(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Settings, TrainingResult]]:
    """One DuckDB warehouse with 8,000 generated customers (seed 7) and churn and CLV models
    trained once per session as of 2025-12-31 (version 1 of each is champion).

    Shared by the training and scoring tests, which only read it, except that scoring adds
    scores and `test_worse_challenger_stays_challenger_with_reason` registers a version 2
    challenger (the champions stay version 1)."""
    from cvp.data.synthetic import GeneratorConfig
    from cvp.jobs.data_jobs import run_generate
    from cvp.jobs.training_jobs import TrainingConfig, run_train

    root = tmp_path_factory.mktemp("trained")
    settings = make_settings(root, f"duckdb:///{root / 'warehouse.duckdb'}")
    upgrade_warehouse(get_engine(settings.warehouse_url))
    run_generate(settings, GeneratorConfig(customers=TRAINED_CUSTOMERS, seed=TRAINED_SEED))
    result = run_train(settings, TrainingConfig(as_of=TRAINED_AS_OF, trials=TRAINED_TRIALS))
    yield settings, result
    dispose_engines()


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A real, temporary Prefect server for flow tests."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
