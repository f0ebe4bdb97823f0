"""Everything the report shows for a scores date, gathered from the warehouse and MLflow
before anything is drawn (`render.py` draws it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from cvp.config import Settings
from cvp.data.warehouse import get_engine, read_frame
from cvp.experiments.tracking import configure_tracking
from cvp.reports.customer import CustomerProfile, customer_profile, resolve_customer
from cvp.reports.customer_base import customer_base
from cvp.reports.headline import Headline, headline
from cvp.reports.health import data_health
from cvp.reports.model_card import model_card
from cvp.reports.monitoring import monitoring_section
from cvp.reports.plan import plan_section
from cvp.reports.readings import SectionData
from cvp.reports.risk_value import risk_value
from cvp.scoring.store import customer_scores

SCORE_COLUMNS = (
    "customer_id",
    "risk_tier",
    "value_tier",
    "value_index",
    "clv_lifetime",
    "expected_loss",
    "rfm_r",
    "rfm_f",
    "lifecycle_stage",
    "reason_families",
)


@dataclass
class ReportData:
    as_of: date
    generated_at: datetime
    headline: Headline
    sections: list[SectionData]
    customer: CustomerProfile | None = None


def gather_report(settings: Settings, as_of: date, customer: str | None = None) -> ReportData:
    """`customer`: a typed source or pseudonymous id; only its pseudonym is kept."""
    engine = get_engine(settings.warehouse_url)
    client = configure_tracking(settings)
    with engine.connect() as conn:
        top = headline(conn, as_of)  # refuses a date without scores
        s = customer_scores.c
        scores = read_frame(conn, sa.select(*(s[c] for c in SCORE_COLUMNS)).where(s.as_of == as_of))
        sections = [
            data_health(conn, as_of),
            model_card(client),
            customer_base(scores, conn, as_of),
            risk_value(scores),
            plan_section(conn, as_of),
            monitoring_section(conn, as_of),
        ]
        profile = None
        if customer is not None:
            profile = customer_profile(
                conn, settings, resolve_customer(conn, settings, customer), as_of
            )
    return ReportData(as_of, datetime.now().replace(microsecond=0), top, sections, profile)
