"""The report page: section data and plotly figures into one self-contained HTML file.

plotly.js is embedded once, inline in the page head; every figure is a div that uses it. No
CDN, no MathJax, no web fonts, no plotly logo link: the page opens with the network off."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from cvp.reports.charts import CHARTS, HEIGHT, WIDTH
from cvp.reports.customer import CustomerProfile
from cvp.reports.gather import ReportData
from cvp.reports.readings import money, pct

# frames each section also shows as a table
TABLES = {
    "health": ["freshness"],
    "model": ["versions", "comparison"],
    "plan": ["by_action"],
    "monitoring": ["accuracy", "campaigns"],
}
PLOTLY_CONFIG = {"displaylogo": False}


@dataclass
class RenderedSection:
    key: str
    title: str
    reading: list[str]
    unavailable: list[str]
    charts: list[Markup] = field(default_factory=list)
    tables: list[Markup] = field(default_factory=list)


def figure_div(fig: go.Figure) -> Markup:
    """A figure as a div that relies on the page's single inline plotly.js."""
    return Markup(
        pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=False,
            include_mathjax=False,
            config=PLOTLY_CONFIG,
            default_height=f"{fig.layout.height or HEIGHT}px",
            default_width=f"{fig.layout.width or WIDTH}px",
        )
    )


def table_html(frame: pd.DataFrame, caption: str | None = None) -> Markup:
    table = Markup(
        frame.to_html(index=False, classes="frame", border=0, float_format=lambda v: f"{v:,.4g}")
    )
    return Markup("<h3>{}</h3>").format(caption) + table if caption else table


def _headline(data: ReportData) -> list[dict[str, str]]:
    h = data.headline
    return [
        {
            "key": "customers_scored",
            "label": "customers scored",
            "value": f"{h.customers_scored:,}",
        },
        {
            "key": "high_risk_share",
            "label": f"high risk: {h.high_risk_customers:,} of {h.retainable_customers:,} "
            f"retainable ({h.gone_customers:,} lapsed or churned apart)",
            "value": pct(h.high_risk_share),
        },
        {
            "key": "expected_loss",
            "label": "expected loss (lifetime value at risk)",
            "value": money(h.expected_loss),
        },
        {
            "key": "plan_cost",
            "label": f"plan cost ({h.plan_contacted:,} contacted)"
            if h.plan_cost is not None
            else "plan cost (no plan yet)",
            "value": money(h.plan_cost) if h.plan_cost is not None else "–",
        },
    ]


def _customer(profile: CustomerProfile) -> RenderedSection:
    latest = profile.latest
    reading = (
        [
            f"As of {latest['as_of']}: churn probability {latest['churn_probability']:.2f} "
            f"({latest['risk_tier']} risk), {latest['value_tier']} value, {latest['lifecycle_stage']}; "
            f"reasons: {'; '.join(profile.reasons) or 'none above the base rate'}.",
            f"Recommended: {latest['next_best_action']} by {latest['channel']} ({latest['incentive']}); "
            + (
                "may be contacted."
                if profile.may_contact
                else "may NOT be contacted (no marketing consent)."
            ),
        ]
        if latest is not None
        else ["This customer has no scores (not scored, e.g. a profiling opt-out).", ""]
    )
    section = RenderedSection("customer", f"Customer {profile.customer_id}", reading, [])
    if len(profile.history) > 1:
        fig = go.Figure(
            go.Scatter(
                x=profile.history["as_of"],
                y=profile.history["churn_probability"],
                mode="lines+markers",
                name="churn probability",
            )
        )
        fig.update_layout(
            title="Churn probability over time", height=HEIGHT, width=WIDTH, template="plotly_white"
        )
        section.charts.append(figure_div(fig))
    for caption, frame in (
        ("Scores over time", profile.history),
        ("Recent purchases", profile.purchases),
        ("Recent support tickets", profile.tickets),
    ):
        if not frame.empty:
            section.tables.append(table_html(frame, caption))
    return section


def render_report(data: ReportData) -> str:
    env = Environment(
        loader=PackageLoader("cvp.reports", "templates"), autoescape=select_autoescape()
    )
    sections = []
    for s in data.sections:
        rendered = RenderedSection(s.key, s.title, s.reading, s.unavailable)
        rendered.charts = [figure_div(fig) for fig in CHARTS[s.key](s)]
        rendered.tables = [
            table_html(s.frames[name])
            for name in TABLES.get(s.key, [])
            if not s.frames.get(name, pd.DataFrame()).empty
        ]
        sections.append(rendered)
    return env.get_template("report.html.j2").render(
        data=data,
        headline=_headline(data),
        sections=sections,
        customer=_customer(data.customer) if data.customer else None,
        plotly_js=Markup(plotly.offline.get_plotlyjs()),
    )


def write_report(data: ReportData, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(data), encoding="utf-8")
    return path
