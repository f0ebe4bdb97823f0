"""Monthly KPI time series, overall and per customer segment.

Definitions (calendar months, up to the month of `as_of`):
- `active_customers`: customers with a purchase in the month or the two before (the 90-day
  activity the churn label uses, on month boundaries);
- `churn_rate`: share of the previous month's active customers no longer active this month;
  `retention_rate` = 1 - churn_rate;
- `repurchase_rate`: share of last month's buyers who bought again this month;
- `revenue` (net of refunds), `aov` (gross purchase value / purchases);
- `nps` (% promoters 9-10 minus % detractors 0-6), `csat` (mean 1-5) and `complaint_rate`
  (complaint tickets per active customer), only when those tables have rows in the month.
Aggregation to customer-months runs in the warehouse; the rest works on that small table."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.data import schema
from cvp.data.warehouse import read_frame

SEGMENT_COLUMNS = ("country", "acquisition_channel", "is_contractual")
ACTIVE_MONTHS = 3


def _monthly(
    conn: Connection, table: sa.Table, ts: sa.Column, *columns, end: datetime
) -> pd.DataFrame:
    month = sa.func.date_trunc("month", ts).label("month")
    query = (
        sa.select(table.c.customer_id, month, *columns)
        .where(ts <= end)
        .group_by(table.c.customer_id, month)
    )
    frame = read_frame(conn, query)
    frame["month"] = pd.to_datetime(frame["month"]).dt.to_period("M")
    for column in frame.columns.difference(["customer_id", "month"]):
        frame[column] = pd.to_numeric(frame[column].astype(object)).astype("float64")
    return frame


def customer_months(conn: Connection, as_of: date) -> dict[str, pd.DataFrame]:
    end = datetime.combine(as_of, datetime.max.time())
    t, v, k = schema.transactions, schema.surveys, schema.support_tickets
    sales = _monthly(
        conn,
        t,
        t.c.ts,
        sa.func.sum(t.c.amount).label("revenue"),
        sa.func.sum(sa.case((t.c.is_refund, 0.0), else_=t.c.amount)).label("gross"),
        sa.func.sum(sa.case((t.c.is_refund, 0), else_=1)).label("purchases"),
        end=end,
    )
    surveys = _monthly(
        conn,
        v,
        v.c.ts,
        sa.func.sum(sa.case((v.c.nps >= 9, 1), else_=0)).label("promoters"),
        sa.func.sum(sa.case((v.c.nps <= 6, 1), else_=0)).label("detractors"),
        sa.func.count(v.c.nps).label("nps_answers"),
        sa.func.sum(v.c.csat).label("csat_sum"),
        sa.func.count(v.c.csat).label("csat_answers"),
        end=end,
    )
    complaints = _monthly(
        conn,
        k,
        k.c.opened_at,
        sa.func.sum(sa.case((k.c.category == "complaint", 1), else_=0)).label("complaints"),
        end=end,
    )
    return {"sales": sales, "surveys": surveys, "complaints": complaints}


def _series(parts: dict[str, pd.DataFrame], months: pd.PeriodIndex) -> pd.DataFrame:
    sales = parts["sales"]
    buyers = sales[sales["purchases"] > 0]
    bought = {m: set(g["customer_id"]) for m, g in buyers.groupby("month")}
    rows = []
    for m in months:
        now = bought.get(m, set())
        previous = bought.get(m - 1, set())
        active = set().union(*(bought.get(m - i, set()) for i in range(ACTIVE_MONTHS)))
        active_before = set().union(*(bought.get(m - 1 - i, set()) for i in range(ACTIVE_MONTHS)))
        month_sales = sales[sales["month"] == m]
        churned = len(active_before - active) / len(active_before) if active_before else np.nan
        row = {
            "month": m.to_timestamp().date(),
            "active_customers": float(len(active)),
            "churn_rate": churned,
            "retention_rate": 1 - churned if active_before else np.nan,
            "repurchase_rate": len(now & previous) / len(previous) if previous else np.nan,
            "revenue": float(month_sales["revenue"].sum()),
            "aov": float(month_sales["gross"].sum() / month_sales["purchases"].sum())
            if month_sales["purchases"].sum()
            else np.nan,
        }
        surveys = parts["surveys"][parts["surveys"]["month"] == m]
        if surveys["nps_answers"].sum():
            n = surveys["nps_answers"].sum()
            row["nps"] = float(100 * (surveys["promoters"].sum() - surveys["detractors"].sum()) / n)
        if surveys["csat_answers"].sum():
            row["csat"] = float(surveys["csat_sum"].sum() / surveys["csat_answers"].sum())
        complaints = parts["complaints"][parts["complaints"]["month"] == m]
        if not complaints.empty and active:
            row["complaint_rate"] = float(complaints["complaints"].sum() / len(active))
        rows.append(row)
    return pd.DataFrame(rows)


def kpi_series(conn: Connection, as_of: date, months: int = 24) -> pd.DataFrame:
    """Long table: month, segment_type, segment, kpi, value (overall and per segment)."""
    parts = customer_months(conn, as_of)
    if parts["sales"].empty:
        return pd.DataFrame(columns=["month", "segment_type", "segment", "kpi", "value"])
    last = pd.Period(as_of, "M")
    first = max(parts["sales"]["month"].min(), last - (months - 1))
    index = pd.period_range(first, last, freq="M")
    customers = read_frame(
        conn,
        sa.select(
            schema.customers.c.customer_id, *(schema.customers.c[c] for c in SEGMENT_COLUMNS)
        ),
    )
    frames = [_series(parts, index).assign(segment_type="overall", segment="all")]
    for column in SEGMENT_COLUMNS:
        values = customers[column]
        if values.isna().all():
            continue
        for segment, ids in customers.groupby(values.astype("string").fillna("unknown"))[
            "customer_id"
        ]:
            keep = set(ids)
            subset = {name: f[f["customer_id"].isin(keep)] for name, f in parts.items()}
            frames.append(_series(subset, index).assign(segment_type=column, segment=str(segment)))
    wide = pd.concat(frames, ignore_index=True)
    long = wide.melt(
        id_vars=["month", "segment_type", "segment"], var_name="kpi", value_name="value"
    )
    return long.dropna(subset=["value"]).reset_index(drop=True)
