"""Score every customer known at a date with the champion models and derive the decisions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
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

from cvp.actions.playbook import DEFAULT_PLAYBOOK, Playbook, apply_playbook, load_playbook
from cvp.actions.reasons import WOODELF_CHUNK_ROWS, acted_on, explain
from cvp.config import PrivacySettings, ScoringSettings, TrainingSettings
from cvp.data.warehouse import read_frame, write_frame
from cvp.errors import StateError
from cvp.features.build import build_features, feature_set_version
from cvp.models.calibration import Calibrator
from cvp.models.dataset import BtydFit, add_btyd_features, fit_btyd
from cvp.models.predictors import Predictor, load_churn_model, load_predictor
from cvp.models.registry import CHAMPION, booster_features, frame_for
from cvp.models.timing import next_purchase_dates, predicted_wait
from cvp.names import CHURN_MODEL, CLV_MODEL, campaign_name, model_versions
from cvp.privacy.consent import ScoringConsent, consent_for_scoring
from cvp.scoring.store import alerts, customer_scores, stage_transitions, value_index_versions
from cvp.value.index import INDICATORS, tier_thresholds, value_index, value_tiers
from cvp.value.lifecycle import STAGE_COLUMNS, LifecycleRules, lifecycle_stage, transition_matrix
from cvp.value.rfm import rfm_scores


class NoChampionModel(StateError):
    """Nothing to score with: no champion in the registry (train first)."""


@dataclass
class ChampionModels:
    churn: lgb.Booster
    clv: Predictor
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
    return model_versions(churn_v.version, clv_v.version)


def load_champions(client: MlflowClient) -> ChampionModels:
    churn_v, clv_v = _champion_model_versions(client)

    def calibration() -> Calibrator:  # logged beside a churn version registered as a booster
        path = mlflow.artifacts.download_artifacts(
            run_id=churn_v.run_id, artifact_path="calibration.json"
        )
        return Calibrator.from_dict(json.loads(Path(path).read_text()))

    churn = load_churn_model(f"models:/{CHURN_MODEL}@{CHAMPION}", calibration)
    # the horizon the churn model was trained on (logged on its run; older runs: the default)
    logged = client.get_run(str(churn_v.run_id)).data.params.get("horizon_days")
    horizon = int(logged) if logged else TrainingSettings().horizon_days
    return ChampionModels(
        churn=churn.booster,
        clv=load_predictor(f"models:/{CLV_MODEL}@{CHAMPION}"),  # a booster, hurdle or BTYD
        churn_version=str(churn_v.version),
        clv_version=str(clv_v.version),
        calibrator=churn.calibrator,
        horizon_days=horizon,
    )


def control_flag(campaign: str, customer_ids: pd.Series, share: float) -> np.ndarray:
    """Deterministic per (campaign, customer): the same customer is held out on every re-run.

    The draw is the first 4 bytes of SHA-256("campaign:customer_id"), big-endian, over
    0xFFFFFFFF (the first 8 hex digits, as the control groups of earlier runs were drawn), read
    for all customers at once from the joined digests."""
    prefix = f"{campaign}:".encode()
    head = b"".join(
        hashlib.sha256(prefix + str(cid).encode()).digest()[:4]
        for cid in pd.Series(customer_ids, dtype=object).tolist()
    )
    return np.frombuffer(head, dtype=">u4") / 0xFFFFFFFF < share


def lifetime_value(
    clv_horizon: np.ndarray, churn_p: np.ndarray, horizon_days: int, rules: ScoringSettings
) -> np.ndarray:
    """Sum over future horizons of expected revenue, decayed by retention and discounted."""
    periods = max(1, int(round(rules.lifetime_years * 365 / horizon_days)))
    discount = (1 + rules.annual_discount_rate) ** (horizon_days / 365) - 1
    factor = (1 - churn_p) / (1 + discount)
    # geometric sum 1 + f + ... + f^(periods-1); f = 1 (no churn, no discount) sums to `periods`
    with np.errstate(divide="ignore", invalid="ignore"):
        geometric = np.where(
            np.isclose(factor, 1.0), periods, (1 - factor**periods) / np.maximum(1 - factor, 1e-12)
        )
    return clv_horizon * geometric


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
    consent: ScoringConsent | None = None


@dataclass
class Predictions:
    """Model outputs for every customer, in the order of the feature frame."""

    churn_probability: np.ndarray
    clv_expected: np.ndarray


@dataclass
class ValueAssessment:
    index: pd.Series
    tiers: pd.Series
    weights: pd.Series
    thresholds: dict[str, float]


def score(
    conn: Connection,
    models: ChampionModels,
    as_of: date,
    rules: ScoringSettings,
    lifecycle: LifecycleRules,
    snapshot: pd.DataFrame | None = None,
    privacy: PrivacySettings | None = None,
    model_step: ModelStep | None = None,
    explain_step: ExplainStep | None = None,
) -> ScoreResult:
    """Compute the scores for `as_of` (no writes); `snapshot` reuses features already built.

    Each step adds the columns it owns to `out`; the order is the dependency order: value needs
    CLV, the playbook needs tiers, stage and reasons, expected value needs the action.
    `model_step` and `explain_step` say where the per-customer model work runs (in this process
    by default; `cvp/execution/dask_engine.py` runs them on a cluster)."""
    snapshot = build_features(conn, as_of) if snapshot is None else snapshot
    model_step = model_step or (predict_and_explain if rules.reasons_for == "all" else predict_only)
    # consent: profiling opt-outs get no individual prediction; marketing decides contact below
    consent = consent_for_scoring(
        conn, as_of, snapshot["customer_id"], privacy or PrivacySettings()
    )
    profiled = snapshot.loc[consent.profiling_allowed].reset_index(drop=True)
    modelled = model_step(models, profiled, fit_btyd(profiled))
    features, predicted = modelled.features, modelled.predicted
    out = risk_and_value_columns(features["customer_id"], predicted, models.horizon_days, rules)
    value = assess_value(features, predicted.clv_expected, rules)
    out["value_index"] = value.index.to_numpy()
    out["value_tier"] = value.tiers.to_numpy()
    out = pd.concat([out, rfm_scores(features)], axis=1)
    previous_date, previous = _previous(conn, as_of)
    _put(out, lifecycle_columns(features, predicted.churn_probability, previous, lifecycle))
    _put(out, risk_tier_column(out, rules))
    playbook = load_playbook(rules.playbook or DEFAULT_PLAYBOOK)
    reasons = modelled.reasons
    if reasons is None:  # `[scoring] reasons_for = "acted"`
        reasons = acted_reason_columns(
            models.churn, frame_for(models.churn, features), out, playbook, explain_step or explain
        )
    _put(out, reasons)
    actions = apply_playbook(playbook, out)
    actions, contact = marketing_consent_step(consent, out["customer_id"], actions)
    _put(out, action_columns(actions, contact))
    _put(out, expected_value_columns(out))
    out["in_control_group"] = control_flag(
        campaign_name(as_of), out["customer_id"], rules.control_share
    )
    wait = predicted_wait(features, rules.next_purchase_min_p_alive, rules.next_purchase_max_days)
    _put(out, next_purchase_dates(wait, as_of))
    out = with_provenance(out, models, as_of)
    transitions = stage_transitions_since(previous_date, previous, out)
    found_alerts = find_alerts(out, previous, rules, _open_drop_alerts(conn, as_of))
    return ScoreResult(
        as_of,
        out,
        transitions,
        found_alerts,
        value.weights,
        value.thresholds,
        models,
        snapshot,
        consent,
    )


@dataclass
class ModelOutputs:
    """What the models say about some customers: each row depends on that customer alone."""

    features: pd.DataFrame  # the snapshot rows with the BTYD columns added
    predicted: Predictions
    reasons: pd.DataFrame | None  # None: computed later, for the customers acted on only

    @staticmethod
    def concat(parts: list[ModelOutputs]) -> ModelOutputs:
        """The parts one after the other, as if computed at once."""
        return ModelOutputs(
            pd.concat([p.features for p in parts], ignore_index=True),
            Predictions(
                np.concatenate([p.predicted.churn_probability for p in parts]),
                np.concatenate([p.predicted.clv_expected for p in parts]),
            ),
            None
            if any(p.reasons is None for p in parts)
            else pd.concat([p.reasons for p in parts if p.reasons is not None], ignore_index=True),
        )


ModelStep = Callable[["ChampionModels", pd.DataFrame, BtydFit], ModelOutputs]
# reasons (texts, families) for some rows of the churn model's inputs; each row's depend on it alone
ExplainStep = Callable[[lgb.Booster, pd.DataFrame], tuple[list[str], list[str]]]


def predict_and_explain(
    models: ChampionModels, profiled: pd.DataFrame, btyd: BtydFit
) -> ModelOutputs:
    """The models' part of scoring: BTYD features, calibrated predictions and TreeSHAP reasons.
    Given the population's BTYD fit it is per customer, so any partition of the customers can
    run it on its own (`cvp/execution/dask_engine.py`); the steps after it see everyone."""
    features = add_btyd_features(profiled, models.horizon_days, btyd)
    predicted = predict(models, features)
    reasons = reason_columns(models.churn, frame_for(models.churn, features))
    return ModelOutputs(features, predicted, reasons)


def predict_only(models: ChampionModels, profiled: pd.DataFrame, btyd: BtydFit) -> ModelOutputs:
    """`predict_and_explain` without the reasons: `score` explains, after the tiers and stages
    are known, only the customers someone acts on (`[scoring] reasons_for = "acted"`)."""
    features = add_btyd_features(profiled, models.horizon_days, btyd)
    return ModelOutputs(features, predict(models, features), None)


def _put(out: pd.DataFrame, columns: pd.DataFrame) -> None:
    """Add a step's columns in place (by position: every step keeps the customers' order)."""
    for name in columns.columns:
        out[name] = columns[name].to_numpy()


def model_matrix(booster: lgb.Booster | Predictor, features: pd.DataFrame) -> pd.DataFrame:
    """The booster's columns as one C-ordered float64 array in a frame. LightGBM reads such a
    frame in place; a frame of several blocks (the snapshot plus the BTYD columns) it copies
    into a new array on every predict, which at 1 M customers was the largest step of scoring's
    peak memory."""
    frame = frame_for(booster, features)
    values = frame.to_numpy(dtype="float64", na_value=np.nan)
    return pd.DataFrame(values, index=frame.index, columns=frame.columns, copy=False)


def predict(models: ChampionModels, features: pd.DataFrame) -> Predictions:
    """Calibrated churn probability and horizon CLV (never negative) per customer.

    The model matrix lives only here: the reasons read the churn model's columns of `features`
    (the same float64 values), so scoring does not hold a second copy of them (0.5 GB at 1 M)
    through its later steps."""
    x_churn = model_matrix(models.churn, features)
    churn_p = models.calibrator.apply(np.asarray(models.churn.predict(x_churn)))
    # both models usually read the same columns: one matrix then (1 s and 0.5 GB at 1 M)
    same = booster_features(models.clv) == list(x_churn.columns)
    x_clv = x_churn if same else model_matrix(models.clv, features)
    clv = np.maximum(np.asarray(models.clv.predict(x_clv)), 0)
    return Predictions(churn_p, clv)


# lifecycle stages past retention (quiet for `lapsed_after_days` or longer): win-back, not keep
RETAINABLE_EXCLUDES = ("lapsed", "churned")


def risk_cut_points(
    churn_p: np.ndarray, rules: ScoringSettings, retainable: np.ndarray | None = None
) -> dict[str, float]:
    """The churn probabilities from which a customer is high or medium risk at this date.

    Relative, as the value tiers are: among the customers who can still be kept (`retainable`:
    not lapsed or churned), the `high_risk_share` most likely to churn are high and the next
    `medium_risk_share` medium. An absolute cut (P >= 0.6) says little where the base rate is
    high (most customers would be "high"); a share keeps the tiers priority buckets of known
    size, and leaving the lapsed and churned out keeps "high" from meaning "gone months ago"
    (the same cut points then tier them). Customers tied at a cut share its tier."""
    base = churn_p if retainable is None or not np.any(retainable) else churn_p[retainable]
    return tier_thresholds(pd.Series(base), rules.high_risk_share, rules.medium_risk_share)


def risk_tiers(
    churn_p: np.ndarray, rules: ScoringSettings, retainable: np.ndarray | None = None
) -> np.ndarray:
    """high, medium or low by `risk_cut_points` (inclusive)."""
    cuts = risk_cut_points(churn_p, rules, retainable)
    return np.select(
        [churn_p >= cuts["high"], churn_p >= cuts["medium"]], ["high", "medium"], "low"
    )


def risk_tier_column(out: pd.DataFrame, rules: ScoringSettings) -> pd.DataFrame:
    """The risk tier step: needs the churn probability and the lifecycle stage."""
    retainable = ~out["lifecycle_stage"].isin(RETAINABLE_EXCLUDES).to_numpy()
    tiers = risk_tiers(out["churn_probability"].to_numpy(), rules, retainable)
    return pd.DataFrame({"risk_tier": tiers}, index=out.index)


def risk_and_value_columns(
    customer_ids: pd.Series, predicted: Predictions, horizon_days: int, rules: ScoringSettings
) -> pd.DataFrame:
    """The first columns of a score row: churn risk and what the customer is expected to be
    worth (the risk tier comes after the lifecycle stage, `risk_tier_column`)."""
    churn_p, clv = predicted.churn_probability, predicted.clv_expected
    out = pd.DataFrame(
        {"customer_id": customer_ids, "churn_probability": churn_p, "clv_expected": clv}
    )
    out["clv_lifetime"] = lifetime_value(clv, churn_p, horizon_days, rules)
    return out


def assess_value(
    features: pd.DataFrame, clv: np.ndarray, rules: ScoringSettings
) -> ValueAssessment:
    """Value index over the indicators (predicted CLV among them) and relative value tiers."""
    # only the columns the index reads: `assign` on the wide frame would copy all of it
    indicators = features[[c for c in INDICATORS if c != "clv_expected"]].assign(clv_expected=clv)
    index, weights = value_index(indicators, rules.value_index_weights)
    thresholds = tier_thresholds(index, rules.high_value_share, rules.medium_value_share)
    return ValueAssessment(index, value_tiers(index, thresholds), weights, thresholds)


def lifecycle_columns(
    features: pd.DataFrame,
    churn_p: np.ndarray,
    previous: pd.DataFrame,
    rules: LifecycleRules,
) -> pd.DataFrame:
    """Stage now and at the previous scored date (None for customers not scored then)."""
    prev_stage = (
        previous.set_index("customer_id")["lifecycle_stage"]
        .reindex(features["customer_id"])
        .to_numpy()
    )
    staged = features[list(STAGE_COLUMNS)].assign(churn_probability=churn_p)
    stage = lifecycle_stage(staged, pd.Series(prev_stage, index=features.index), rules)
    return pd.DataFrame(
        {"lifecycle_stage": stage.to_numpy(), "previous_stage": prev_stage}, index=features.index
    )


def reason_columns(
    churn_model: lgb.Booster,
    x_churn: pd.DataFrame,
    rows: np.ndarray | None = None,
    explain_rows: ExplainStep = explain,
) -> pd.DataFrame:
    """Top reasons in words, their families, and the first family the playbook matches on
    (`value` when nothing pushes the risk up). With `rows` (a boolean mask) only those rows are
    explained; the others get no reasons (empty text, family `value`)."""
    texts = np.full(len(x_churn), "", dtype=object)
    families = np.full(len(x_churn), "", dtype=object)
    picked = np.arange(len(x_churn)) if rows is None else np.flatnonzero(rows)
    # the picked rows are copied out a slice at a time (as many as `explain` keeps in flight):
    # a copy of all of them was 0.45 GB of scoring's peak at 1 M customers
    for start in range(0, len(picked), WOODELF_CHUNK_ROWS):
        some = picked[start : start + WOODELF_CHUNK_ROWS]
        # every row: consecutive, so a slice (a view, no copy)
        part = x_churn.iloc[start : start + len(some)] if rows is None else x_churn.iloc[some]
        texts[some], families[some] = explain_rows(churn_model, part)
    return pd.DataFrame(
        {
            "top_reasons": texts,
            "reason_families": families,
            "reason_family": [f.split(",")[0] if f else "value" for f in families],
        },
        index=x_churn.index,
    )


def acted_reason_columns(
    churn_model: lgb.Booster,
    x_churn: pd.DataFrame,
    out: pd.DataFrame,
    playbook: Playbook,
    explain_rows: ExplainStep = explain,
) -> pd.DataFrame:
    """`reason_columns` for the customers someone acts on (`acted_on`); exact TreeSHAP for the
    rest would change none of their actions."""
    return reason_columns(churn_model, x_churn, acted_on(playbook, out), explain_rows)


def marketing_consent_step(
    consent: ScoringConsent, customer_ids: pd.Series, actions: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers who may not be contacted for marketing at the date (consent history and the
    `[privacy]` policy) get no action and no cost."""
    contact = np.asarray(consent.may_contact(customer_ids), dtype=bool)
    actions.loc[~contact, ["next_best_action", "channel", "incentive"]] = [
        "suppressed_no_consent",
        "none",
        "none",
    ]
    actions.loc[~contact, ["unit_cost", "save_rate"]] = 0.0
    return actions, contact


def action_columns(actions: pd.DataFrame, consent: np.ndarray) -> pd.DataFrame:
    """The playbook's choice in the scores table's names."""
    return pd.DataFrame(
        {
            "next_best_action": actions["next_best_action"].to_numpy(),
            "channel": actions["channel"].to_numpy(),
            "incentive": actions["incentive"].to_numpy(),
            "action_cost": actions["unit_cost"].to_numpy(),
            "save_rate": actions["save_rate"].to_numpy(),
            "marketing_consent": consent,
        },
        index=actions.index,
    )


def expected_value_columns(out: pd.DataFrame) -> pd.DataFrame:
    """Expected loss = P(churn) x lifetime value; saved value = loss x save rate - action cost;
    rank 1 is the customer whose action saves the most (ties by order)."""
    loss = out["churn_probability"] * out["clv_lifetime"]
    saved = loss * out["save_rate"] - out["action_cost"]
    return pd.DataFrame(
        {
            "expected_loss": loss,
            "expected_saved_value": saved,
            "priority_rank": saved.rank(ascending=False, method="first").astype(int),
        }
    )


def with_provenance(out: pd.DataFrame, models: ChampionModels, as_of: date) -> pd.DataFrame:
    """Which models and feature set produced the row, and its date first."""
    out["churn_model_version"] = models.churn_version
    out["clv_model_version"] = models.clv_version
    out["feature_set_version"] = feature_set_version()
    out.insert(0, "as_of", pd.Timestamp(as_of))
    return out


def stage_transitions_since(
    previous_date: date | None, previous: pd.DataFrame, out: pd.DataFrame
) -> pd.DataFrame | None:
    """The stage transition matrix since the previous scored date, one row per (from, to)."""
    if previous_date is None:
        return None
    matrix = transition_matrix(
        previous.set_index("customer_id")["lifecycle_stage"],
        out.set_index("customer_id")["lifecycle_stage"],
    )
    transitions = matrix.stack().rename("customers").reset_index()
    transitions = transitions.rename(
        columns={transitions.columns[0]: "from_stage", transitions.columns[1]: "to_stage"}
    )
    transitions["previous_as_of"] = previous_date
    return transitions


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


def find_alerts(
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


def score_rows(result: ScoreResult) -> pd.DataFrame:
    """The `customer_scores` rows of a result, as written: what the scores suite checks before
    they replace the stored ones."""
    return result.scores.assign(scored_at=datetime.now().replace(microsecond=0))


def write_scores(conn: Connection, result: ScoreResult, weights_source: str) -> None:
    """Replace this date's scores, transitions, alerts and value-index version in the caller's
    transaction; validate `score_rows(result)` first, so failing scores never replace good ones."""
    as_of = result.as_of
    for table in (customer_scores, stage_transitions, alerts, value_index_versions):
        conn.execute(sa.delete(table).where(table.c.as_of == as_of))
    write_frame(conn, customer_scores, score_rows(result))
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
