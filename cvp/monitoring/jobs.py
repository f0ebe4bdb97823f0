"""`cvp monitor --as-of D`: realised accuracy, drift and model age, then the retraining
decision, stored in `monitor_decisions`, the audit log and an MLflow run (experiment
`monitoring`). Triggering the training deployment is the flow's job (it needs Prefect);
`record_trigger` writes what happened back to the same three places."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

import mlflow
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.audit import audited
from cvp.config import Settings
from cvp.data import schema
from cvp.data.fingerprint import warehouse_fingerprint
from cvp.data.warehouse import get_engine, read_frame, write_frame
from cvp.experiments.tracking import configure_tracking, tracked_run
from cvp.features.build import build_features, catalog, feature_set_version
from cvp.features.store import read_snapshot
from cvp.monitoring.accuracy import (
    accuracy_shortfalls,
    realised_accuracy_report,
    write_realised_accuracy,
)
from cvp.monitoring.drift import active_population, drift_table, drifted_importance_share
from cvp.monitoring.kpis import kpi_series
from cvp.monitoring.models import ModelInfo, champion_info, model_importance
from cvp.monitoring.store import drift_results, kpi_monthly, monitor_decisions
from cvp.scoring.store import customer_scores

MONITORING_EXPERIMENT = "monitoring"
SCORE_COLUMNS = ("churn_probability", "clv_expected")
GONE_STAGES = ("lapsed", "churned")


@dataclass
class MonitorResult:
    as_of: date
    retrain: bool
    reasons: list[str]
    drifted: list[str]
    accuracy: pd.DataFrame
    drift: pd.DataFrame
    champion: dict[str, str]
    decided_at: datetime
    audit_run_id: str
    mlflow_run_id: str
    notes: list[str] = field(default_factory=list)
    triggered: str | None = None
    kpis: pd.DataFrame = field(default_factory=pd.DataFrame)


def _snapshot(conn: Connection, as_of: date) -> pd.DataFrame:
    stored = read_snapshot(conn, feature_set_version(), as_of)
    return stored if stored is not None and not stored.empty else build_features(conn, as_of)


def _score_drift(
    conn: Connection, as_of: date, info: ModelInfo, settings: Settings
) -> pd.DataFrame:
    """Scores of this date against the first scores of the same churn model version, both on
    customers not lapsed or churned at their date (see `cvp.monitoring.drift`)."""
    s = customer_scores
    first = conn.execute(
        sa.select(sa.func.min(s.c.as_of)).where(s.c.churn_model_version == info.version)
    ).scalar()
    if first is None or first >= as_of:
        return pd.DataFrame()
    columns = [s.c[c] for c in SCORE_COLUMNS]
    active = s.c.lifecycle_stage.not_in(GONE_STAGES)
    ref = read_frame(conn, sa.select(*columns).where(s.c.as_of == first, active))
    cur = read_frame(conn, sa.select(*columns).where(s.c.as_of == as_of, active))
    if cur.empty:
        return pd.DataFrame()
    rules = settings.monitoring.model_copy(
        update={"psi_threshold": settings.monitoring.score_psi_threshold}
    )
    table = drift_table(ref, cur, list(SCORE_COLUMNS), rules)
    table["feature"] = "score:" + table["feature"]
    table["reference_as_of"] = first
    return table


def feature_drift(
    conn: Connection, as_of: date, reference_as_of: date, settings: Settings
) -> pd.DataFrame:
    """Each catalogued feature on the active population of both dates."""
    lapsed = settings.lifecycle.lapsed_after_days
    reference = active_population(_snapshot(conn, reference_as_of), lapsed)
    current = active_population(_snapshot(conn, as_of), lapsed)
    names = [
        f.name
        for f in catalog()
        if f.name in reference and reference[f.name].notna().any() and current[f.name].notna().any()
    ]
    table = drift_table(reference, current, names, settings.monitoring)
    table["reference_as_of"] = reference_as_of
    return table


def decide(
    settings: Settings,
    as_of: date,
    accuracy: pd.DataFrame,
    drift: pd.DataFrame,
    churn: ModelInfo,
    importance: dict[str, pd.Series] | None = None,
) -> tuple[list[str], list[str]]:
    """The retraining rules, each with a reason a person can check. `drifted` lists every
    drifted feature (calendar ones included, for the report); only the importance-weighted
    share of the counted ones decides."""
    rules = settings.monitoring
    reasons: list[str] = []
    is_score = drift["feature"].str.startswith("score:") if not drift.empty else pd.Series()
    features = drift[~is_score] if not drift.empty else drift
    drifted = sorted(features.loc[features["drifted"], "feature"]) if not drift.empty else []
    counted = (
        features[features["drifted"] & ~features["calendar"].astype(bool)]
        if not drift.empty
        else features
    )
    for target, weights in (importance or {}).items():
        share = drifted_importance_share(features, weights)
        if share >= rules.retrain_drift_importance:
            top = counted.assign(weight=counted["feature"].map(weights).fillna(0))
            top = top.sort_values("weight", ascending=False).head(5)
            reasons.append(
                f"features drifted carrying {share:.0%} of the {target} champion's importance "
                f"(>= {rules.retrain_drift_importance:.0%}): "
                + ", ".join(f"{r.feature} PSI {r.psi:.2f}" for r in top.itertuples())
            )
    scores = drift[is_score & drift["drifted"]] if not drift.empty else drift
    for r in scores.itertuples() if not scores.empty else []:
        reasons.append(
            f"{r.feature} drifted on active customers: PSI {r.psi:.2f} "
            f"(> {rules.score_psi_threshold}), KS {r.ks_statistic:.2f}"
        )
    reasons += accuracy_shortfalls(accuracy, rules.accuracy_margin)
    if churn.trained_as_of is not None:
        age = (as_of - churn.trained_as_of).days
        if age > rules.max_model_age_days:
            reasons.append(
                f"churn champion v{churn.version} trained as of {churn.trained_as_of} is {age} days "
                f"old (> {rules.max_model_age_days})"
            )
    return reasons, drifted


def run_monitor(settings: Settings, as_of: date) -> MonitorResult:
    engine = get_engine(settings.warehouse_url)
    client = configure_tracking(settings)
    churn = champion_info(client, "churn")
    clv = champion_info(client, "clv")
    if churn is None or clv is None:
        raise ValueError("no champion models to monitor: run `cvp train --as-of DATE` first")
    params = {"as_of": as_of.isoformat()}
    champion = {"cvp-churn": churn.version, "cvp-clv": clv.version}
    with (
        audited(engine, "monitor", settings.operator, params) as audit,
        tracked_run(
            settings, MONITORING_EXPERIMENT, f"monitor {as_of}", {"cvp.command": "monitor"}
        ) as run,
    ):
        audit.mlflow_run_id = run.info.run_id
        audit.model_versions = champion
        notes: list[str] = []
        with engine.connect() as conn:
            audit.data_fingerprint, _ = warehouse_fingerprint(conn)
            accuracy = realised_accuracy_report(conn, client, as_of)
            reference = churn.test_cutoff or churn.trained_as_of
            drift = feature_drift(conn, as_of, reference, settings) if reference else pd.DataFrame()
            if reference is None:
                notes.append(
                    "no training snapshot date on the champion's run: feature drift skipped"
                )
            score_drift = _score_drift(conn, as_of, churn, settings)
            kpis = kpi_series(conn, as_of)
        if not score_drift.empty:
            drift = pd.concat([drift, score_drift], ignore_index=True)
        if accuracy.empty:
            notes.append(
                f"no scores date has a closed horizon by {as_of}: no realised accuracy yet"
            )
        importance = {
            t: model_importance(client, info) for t, info in (("churn", churn), ("clv", clv))
        }
        for target, weights in importance.items():
            if weights.empty:
                notes.append(f"no importance on the {target} champion's run: its drift not weighed")
        reasons, drifted = decide(settings, as_of, accuracy, drift, churn, importance)
        decided_at = datetime.now()
        with engine.begin() as conn:
            write_realised_accuracy(conn, accuracy)
            if not drift.empty:
                conn.execute(sa.delete(drift_results).where(drift_results.c.as_of == as_of))
                write_frame(conn, drift_results, drift.assign(as_of=as_of, computed_at=decided_at))
            if not kpis.empty:
                conn.execute(
                    sa.delete(kpi_monthly).where(kpi_monthly.c.month.in_(set(kpis["month"])))
                )
                write_frame(conn, kpi_monthly, kpis.assign(computed_at=decided_at))
            conn.execute(
                monitor_decisions.insert().values(
                    as_of=as_of,
                    decided_at=decided_at,
                    retrain=bool(reasons),
                    reasons=json.dumps(reasons),
                    triggered=None,
                )
            )
        audit.notes = {
            "retrain": bool(reasons),
            "reasons": reasons,
            "drifted": drifted,
            "notes": notes,
        }
        mlflow.log_params({**params, "churn_version": churn.version, "clv_version": clv.version})
        mlflow.set_tags(
            {
                "cvp.monitor.retrain": str(bool(reasons)).lower(),
                "cvp.monitor.reasons": "; ".join(reasons)[:4900] or "none",
            }
        )
        mlflow.log_metric("drifted_features", len(drifted))
        for target, weights in importance.items():
            features = (
                drift[~drift["feature"].str.startswith("score:")] if not drift.empty else drift
            )
            mlflow.log_metric(
                f"drifted_importance_{target}", drifted_importance_share(features, weights)
            )
        if not accuracy.empty:
            mlflow.log_table(
                accuracy.drop(columns=["evaluated_at"]).astype(
                    {"scores_as_of": str, "horizon_end": str}
                ),
                "realised_accuracy.json",
            )
            latest = accuracy[accuracy["scores_as_of"] == accuracy["scores_as_of"].max()]
            for r in latest.itertuples():
                if r.realised is not None and pd.notna(r.realised):
                    mlflow.log_metric(f"realised_{r.model}_{r.metric}", float(r.realised))
        if not kpis.empty:
            latest = kpis[
                (kpis["segment_type"] == "overall") & (kpis["month"] == kpis["month"].max())
            ]
            mlflow.log_metrics({f"kpi_{r.kpi}": float(r.value) for r in latest.itertuples()})
            mlflow.log_table(kpis.astype({"month": str}), "kpi_monthly.json")
        if not drift.empty:
            mlflow.log_table(drift.astype({"reference_as_of": str}), "drift.json")
        return MonitorResult(
            as_of,
            bool(reasons),
            reasons,
            drifted,
            accuracy,
            drift,
            champion,
            decided_at,
            audit.run_id,
            run.info.run_id,
            notes,
            kpis=kpis,
        )


def record_trigger(settings: Settings, result: MonitorResult, triggered: str) -> None:
    """Write the trigger outcome (flow run id, or why none) next to the decision."""
    result.triggered = triggered
    engine = get_engine(settings.warehouse_url)
    with engine.begin() as conn:
        conn.execute(
            sa.update(monitor_decisions)
            .where(
                monitor_decisions.c.as_of == result.as_of,
                monitor_decisions.c.decided_at == result.decided_at,
            )
            .values(triggered=triggered[:200])
        )
        audit = schema.audit_log
        notes = conn.execute(
            sa.select(audit.c.notes).where(audit.c.run_id == result.audit_run_id)
        ).scalar()
        merged = {**json.loads(notes or "{}"), "triggered": triggered}
        conn.execute(
            sa.update(audit)
            .where(audit.c.run_id == result.audit_run_id)
            .values(notes=json.dumps(merged, default=str))
        )
    configure_tracking(settings).set_tag(
        result.mlflow_run_id, "cvp.monitor.triggered", triggered[:4900]
    )
