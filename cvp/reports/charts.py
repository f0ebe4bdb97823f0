"""Plotly figures for each report section, from the frames the gathering modules return.

Rendering only: no queries here. Each function returns a figure or None when its frame is
empty (the section then says why in its notes)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from cvp.reports.readings import SectionData

HEIGHT = 340
WIDTH = 620  # two charts side by side on a 1400-pixel page
WIDE = 1300
TIER_ORDER = ["high", "medium", "low"]


def _style(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(
        title=title,
        height=HEIGHT,
        width=WIDTH,
        margin=dict(l=50, r=20, t=50, b=50),
        template="plotly_white",
    )
    return fig


def health_charts(section: SectionData) -> list[go.Figure]:
    figs = []
    validation = section.frames["validation"]
    if not validation.empty:
        figs.append(
            _style(
                px.bar(
                    validation,
                    x="table_name",
                    y="expectations",
                    color="status",
                    color_discrete_map={
                        "passed": "#2e7d32",
                        "warning": "#f9a825",
                        "failed": "#c62828",
                    },
                ),
                "Validation results by table",
            )
        )
    quarantine = section.frames["quarantine"]
    if not quarantine.empty:
        q = quarantine.assign(label=quarantine["target_table"] + ": " + quarantine["reason"])
        figs.append(
            _style(px.bar(q, x="rows", y="label", orientation="h"), "Quarantined rows by reason")
        )
    freshness = section.frames["freshness"].dropna(subset=["lag_days"])
    if not freshness.empty:
        figs.append(
            _style(
                px.bar(freshness, x="table", y="lag_days", text_auto=True),
                "Days since the newest row (freshness)",
            )
        )
    return figs


def model_charts(section: SectionData) -> list[go.Figure]:
    figs = []
    comparison = section.frames.get("comparison", pd.DataFrame())
    for target, part in comparison.groupby("model") if not comparison.empty else []:
        long = part.melt(
            id_vars=["metric"], value_vars=["lightgbm", "btyd_baseline"], var_name="scorer"
        )
        fig = px.bar(
            long,
            x="scorer",
            y="value",
            color="scorer",
            facet_col="metric",
            facet_col_wrap=4,
            facet_row_spacing=0.15,
        )
        fig.update_yaxes(matches=None, showticklabels=True, title=None).update_xaxes(
            showticklabels=False, title=None
        )
        fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
        figs.append(
            _style(
                fig, f"{target} backtest: champion vs BTYD baseline (same metrics)"
            ).update_layout(height=HEIGHT + 120, width=WIDE)
        )
    curves = section.values.get("curves")
    if curves:
        calibration, gain = go.Figure(), go.Figure()
        for name, points in curves["scores"].items():
            calibration.add_scatter(
                x=points["calibration_predicted"],
                y=points["calibration_observed"],
                mode="lines+markers",
                name=name,
            )
            gain.add_scatter(
                x=points["gain_share"], y=points["gain_reached"], mode="lines", name=name
            )
        for fig in (calibration, gain):
            fig.add_scatter(
                x=[0, 1],
                y=[0, 1],
                mode="lines",
                name="reference",
                line=dict(dash="dot", color="grey"),
            )
        calibration.update_xaxes(title="predicted churn probability").update_yaxes(
            title="observed churn rate"
        )
        gain.update_xaxes(title="share contacted, highest risk first").update_yaxes(
            title="share of churners reached"
        )
        figs += [
            _style(calibration, "Calibration (backtest)"),
            _style(gain, "Cumulative gain (backtest)"),
        ]
    importance = section.frames.get("importance", pd.DataFrame())
    for target, part in importance.groupby("model") if not importance.empty else []:
        figs.append(
            _style(
                px.bar(
                    part.sort_values("mean_abs_shap"),
                    x="mean_abs_shap",
                    y="feature",
                    orientation="h",
                ),
                f"{target}: features that matter most (mean |SHAP|)",
            ).update_layout(height=HEIGHT + 80)
        )
    gaps = section.frames.get("fairness_gaps", pd.DataFrame())
    if not gaps.empty:
        figs.append(
            _style(
                px.bar(gaps, x="metric", y="gap", color="attribute", barmode="group"),
                "Fairness gaps between groups (largest minus smallest)",
            )
        )
    return figs


def base_charts(section: SectionData) -> list[go.Figure]:
    f = section.frames
    figs = [
        _style(
            px.bar(
                f["tiers"],
                x="value_tier",
                y="customers",
                hover_data=["lifetime_value"],
                category_orders={"value_tier": TIER_ORDER},
            ),
            "Customers by value tier",
        ),
        _style(
            px.histogram(
                f["value_index"],
                x="value_index",
                color="value_tier",
                nbins=50,
                category_orders={"value_tier": TIER_ORDER},
            ),
            "Value index distribution",
        ),
    ]
    if not f["weights"].empty:
        figs.append(
            _style(
                px.bar(f["weights"], x="indicator", y="weight"),
                f"Value index weights ({section.values.get('weights_source')})",
            )
        )
    rfm = f["rfm"].pivot(index="rfm_r", columns="rfm_f", values="customers").fillna(0)
    figs.append(
        _style(
            px.imshow(
                rfm,
                text_auto=True,
                labels=dict(x="frequency score", y="recency score", color="customers"),
                origin="lower",
                color_continuous_scale="Blues",
            ),
            "RFM grid (customers)",
        )
    )
    figs.append(_style(px.bar(f["stages"], x="stage", y="customers"), "Lifecycle stages"))
    transitions = f["transitions"]
    if not transitions.empty:
        matrix = transitions.pivot(
            index="from_stage", columns="to_stage", values="customers"
        ).fillna(0)
        figs.append(
            _style(
                px.imshow(
                    matrix,
                    text_auto=True,
                    labels=dict(x="stage now", y="stage before", color="customers"),
                    color_continuous_scale="Purples",
                ),
                f"Stage transitions since {section.values.get('previous_as_of')}",
            )
        )
    return figs


def risk_charts(section: SectionData) -> list[go.Figure]:
    grid = section.frames["grid"]
    customers = grid.pivot(index="risk_tier", columns="value_tier", values="customers").loc[
        TIER_ORDER, TIER_ORDER
    ]
    loss = grid.pivot(index="risk_tier", columns="value_tier", values="expected_loss").loc[
        TIER_ORDER, TIER_ORDER
    ]
    text = [
        [f"{int(n):,} customers<br>{amount:,.0f} loss" for n, amount in zip(cr, lr, strict=True)]
        for cr, lr in zip(customers.values, loss.values, strict=True)
    ]
    heat = go.Figure(
        go.Heatmap(
            z=loss.values,
            x=[f"{t} value" for t in TIER_ORDER],
            y=[f"{t} risk" for t in TIER_ORDER],
            text=text,
            texttemplate="%{text}",
            colorscale="Reds",
            colorbar=dict(title="expected loss"),
        )
    )
    heat.update_yaxes(autorange="reversed")
    figs = [_style(heat, "Risk tier x value tier: customers and expected loss")]
    reasons = section.frames["reasons"]
    if not reasons.empty:
        figs.append(
            _style(
                px.bar(
                    reasons.sort_values("customers"), x="customers", y="reason", orientation="h"
                ),
                "Reason families most often behind high risk (customers)",
            )
        )
    return figs


def plan_charts(section: SectionData) -> list[go.Figure]:
    by_action = section.frames.get("by_action", pd.DataFrame())
    if by_action.empty:
        return []
    treated = by_action[by_action["arm"] == "treatment"]
    return [
        _style(
            px.bar(
                treated,
                x="next_best_action",
                y=["cost", "expected_saved_value"],
                barmode="group",
                hover_data=["channel", "customers"],
            ),
            "Cost and expected saved value by action",
        ),
        _style(
            px.bar(
                by_action,
                x="channel",
                y="customers",
                color="arm",
                barmode="stack",
                hover_data=["next_best_action"],
            ),
            "Customers by channel: contacted and held-out control",
        ),
    ]


def monitoring_charts(section: SectionData) -> list[go.Figure]:
    f, figs = section.frames, []
    if not f["kpis"].empty:
        figs.append(
            _style(
                px.line(
                    f["kpis"], x="month", y="value", facet_col="kpi", facet_col_wrap=2, markers=True
                )
                .update_yaxes(matches=None, showticklabels=True)
                .for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1])),
                "KPI trends (monthly)",
            ).update_layout(height=HEIGHT + 200, width=WIDE)
        )
    if not f["accuracy"].empty:
        acc = f["accuracy"].melt(
            id_vars=["scores_as_of", "model", "metric"], value_vars=["realised", "promised"]
        )
        acc["metric"] = acc["model"] + " " + acc["metric"]
        figs.append(
            _style(
                px.bar(
                    acc,
                    x="metric",
                    y="value",
                    color="variable",
                    barmode="group",
                    facet_row="scores_as_of",
                ),
                "Realised accuracy vs the backtest promise",
            )
        )
    if not f["drift"].empty:
        figs.append(
            _style(
                px.bar(f["drift"].head(20), x="feature", y="psi", color="drifted"),
                "Drift (PSI, 20 largest)",
            )
        )
    if not f["campaigns"].empty:
        figs.append(
            _style(
                px.bar(
                    f["campaigns"],
                    x="campaign",
                    y="uplift",
                    color="metric",
                    barmode="group",
                    error_y=f["campaigns"]["ci_high"] - f["campaigns"]["uplift"],
                    error_y_minus=f["campaigns"]["uplift"] - f["campaigns"]["ci_low"],
                ),
                "Measured campaign uplift (95% interval)",
            )
        )
    return figs


CHARTS = {
    "health": health_charts,
    "model": model_charts,
    "base": base_charts,
    "risk": risk_charts,
    "plan": plan_charts,
    "monitoring": monitoring_charts,
}
