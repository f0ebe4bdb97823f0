"""Scoring's consent permissions (pivoted in the database) agree with the consent history's
long form, on DuckDB and PostgreSQL: latest change on or before the date, a refusal beating a
grant at the same instant, the policy's default where nothing is recorded."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import sqlalchemy as sa

from cvp.config import PrivacySettings
from cvp.data import schema
from cvp.data.warehouse import get_engine
from cvp.privacy.consent import PURPOSES, consent_state, permissions

CHANGES = [
    # c1: marketing granted, then revoked after the date; profiling granted
    ("c1", "marketing", datetime(2025, 1, 5), True),
    ("c1", "marketing", datetime(2025, 3, 1), False),
    ("c1", "profiling", datetime(2025, 1, 5), True),
    # c2: a refusal and a grant at the same instant: the refusal wins
    ("c2", "marketing", datetime(2025, 1, 9, 12), True),
    ("c2", "marketing", datetime(2025, 1, 9, 12), False),
    ("c2", "analytics", datetime(2025, 1, 31, 23, 59), False),  # the date's last minute counts
    # c4: only after the date
    ("c4", "profiling", datetime(2025, 2, 1), False),
]
AS_OF = date(2025, 1, 31)


def _expected(conn, ids: list[str], as_of: date | None, policy: PrivacySettings) -> pd.DataFrame:
    state = consent_state(conn, as_of)
    out = pd.DataFrame(index=pd.Index(ids, name="customer_id"))
    for purpose in PURPOSES:
        recorded = dict(
            state.loc[state["purpose"] == purpose, ["customer_id", "granted"]].itertuples(False)
        )
        out[purpose] = [bool(recorded.get(i, policy.default_for(purpose))) for i in ids]
    return out


def test_permissions_pivot_equals_the_long_form(warehouse_url):
    engine = get_engine(warehouse_url)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(schema.consent),
            [
                {"customer_id": c, "purpose": p, "ts": ts, "granted": g, "source": "test"}
                for c, p, ts, g in CHANGES
            ],
        )
    ids = ["c4", "c1", "c3", "c2"]  # c3 has no history; not in id order
    strict = PrivacySettings()
    lenient = PrivacySettings(missing_consent="allow")
    with engine.connect() as conn:
        for as_of in (AS_OF, None):
            for policy in (strict, lenient):
                got = permissions(conn, ids, as_of, policy)
                want = _expected(conn, ids, as_of, policy)
                assert list(got.index) == ids
                pd.testing.assert_frame_equal(got, want, check_index_type=False)
        at_date = permissions(conn, ids, AS_OF, strict)
    assert at_date.loc["c1", "marketing"] and not at_date.loc["c2", "marketing"]
    assert not at_date.loc["c2", "analytics"] and at_date.loc["c4", "profiling"]
    assert not at_date.loc["c3", "marketing"]  # strict default: no grant, no contact
    with engine.connect() as conn:
        latest = permissions(conn, ids, None, strict)
    assert not latest.loc["c1", "marketing"] and not latest.loc["c4", "profiling"]
