"""Consent as a history: every change is a row; the state of a purpose at a date is its latest
change on or before the end of that day, so a backfill never uses consent given later.

Absent history is not an error but a policy (`[privacy]` in `cvp.toml`): by default nobody is
contacted without a recorded marketing grant, and only a recorded refusal excludes a customer
from profiling. An explicit refusal always wins, including over a grant at the same instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.config import PrivacySettings
from cvp.data import schema
from cvp.data.warehouse import read_frame

PURPOSES: tuple[str, ...] = ("marketing", "profiling", "analytics")
NO_MARKETING_CONSENT_HINT = "import consent or see [privacy] in cvp.toml"


def _end_of(as_of: date) -> datetime:
    return datetime.combine(as_of + timedelta(days=1), time())


def _latest_changes(as_of: date | None) -> sa.Subquery:
    """Every recorded change ranked per customer and purpose, latest first (`change_rank` 1 is
    the state), on or before `as_of` (every change ever recorded when None)."""
    c = schema.consent
    rank = (
        sa.func.row_number()
        .over(
            partition_by=(c.c.customer_id, c.c.purpose),
            # a refusal and a grant at the same instant: the refusal wins
            order_by=(c.c.ts.desc(), c.c.granted.asc()),
        )
        .label("change_rank")
    )
    inner = sa.select(c.c.customer_id, c.c.purpose, c.c.granted, c.c.ts, c.c.source, rank)
    if as_of is not None:
        inner = inner.where(c.c.ts < _end_of(as_of))
    return inner.subquery()


def consent_state(conn: Connection, as_of: date | None = None) -> pd.DataFrame:
    """Latest recorded change per customer and purpose on or before `as_of` (every change ever
    recorded when None): columns customer_id, purpose, granted, changed_at, source."""
    latest = _latest_changes(as_of)
    frame = read_frame(
        conn,
        sa.select(
            latest.c.customer_id,
            latest.c.purpose,
            latest.c.granted,
            latest.c.ts.label("changed_at"),
            latest.c.source,
        ).where(latest.c.change_rank == 1),
    )
    frame["granted"] = frame["granted"].astype(bool)
    return frame


def permissions(
    conn: Connection,
    customer_ids: pd.Series | np.ndarray | list[str],
    as_of: date | None,
    policy: PrivacySettings,
) -> pd.DataFrame:
    """One boolean column per purpose, indexed by customer id, at `as_of` (None: the latest
    state): the recorded state where there is one, the policy's default where there is none.

    The state comes pivoted from the database, one row per customer with a column per purpose
    (null where none is recorded): at 1 M customers the long form (a row per customer and
    purpose, with its time and source) was 0.5 GB of scoring's peak for three booleans each."""
    latest = _latest_changes(as_of)
    state = read_frame(
        conn,
        sa.select(
            latest.c.customer_id,
            *(
                sa.func.bool_or(latest.c.granted).filter(latest.c.purpose == purpose).label(purpose)
                for purpose in PURPOSES
            ),
        )
        .where(latest.c.change_rank == 1)
        .group_by(latest.c.customer_id),
    ).set_index("customer_id")
    ids = pd.Index(pd.Series(customer_ids, dtype="string").to_numpy(), name="customer_id")
    # each customer's row in the state, matched once for every purpose (a string lookup of 1 M
    # ids costs most of a second)
    rows = pd.Index(state.index.astype("string").to_numpy()).get_indexer(ids)
    found = rows >= 0
    out = pd.DataFrame(index=ids)
    for purpose in PURPOSES:
        recorded = state[purpose].to_numpy(dtype=object, na_value=None)
        granted = np.full(len(ids), policy.default_for(purpose), dtype=bool)
        known = found.copy()
        known[found] = pd.notna(recorded[rows[found]])
        granted[known] = recorded[rows[known]].astype(bool)
        out[purpose] = granted
    return out


def recorded_changes(conn: Connection, purpose: str, as_of: date | None = None) -> int:
    """How many changes for `purpose` are recorded (on or before `as_of`)."""
    c = schema.consent
    query = sa.select(sa.func.count()).select_from(c).where(c.c.purpose == purpose)
    if as_of is not None:
        query = query.where(c.c.ts < _end_of(as_of))
    return int(conn.execute(query).scalar_one())


def may_contact(
    conn: Connection, customer_ids: pd.Series, as_of: date, policy: PrivacySettings
) -> np.ndarray:
    """Contact lists (plan, activation export) need marketing consent at the scores date and
    still now: a revocation recorded after scoring removes the customer from every later list."""
    at_date = permissions(conn, customer_ids, as_of, policy)["marketing"].to_numpy()
    latest = permissions(conn, customer_ids, None, policy)["marketing"].to_numpy()
    return at_date & latest


@dataclass
class ScoringConsent:
    """What scoring may do for each known customer at a date, and the counts for its summary."""

    as_of: date
    table: pd.DataFrame  # index customer_id; bool columns per purpose
    marketing_changes_recorded: int

    @property
    def profiling_allowed(self) -> np.ndarray:
        return self.table["profiling"].to_numpy()

    def may_contact(self, customer_ids: pd.Series) -> np.ndarray:
        return self.table["marketing"].reindex(customer_ids).fillna(False).astype(bool).to_numpy()

    def summary(self) -> dict[str, int]:
        """Counts for the run summary (CLI, MLflow metrics, audit notes)."""
        profiling = self.table["profiling"]
        marketing = self.table["marketing"]
        return {
            "customers_known": len(self.table),
            "profiling_opt_out": int((~profiling).sum()),
            "no_marketing_consent": int((~marketing).sum()),
            "contactable": int((marketing & profiling).sum()),
        }


def consent_for_scoring(
    conn: Connection, as_of: date, customer_ids: pd.Series, policy: PrivacySettings
) -> ScoringConsent:
    """The consent step of scoring: profiling opt-outs get no prediction, reasons or action
    (their rows are left out before the models run); only marketing grants may be contacted."""
    return ScoringConsent(
        as_of,
        permissions(conn, customer_ids, as_of, policy),
        recorded_changes(conn, "marketing", as_of),
    )


def empty_contact_reason(conn: Connection, as_of: date, scored: int, contactable: int) -> str:
    """One line saying why nobody may be contacted, for `cvp plan` and the activation export."""
    if recorded_changes(conn, "marketing", as_of) == 0:
        return (
            f"{contactable} customers may be contacted: no marketing consent recorded "
            f"on or before {as_of}; {NO_MARKETING_CONSENT_HINT}"
        )
    return (
        f"{contactable} customers may be contacted: none of the {scored:,} scored customers has "
        f"marketing consent on {as_of} and now"
    )
