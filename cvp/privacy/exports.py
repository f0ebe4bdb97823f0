"""What leaves the warehouse: the pseudonymous scores export and the activation export, the only
path by which source ids leave (re-identified through `customer_identities`, never derived from
anything else), limited to customers who may be contacted. Every export is audited by the job
that calls these (`cvp.jobs.scoring_jobs`)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.config import PrivacySettings
from cvp.data import schema
from cvp.data.warehouse import read_frame
from cvp.errors import BadInput, StateError
from cvp.privacy.consent import empty_contact_reason, may_contact
from cvp.scoring.store import customer_scores, retention_plan

SCORES_COLUMNS = [c.name for c in customer_scores.columns if c.name != "scored_at"]
ACTIVATION_COLUMNS = [
    "source_customer_id",
    "as_of",
    "next_best_action",
    "channel",
    "incentive",
    "top_reasons",
    "risk_tier",
    "churn_probability",
    "value_tier",
    "clv_lifetime",
    "priority_rank",
    "in_plan",
]
CONTACT_PURPOSES = ("marketing",)  # the purposes that authorise contacting someone
NO_CONTACT = ("none",)


class ExportError(BadInput):
    """The export cannot be written as asked (wrong purpose, wrong file type): exit 2."""


class NoScoresToExport(StateError, ExportError):
    """The date has no scores yet: a state, not a bad argument (exit 3)."""


@dataclass
class ActivationFrame:
    frame: pd.DataFrame
    scored: int
    without_identity: int
    reason_empty: str | None


def check_destination(out: Path) -> str:
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ExportError(f"{out}: use a .csv or .parquet file name")
    return suffix


def scores_frame(conn: Connection, as_of: date) -> pd.DataFrame:
    """Every scored customer of the date, pseudonymous ids only (no identity table is read)."""
    frame = read_frame(
        conn,
        sa.select(*(customer_scores.c[c] for c in SCORES_COLUMNS))
        .where(customer_scores.c.as_of == as_of)
        .order_by(customer_scores.c.priority_rank),
    )
    if frame.empty:
        raise NoScoresToExport(f"no scores for {as_of}: run `cvp score --as-of {as_of}` first")
    return frame


def activation_frame(
    conn: Connection, as_of: date, purpose: str, policy: PrivacySettings
) -> ActivationFrame:
    """Customers to contact for `purpose`, with their source ids: consent at the scores date and
    still now, a real action, not held out in the control group."""
    if purpose not in CONTACT_PURPOSES:
        raise ExportError(
            f"--purpose {purpose!r} does not authorise contacting anyone; "
            f"use one of {', '.join(CONTACT_PURPOSES)}"
        )
    s, i = customer_scores, schema.customer_identities
    planned = (
        sa.select(retention_plan.c.customer_id)
        .where(retention_plan.c.as_of == as_of, retention_plan.c.arm == "treatment")
        .subquery()
    )
    scored = conn.execute(
        sa.select(sa.func.count()).select_from(s).where(s.c.as_of == as_of)
    ).scalar_one()
    if not scored:
        raise NoScoresToExport(f"no scores for {as_of}: run `cvp score --as-of {as_of}` first")
    frame = read_frame(
        conn,
        sa.select(
            s.c.customer_id,
            i.c.source_customer_id,
            s.c.as_of,
            s.c.next_best_action,
            s.c.channel,
            s.c.incentive,
            s.c.top_reasons,
            s.c.risk_tier,
            s.c.churn_probability,
            s.c.value_tier,
            s.c.clv_lifetime,
            s.c.priority_rank,
            planned.c.customer_id.is_not(None).label("in_plan"),
        )
        .select_from(
            s.outerjoin(i, i.c.customer_id == s.c.customer_id).outerjoin(
                planned, planned.c.customer_id == s.c.customer_id
            )
        )
        .where(
            s.c.as_of == as_of,
            s.c.marketing_consent.is_(True),
            s.c.in_control_group.is_(False),
            s.c.channel.not_in(NO_CONTACT),
        )
        .order_by(s.c.priority_rank),
    )
    allowed = may_contact(conn, frame["customer_id"], as_of, policy)
    frame = frame.loc[allowed]
    without_identity = int(frame["source_customer_id"].isna().sum())
    frame = frame.loc[frame["source_customer_id"].notna(), ACTIVATION_COLUMNS]
    frame = frame.reset_index(drop=True)
    reason = None
    if frame.empty:
        reason = empty_contact_reason(conn, as_of, int(scored), 0)
    return ActivationFrame(frame, int(scored), without_identity, reason)


def write_export(frame: pd.DataFrame, out: Path) -> None:
    """CSV (text quoted, so ids like 000123 stay text in spreadsheets) or Parquet (typed)."""
    suffix = check_destination(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False, quoting=csv.QUOTE_NONNUMERIC)


def read_export(path: Path) -> pd.DataFrame:
    """Read an export back with every id as text (used by `cvp forget` to rewrite old exports)."""
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    ids = {"customer_id": "string", "source_customer_id": "string"}
    return pd.read_csv(path, dtype=ids, keep_default_na=False)
