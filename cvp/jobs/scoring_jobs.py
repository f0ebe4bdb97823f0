"""`cvp score`, `cvp plan`, `cvp export scores|activation`: audited (every export too), tracked,
one transaction per date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import mlflow
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cvp.actions.budget import PlanTotals, plan_budget
from cvp.audit import audited
from cvp.config import Settings
from cvp.data.warehouse import get_engine, read_frame, write_frame
from cvp.errors import BadInput, StateError
from cvp.execution.dask_engine import explain_step_for, features_for, model_step_for
from cvp.experiments.tracking import configure_tracking, tracking_client
from cvp.features.build import feature_set_version
from cvp.features.store import read_snapshot, write_snapshot
from cvp.jobs.context import open_job, pause_for_crash_test
from cvp.models.decision import unprofitable_note
from cvp.names import SCORING_EXPERIMENT, campaign_name, model_versions
from cvp.privacy.consent import empty_contact_reason, may_contact
from cvp.privacy.exports import (
    activation_frame,
    check_destination,
    scores_frame,
    write_export,
)
from cvp.scoring.score import ScoreResult, load_champions, score, score_rows, write_scores
from cvp.scoring.store import customer_scores, retention_plan
from cvp.validation.runner import ValidationFailed, validate_derived


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
        job.audit.model_versions = model_versions(models.churn_version, models.clv_version)
        with job.engine.connect() as conn:
            stored = read_snapshot(conn, feature_set_version(), as_of) if reuse_snapshot else None
            stored = stored if stored is not None and not stored.empty else None
            # with `[execution] engine = "dask"` the snapshot is built over the cluster
            snapshot = stored if stored is not None else features_for(settings, conn, as_of)
            result = score(
                conn,
                models,
                as_of,
                settings.scoring,
                settings.lifecycle,
                snapshot=snapshot,
                privacy=settings.privacy,
                model_step=model_step_for(settings),
                explain_step=explain_step_for(settings),
            )
        assert result.consent is not None  # score() always decides consent
        consent = result.consent.summary()
        job.audit.notes["consent"] = consent
        # checked before they replace the stored scores: failing ones leave the old in place
        checked = validate_derived(
            job.engine,
            settings,
            "customer_scores",
            as_of,
            score_rows(result),
            excluded=consent["profiling_opt_out"],
        )
        mlflow.set_tag("cvp.validation.scores_passed", str(checked.passed).lower())
        if not checked.passed:
            raise ValidationFailed(checked.failure_message())
        with job.engine.begin() as conn:  # snapshot, scores and their side tables commit together
            if stored is None:
                write_snapshot(conn, feature_set_version(), as_of, result.features)
            write_scores(
                conn, result, "config" if settings.scoring.value_index_weights else "entropy"
            )
            pause_for_crash_test("write")
        pause_for_crash_test("committed")
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
                **{f"consent_{name}": value for name, value in consent.items()},
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
    campaign = campaign_name(as_of)
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
        job.audit.model_versions = model_versions(
            scores["churn_model_version"].iloc[0], scores["clv_model_version"].iloc[0]
        )
        with job.engine.connect() as conn:
            contactable = may_contact(conn, scores["customer_id"], as_of, settings.privacy)
            contactable &= scores["marketing_consent"].astype(bool).to_numpy()
            reason = None
            if not contactable.any():
                reason = empty_contact_reason(conn, as_of, len(scores), 0)
        plan, totals = plan_budget(scores, budget, campaign, contactable)
        totals.reason_empty = reason
        totals.model_note = unprofitable_note(
            tracking_client(settings), str(scores["churn_model_version"].iloc[0])
        )
        job.audit.notes.update(
            {
                "contactable": int(contactable.sum()),
                "reason_empty": reason,
                "model_note": totals.model_note,
            }
        )
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
                "contactable": int(contactable.sum()),
            }
        )
        return totals, len(scores)


@dataclass
class ExportResult:
    rows: int
    out: Path
    audit_run_id: str
    model_versions: dict[str, str]
    reason_empty: str | None = None
    without_identity: int = 0


def _scores_versions(conn, as_of: date) -> dict[str, str]:
    row = conn.execute(
        sa.select(customer_scores.c.churn_model_version, customer_scores.c.clv_model_version)
        .where(customer_scores.c.as_of == as_of)
        .limit(1)
    ).first()
    return {} if row is None else {"cvp-churn": str(row[0]), "cvp-clv": str(row[1])}


def export_scores(settings: Settings, as_of: date, out: Path) -> ExportResult:
    """CSV or Parquet by extension; pseudonymous ids only (no identity table is read).
    Audited: who, when, purpose (`analytics`), scores date, model versions, rows, destination."""
    check_destination(out)
    engine = get_engine(settings.warehouse_url)
    params = {"what": "scores", "as_of": as_of.isoformat(), "out": str(out)}
    with audited(engine, "export scores", settings.operator, params) as audit:
        with engine.connect() as conn:
            frame = scores_frame(conn, as_of)
            audit.model_versions = _scores_versions(conn, as_of)
        write_export(frame, out)
        audit.notes = _export_notes("analytics", as_of, len(frame), out, pseudonymous=True)
        return ExportResult(len(frame), out, audit.run_id, audit.model_versions)


def export_activation(
    settings: Settings, as_of: date, out: Path, purpose: str = "marketing"
) -> ExportResult:
    """The contact list a retention team loads into its CRM: source ids from
    `customer_identities`, only customers who may be contacted for `purpose` at the scores date
    and now, outside the control group, with action, channel, incentive and reasons. Audited
    like every export; the file is written even when empty, with the reason returned."""
    check_destination(out)
    engine = get_engine(settings.warehouse_url)
    params = {"what": "activation", "as_of": as_of.isoformat(), "purpose": purpose, "out": str(out)}
    with audited(engine, "export activation", settings.operator, params) as audit:
        with engine.connect() as conn:
            found = activation_frame(conn, as_of, purpose, settings.privacy)
            audit.model_versions = _scores_versions(conn, as_of)
        write_export(found.frame, out)
        audit.notes = _export_notes(purpose, as_of, len(found.frame), out, pseudonymous=False)
        audit.notes["without_identity"] = found.without_identity
        return ExportResult(
            len(found.frame),
            out,
            audit.run_id,
            audit.model_versions,
            found.reason_empty,
            found.without_identity,
        )


def _export_notes(
    purpose: str, as_of: date, rows: int, out: Path, pseudonymous: bool
) -> dict[str, object]:
    return {
        "purpose": purpose,
        "scores_date": as_of.isoformat(),
        "rows": rows,
        "destination": str(out.resolve()),
        "pseudonymous": pseudonymous,
    }
