"""The production topology in `infra/compose.yaml` is well formed: every service has an image,
every published port binds to loopback, every volume is declared, no secret is written in it,
and the image builds the locked environment with the Makefile's uv. `docker compose config`
checks it too when the compose plugin is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

INFRA = Path(__file__).resolve().parents[1] / "infra"
COMPOSE = INFRA / "compose.yaml"
SECRET_WORDS = ("PASSWORD", "AUTH_STRING", "SECRET")
EXPECTED = {
    "postgres",
    "prefect-server",
    "prefect-worker",
    "mlflow",
    "dask-scheduler",
    "dask-worker",
}


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())  # resolves the `<<: *cvp` merges


def test_every_service_has_an_image_and_the_whole_stack_is_there():
    services = _compose()["services"]
    assert set(services) == EXPECTED
    for name, service in services.items():
        assert service.get("image"), name
        assert service.get("command") or name == "postgres", name


def test_published_ports_bind_to_loopback_only():
    published = 0
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
            published += 1
    assert published >= 4  # PostgreSQL, Prefect UI, MLflow UI, Dask dashboard


def test_every_volume_is_declared_and_every_bind_mount_exists():
    compose = _compose()
    declared = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (INFRA / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
                used.add(source)
    assert used == declared


def test_no_secret_is_written_in_the_file():
    for name, service in _compose()["services"].items():
        for key, value in service.get("environment", {}).items():
            if any(word in key for word in SECRET_WORDS) and key != "MLFLOW_AUTH_CONFIG_PATH":
                assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", str(value)), f"{name}: {key} is a literal"
        for part in re.findall(r"://[^@\s/]+@", str(service.get("command", ""))):
            assert ":" not in part.removeprefix("://"), f"{name} has a password in a URL"
    urls = re.findall(r"postgresql\+\w+://([^@]+)@", COMPOSE.read_text())
    for credentials in urls:
        password = credentials.partition(":")[2]
        assert not password or password.startswith("${"), credentials


def test_the_servers_require_credentials():
    services = _compose()["services"]
    assert "--app-name basic-auth" in services["mlflow"]["command"]
    assert "PREFECT_SERVER_API_AUTH_STRING" in services["prefect-server"]["environment"]
    assert "PREFECT_API_AUTH_STRING" in services["prefect-worker"]["environment"]


def test_the_image_installs_the_lock_with_the_makefiles_uv():
    dockerfile = (INFRA / "Dockerfile").read_text()
    makefile = (INFRA.parent / "Makefile").read_text()
    uv_version = re.search(r"UV_VERSION := (\S+)", makefile).group(1)
    assert f"uv=={uv_version}" in dockerfile
    assert "uv sync --frozen" in dockerfile


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="the docker compose plugin is not installed here; the checks above parse the file",
)
def test_docker_compose_accepts_the_file():
    env = {
        "POSTGRES_PASSWORD": "x",
        "PREFECT_AUTH_STRING": "u:p",
        "MLFLOW_ADMIN_PASSWORD": "x",
        "MLFLOW_FLASK_SECRET": "x",
        "PATH": "/usr/bin:/bin",
    }
    checked = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
