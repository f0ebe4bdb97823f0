"""Where a `cvp` command's Prefect runs go, decided once per process before Prefect is imported.

A newcomer's machine has an empty Prefect home and no server. Prefect then starts a temporary
("ephemeral") API server for every process, whose first start creates and migrates a SQLite
database; with Prefect's 20 s default start timeout that failed by chance on a loaded 2-core
machine. So, in this order:

1. `PREFECT_API_URL` set by the user: use it, touch nothing else.
2. A Prefect server started by `cvp server up` is healthy: point `PREFECT_API_URL` at it, so the
   command's runs show in its UI and no temporary server is started (the fast path).
3. Otherwise a temporary server, with its state kept inside the project (`prefect.home`,
   `.cvp/prefect`) unless `PREFECT_HOME` is set, and a start timeout from `cvp.toml` that a
   loaded machine does not hit. (Skipping the server's migration check on later starts was
   measured: about 5% of the start's CPU, not worth a database that can fall out of step.)

In every case the platform's loggers are named among Prefect's extra loggers, so what `cvp`
logs inside a flow or task run shows on its run page (`cvp.orchestration.run_logging`).

No Prefect import here: `prefect.settings` reads the environment when Prefect is first imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cvp.config import Settings
from cvp.orchestration.run_logging import prefect_logging_environment

Mode = Literal["external", "server", "ephemeral"]


@dataclass(frozen=True)
class PrefectTarget:
    """What `configure_prefect` decided, for the one line the CLI prints."""

    mode: Mode
    api_url: str | None
    home: Path | None
    startup_timeout_s: float

    def describe(self) -> str:
        if self.mode == "external":
            return f"Prefect API {self.api_url} (PREFECT_API_URL)"
        if self.mode == "server":
            return f"Prefect server {self.api_url} (cvp server up)"
        return (
            f"starting a temporary Prefect API server (state in {self.home}, up to "
            f"{self.startup_timeout_s:.0f} s; `cvp server up` makes every command start faster)"
        )


def configure_prefect(settings: Settings, environ: dict[str, str] | None = None) -> PrefectTarget:
    """Set the Prefect variables of this process (or of `environ`, for a child process)."""
    env = os.environ if environ is None else environ
    prefect_logging_environment(env)
    timeout = settings.prefect.ephemeral_startup_timeout_s
    if env.get("PREFECT_API_URL"):
        return PrefectTarget("external", env["PREFECT_API_URL"], None, timeout)
    from cvp.orchestration.servers import running_prefect_api

    api = running_prefect_api(settings)
    if api is not None:
        env["PREFECT_API_URL"] = api
        from cvp.orchestration.auth import PREFECT_CLIENT_AUTH, load_server_secrets

        secrets = load_server_secrets(settings.server, env)
        if secrets.prefect_auth_string and not env.get(PREFECT_CLIENT_AUTH):
            env[PREFECT_CLIENT_AUTH] = secrets.prefect_auth_string
        return PrefectTarget("server", api, None, timeout)
    if not env.get("PREFECT_HOME"):
        env["PREFECT_HOME"] = str(settings.prefect.home.resolve())
    home = Path(env["PREFECT_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", str(int(timeout)))
    return PrefectTarget("ephemeral", None, home, timeout)
