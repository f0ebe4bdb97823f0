"""`cvp score`, `cvp plan` and `cvp export scores`: audited, tracked, one transaction per date."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import mlflow
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cvp.actions.budget import PlanTotals, plan_budget
from cvp.config import Settings
from cvp.data.warehouse import get_engine, read_frame, write_frame
from cvp.errors import BadInput, StateError
from cvp.experiments.tracking import configure_tracking
from cvp.features.build import feature_set_version
from cvp.features.store import read_snapshot, write_snapshot
from cvp.jobs.context import open_job, pause_for_crash_test
from cvp.scoring.score import ScoreResult, load_champions, score, write_scores
from cvp.scoring.store import customer_scores, retention_plan
from cvp.validation.runner import ValidationFailed, validate_derived
from cvp.value.lifecycle import LifecycleRules

SCORING_EXPERIMENT = "scoring"
EXPORT_COLUMNS = [c.name for c in customer_scores.columns if c.name not in ("scored_at",)]


def run_score(
    settings: Settings, as_of: date, force_validation: bool = False, reuse_snapshot: bool = False
) -> ScoreResult:
    """`reuse_snapshot`: score the stored snapshot of this date (a pipeline that has just built
    it) instead of building it again; falls back to building when none is stored."""
    params = {"as_of": as_of.isoformat(), "force_validation": force_validation}
    with open_job(
        settings,
        "score",
        params,
        experiment=SCORING_EXPERIMENT,
        as_of=as_of,
        history_days=0,
        gate=True,
        force_validation=force_validation,
        require=lambda: load_champions(configure_tracking(settings)),
    ) as job:
        models = job.required
        job.audit.model_versions = {
            "cvp-churn": models.churn_version,
            "cvp-clv": models.clv_version,
        }
        with job.engine.connect() as conn:
            stored = read_snapshot(conn, feature_set_version(), as_of) if reuse_snapshot else None
            stored = stored if stored is not None and not stored.empty else None
            result = score(conn, models, as_of, settings.scoring, LifecycleRules(), snapshot=stored)
        with job.engine.begin() as conn:  # snapshot, scores and their side tables commit together
            if stored is None:
                write_snapshot(conn, feature_set_version(), as_of, result.features)
            write_scores(
                conn, result, "config" if settings.scoring.value_index_weights else "entropy"
            )
            pause_for_crash_test("write")
        pause_for_crash_test("committed")
        checked = validate_derived(job.engine, settings, "customer_scores", as_of)
        mlflow.set_tag("cvp.validation.scores_passed", str(checked.passed).lower())
        if not checked.passed:
            raise ValidationFailed(checked.failure_message())
        scores = result.scores
        mlflow.log_params(
            {
                **params,
                "reused_snapshot": stored is not None,
                "churn_model_version": models.churn_version,
                "clv_model_version": models.clv_version,
            }
        )
        mlflow.log_metrics(
            {
                "customers_scored": len(scores),
                "mean_churn_probability": float(scores["churn_probability"].mean()),
                "total_expected_loss": float(scores["expected_loss"].sum()),
                "alerts": len(result.alerts),
            }
        )
        for column in ("risk_tier", "value_tier", "lifecycle_stage", "rfm_segment"):
            mlflow.log_dict(scores[column].value_counts().to_dict(), f"counts/{column}.json")
        mlflow.log_dict(result.weights.round(6).to_dict(), "value_index_weights.json")
        return result


def _stored_scores(engine: Engine, as_of: date) -> pd.DataFrame:
    with engine.connect() as conn:
        scores = read_frame(
            conn, sa.select(customer_scores).where(customer_scores.c.as_of == as_of)
        )
    if scores.empty:
        raise StateError(f"no scores for {as_of}: run `cvp score --as-of {as_of}` first")
    return scores


def run_plan(settings: Settings, as_of: date, budget: float) -> tuple[PlanTotals, int]:
    campaign = f"retention-{as_of}"
    params = {"as_of": as_of.isoformat(), "budget": budget}
    if budget < 0:
        raise BadInput(f"budget {budget}: a retention budget cannot be negative")
    with open_job(
        settings,
        "plan",
        params,
        experiment=SCORING_EXPERIMENT,
        as_of=as_of,
        require=lambda: _stored_scores(get_engine(settings.warehouse_url), as_of),
    ) as job:
        scores = job.required
        job.audit.model_versions = {
            "cvp-churn": str(scores["churn_model_version"].iloc[0]),
            "cvp-clv": str(scores["clv_model_version"].iloc[0]),
        }
        plan, totals = plan_budget(scores, budget, campaign)
        with job.engine.begin() as conn:
            conn.execute(sa.delete(retention_plan).where(retention_plan.c.as_of == as_of))
            write_frame(conn, retention_plan, plan)
        mlflow.log_params({"as_of": as_of.isoformat(), "budget": budget, "campaign": campaign})
        mlflow.log_metrics(
            {
                "reach": totals.reach,
                "control": totals.control,
                "cost": totals.cost,
                "expected_saved_value": totals.expected_saved_value,
                "roi": totals.roi,
            }
        )
        return totals, len(scores)


def export_scores(settings: Settings, as_of: date, out: Path) -> int:
    """CSV or Parquet by extension; pseudonymous ids only (no identity table is read)."""
    engine = get_engine(settings.warehouse_url)
    with engine.connect() as conn:
        frame = read_frame(
            conn,
            sa.select(*(customer_scores.c[c] for c in EXPORT_COLUMNS))
            .where(customer_scores.c.as_of == as_of)
            .order_by(customer_scores.c.priority_rank),
        )
    if frame.empty:
        raise StateError(f"no scores for {as_of}: run `cvp score --as-of {as_of}` first")
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        frame.to_parquet(out, index=False)
    elif suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        raise BadInput(f"{out}: use a .csv or .parquet file name")
    return len(frame)
