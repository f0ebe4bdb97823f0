"""No open doors: `cvp server up` beyond loopback requires credentials, and with them both real
servers refuse an unauthenticated call and accept an authenticated one."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cvp.config import ServerSettings
from cvp.errors import BadInput, JobRefused
from cvp.orchestration.auth import (
    ServerSecrets,
    client_host,
    is_loopback,
    load_server_secrets,
    refuse_open_doors,
)
from cvp.orchestration.servers import WORK_POOL
from tests.conftest import CVP, cvp_env, free_port, make_settings

NO_SECRETS = ServerSecrets(None, None, None)
ALL_SECRETS = ServerSecrets("ops:prefect-secret", "admin", "mlflow-secret-1")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("10.1.2.3", False), ("::", False), ("cvp.example.org", False)],
)  # fmt: skip
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


def test_clients_reach_a_wildcard_bind_on_loopback():
    assert client_host("0.0.0.0") == "127.0.0.1" and client_host("10.1.2.3") == "10.1.2.3"


def test_loopback_runs_open_and_anything_else_needs_both_credentials(tmp_path):
    secrets_file = tmp_path / "servers.env"
    refuse_open_doors(ServerSettings(secrets_file=secrets_file), NO_SECRETS)
    wide = ServerSettings(host="0.0.0.0", secrets_file=secrets_file)
    with pytest.raises(JobRefused, match="PREFECT_SERVER_API_AUTH_STRING.*MLFLOW_AUTH_ADMIN"):
        refuse_open_doors(wide, NO_SECRETS)
    with pytest.raises(JobRefused, match="MLFLOW_AUTH_ADMIN_USERNAME") as refused:
        refuse_open_doors(wide, ServerSecrets("a:b", None, None))
    assert "PREFECT_SERVER_API_AUTH_STRING" not in str(refused.value)
    refuse_open_doors(wide, ALL_SECRETS)


def test_a_postgres_password_in_the_config_is_refused_on_any_host(tmp_path):
    server = ServerSettings(
        backend="postgresql",
        postgres_url="postgresql://cvp:hunter2@db:5432",
        secrets_file=tmp_path / "servers.env",
    )
    with pytest.raises(JobRefused, match="postgres_url carries a password.*PGPASSWORD"):
        refuse_open_doors(server, ALL_SECRETS)


def test_secrets_come_from_the_environment_first_then_a_private_file(tmp_path):
    path = tmp_path / "servers.env"
    path.write_text(
        "# credentials\nPREFECT_SERVER_API_AUTH_STRING=ops:from-file\n"
        "MLFLOW_AUTH_ADMIN_USERNAME=admin\nMLFLOW_AUTH_ADMIN_PASSWORD='file-pass'\n"
    )
    path.chmod(0o600)
    server = ServerSettings(secrets_file=path)
    secrets = load_server_secrets(server, {"MLFLOW_AUTH_ADMIN_PASSWORD": "env-pass"})
    assert secrets == ServerSecrets("ops:from-file", "admin", "env-pass", None)
    assert secrets.server_environment()["PREFECT_API_AUTH_STRING"] == "ops:from-file"
    path.chmod(0o644)
    with pytest.raises(BadInput, match="chmod 600"):
        load_server_secrets(server, {})


def _project_env(root: Path, extra: dict[str, str]) -> dict[str, str]:
    """A `cvp` environment of its own: no inherited CVP_/PREFECT_/MLFLOW_ variables."""
    return cvp_env(
        make_settings(root, f"duckdb:///{root / 'warehouse.duckdb'}"),
        root,
        isolate=("CVP_", "PREFECT_", "MLFLOW_"),
        CVP_SERVER__PREFECT_PORT=str(free_port()),
        CVP_SERVER__MLFLOW_PORT=str(free_port()),
        CVP_SERVER__DASK_PORT=str(free_port()),
        CVP_SERVER__STATE_DIR=str(root / "servers"),
        CVP_SERVER__SECRETS_FILE=str(root / "servers.env"),
        PREFECT_HOME=str(root / "prefect-home"),
        **extra,
    )


def _cvp(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CVP, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_server_up_beyond_loopback_without_credentials_starts_nothing(tmp_path):
    env = _project_env(tmp_path, {})
    refused = _cvp(["server", "up", "--host", "0.0.0.0"], env)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "PREFECT_SERVER_API_AUTH_STRING" in lines[0], refused.stderr
    assert "Traceback" not in refused.stderr
    assert not list((tmp_path / "servers").glob("*.pid"))


def _call(
    url: str, auth: tuple[str, str] | None = None, body: dict | None = None
) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


def _status(url: str, auth: tuple[str, str] | None = None, body: dict | None = None) -> int:
    return _call(url, auth, body)[0]


def _workers(prefect: str, auth: tuple[str, str]) -> list:
    """The process workers that reached the API (each heartbeat needs the credentials)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        code, found = _call(f"{prefect}/work_pools/{WORK_POOL}/workers/filter", auth, body={})
        if code == 200 and found:
            return list(found)  # type: ignore[call-overload]
        time.sleep(2)
    return []


@pytest.mark.slow
def test_servers_beyond_loopback_refuse_anonymous_calls_and_accept_credentials(tmp_path):
    """Both real servers bound to 0.0.0.0 with credentials from the environment; the Dask
    scheduler and two workers beside them stay on 127.0.0.1 (Dask has no authentication)."""
    env = _project_env(
        tmp_path,
        {
            "PREFECT_SERVER_API_AUTH_STRING": "ops:prefect-secret",
            "MLFLOW_AUTH_ADMIN_USERNAME": "admin",
            "MLFLOW_AUTH_ADMIN_PASSWORD": "mlflow-secret-1",
        },
    )
    prefect = f"http://127.0.0.1:{env['CVP_SERVER__PREFECT_PORT']}/api"
    mlflow = f"http://127.0.0.1:{env['CVP_SERVER__MLFLOW_PORT']}"
    up = _cvp(["server", "up", "--host", "0.0.0.0", "--workers", "2"], env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        flows = f"{prefect}/flows/filter"
        assert _status(flows, body={}) == 401
        assert _status(flows, ("ops", "wrong"), body={}) == 401
        assert _status(flows, ("ops", "prefect-secret"), body={}) == 200
        assert _status(f"{prefect}/health") == 200  # probes stay open, as Prefect documents
        experiments = f"{mlflow}/api/2.0/mlflow/experiments/search?max_results=1"
        assert _status(experiments) == 401
        assert _status(experiments, ("admin", "wrong")) == 401
        assert _status(experiments, ("admin", "mlflow-secret-1")) == 200
        assert _workers(prefect, ("ops", "prefect-secret")), "the worker never reached the API"
        status = _cvp(["server", "status"], env)
        assert status.returncode == 0 and status.stdout.count("healthy") == 5, status.stdout
        from distributed import Client  # the Dask scheduler and workers, on loopback only

        scheduler = f"tcp://127.0.0.1:{env['CVP_SERVER__DASK_PORT']}"
        with Client(scheduler, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            workers = client.scheduler_info()["workers"]
        assert len(workers) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in workers)
    finally:
        down = _cvp(["server", "down"], env)
        assert down.returncode == 0, down.stdout + down.stderr
        assert "dask-worker" in down.stdout and "dask-scheduler" in down.stdout
