"""Monitoring and campaigns: KPI trends, realised accuracy against the backtest promise, drift,
and measured campaign uplift and ROI, read from the tables `cvp monitor` and `cvp measure`
write. What they have not written yet is said plainly."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.campaigns.store import campaign_results, campaigns
from cvp.data.warehouse import read_frame
from cvp.monitoring.kpis import kpi_series
from cvp.monitoring.store import drift_results, kpi_monthly, realised_accuracy
from cvp.reports.readings import SectionData, pct

TREND_KPIS = ("active_customers", "churn_rate", "repurchase_rate", "revenue")


def _kpis(conn: Connection, as_of: date) -> pd.DataFrame:
    """Stored monthly KPIs up to the date, else computed now from the warehouse (cheap: one
    aggregation to customer-months)."""
    k = kpi_monthly.c
    stored = read_frame(
        conn,
        sa.select(k.month, k.kpi, k.value).where(k.segment_type == "overall", k.month <= as_of),
    )
    frame = stored if not stored.empty else kpi_series(conn, as_of)
    if frame.empty:
        return frame
    if "segment_type" in frame:
        frame = frame[frame["segment_type"] == "overall"]
    return frame[frame["kpi"].isin(TREND_KPIS)][["month", "kpi", "value"]].sort_values("month")


def _accuracy(conn: Connection, as_of: date) -> pd.DataFrame:
    a = realised_accuracy.c
    return read_frame(
        conn,
        sa.select(a.scores_as_of, a.model, a.model_version, a.metric, a.realised, a.promised)
        .where(a.scores_as_of <= as_of)
        .order_by(a.scores_as_of),
    )


def _drift(conn: Connection, as_of: date) -> pd.DataFrame:
    d = drift_results.c
    latest = conn.execute(sa.select(sa.func.max(d.as_of)).where(d.as_of <= as_of)).scalar()
    if latest is None:
        return pd.DataFrame()
    return read_frame(
        conn,
        sa.select(d.as_of, d.feature, d.psi, d.ks_statistic, d.drifted)
        .where(d.as_of == latest)
        .order_by(d.psi.desc()),
    )


def _campaigns(conn: Connection, as_of: date) -> pd.DataFrame:
    r, c = campaign_results.c, campaigns.c
    return read_frame(
        conn,
        sa.select(
            r.campaign,
            r.metric,
            r.uplift,
            r.ci_low,
            r.ci_high,
            r.incremental_revenue,
            r.cost,
            r.roi,
        )
        .join_from(campaign_results, campaigns, r.campaign == c.campaign)
        .where(r.segment_type == "overall", c.scores_as_of <= as_of),
    )


def monitoring_section(conn: Connection, as_of: date) -> SectionData:
    section = SectionData("monitoring", "Monitoring and campaigns")
    kpis, accuracy, drift, measured = (
        _kpis(conn, as_of),
        _accuracy(conn, as_of),
        _drift(conn, as_of),
        _campaigns(conn, as_of),
    )
    section.frames = {"kpis": kpis, "accuracy": accuracy, "drift": drift, "campaigns": measured}
    if accuracy.empty:
        section.unavailable.append(
            "realised accuracy: no scores date up to this one has a closed outcome horizon "
            "evaluated yet (`cvp monitor` fills it once the horizon after a scores date has passed)"
        )
    if drift.empty:
        section.unavailable.append(f"drift: `cvp monitor` has not run for a date up to {as_of}")
    if measured.empty:
        section.unavailable.append(
            "campaign uplift and ROI: no campaign planned on these scores has been measured "
            "(`cvp launch`, then `cvp measure` after the outcome window)"
        )
    lines = []
    churn = kpis[kpis["kpi"] == "churn_rate"].dropna() if not kpis.empty else kpis
    if not churn.empty:
        lines.append(
            f"Monthly churn rate {pct(churn['value'].iloc[-1])} in {churn['month'].iloc[-1]:%Y-%m}"
            + (
                f", against {pct(churn['value'].iloc[-13])} a year before."
                if len(churn) > 12
                else "."
            )
        )
    else:
        lines.append("No KPI history is available for this date.")
    status = []
    if not drift.empty:
        status.append(f"{int(drift['drifted'].sum())} of {len(drift)} monitored columns drifted")
    if not measured.empty:
        revenue = measured[measured["metric"] == "revenue"]
        if not revenue.empty and revenue["roi"].notna().any():
            status.append(f"measured campaign ROI {revenue['roi'].dropna().iloc[-1]:.2f}")
    lines.append(
        ("; ".join(status) + ".")
        if status
        else "Drift, realised accuracy and campaign results are not available yet (see below)."
    )
    section.reading = lines
    return section
