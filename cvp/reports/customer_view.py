"""The terminal view of a customer profile (rich), for `cvp customer`."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from cvp.reports.customer import CustomerProfile

RISK_STYLE = {"high": "red", "medium": "yellow", "low": "green"}


def _frame_table(title: str, frame: pd.DataFrame, formats: dict[str, str]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        table.add_column(column, justify="right" if column in formats else "left")
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
                cells.append("")
            elif column in formats:
                cells.append(format(value, formats[column]))
            else:
                cells.append(escape(str(value)))
        table.add_row(*cells)
    return table


def print_profile(console: Console, profile: CustomerProfile) -> None:
    latest = profile.latest
    if latest is None:
        console.print(
            Panel(
                f"customer {profile.customer_id}: never scored (profiling opt-out, or no scores "
                "yet)",
                title="Customer",
            )
        )
    else:
        style = RISK_STYLE.get(str(latest["risk_tier"]), "white")
        contact = (
            "[green]may be contacted[/green]"
            if profile.may_contact
            else "[red]may NOT be contacted[/red] (no marketing consent)"
        )
        lines = [
            f"[bold]{profile.customer_id}[/bold]   scores as of {latest['as_of']}",
            f"churn probability [{style}]{latest['churn_probability']:.2f} "
            f"({latest['risk_tier']} risk)[/{style}]   value tier {latest['value_tier']}   "
            f"lifetime value {latest['clv_lifetime']:,.0f}   expected loss "
            f"{latest['expected_loss']:,.0f}",
            f"lifecycle stage {latest['lifecycle_stage']}"
            + (f" (was {latest['previous_stage']})" if latest["previous_stage"] else "")
            + f"   RFM {latest['rfm_segment']}",
            "",
            "[bold]Why at risk[/bold]",
            *[
                f"  • {escape(reason)}"
                for reason in profile.reasons or ["nothing above the base rate"]
            ],
            "",
            f"[bold]Recommended[/bold]  {latest['next_best_action']} by {latest['channel']} "
            f"({latest['incentive']}, cost {latest['action_cost']:,.2f})",
            f"[bold]Contact[/bold]      {contact}"
            + (f"; in this date's plan as {profile.in_plan}" if profile.in_plan else ""),
        ]
        console.print(Panel("\n".join(lines), title="Customer profile", expand=False))
    if not profile.history.empty:
        console.print(
            _frame_table(
                "Scores over time",
                profile.history,
                {
                    "churn_probability": ".2f",
                    "clv_lifetime": ",.0f",
                    "expected_loss": ",.0f",
                    "priority_rank": ",d",
                },
            )
        )
    purchases = profile.purchases
    console.print(
        _frame_table("Recent purchases", purchases, {"amount": ",.2f"})
        if not purchases.empty
        else "no purchases recorded"
    )
    tickets = profile.tickets
    console.print(
        _frame_table("Recent support tickets", tickets, {"satisfaction": ".0f"})
        if not tickets.empty
        else "no support tickets recorded"
    )
