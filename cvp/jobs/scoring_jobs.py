"""`cvp score`, `cvp plan` and `cvp export scores`: audited, tracked, one transaction per date."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import mlflow
import sqlalchemy as sa

from cvp.actions.budget import PlanTotals, plan_budget
from cvp.audit import audited
from cvp.config import Settings
from cvp.data.fingerprint import warehouse_fingerprint
from cvp.data.warehouse import get_engine, read_frame, write_frame
from cvp.experiments.tracking import configure_tracking, tracked_run
from cvp.features.build import feature_set_version
from cvp.features.store import read_snapshot, write_snapshot
from cvp.names import SCORING_EXPERIMENT, campaign_name, model_versions
from cvp.scoring.score import ScoreResult, load_champions, score, score_rows, write_scores
from cvp.scoring.store import customer_scores, retention_plan
from cvp.validation.gate import validation_gate
from cvp.validation.runner import ValidationFailed, validate_derived

EXPORT_COLUMNS = [c.name for c in customer_scores.columns if c.name not in ("scored_at",)]


def run_score(
    settings: Settings, as_of: date, force_validation: bool = False, reuse_snapshot: bool = False
) -> ScoreResult:
    """`reuse_snapshot`: score the stored snapshot of this date (a pipeline that has just built
    it) instead of building it again; falls back to building when none is stored."""
    engine = get_engine(settings.warehouse_url)
    models = load_champions(configure_tracking(settings))  # fails first if nothing is trained
    gate = validation_gate(engine, settings, as_of, force=force_validation)
    params = {"as_of": as_of.isoformat(), "force_validation": force_validation}
    with (
        audited(engine, "score", settings.operator, params) as audit,
        tracked_run(
            settings, SCORING_EXPERIMENT, f"score {as_of}", {"cvp.command": "score", **gate.tags()}
        ) as run,
    ):
        audit.mlflow_run_id = run.info.run_id
        audit.notes = {"validation_override": gate.overridden}
        audit.model_versions = model_versions(models.churn_version, models.clv_version)
        with engine.connect() as conn:
            audit.data_fingerprint, _ = warehouse_fingerprint(conn)
            stored = read_snapshot(conn, feature_set_version(), as_of) if reuse_snapshot else None
            stored = stored if stored is not None and not stored.empty else None
            result = score(
                conn, models, as_of, settings.scoring, settings.lifecycle, snapshot=stored
            )
        # checked before they replace the stored scores: failing ones leave the old in place
        checked = validate_derived(engine, settings, "customer_scores", as_of, score_rows(result))
        mlflow.set_tag("cvp.validation.scores_passed", str(checked.passed).lower())
        if not checked.passed:
            raise ValidationFailed(checked.failure_message())
        with engine.begin() as conn:  # snapshot, scores and their side tables commit together
            if stored is None:
                write_snapshot(conn, feature_set_version(), as_of, result.features)
            write_scores(
                conn, result, "config" if settings.scoring.value_index_weights else "entropy"
            )
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


def run_plan(settings: Settings, as_of: date, budget: float) -> tuple[PlanTotals, int]:
    engine = get_engine(settings.warehouse_url)
    campaign = campaign_name(as_of)
    with (
        audited(
            engine, "plan", settings.operator, {"as_of": as_of.isoformat(), "budget": budget}
        ) as audit,
        tracked_run(settings, SCORING_EXPERIMENT, f"plan {as_of}", {"cvp.command": "plan"}) as run,
    ):
        audit.mlflow_run_id = run.info.run_id
        with engine.connect() as conn:
            scores = read_frame(
                conn, sa.select(customer_scores).where(customer_scores.c.as_of == as_of)
            )
        if scores.empty:
            raise ValueError(f"no scores for {as_of}: run `cvp score --as-of {as_of}` first")
        audit.model_versions = model_versions(
            scores["churn_model_version"].iloc[0], scores["clv_model_version"].iloc[0]
        )
        plan, totals = plan_budget(scores, budget, campaign)
        with engine.begin() as conn:
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
        raise ValueError(f"no scores for {as_of}: run `cvp score --as-of {as_of}` first")
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        frame.to_parquet(out, index=False)
    elif suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        raise ValueError(f"{out}: use a .csv or .parquet file name")
    return len(frame)
