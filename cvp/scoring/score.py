"""Score every customer known at a date with the champion models and derive the decisions."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import sqlalchemy as sa
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sqlalchemy.engine import Connection

from cvp.actions.playbook import DEFAULT_PLAYBOOK, apply_playbook, load_playbook
from cvp.actions.reasons import explain
from cvp.config import ScoringSettings
from cvp.data import schema
from cvp.data.warehouse import read_frame, write_frame
from cvp.features.build import build_features, feature_set_version
from cvp.models.calibration import Calibrator
from cvp.models.dataset import add_btyd_features
from cvp.models.registry import CHAMPION, frame_for
from cvp.scoring.store import alerts, customer_scores, stage_transitions, value_index_versions
from cvp.value.index import INDICATORS, tier_thresholds, value_index, value_tiers
from cvp.value.lifecycle import STAGE_COLUMNS, LifecycleRules, lifecycle_stage, transition_matrix
from cvp.value.rfm import rfm_scores

CHURN_MODEL, CLV_MODEL = "cvp-churn", "cvp-clv"


class NoChampionModel(RuntimeError):
    pass


@dataclass
class ChampionModels:
    churn: lgb.Booster
    clv: lgb.Booster
    churn_version: str
    clv_version: str
    calibrator: Calibrator
    horizon_days: int


def _champion_model_versions(client: MlflowClient) -> tuple[ModelVersion, ModelVersion]:
    try:
        return (
            client.get_model_version_by_alias(CHURN_MODEL, CHAMPION),
            client.get_model_version_by_alias(CLV_MODEL, CHAMPION),
        )
    except MlflowException as exc:
        raise NoChampionModel(
            "no champion churn and CLV models in the registry: run `cvp train --as-of DATE` first"
        ) from exc


def champion_versions(client: MlflowClient) -> dict[str, str]:
    """The registry versions a score run would use, as recorded in `audit_log.model_versions`."""
    churn_v, clv_v = _champion_model_versions(client)
    return {CHURN_MODEL: str(churn_v.version), CLV_MODEL: str(clv_v.version)}


def load_champions(client: MlflowClient) -> ChampionModels:
    churn_v, clv_v = _champion_model_versions(client)
    calibration = mlflow.artifacts.download_artifacts(
        run_id=churn_v.run_id, artifact_path="calibration.json"
    )
    horizon = int(client.get_run(churn_v.run_id).data.params.get("horizon_days", 90))
    return ChampionModels(
        churn=mlflow.lightgbm.load_model(f"models:/{CHURN_MODEL}@{CHAMPION}"),
        clv=mlflow.lightgbm.load_model(f"models:/{CLV_MODEL}@{CHAMPION}"),
        churn_version=str(churn_v.version),
        clv_version=str(clv_v.version),
        calibrator=Calibrator.from_dict(json.loads(Path(calibration).read_text())),
        horizon_days=horizon,
    )


def control_flag(campaign: str, customer_ids: pd.Series, share: float) -> np.ndarray:
    """Deterministic per (campaign, customer): the same customer is held out on every re-run."""
    draws = [
        int(hashlib.sha256(f"{campaign}:{cid}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        for cid in customer_ids
    ]
    return np.asarray(draws) < share


def lifetime_value(
    clv_horizon: np.ndarray, churn_p: np.ndarray, horizon_days: int, rules: ScoringSettings
) -> np.ndarray:
    """Sum over future horizons of expected revenue, decayed by retention and discounted."""
    periods = max(1, int(round(rules.lifetime_years * 365 / horizon_days)))
    discount = (1 + rules.annual_discount_rate) ** (horizon_days / 365) - 1
    factor = (1 - churn_p) / (1 + discount)
    return clv_horizon * (1 - factor**periods) / np.maximum(1 - factor, 1e-9)


def _previous(conn: Connection, as_of: date) -> tuple[date | None, pd.DataFrame]:
    previous = conn.execute(
        sa.select(sa.func.max(customer_scores.c.as_of)).where(customer_scores.c.as_of < as_of)
    ).scalar()
    if previous is None:
        return None, pd.DataFrame(
            columns=["customer_id", "lifecycle_stage", "risk_tier", "value_index"]
        )
    frame = read_frame(
        conn,
        sa.select(
            customer_scores.c.customer_id,
            customer_scores.c.lifecycle_stage,
            customer_scores.c.risk_tier,
            customer_scores.c.value_index,
        ).where(customer_scores.c.as_of == previous),
    )
    return previous, frame


def _consent(conn: Connection) -> pd.Series:
    c = schema.consent
    frame = read_frame(
        conn, sa.select(c.c.customer_id, c.c.granted).where(c.c.purpose == "marketing")
    )
    return frame.set_index("customer_id")["granted"].astype(bool)


@dataclass
class ScoreResult:
    as_of: date
    scores: pd.DataFrame
    transitions: pd.DataFrame | None
    alerts: pd.DataFrame
    weights: pd.Series
    thresholds: dict[str, float]
    models: ChampionModels
    features: pd.DataFrame


def score(
    conn: Connection,
    models: ChampionModels,
    as_of: date,
    rules: ScoringSettings,
    lifecycle: LifecycleRules,
    snapshot: pd.DataFrame | None = None,
) -> ScoreResult:
    """Compute the scores for `as_of` (no writes); `snapshot` reuses features already built."""
    snapshot = build_features(conn, as_of) if snapshot is None else snapshot
    features = add_btyd_features(snapshot, models.horizon_days)
    x_churn = frame_for(models.churn, features).astype("float64")
    raw = models.churn.predict(x_churn)
    churn_p = models.calibrator.apply(raw)
    clv = np.maximum(models.clv.predict(frame_for(models.clv, features).astype("float64")), 0)
    out = pd.DataFrame(
        {"customer_id": features["customer_id"], "churn_probability": churn_p, "clv_expected": clv}
    )
    out["risk_tier"] = np.select(
        [churn_p >= rules.high_risk_probability, churn_p >= rules.medium_risk_probability],
        ["high", "medium"],
        "low",
    )
    out["clv_lifetime"] = lifetime_value(clv, churn_p, models.horizon_days, rules)
    # only the columns each step reads: `assign` on the wide frame would copy all of it
    indicators = features[[c for c in INDICATORS if c != "clv_expected"]].assign(clv_expected=clv)
    index, weights = value_index(indicators, rules.value_index_weights)
    thresholds = tier_thresholds(index)
    out["value_index"] = index.to_numpy()
    out["value_tier"] = value_tiers(index, thresholds).to_numpy()
    out = pd.concat([out, rfm_scores(features)], axis=1)

    previous_date, previous = _previous(conn, as_of)
    prev_stage = (
        previous.set_index("customer_id")["lifecycle_stage"].reindex(out["customer_id"]).to_numpy()
    )
    staged = features[list(STAGE_COLUMNS)].assign(churn_probability=churn_p)
    out["lifecycle_stage"] = lifecycle_stage(
        staged, pd.Series(prev_stage, index=features.index), lifecycle
    ).to_numpy()
    out["previous_stage"] = prev_stage

    texts, families = explain(models.churn, x_churn)
    out["top_reasons"] = texts
    out["reason_families"] = families
    out["reason_family"] = [f.split(",")[0] if f else "value" for f in families]

    playbook = load_playbook(rules.playbook or DEFAULT_PLAYBOOK)
    actions = apply_playbook(playbook, out)
    consent = _consent(conn).reindex(out["customer_id"]).fillna(False).to_numpy()
    actions.loc[~consent, ["next_best_action", "channel", "incentive"]] = [
        "suppressed_no_consent",
        "none",
        "none",
    ]
    actions.loc[~consent, ["unit_cost", "save_rate"]] = 0.0
    out["next_best_action"] = actions["next_best_action"].to_numpy()
    out["channel"] = actions["channel"].to_numpy()
    out["incentive"] = actions["incentive"].to_numpy()
    out["action_cost"] = actions["unit_cost"].to_numpy()
    out["save_rate"] = actions["save_rate"].to_numpy()
    out["marketing_consent"] = consent
    out["expected_loss"] = out["churn_probability"] * out["clv_lifetime"]
    out["expected_saved_value"] = out["expected_loss"] * out["save_rate"] - out["action_cost"]
    out["priority_rank"] = (
        out["expected_saved_value"].rank(ascending=False, method="first").astype(int)
    )
    out["in_control_group"] = control_flag(
        f"retention-{as_of}", out["customer_id"], rules.control_share
    )
    out["next_purchase_date"] = _next_purchase(
        features, as_of, models.horizon_days, out["lifecycle_stage"]
    )
    out["churn_model_version"] = models.churn_version
    out["clv_model_version"] = models.clv_version
    out["feature_set_version"] = feature_set_version()
    out.insert(0, "as_of", pd.Timestamp(as_of))

    transitions = None
    if previous_date is not None:
        matrix = transition_matrix(
            previous.set_index("customer_id")["lifecycle_stage"],
            out.set_index("customer_id")["lifecycle_stage"],
        )
        transitions = (
            matrix.stack()
            .rename("customers")
            .reset_index()
            .rename(columns={"from": "from_stage", "to": "to_stage"})
        )
        transitions = transitions.rename(
            columns={transitions.columns[0]: "from_stage", transitions.columns[1]: "to_stage"}
        )
        transitions["previous_as_of"] = previous_date
    found_alerts = _alerts(out, previous, rules, _open_drop_alerts(conn, as_of))
    return ScoreResult(as_of, out, transitions, found_alerts, weights, thresholds, models, snapshot)


def _next_purchase(
    features: pd.DataFrame, as_of: date, horizon: int, stage: pd.Series
) -> pd.Series:
    """Own rhythm where known (mean gap minus days since last purchase), else BG/NBD's rate."""
    rhythm = (features["gap_mean_days"] - features["recency_days"]).clip(lower=1)
    rate = features["btyd_expected_purchases"] / horizon
    days = rhythm.where(rhythm.notna(), 1 / rate.where(rate > 0))
    days = days.where(~stage.isin(["churned"]).to_numpy()).clip(upper=3 * 365)
    dates = pd.Timestamp(as_of) + pd.to_timedelta(np.ceil(days), unit="D")
    return pd.Series(dates.dt.date.where(dates.notna(), None), index=features.index, dtype=object)


NO_VALUE_ALERT_STAGES = ("churned", "lapsed")


def _open_drop_alerts(conn: Connection, as_of: date) -> pd.Series:
    """Pre-drop value index of each customer's latest value-drop alert before `as_of`."""
    frame = read_frame(
        conn,
        sa.select(alerts.c.customer_id, alerts.c.as_of, alerts.c.previous_value).where(
            alerts.c.alert_type == "value_index_drop", alerts.c.as_of < as_of
        ),
    )
    if frame.empty:
        return pd.Series(dtype="float64")
    latest = frame.sort_values("as_of").drop_duplicates("customer_id", keep="last")
    return pd.to_numeric(latest.set_index("customer_id")["previous_value"], errors="coerce")


def _alerts(
    out: pd.DataFrame,
    previous: pd.DataFrame,
    rules: ScoringSettings,
    open_drops: pd.Series | None = None,
) -> pd.DataFrame:
    """High risk fires on entering the tier (once until the customer leaves it). A value drop
    fires only for customers not already churned or lapsed, and not again while an earlier
    drop alert is still open: the index has stayed below that alert's pre-drop level."""
    columns = ["customer_id", "alert_type", "previous_value", "current_value"]
    if previous.empty:
        return pd.DataFrame(columns=columns)
    merged = out.merge(previous, on="customer_id", suffixes=("", "_prev"))
    risk = merged[(merged["risk_tier"] == "high") & (merged["risk_tier_prev"] != "high")]
    keep = 1 - rules.value_drop_alert_share
    dropped = merged["value_index"] < merged["value_index_prev"] * keep
    reference = merged["customer_id"].map(open_drops if open_drops is not None else {})
    # an earlier drop alert has cleared once the index was back near its pre-drop level
    still_open = (merged["value_index_prev"] < reference.astype("float64") * keep).fillna(False)
    drop = merged[
        dropped & ~merged["lifecycle_stage"].isin(NO_VALUE_ALERT_STAGES) & ~still_open.astype(bool)
    ]
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": risk["customer_id"],
                    "alert_type": "entered_high_risk",
                    "previous_value": risk["risk_tier_prev"],
                    "current_value": risk["risk_tier"],
                }
            ),
            pd.DataFrame(
                {
                    "customer_id": drop["customer_id"],
                    "alert_type": "value_index_drop",
                    "previous_value": drop["value_index_prev"].round(2).astype(str),
                    "current_value": drop["value_index"].round(2).astype(str),
                }
            ),
        ],
        ignore_index=True,
    )[columns]


def write_scores(conn: Connection, result: ScoreResult, weights_source: str) -> None:
    """Replace this date's scores, transitions, alerts and value-index version in one transaction."""
    as_of = result.as_of
    for table in (customer_scores, stage_transitions, alerts, value_index_versions):
        conn.execute(sa.delete(table).where(table.c.as_of == as_of))
    write_frame(
        conn, customer_scores, result.scores.assign(scored_at=datetime.now().replace(microsecond=0))
    )
    if result.transitions is not None:
        write_frame(conn, stage_transitions, result.transitions.assign(as_of=as_of))
    write_frame(conn, alerts, result.alerts.assign(as_of=as_of))
    conn.execute(
        value_index_versions.insert().values(
            as_of=as_of,
            weights=json.dumps(result.weights.round(6).to_dict()),
            weights_source=weights_source,
            tier_thresholds=json.dumps(result.thresholds),
            created_at=datetime.now().replace(microsecond=0),
        )
    )
