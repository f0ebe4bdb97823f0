"""Credentials of the servers `cvp server up` starts, and the rule that keeps doors closed.

On 127.0.0.1 only this machine's users reach the servers, so they may run open. Bound to any
other address (`cvp server up --host 0.0.0.0`), anyone on the network could read every run and
start flows, so both servers must require credentials, and `cvp server up` refuses to start
without them:

- Prefect: the server checks an HTTP basic-auth string (`PREFECT_SERVER_API_AUTH_STRING`,
  "user:password"); clients send the same string as `PREFECT_API_AUTH_STRING`.
- MLflow: the `basic-auth` app (`mlflow server --app-name basic-auth`), whose admin account is
  created from `MLFLOW_AUTH_ADMIN_USERNAME` / `MLFLOW_AUTH_ADMIN_PASSWORD` on first start;
  clients send `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`.

Secrets come from the environment or from a git-ignored secrets file (`[server] secrets_file`,
`KEY=value` lines, readable by its owner only), never from `cvp.toml`: the environment wins.
When credentials are present they are used on loopback too.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from secrets import token_hex

from sqlalchemy.engine import make_url

from cvp.config import ServerSettings
from cvp.errors import BadInput, JobRefused

PREFECT_SERVER_AUTH = "PREFECT_SERVER_API_AUTH_STRING"
PREFECT_CLIENT_AUTH = "PREFECT_API_AUTH_STRING"
MLFLOW_ADMIN_USER = "MLFLOW_AUTH_ADMIN_USERNAME"
MLFLOW_ADMIN_PASSWORD = "MLFLOW_AUTH_ADMIN_PASSWORD"
POSTGRES_PASSWORD = "PGPASSWORD"  # libpq's variable: psycopg and asyncpg both read it


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may resolve to anything
        return False


def client_host(host: str) -> str:
    """The address a client on this machine uses for a server bound to `host`."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


@dataclass(frozen=True)
class ServerSecrets:
    """The servers' credentials; each None when not configured."""

    prefect_auth_string: str | None
    mlflow_user: str | None
    mlflow_password: str | None
    postgres_password: str | None = None

    @property
    def prefect(self) -> bool:
        return bool(self.prefect_auth_string)

    @property
    def mlflow(self) -> bool:
        return bool(self.mlflow_user and self.mlflow_password)

    def server_environment(self) -> dict[str, str]:
        """Variables for the server processes (and the worker, which is a Prefect client)."""
        env: dict[str, str] = {}
        if self.prefect_auth_string:
            env[PREFECT_SERVER_AUTH] = self.prefect_auth_string
            env[PREFECT_CLIENT_AUTH] = self.prefect_auth_string
        if self.mlflow_user and self.mlflow_password:
            env[MLFLOW_ADMIN_USER] = self.mlflow_user
            env[MLFLOW_ADMIN_PASSWORD] = self.mlflow_password
            env["MLFLOW_TRACKING_USERNAME"] = self.mlflow_user
            env["MLFLOW_TRACKING_PASSWORD"] = self.mlflow_password
        if self.postgres_password:
            env[POSTGRES_PASSWORD] = self.postgres_password
        return env


def _read_secrets_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BadInput(f"{path} is readable by other users: run `chmod 600 {path}`")
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise BadInput(f"{path}:{number}: expected KEY=value")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def load_server_secrets(
    server: ServerSettings, environ: Mapping[str, str] | None = None
) -> ServerSecrets:
    """Credentials from the environment, else from the secrets file."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    from_file = _read_secrets_file(server.secrets_file)

    def value(key: str) -> str | None:
        return env.get(key) or from_file.get(key) or None

    return ServerSecrets(
        value(PREFECT_SERVER_AUTH),
        value(MLFLOW_ADMIN_USER),
        value(MLFLOW_ADMIN_PASSWORD),
        value(POSTGRES_PASSWORD),
    )


def flask_secret_key(state_dir: Path) -> str:
    """The MLflow auth app's CSRF signing key: made once, kept private in the server state."""
    path = state_dir / "mlflow_flask_secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(token_hex(32))
    return path.read_text().strip()


def password_in_url(url: str) -> bool:
    """True when a database URL carries its password (then it sits in a file under git)."""
    return make_url(url).password is not None


def refuse_open_doors(server: ServerSettings, secrets: ServerSecrets) -> None:
    """Raise, in one line, when the servers would be reachable beyond loopback without auth."""
    if server.backend == "postgresql" and password_in_url(server.postgres_url):
        raise JobRefused(
            "[server] postgres_url carries a password: remove it and set PGPASSWORD in the "
            f"environment or in {server.secrets_file} (chmod 600)"
        )
    if is_loopback(server.host):
        return
    missing = []
    if not secrets.prefect:
        missing.append(PREFECT_SERVER_AUTH)
    if not secrets.mlflow:
        missing.append(f"{MLFLOW_ADMIN_USER} and {MLFLOW_ADMIN_PASSWORD}")
    if missing:
        raise JobRefused(
            f"refusing to bind the servers to {server.host} without authentication: set "
            + "; ".join(missing)
            + f" in the environment or in {server.secrets_file} (chmod 600)"
        )
