"""Thin Prefect tasks around scoring and planning: summaries and alerts become artifacts."""

from __future__ import annotations

from datetime import date

import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from cvp.actions.budget import PlanTotals
from cvp.actions.plan_summary import plan_breakdown, stored_plan
from cvp.config import get_settings
from cvp.data.warehouse import get_engine
from cvp.jobs.scoring_jobs import run_plan, run_score
from cvp.progress import stage
from cvp.scoring.score import ScoreResult
from cvp.scoring.summary import alert_line, top_expected_loss


def _markdown_table(frame: pd.DataFrame) -> list[str]:
    """A pandas frame as a markdown table (numbers already formatted as text)."""
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += [
        "| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return lines


def scoring_markdown(result: ScoreResult) -> str:
    """The run page's summary: tiers, the ten largest expected losses (pseudonymous ids) and the
    alerts in the words `cvp score` prints."""
    scores = result.scores
    lines = [
        f"# Scores as of {result.as_of}",
        f"{len(scores):,} customers, models churn v{result.models.churn_version} / "
        f"clv v{result.models.clv_version}; total expected loss "
        f"{scores['expected_loss'].sum():,.0f}",
        "",
    ]
    for column in ("risk_tier", "value_tier", "lifecycle_stage"):
        counts = scores[column].value_counts()
        lines.append(f"**{column}**: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    top = top_expected_loss(scores).assign(
        expected_loss=lambda f: f["expected_loss"].map("{:,.0f}".format),
        churn_probability=lambda f: f["churn_probability"].map("{:.2f}".format),
        clv_lifetime=lambda f: f["clv_lifetime"].map("{:,.0f}".format),
    )
    lines += ["", "**Largest expected loss** (P(churn) x lifetime value)", ""]
    lines += _markdown_table(top)
    lines += ["", alert_line(result)]
    if result.consent is not None:
        consent = result.consent.summary()
        lines.append(
            f"\nconsent: {consent['profiling_opt_out']:,} profiling opt-outs not scored, "
            f"{consent['no_marketing_consent']:,} without marketing consent (not contacted)"
        )
    return "\n".join(lines)


@task(name="score")
def score_task(
    as_of: date, force_validation: bool = False, reuse_snapshot: bool = False
) -> ScoreResult:
    with stage(f"Scoring every customer as of {as_of}"):
        result = run_score(get_settings(), as_of, force_validation, reuse_snapshot)
    create_markdown_artifact(
        key="scoring-summary",
        markdown=scoring_markdown(result),
        description=f"Scores as of {as_of}",
    )
    if not result.alerts.empty:
        create_table_artifact(
            key="scoring-alerts",
            table=result.alerts.head(500).to_dict("records"),
            description=f"Alerts as of {as_of} (first 500): {alert_line(result)}",
        )
    return result


@task(name="plan")
def plan_task(as_of: date, budget: float) -> PlanTotals:
    settings = get_settings()
    with stage(f"Planning a {budget:,.0f} retention budget"):
        totals, _ = run_plan(settings, as_of, budget)
    with get_engine(settings.warehouse_url).connect() as conn:
        breakdown = plan_breakdown(stored_plan(conn, as_of))
    create_table_artifact(
        key="retention-plan",
        table=breakdown.round(2).to_dict("records"),
        description=f"Retention plan as of {as_of}, budget {totals.budget:,.0f}: "
        f"{totals.reach:,} customers contacted, {totals.control:,} held out as control, "
        f"cost {totals.cost:,.2f}, expected saved value {totals.expected_saved_value:,.2f}, "
        f"ROI {totals.roi:.2f}" + (f". {totals.reason_empty}" if totals.reason_empty else ""),
    )
    return totals
