"""`cvp server up|status|down` and `cvp deploy`: the Prefect server, the MLflow tracking server
and a Prefect process worker as background processes on 127.0.0.1, with pid files and logs in
`server.state_dir`. Both servers keep their state in SQLite files there or in PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from cvp.config import ServerSettings, Settings
from cvp.orchestration.auth import (
    ServerSecrets,
    client_host,
    flask_secret_key,
    load_server_secrets,
    refuse_open_doors,
)
from cvp.orchestration.run_logging import prefect_logging_environment
from cvp.progress import stage

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PREFECT_YAML = PROJECT_ROOT / "infra" / "prefect.yaml"
SERVICES = ("prefect", "mlflow", "worker")
DASK_SERVICES = ("dask-scheduler", "dask-worker")  # with `--workers N`; always on 127.0.0.1
WORK_POOL = "cvp-process"  # the pool every deployment in infra/prefect.yaml names


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def prefect_api_url(server: ServerSettings) -> str:
    return f"http://{client_host(server.host)}:{server.prefect_port}/api"


def mlflow_url(server: ServerSettings) -> str:
    return f"http://{client_host(server.host)}:{server.mlflow_port}"


def _postgres_database_url(server: ServerSettings, database: str, driver: str) -> str:
    url = make_url(server.postgres_url).set(drivername=f"postgresql+{driver}", database=database)
    return url.render_as_string(hide_password=False)


def ensure_postgres_database(server: ServerSettings, database: str) -> None:
    """CREATE DATABASE if missing (it cannot run inside a transaction, hence AUTOCOMMIT)."""
    admin = sa.create_engine(
        _postgres_database_url(server, "postgres", "psycopg"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
            ).scalar()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    finally:
        admin.dispose()


def backend_urls(settings: Settings) -> tuple[str, str]:
    """(Prefect server database URL with its async driver, MLflow backend store URI)."""
    server = settings.server
    if server.backend == "postgresql":
        return (
            _postgres_database_url(server, server.prefect_database, "asyncpg"),
            _postgres_database_url(server, server.mlflow_database, "psycopg"),
        )
    state = server.state_dir.resolve()
    tracking = settings.mlflow_tracking_uri
    if tracking.startswith("sqlite:"):  # the embedded store: the server shows the same runs
        mlflow_store = f"sqlite:///{Path(make_url(tracking).database or '').resolve()}"
    else:
        mlflow_store = f"sqlite:///{state / 'mlflow.db'}"
    return f"sqlite+aiosqlite:///{state / 'prefect.db'}", mlflow_store


@dataclass
class ServiceStatus:
    name: str
    pid: int | None
    running: bool
    healthy: bool
    url: str | None
    log: Path


def _pid_file(server: ServerSettings, name: str) -> Path:
    return server.state_dir / f"{name}.pid"


def _log_file(server: ServerSettings, name: str) -> Path:
    return server.state_dir / f"{name}.log"


def _read_pid(server: ServerSettings, name: str) -> int | None:
    path = _pid_file(server, name)
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited child not yet reaped) is not running
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, IndexError):
        return True


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


def running_prefect_api(settings: Settings) -> str | None:
    """The API URL of the Prefect server `cvp server up` started, if it is up and healthy.

    Every `cvp` command asks this first, so its runs land on that server without the user
    exporting `PREFECT_API_URL`. Cheap when nothing runs: a missing pid file, no HTTP call."""
    if _read_pid(settings.server, "prefect") is None:
        return None
    api = prefect_api_url(settings.server)
    return api if _http_ok(api + "/health") else None


def services(settings: Settings) -> tuple[str, ...]:
    """What `up` starts: the servers and the Prefect worker, and Dask when workers are asked."""
    return SERVICES + (DASK_SERVICES if settings.server.dask_workers > 0 else ())


def dask_scheduler_address(server: ServerSettings) -> str:
    # Dask's scheduler has no authentication of its own: it stays on loopback whatever `host`
    return f"tcp://127.0.0.1:{server.dask_port}"


def running_dask_scheduler(settings: Settings) -> str | None:
    """The address of the scheduler `cvp server up --workers N` started, if it runs."""
    if _read_pid(settings.server, "dask-scheduler") is None:
        return None
    return dask_scheduler_address(settings.server)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def _health_url(settings: Settings, name: str) -> str | None:
    server = settings.server
    if name == "prefect":
        return prefect_api_url(server) + "/health"
    if name == "mlflow":
        return mlflow_url(server) + "/health"
    return None


def _answers(settings: Settings, name: str) -> bool:
    """The service's own health check: HTTP for the servers, the port for the Dask scheduler
    (it speaks Dask's protocol, not HTTP), nothing for the workers (a live pid is all)."""
    if name == "dask-scheduler":
        return _port_open(settings.server.dask_port)
    url = _health_url(settings, name)
    return url is None or _http_ok(url)


def _shown_url(settings: Settings, name: str) -> str | None:
    if name == "dask-scheduler":
        return dask_scheduler_address(settings.server)
    url = _health_url(settings, name)
    return url.removesuffix("/api/health").removesuffix("/health") if url else None


def _environment(settings: Settings, secrets: ServerSecrets) -> dict[str, str]:
    server = settings.server
    prefect_db, _ = backend_urls(settings)
    env = {
        **os.environ,
        **secrets.server_environment(),
        "PREFECT_API_URL": prefect_api_url(server),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_db,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "MLFLOW_ENABLE_TELEMETRY": "false",
        "DO_NOT_TRACK": "true",
        # flow runs started by the worker log to the tracking server
        "CVP_MLFLOW_TRACKING_URI": mlflow_url(server),
        "PREFECT_WORKER_QUERY_SECONDS": os.environ.get("PREFECT_WORKER_QUERY_SECONDS", "5"),
    }
    prefect_logging_environment(env)  # flow runs' `cvp` log lines on their run pages
    return env


def _command(settings: Settings, name: str, secrets: ServerSecrets) -> list[str]:
    server = settings.server
    if name == "prefect":
        return [
            _bin("prefect"),
            "server",
            "start",
            "--host",
            server.host,
            "--port",
            str(server.prefect_port),
        ]
    if name == "mlflow":
        _, store = backend_urls(settings)
        artifacts = str(settings.mlflow_artifact_root)
        if "://" not in artifacts:
            artifacts = str(Path(artifacts).resolve())
        return [
            _bin("mlflow"),
            "server",
            "--backend-store-uri",
            store,
            "--artifacts-destination",
            artifacts,
            "--host",
            server.host,
            "--port",
            str(server.mlflow_port),
            "--workers",
            "1",
            *(["--app-name", "basic-auth"] if secrets.mlflow else []),
        ]
    if name == "dask-scheduler":
        return [
            _bin("dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(server.dask_port),
            "--no-dashboard",
        ]
    if name == "dask-worker":
        return [
            _bin("dask"),
            "worker",
            dask_scheduler_address(server),
            "--nworkers",
            str(server.dask_workers),
            "--nthreads",
            "1",
            "--host",
            "127.0.0.1",
            "--no-dashboard",
            "--local-directory",
            str((server.state_dir / "dask").resolve()),
        ]
    return [_bin("prefect"), "worker", "start", "--pool", WORK_POOL, "--type", "process"]


def status(settings: Settings) -> list[ServiceStatus]:
    server = settings.server
    found = []
    names = services(settings)
    if any(_read_pid(server, name) is not None for name in DASK_SERVICES):
        names = SERVICES + DASK_SERVICES  # started earlier with --workers: show them
    for name in names:
        pid = _read_pid(server, name)
        healthy = pid is not None and _answers(settings, name)
        shown = _shown_url(settings, name)
        found.append(
            ServiceStatus(name, pid, pid is not None, healthy, shown, _log_file(server, name))
        )
    return found


def _wait_healthy(settings: Settings, name: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + settings.server.startup_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{name} exited with code {process.returncode}; see {_log_file(settings.server, name)}"
            )
        if _answers(settings, name):
            return
        time.sleep(0.5)
    raise TimeoutError(
        f"{name} not healthy at {_shown_url(settings, name)} after {settings.server.startup_timeout_s:.0f} s; "
        f"see {_log_file(settings.server, name)}"
    )


def _mlflow_auth_config(settings: Settings) -> Path:
    """The basic-auth app's config: its user database beside the other server state."""
    state = settings.server.state_dir.resolve()
    path = state / "mlflow_auth.ini"
    path.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{state / 'mlflow_auth.db'}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    return path


def up(settings: Settings) -> list[ServiceStatus]:
    """Start whatever is not running yet, in order, each healthy before the next starts.

    Refuses (one line) to bind beyond loopback without credentials (`cvp/orchestration/auth.py`);
    with credentials configured, both servers require them on any address."""
    server = settings.server
    secrets = load_server_secrets(server)
    refuse_open_doors(server, secrets)
    server.state_dir.mkdir(parents=True, exist_ok=True)
    if server.backend == "postgresql":
        ensure_postgres_database(server, server.prefect_database)
        ensure_postgres_database(server, server.mlflow_database)
    env = _environment(settings, secrets)
    if secrets.mlflow:
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(_mlflow_auth_config(settings))
        env.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", flask_secret_key(server.state_dir))
    for name in services(settings):
        if _read_pid(server, name) is not None:
            continue
        kind = "server" if name in ("prefect", "mlflow", "dask-scheduler") else "process"
        with stage(f"Starting the {name} {kind}"):
            with _log_file(server, name).open("ab") as log:
                process = subprocess.Popen(
                    _command(settings, name, secrets),
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group: `down` stops its children
                )
            _pid_file(server, name).write_text(str(process.pid))
            _wait_healthy(settings, name, process)
    return status(settings)


def down(settings: Settings, timeout_s: float = 20.0) -> list[str]:
    """Stop the worker first, then the servers; SIGTERM to each process group, then SIGKILL."""
    stopped = []
    for name in reversed(SERVICES + DASK_SERVICES):
        pid = _read_pid(settings.server, name)
        if pid is not None:
            _stop_group(pid, timeout_s)
            stopped.append(name)
        _pid_file(settings.server, name).unlink(missing_ok=True)
    return stopped


def _stop_group(pid: int, timeout_s: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.2)


def deploy(settings: Settings) -> subprocess.CompletedProcess:
    """Apply `infra/prefect.yaml` to the server: every deployment, on the `cvp-process` pool.

    Runs from the project root, so Prefect records it as the flow runs' working directory."""
    env = {
        **os.environ,
        **load_server_secrets(settings.server).server_environment(),
        "PREFECT_API_URL": os.environ.get("PREFECT_API_URL") or prefect_api_url(settings.server),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    subprocess.run(
        [_bin("prefect"), "work-pool", "create", WORK_POOL, "--type", "process"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )  # fails harmlessly when the pool exists
    return subprocess.run(
        [
            _bin("prefect"),
            "--no-prompt",
            "deploy",
            "--all",
            "--prefect-file",
            str(PREFECT_YAML),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
