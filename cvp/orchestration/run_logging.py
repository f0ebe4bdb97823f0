"""The platform's log lines on the Prefect run page.

Everything `cvp` logs goes through loggers under `cvp` (`cvp.progress` says which stage starts,
how far it got and how long it took). Prefect sends a logger's records to its API, where the run
page shows them, when the logger is named in `PREFECT_LOGGING_EXTRA_LOGGERS`: Prefect then gives
it the handler of its `prefect.extra` logger when it sets up logging, and the handler attaches
each record to the flow or task run it was emitted in (records outside a run are not sent).

That setting is read once, when Prefect is imported, so `configure_prefect` sets it for a `cvp`
command and for the worker's environment. `route_platform_logs` covers the processes where Prefect
was imported before (a test session, a notebook): it does what Prefect's setup does for an extra
logger, once.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping

PLATFORM_LOGGER = "cvp"
EXTRA_LOGGERS_VARIABLE = "PREFECT_LOGGING_EXTRA_LOGGERS"
# a `cvp` function called outside a flow (a notebook, `--no-flow`) logs without a run to attach to
MISSING_FLOW_VARIABLE = "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW"


def platform_logger_level() -> None:
    """INFO for the platform's loggers: the stages are INFO lines; the root logger's WARNING
    would otherwise drop them before any handler saw them."""
    logging.getLogger(PLATFORM_LOGGER).setLevel(logging.INFO)


def prefect_logging_environment(env: MutableMapping[str, str]) -> None:
    """Name `cvp` among Prefect's extra loggers in `env` (keeping any the user named)."""
    named = [n.strip() for n in env.get(EXTRA_LOGGERS_VARIABLE, "").split(",") if n.strip()]
    if PLATFORM_LOGGER not in named:
        env[EXTRA_LOGGERS_VARIABLE] = ",".join([*named, PLATFORM_LOGGER])
    env.setdefault(MISSING_FLOW_VARIABLE, "ignore")


def route_platform_logs() -> None:
    """Give the `cvp` logger Prefect's API handler if Prefect's own setup did not (idempotent).
    Imports Prefect: call it where flows are defined, not from the library."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import APILogHandler

    ensure_logging_setup()
    platform_logger_level()
    logger = logging.getLogger(PLATFORM_LOGGER)
    if any(isinstance(h, APILogHandler) for h in logger.handlers):
        return
    extra = [h for h in logging.getLogger("prefect.extra").handlers if isinstance(h, APILogHandler)]
    for handler in extra or [APILogHandler()]:
        logger.addHandler(handler)
