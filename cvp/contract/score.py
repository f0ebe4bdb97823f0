"""Scoring a subscriber snapshot with the champion contract model (`cvp score --label supplied`).

Per customer of the imported snapshot: calibrated P(churn); expected remaining tenure in months
from the Weibull model at their tenure; contractual CLV = monthly fee x the expected number of
the next `lifetime_years` x 12 monthly payments, each discounted at `[scoring]
annual_discount_rate`; and a risk tier by the `[scoring]` risk shares over the active customers.
Customers the label marks as churned keep their P(churn) but have no remaining tenure or value.
One set of rows per snapshot date in `contract_scores`: re-scoring a date replaces it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sqlalchemy.engine import Connection

from cvp.config import ScoringSettings
from cvp.contract.dataset import DURATION_OFFSET, Snapshot, survival_covariates
from cvp.contract.store import contract_scores
from cvp.contract.train import load_artifacts
from cvp.data.warehouse import write_frame
from cvp.errors import StateError
from cvp.models.predictors import load_predictor
from cvp.models.registry import CHAMPION
from cvp.names import CONTRACT_CHURN_MODEL
from cvp.scoring.score import risk_tiers


@dataclass
class ContractScores:
    scores: pd.DataFrame
    version: str
    snapshot_date: object


def monthly_rate(annual: float) -> float:
    return float((1 + annual) ** (1 / 12) - 1)


def score_snapshot(
    snapshot: Snapshot, client: MlflowClient, rules: ScoringSettings
) -> ContractScores:
    try:
        version = client.get_model_version_by_alias(CONTRACT_CHURN_MODEL, CHAMPION)
    except MlflowException as exc:
        raise StateError(
            f"no {CONTRACT_CHURN_MODEL} champion yet: run `cvp train --label supplied` first"
        ) from exc
    booster = load_predictor(f"models:/{CONTRACT_CHURN_MODEL}@{CHAMPION}")
    assert version.run_id is not None
    calibrator, encoding, survival = load_artifacts(version.run_id)
    values = snapshot.values
    missing = [c for c in encoding.columns if c not in values.columns]
    if missing:
        raise StateError(
            f"the imported snapshot lacks the model's attributes {missing}; import a snapshot "
            "with the same columns or retrain with `cvp train --label supplied`"
        )
    x = encoding.transform(values)
    probability = calibrator.apply(np.asarray(booster.predict(x[booster.feature_name()])))
    tenure_column = snapshot.field("tenure")
    fee_column = snapshot.field("fee")
    if tenure_column is None or fee_column is None:
        raise StateError("the snapshot has no tenure or fee: import it with --type, --plan, --fee")
    tenure = values[tenure_column].to_numpy(dtype=float) + DURATION_OFFSET
    covariates = survival_covariates(snapshot, values).reindex(
        columns=survival.columns, fill_value=0.0
    )
    label = snapshot.label
    churned = (
        (values[label] == 1).fillna(False).to_numpy(dtype=bool)
        if label
        else np.zeros(len(values), bool)
    )
    remaining = np.where(churned, 0.0, survival.expected_remaining(tenure, covariates))
    months = survival.discounted_months(
        tenure, covariates, monthly_rate(rules.annual_discount_rate), int(rules.lifetime_years * 12)
    )
    fee = values[fee_column].to_numpy(dtype=float)
    clv = np.where(churned, 0.0, np.nan_to_num(fee) * months)
    tiers = risk_tiers(probability, rules, ~churned)
    scores = pd.DataFrame(
        {
            "snapshot_date": pd.Timestamp(snapshot.snapshot_date),
            "customer_id": values.index.to_numpy(),
            "status": np.where(churned, "churned", "active"),
            "churn_probability": probability,
            "expected_remaining_months": remaining,
            "contract_clv": clv,
            "risk_tier": tiers,
            "model_version": str(version.version),
        }
    )
    return ContractScores(scores, str(version.version), snapshot.snapshot_date)


def write_contract_scores(conn: Connection, result: ContractScores, now: datetime) -> None:
    table = contract_scores
    conn.execute(
        sa.delete(table).where(table.c.snapshot_date == pd.Timestamp(result.snapshot_date).date())
    )
    write_frame(conn, table, result.scores.assign(scored_at=pd.Timestamp(now).floor("s")))
