"""Prefect tasks around the `cvp` jobs. Every flow imports them, so this is where the platform's
log lines are routed to the run pages (`cvp.orchestration.run_logging`)."""

from cvp.orchestration.run_logging import route_platform_logs

route_platform_logs()
