"""Customer base of a scores date: value tiers, value index and its entropy weights, RFM grid,
lifecycle stages and the transitions since the previous scores date."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cvp.data.warehouse import read_frame
from cvp.reports.readings import SectionData, pct, share
from cvp.scoring.store import stage_transitions, value_index_versions
from cvp.value.lifecycle import STAGES

TIERS = ("high", "medium", "low")


def _weights(conn: Connection, as_of: date) -> tuple[pd.DataFrame, str | None]:
    v = value_index_versions.c
    row = conn.execute(sa.select(v.weights, v.weights_source).where(v.as_of == as_of)).one_or_none()
    if row is None:
        return pd.DataFrame(columns=["indicator", "weight"]), None
    weights = json.loads(row.weights)
    frame = pd.DataFrame({"indicator": list(weights), "weight": list(weights.values())})
    return frame.sort_values("weight", ascending=False), row.weights_source


def _transitions(conn: Connection, as_of: date) -> tuple[pd.DataFrame, date | None]:
    t = stage_transitions.c
    frame = read_frame(
        conn,
        sa.select(t.previous_as_of, t.from_stage, t.to_stage, t.customers).where(t.as_of == as_of),
    )
    if frame.empty:
        return frame, None
    return frame, frame["previous_as_of"].iloc[0]


def customer_base(scores: pd.DataFrame, conn: Connection, as_of: date) -> SectionData:
    section = SectionData("base", "Customer base")
    n = len(scores)
    tiers = (
        scores.groupby("value_tier")
        .agg(customers=("customer_id", "size"), lifetime_value=("clv_lifetime", "sum"))
        .reindex(list(TIERS))
        .fillna(0)
        .reset_index()
    )
    weights, source = _weights(conn, as_of)
    rfm = scores.groupby(["rfm_r", "rfm_f"]).size().rename("customers").reset_index()
    order = [s for s in STAGES if s in set(scores["lifecycle_stage"])]
    stages = scores["lifecycle_stage"].value_counts().reindex(order).fillna(0)
    transitions, previous = _transitions(conn, as_of)
    section.frames = {
        "tiers": tiers,
        "value_index": scores[["value_index", "value_tier"]],
        "weights": weights,
        "rfm": rfm,
        "stages": stages.rename("customers").rename_axis("stage").reset_index(),
        "transitions": transitions,
    }
    section.values = {"weights_source": source, "previous_as_of": previous}
    if transitions.empty:
        section.unavailable.append(
            f"no stage transitions for {as_of}: it is the first scores date in the warehouse"
        )
    high = tiers.set_index("value_tier").loc["high"]
    total_value = float(tiers["lifetime_value"].sum())
    first = (
        f"The high value tier holds {int(high['customers']):,} customers "
        f"({pct(share(high['customers'], n))}) and {pct(share(high['lifetime_value'], total_value))} "
        f"of expected lifetime value"
        + (
            f"; the value index weighs {weights.iloc[0]['indicator']} most "
            f"({weights.iloc[0]['weight']:.2f}, {source} weights)."
            if not weights.empty
            else "."
        )
    )
    biggest = stages.idxmax() if len(stages) else "none"
    second = f"The largest lifecycle stage is {biggest} ({pct(share(stages.max(), n))})"
    if not transitions.empty:
        moved = transitions[transitions["from_stage"] != transitions["to_stage"]]["customers"].sum()
        second += (
            f"; since {previous}, {int(moved):,} customers "
            f"({pct(share(moved, transitions['customers'].sum()))}) changed stage."
        )
    else:
        second += "."
    section.reading = [first, second]
    return section
