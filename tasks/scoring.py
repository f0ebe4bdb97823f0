"""Thin Prefect tasks around scoring and planning: summaries and alerts become artifacts."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from cvp.actions.budget import PlanTotals
from cvp.config import get_settings
from cvp.jobs.scoring_jobs import run_plan, run_score
from cvp.progress import stage
from cvp.scoring.score import ScoreResult


@task(name="score")
def score_task(
    as_of: date, force_validation: bool = False, reuse_snapshot: bool = False
) -> ScoreResult:
    with stage(f"Scoring every customer as of {as_of}"):
        result = run_score(get_settings(), as_of, force_validation, reuse_snapshot)
    scores = result.scores
    lines = [
        f"# Scores as of {as_of}",
        f"{len(scores)} customers, models churn v{result.models.churn_version} / clv v{result.models.clv_version}",
        "",
    ]
    for column in ("risk_tier", "value_tier", "lifecycle_stage"):
        counts = scores[column].value_counts()
        lines.append(f"**{column}**: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    top = scores.nsmallest(10, "priority_rank")
    lines += [
        "",
        "| rank | churn p | lifetime value | expected loss | action |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.priority_rank} | {r.churn_probability:.2f} | {r.clv_lifetime:.0f} | {r.expected_loss:.0f} | {r.next_best_action} |"
        for r in top.itertuples()
    ]
    lines.append(f"\n{len(result.alerts)} alerts")
    if result.consent is not None:
        consent = result.consent.summary()
        lines.append(
            f"\nconsent: {consent['profiling_opt_out']} profiling opt-outs not scored, "
            f"{consent['no_marketing_consent']} without marketing consent (not contacted)"
        )
    create_markdown_artifact(key="scoring-summary", markdown="\n".join(lines))
    if not result.alerts.empty:
        create_table_artifact(
            key="scoring-alerts",
            table=result.alerts.head(500).to_dict("records"),
            description=f"Alerts as of {as_of} (first 500)",
        )
    return result


@task(name="plan")
def plan_task(as_of: date, budget: float) -> PlanTotals:
    with stage(f"Planning a {budget:,.0f} retention budget"):
        totals, _ = run_plan(get_settings(), as_of, budget)
    create_table_artifact(
        key="retention-plan",
        table=[
            {
                "budget": totals.budget,
                "reach": totals.reach,
                "control": totals.control,
                "cost": round(totals.cost, 2),
                "expected_saved_value": round(totals.expected_saved_value, 2),
                "roi": round(totals.roi, 3),
            }
        ],
        description=f"Retention plan as of {as_of}",
    )
    return totals
