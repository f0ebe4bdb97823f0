"""Thin Prefect tasks around monitoring: the decision becomes a markdown artifact, and a
retraining decision triggers the training deployment without waiting for it."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.deployments import run_deployment

from cvp.config import get_settings
from cvp.monitoring.jobs import MonitorResult, record_trigger, run_monitor

RUN_NAME_LIMIT = 180


@task(name="monitor")
def monitor_task(as_of: date) -> MonitorResult:
    return run_monitor(get_settings(), as_of)


@task(name="trigger-retraining")
def trigger_task(result: MonitorResult, train_as_of: date) -> str:
    """Start the training deployment (timeout=0: do not wait); the flow run's name and tags
    carry the reason. Without a server or deployment, say so in one line."""
    settings = get_settings()
    name = settings.monitoring.train_deployment
    reason = "; ".join(result.reasons)
    try:
        run = run_deployment(
            name,
            parameters={"params": {"as_of": train_as_of.isoformat()}},
            flow_run_name=f"retrain: {reason}"[:RUN_NAME_LIMIT],
            tags=["cvp-monitor", "retrain"],
            timeout=0,
            as_subflow=False,
        )
        triggered = f"flow run {run.id} of {name}"
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server is reported, not raised
        text = str(exc).strip()
        first = text.splitlines()[0] if text and text != "None" else type(exc).__name__
        triggered = f"not triggered: deployment {name} unavailable ({first[:120]})"
    record_trigger(settings, result, triggered)
    return triggered


def decision_markdown(result: MonitorResult) -> str:
    lines = [f"# Monitoring as of {result.as_of}", ""]
    lines.append(f"**Retrain: {'yes' if result.retrain else 'no'}**")
    lines += [f"- {reason}" for reason in result.reasons] or ["- no rule fired"]
    if result.triggered:
        lines.append(f"\nTrigger: {result.triggered}")
    lines += [f"\nNote: {n}" for n in result.notes]
    if not result.accuracy.empty:
        latest = result.accuracy[
            result.accuracy["scores_as_of"] == result.accuracy["scores_as_of"].max()
        ]
        lines += [
            "",
            "| scores date | model | metric | realised | promised |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.scores_as_of} | {r.model} v{r.model_version} | {r.metric} | {r.realised:.4f} | "
            + (
                f"{r.promised:.4f} |"
                if r.promised == r.promised and r.promised is not None
                else "- |"
            )
            for r in latest.itertuples()
        ]
    if not result.drift.empty:
        top = result.drift.sort_values("psi", ascending=False).head(15)
        lines += ["", "| feature | PSI | KS | drifted |", "|---|---|---|---|"]
        lines += [
            f"| {r.feature} | {r.psi:.3f} | {r.ks_statistic:.3f} | "
            + ("calendar, not counted" if r.drifted and r.calendar else "yes" if r.drifted else "")
            + " |"
            for r in top.itertuples()
        ]
    return "\n".join(lines)


@task(name="monitor-report")
def report_task(result: MonitorResult) -> None:
    create_markdown_artifact(key="monitoring-decision", markdown=decision_markdown(result))
