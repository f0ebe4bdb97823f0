"""Point-in-time feature definitions as SQLAlchemy Core, so DuckDB and PostgreSQL run the same SQL.

Every family reads only rows with an event time `<= as_of` (the end of the `as_of` day). Each
family is a SELECT grouped by `customer_id`; `build` left-joins the ones whose source table has rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from cvp.data import schema

WINDOWS = (7, 30, 90, 180, 365)
SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class Feature:
    name: str
    family: str
    window: str
    description: str


@dataclass(frozen=True)
class Family:
    name: str
    source_table: str
    features: tuple[Feature, ...]
    query: Callable[[datetime], sa.Select]


def _days_before(as_of: datetime, column: sa.ColumnElement) -> sa.ColumnElement:
    """Days between an event and the as_of instant, as a float."""
    anchor = sa.cast(sa.literal(as_of, sa.DateTime), sa.DateTime)
    return (sa.extract("epoch", anchor) - sa.extract("epoch", column)) / SECONDS_PER_DAY


# A float sum that should be zero (a refund cancelling the only purchase of a window) comes out as
# rounding noise (+-1e-13), and a ratio over it as +-1e16 whose sign depends on summation order.
ZERO_DENOMINATOR = 1e-6


def _ratio(numerator: sa.ColumnElement, denominator: sa.ColumnElement) -> sa.ColumnElement:
    """numerator / denominator, null when the denominator is zero or within rounding of it."""
    usable = sa.case((sa.func.abs(denominator) < ZERO_DENOMINATOR, None), else_=denominator)
    return sa.cast(numerator, sa.Double) / usable


def _f(family: str, window: str, **descriptions: str) -> tuple[Feature, ...]:
    return tuple(Feature(name, family, window, text) for name, text in descriptions.items())


# --- transactions: RFM, windows, trends ------------------------------------------------------


def _purchases(as_of: datetime) -> sa.Subquery:
    t = schema.transactions
    return (
        sa.select(
            t.c.customer_id,
            t.c.ts,
            t.c.amount,
            t.c.discount,
            t.c.category,
            t.c.channel,
            t.c.is_refund,
            _days_before(as_of, t.c.ts).label("age"),
        )
        .where(t.c.ts <= as_of)
        .subquery("p")
    )


def _first_buy_ages(
    as_of: datetime, key_of: Callable[[sa.Subquery], sa.ColumnElement], name: str
) -> sa.Subquery:
    """Per customer and `key` value (a day, a category), the age of the most recent purchase and
    of the most recent one at least 90 days old. "Distinct keys bought in a window" is then a
    plain count of these rows: the same integer as `count(DISTINCT key) FILTER (...)` over the
    transactions, without one hash table of (customer, key) per filtered distinct count, which
    was most of the feature build's time at 1 M customers."""
    p = _purchases(as_of)
    key = key_of(p)
    return (
        sa.select(
            p.c.customer_id,
            sa.func.min(p.c.age).label("latest"),
            sa.func.min(p.c.age).filter(p.c.age >= 90).label("latest_before_90"),
        )
        .where(~p.c.is_refund)
        .group_by(p.c.customer_id, key)
        .subquery(name)
    )


def rfm_query(as_of: datetime) -> sa.Select:
    p = _purchases(as_of)
    buy = ~p.c.is_refund
    columns = [
        sa.func.min(p.c.age).filter(buy).label("recency_days"),
        sa.func.max(p.c.age).label("tenure_days"),
        sa.func.count().filter(buy).label("frequency"),
        sa.func.sum(p.c.amount).label("monetary_total"),
        sa.func.avg(p.c.amount).filter(buy).label("monetary_mean"),
        sa.func.max(p.c.amount).label("monetary_max"),
        sa.func.count().filter(p.c.is_refund).label("refund_count"),
    ]
    for w in WINDOWS:
        columns += [
            sa.func.count().filter(buy & (p.c.age < w)).label(f"tx_count_{w}d"),
            sa.func.coalesce(sa.func.sum(p.c.amount).filter(p.c.age < w), 0).label(f"spend_{w}d"),
        ]
    previous_90 = buy & (p.c.age >= 90) & (p.c.age < 180)
    columns += [
        _ratio(
            sa.func.count().filter(buy & (p.c.age < 90)), sa.func.count().filter(previous_90)
        ).label("frequency_trend_90d"),
        _ratio(
            sa.func.sum(p.c.amount).filter(p.c.age < 90),
            sa.func.sum(p.c.amount).filter((p.c.age >= 90) & (p.c.age < 180)),
        ).label("spend_trend_90d"),
        sa.func.avg(sa.case((p.c.discount > 0, 1.0), else_=0.0))
        .filter(buy)
        .label("discount_share"),
        sa.func.avg(p.c.discount).filter(buy).label("discount_mean"),
    ]
    for channel in ("web", "app", "store"):
        columns.append(
            sa.func.avg(sa.case((p.c.channel == channel, 1.0), else_=0.0))
            .filter(buy)
            .label(f"channel_share_{channel}")
        )
    totals = sa.select(p.c.customer_id, *columns).group_by(p.c.customer_id).subquery("totals")

    # Distinct purchase days and categories per window, from one row per (customer, day) and
    # per (customer, category); a customer with only refunds has no rows there, hence coalesce.
    d = _first_buy_ages(as_of, lambda q: sa.cast(q.c.ts, sa.Date), "buy_days")
    days = (
        sa.select(
            d.c.customer_id,
            *(sa.func.count().filter(d.c.latest < w).label(f"active_days_{w}d") for w in WINDOWS),
        )
        .group_by(d.c.customer_id)
        .subquery("days")
    )
    k = _first_buy_ages(as_of, lambda q: q.c.category, "buy_categories")
    categories = (
        sa.select(
            k.c.customer_id,
            sa.func.count().filter(k.c.latest < 365).label("category_count_365d"),
            (
                sa.func.count().filter(k.c.latest < 90)
                - sa.func.count().filter(k.c.latest_before_90 < 180)
            ).label("category_change_90d"),
        )
        .group_by(k.c.customer_id)
        .subquery("categories")
    )
    counted = {**{c.name: c for c in days.c}, **{c.name: c for c in categories.c}}
    out: list[sa.ColumnElement] = []
    for feature in RFM_FEATURES:
        if feature.name in counted:
            out.append(sa.func.coalesce(counted[feature.name], 0).label(feature.name))
        else:
            out.append(totals.c[feature.name])
    return sa.select(totals.c.customer_id, *out).select_from(
        totals.outerjoin(days, days.c.customer_id == totals.c.customer_id).outerjoin(
            categories, categories.c.customer_id == totals.c.customer_id
        )
    )


RFM_FEATURES = (
    _f(
        "rfm",
        "all",
        recency_days="days since the last purchase",
        tenure_days="days since the first transaction",
        frequency="number of purchases",
        monetary_total="net spend, refunds subtracted",
        monetary_mean="mean purchase amount",
        monetary_max="largest transaction",
        refund_count="number of refunds",
    )
    + tuple(
        feature
        for w in WINDOWS
        for feature in _f(
            "windows",
            f"{w}d",
            **{
                f"tx_count_{w}d": f"purchases in the last {w} days",
                f"spend_{w}d": f"net spend in the last {w} days",
                f"active_days_{w}d": f"distinct purchase days in the last {w} days",
            },
        )
    )
    + _f(
        "trends",
        "90d vs previous 90d",
        frequency_trend_90d="purchases in the last 90 days / purchases in the 90 before (null if none before)",
        spend_trend_90d="spend in the last 90 days / spend in the 90 before",
        category_change_90d="distinct categories in the last 90 days minus the 90 before",
    )
    + _f(
        "breadth_price",
        "all",
        category_count_365d="distinct categories bought in the last 365 days",
        discount_share="share of purchases with a discount (price sensitivity)",
        discount_mean="mean discount rate",
        channel_share_web="share of purchases on the web",
        channel_share_app="share of purchases in the app",
        channel_share_store="share of purchases in store",
    )
)


def slope_query(as_of: datetime) -> sa.Select:
    """Slope of monthly (30-day bucket) spend over the last 12 buckets, per bucket."""
    p = _purchases(as_of)
    bucket = sa.func.floor(p.c.age / 30)
    monthly = (
        sa.select(p.c.customer_id, bucket.label("bucket"), sa.func.sum(p.c.amount).label("spend"))
        .where(p.c.age < 360)
        .group_by(p.c.customer_id, bucket)
        .subquery("m")
    )
    return sa.select(
        monthly.c.customer_id,
        sa.func.regr_slope(monthly.c.spend, -monthly.c.bucket).label("spend_slope_12m"),
    ).group_by(monthly.c.customer_id)


SLOPE_FEATURES = _f(
    "trends", "360d", spend_slope_12m="slope of 30-day spend over the last 12 periods"
)


def timing_query(as_of: datetime) -> sa.Select:
    t = schema.transactions
    ordered = (
        sa.select(
            t.c.customer_id,
            _days_before(as_of, t.c.ts).label("age"),
            (
                _days_before(
                    as_of, sa.func.lag(t.c.ts).over(partition_by=t.c.customer_id, order_by=t.c.ts)
                )
                - _days_before(as_of, t.c.ts)
            ).label("gap"),
        )
        .where(t.c.ts <= as_of, ~t.c.is_refund)
        .subquery("g")
    )
    mean_gap = sa.func.avg(ordered.c.gap)
    recency = sa.func.min(ordered.c.age)
    return sa.select(
        ordered.c.customer_id,
        mean_gap.label("gap_mean_days"),
        sa.func.stddev_samp(ordered.c.gap).label("gap_std_days"),
        (recency - mean_gap).label("days_overdue"),
        _ratio(recency, mean_gap).label("overdue_ratio"),
    ).group_by(ordered.c.customer_id)


TIMING_FEATURES = _f(
    "timing",
    "all",
    gap_mean_days="mean days between purchases",
    gap_std_days="standard deviation of days between purchases",
    days_overdue="days since last purchase minus the customer's mean gap",
    overdue_ratio="days since last purchase / the customer's mean gap",
)


# --- other sources ----------------------------------------------------------------------------


def engagement_query(as_of: datetime) -> sa.Select:
    e = schema.events
    age = _days_before(as_of, e.c.ts)
    login = e.c.event_type == "login"
    return (
        sa.select(
            e.c.customer_id,
            sa.func.count().filter(age < 30).label("events_30d"),
            sa.func.count().filter(age < 90).label("events_90d"),
            sa.func.count().filter(login & (age < 30)).label("logins_30d"),
            sa.func.count().filter(login & (age < 90)).label("logins_90d"),
            sa.func.count()
            .filter((e.c.event_type == "feature_use") & (age < 90))
            .label("feature_use_90d"),
            sa.func.min(age).label("days_since_last_event"),
            _ratio(
                sa.func.count().filter(age < 90), sa.func.count().filter((age >= 90) & (age < 180))
            ).label("engagement_trend_90d"),
        )
        .where(e.c.ts <= as_of)
        .group_by(e.c.customer_id)
    )


ENGAGEMENT_FEATURES = _f(
    "engagement",
    "30d/90d",
    events_30d="events in the last 30 days",
    events_90d="events in the last 90 days",
    logins_30d="logins in the last 30 days",
    logins_90d="logins in the last 90 days",
    feature_use_90d="feature-use events in the last 90 days",
    days_since_last_event="days since the last event (growing login gaps)",
    engagement_trend_90d="events in the last 90 days / the 90 before",
)


def service_query(as_of: datetime) -> sa.Select:
    k = schema.support_tickets
    age = _days_before(as_of, k.c.opened_at)
    open_at_as_of = sa.or_(k.c.resolved_at.is_(None), k.c.resolved_at > as_of)
    resolved = k.c.resolved_at <= as_of
    return (
        sa.select(
            k.c.customer_id,
            sa.func.count().filter(age < 90).label("tickets_90d"),
            sa.func.count().filter(age < 365).label("tickets_365d"),
            sa.func.count().filter(open_at_as_of).label("unresolved_tickets"),
            sa.func.count()
            .filter(open_at_as_of & (k.c.category == "complaint"))
            .label("unresolved_complaints"),
            sa.func.avg(
                (sa.extract("epoch", k.c.resolved_at) - sa.extract("epoch", k.c.opened_at))
                / SECONDS_PER_DAY
            )
            .filter(resolved)
            .label("resolution_days_mean"),
        )
        .where(k.c.opened_at <= as_of)
        .group_by(k.c.customer_id)
    )


SERVICE_FEATURES = _f(
    "service",
    "90d/365d/open",
    tickets_90d="tickets opened in the last 90 days",
    tickets_365d="tickets opened in the last 365 days",
    unresolved_tickets="tickets still open at as_of",
    unresolved_complaints="complaints still open at as_of",
    resolution_days_mean="mean days to resolve, tickets resolved by as_of",
)


def satisfaction_query(as_of: datetime) -> sa.Select:
    s = schema.surveys
    ranked = (
        sa.select(
            s.c.customer_id,
            s.c.nps,
            s.c.csat,
            sa.func.row_number()
            .over(partition_by=s.c.customer_id, order_by=(s.c.ts.desc(), s.c.survey_id.desc()))
            .label("rn"),
        )
        .where(s.c.ts <= as_of)
        .subquery("r")
    )
    latest = ranked.c.rn == 1
    return sa.select(
        ranked.c.customer_id,
        sa.func.max(ranked.c.nps).filter(latest).label("nps_latest"),
        sa.func.max(ranked.c.csat).filter(latest).label("csat_latest"),
        (
            sa.func.max(ranked.c.nps).filter(latest) - sa.func.avg(ranked.c.nps).filter(~latest)
        ).label("nps_trend"),
        sa.func.count().label("surveys_answered"),
    ).group_by(ranked.c.customer_id)


SATISFACTION_FEATURES = _f(
    "satisfaction",
    "latest",
    nps_latest="latest NPS answer (0-10)",
    csat_latest="latest CSAT answer (1-5)",
    nps_trend="latest NPS minus the mean of earlier answers",
    surveys_answered="surveys answered",
)

RESPONSE_DELAY_DAYS = 30  # a response is only known this long after the touch


def campaign_query(as_of: datetime) -> sa.Select:
    m = schema.marketing_touches
    age = _days_before(as_of, m.c.ts)
    treated = m.c.arm == "treatment"
    known = age >= RESPONSE_DELAY_DAYS
    return (
        sa.select(
            m.c.customer_id,
            sa.func.count().filter(treated & (age < 365)).label("offers_365d"),
            sa.func.count()
            .filter(treated & known & m.c.responded & (age < 365))
            .label("offers_responded_365d"),
            sa.func.min(age).filter(treated).label("days_since_offer"),
        )
        .where(m.c.ts <= as_of)
        .group_by(m.c.customer_id)
    )


CAMPAIGN_FEATURES = _f(
    "campaign",
    "365d",
    offers_365d="retention offers received in the last 365 days",
    offers_responded_365d=f"offers responded to (responses count {RESPONSE_DELAY_DAYS} days after the touch)",
    days_since_offer="days since the last offer",
)


def subscription_query(as_of: datetime) -> sa.Select:
    u = schema.subscriptions
    as_of_date = sa.cast(sa.literal(as_of.date(), sa.Date), sa.Date)
    active = sa.and_(
        u.c.start_date <= as_of_date, sa.or_(u.c.end_date.is_(None), u.c.end_date > as_of_date)
    )
    tenure = (
        sa.extract("epoch", sa.cast(as_of_date, sa.DateTime))
        - sa.extract("epoch", sa.cast(u.c.start_date, sa.DateTime))
    ) / SECONDS_PER_DAY
    return (
        sa.select(
            u.c.customer_id,
            sa.func.max(sa.case((active, 1), else_=0)).label("subscription_active"),
            sa.func.max(u.c.monthly_fee).filter(active).label("subscription_fee"),
            sa.func.max(tenure).filter(active).label("subscription_tenure_days"),
            sa.func.min(30 - sa.func.mod(sa.cast(tenure, sa.Integer), 30))
            .filter(active)
            .label("days_to_renewal"),
        )
        .where(u.c.start_date <= as_of_date)
        .group_by(u.c.customer_id)
    )


SUBSCRIPTION_FEATURES = _f(
    "subscription",
    "at as_of",
    subscription_active="1 if a subscription is running at as_of",
    subscription_fee="monthly fee of the running subscription",
    subscription_tenure_days="days since the running subscription started",
    days_to_renewal="days to the next monthly renewal",
)


FAMILIES: tuple[Family, ...] = (
    Family("transactions", "transactions", RFM_FEATURES, rfm_query),
    Family("spend_slope", "transactions", SLOPE_FEATURES, slope_query),
    Family("timing", "transactions", TIMING_FEATURES, timing_query),
    Family("engagement", "events", ENGAGEMENT_FEATURES, engagement_query),
    Family("service", "support_tickets", SERVICE_FEATURES, service_query),
    Family("satisfaction", "surveys", SATISFACTION_FEATURES, satisfaction_query),
    Family("campaign", "marketing_touches", CAMPAIGN_FEATURES, campaign_query),
    Family("subscription", "subscriptions", SUBSCRIPTION_FEATURES, subscription_query),
)
