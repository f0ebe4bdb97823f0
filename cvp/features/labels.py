"""Labels from the window after each cutoff: `(as_of, as_of + horizon]`, never earlier rows."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.data import schema
from cvp.data.warehouse import read_frame
from cvp.features.build import as_of_instant, build_features

DEFAULT_HORIZON_DAYS = 90
MIN_HISTORY_DAYS = 30


def labels_query(as_of: date, horizon_days: int, min_history_days: int) -> sa.Select:
    start, end = as_of_instant(as_of), as_of_instant(as_of + timedelta(days=horizon_days))
    c, t, u = schema.customers, schema.transactions, schema.subscriptions
    window = (
        sa.select(
            t.c.customer_id,
            sa.func.count().filter(~t.c.is_refund).label("purchases"),
            sa.func.sum(t.c.amount).label("revenue"),
            sa.func.sum(t.c.amount - t.c.cost).label("margin"),
            sa.func.min(t.c.ts).filter(~t.c.is_refund).label("next_purchase_at"),
        )
        .where(t.c.ts > start, t.c.ts <= end)
        .group_by(t.c.customer_id)
        .subquery("w")
    )
    as_of_day = sa.cast(sa.literal(as_of, sa.Date), sa.Date)
    end_day = sa.cast(sa.literal(as_of + timedelta(days=horizon_days), sa.Date), sa.Date)
    running = sa.and_(
        u.c.start_date <= as_of_day, sa.or_(u.c.end_date.is_(None), u.c.end_date > as_of_day)
    )
    contracts = (
        sa.select(
            u.c.customer_id,
            sa.func.max(sa.case((u.c.end_date <= end_day, 1), else_=0)).label("ends"),
        )
        .where(running)
        .group_by(u.c.customer_id)
        .subquery("s")
    )
    history_floor = sa.cast(sa.literal(as_of - timedelta(days=min_history_days), sa.Date), sa.Date)
    return (
        sa.select(
            c.c.customer_id,
            sa.case((sa.func.coalesce(window.c.purchases, 0) == 0, 1), else_=0).label("churned"),
            contracts.c.ends.label("contract_churned"),
            sa.func.coalesce(window.c.revenue, 0.0).label("future_revenue"),
            window.c.margin.label("future_margin"),
            window.c.next_purchase_at,
            sa.case((c.c.signup_date > history_floor, 1), else_=0).label("insufficient_history"),
        )
        .select_from(
            c.outerjoin(window, window.c.customer_id == c.c.customer_id).outerjoin(
                contracts, contracts.c.customer_id == c.c.customer_id
            )
        )
        .where(c.c.signup_date <= as_of)
        .order_by(c.c.customer_id)
    )


def build_labels(
    conn: Connection,
    as_of: date,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    min_history_days: int = MIN_HISTORY_DAYS,
) -> pd.DataFrame:
    """Churn (no purchase in the window), contractual churn (null without a running
    subscription), future revenue and margin, days from the end of `as_of` to the first
    purchase in the window (null without one: censored at the horizon, which the next-purchase
    backtest handles); young customers are flagged, not dropped."""
    frame = read_frame(conn, labels_query(as_of, horizon_days, min_history_days))
    first = pd.to_datetime(frame.pop("next_purchase_at"))
    frame["days_to_next_purchase"] = (first - pd.Timestamp(as_of_instant(as_of))) / pd.Timedelta(
        days=1
    )
    frame.insert(0, "as_of", pd.Timestamp(as_of))
    return frame


def closed_cutoffs(candidates: list[date], horizon_days: int, labels_known_by: date) -> list[date]:
    """Cutoffs whose whole label window ends on or before `labels_known_by`."""
    return [d for d in candidates if d + timedelta(days=horizon_days) <= labels_known_by]


def monthly_cutoffs(first: date, last: date) -> list[date]:
    """Month ends from `first` to `last`, inclusive."""
    ends = pd.date_range(first, last, freq="ME")
    return [d.date() for d in ends]


def training_set(
    conn: Connection, cutoffs: list[date], horizon_days: int, labels_known_by: date
) -> pd.DataFrame:
    """Features and labels stacked over the closed cutoffs, one row per (as_of, customer)."""
    parts = []
    for as_of in closed_cutoffs(cutoffs, horizon_days, labels_known_by):
        features = build_features(conn, as_of)
        labels = build_labels(conn, as_of, horizon_days)
        parts.append(features.merge(labels, on=["as_of", "customer_id"], validate="one_to_one"))
    if not parts:
        raise ValueError(
            f"no cutoff's {horizon_days}-day label window closes by {labels_known_by}: "
            "choose earlier cutoffs or a later date"
        )
    return pd.concat(parts, ignore_index=True)
