"""Point-in-time features and labels against the real warehouse."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from cvp.data import schema
from cvp.data.load import load_dataset
from cvp.data.migrate import upgrade_warehouse
from cvp.data.pseudonym import Pseudonymiser
from cvp.data.synthetic import GeneratorConfig, SyntheticDataset, generate
from cvp.data.warehouse import get_engine, read_frame
from cvp.features.build import build_features, catalog
from cvp.features.catalog_doc import render_catalog
from cvp.features.labels import build_labels, closed_cutoffs, training_set
from cvp.jobs.data_jobs import run_ingest
from cvp.jobs.feature_jobs import run_features

AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def dataset() -> SyntheticDataset:
    """Generated once per module, not at import: collection stays fast."""
    return generate(GeneratorConfig(customers=800, seed=21))


def _load(url: str, dataset: SyntheticDataset) -> None:
    engine = get_engine(url)
    upgrade_warehouse(engine)
    with engine.begin() as conn:
        load_dataset(conn, dataset, Pseudonymiser(b"k"))


def test_duckdb_and_postgres_give_the_same_snapshot(tmp_path: Path, postgres_url, dataset):
    duck = f"duckdb:///{tmp_path / 'w.duckdb'}"
    frames = []
    for url in (duck, postgres_url):
        _load(url, dataset)
        with get_engine(url).connect() as conn:
            frames.append((build_features(conn, AS_OF), build_labels(conn, AS_OF)))
    (f_duck, l_duck), (f_pg, l_pg) = frames
    assert len(f_duck) > 500
    # features are rounded to 6 decimals, so a value on a rounding edge may differ by 1e-6
    pd.testing.assert_frame_equal(f_duck, f_pg, check_dtype=False, rtol=1e-9, atol=1.01e-6)
    pd.testing.assert_frame_equal(l_duck, l_pg, check_dtype=False, rtol=1e-9)


@pytest.fixture(scope="module")
def loaded_duckdb(tmp_path_factory, dataset) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('feat') / 'w.duckdb'}"
    _load(url, dataset)
    return url


MUTABLE = {
    "transactions": ("ts", "amount"),
    "events": ("ts", "event_type"),
    "support_tickets": ("opened_at", "category"),
    "surveys": ("ts", "nps"),
    "marketing_touches": ("ts", "arm"),
}


def _mutate(conn, table: str, action: str, shift_days: int, pick: int, after: datetime) -> None:
    """Add, change or delete one row whose event time is after `after`."""
    t = schema.metadata.tables[table]
    time_col, value_col = MUTABLE[table]
    key = next(iter(t.primary_key.columns))
    later = t.c[time_col] > after
    victim = conn.execute(sa.select(key).where(later).order_by(key).limit(1).offset(pick)).scalar()
    if action == "delete" and victim is not None:
        conn.execute(sa.delete(t).where(key == victim))
    elif action == "change" and victim is not None:
        new = {
            "amount": 9999.0,
            "event_type": "login",
            "category": "complaint",
            "nps": 0,
            "arm": "treatment",
        }
        value = {value_col: new[value_col], time_col: after + timedelta(days=shift_days)}
        conn.execute(sa.update(t).where(key == victim).values(**value))
    else:
        row = conn.execute(sa.select(t).where(t.c[time_col] <= after).limit(1)).mappings().one()
        row = dict(row)
        row[key.name] = f"new{pick}"
        row[time_col] = after + timedelta(days=shift_days)
        conn.execute(t.insert().values(**row))


@hsettings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=st.sampled_from(sorted(MUTABLE)),
    action=st.sampled_from(["add", "change", "delete"]),
    shift_days=st.integers(min_value=0, max_value=400),
    pick=st.integers(min_value=0, max_value=50),
)
def test_rows_after_as_of_never_change_features(loaded_duckdb, table, action, shift_days, pick):
    engine = get_engine(loaded_duckdb)
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            before = build_features(conn, AS_OF)
            after = datetime.combine(AS_OF, datetime.max.time())
            _mutate(conn, table, action, shift_days + 1, pick, after)
            changed = build_features(conn, AS_OF)
        finally:
            tx.rollback()
    pd.testing.assert_frame_equal(before, changed)


@hsettings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    action=st.sampled_from(["add", "change", "delete"]),
    pick=st.integers(0, 50),
    outside=st.booleans(),
)
def test_labels_depend_only_on_their_window(loaded_duckdb, action, pick, outside):
    horizon = 90
    engine = get_engine(loaded_duckdb)
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            before = build_labels(conn, AS_OF, horizon)
            if outside:  # rows after the window end
                after = datetime.combine(AS_OF + timedelta(days=horizon), datetime.max.time())
                _mutate(conn, "transactions", action, 5, pick, after)
            else:  # rows before the cutoff: move one earlier, still before as_of
                t = schema.transactions
                victim = conn.execute(
                    sa.select(t.c.transaction_id)
                    .where(t.c.ts <= datetime(2025, 1, 1))
                    .limit(1)
                    .offset(pick)
                ).scalar()
                conn.execute(sa.update(t).where(t.c.transaction_id == victim).values(amount=1234.0))
            changed = build_labels(conn, AS_OF, horizon)
        finally:
            tx.rollback()
    pd.testing.assert_frame_equal(before, changed)


def test_labels_agree_with_planted_churn(loaded_duckdb):
    with get_engine(loaded_duckdb).connect() as conn:
        labels = build_labels(conn, AS_OF, 90)
        truth = read_frame(conn, "SELECT customer_id, churn_date FROM ground_truth_customers")
    merged = labels.merge(truth, on="customer_id")
    gone = pd.to_datetime(merged["churn_date"]) <= pd.Timestamp(AS_OF)
    assert gone.sum() > 50
    assert (merged.loc[gone, "churned"] == 1).all()  # nobody buys after their churn
    alive_long = pd.to_datetime(merged["churn_date"]).isna()
    assert merged.loc[alive_long, "churned"].mean() < merged.loc[gone, "churned"].mean()
    young = labels["insufficient_history"] == 1
    assert 0 < young.sum() < len(labels) / 4
    has_margin = labels["future_margin"].notna()
    assert has_margin.any()
    margin, revenue = (
        labels.loc[has_margin, "future_margin"],
        labels.loc[has_margin, "future_revenue"],
    )
    assert (margin <= revenue + 1e-9).all()


def test_training_set_uses_only_closed_windows(loaded_duckdb):
    cutoffs = [date(2025, 3, 31), date(2025, 6, 30), date(2025, 9, 30)]
    assert closed_cutoffs(cutoffs, 90, date(2025, 9, 28)) == cutoffs[:2]
    with get_engine(loaded_duckdb).connect() as conn:
        frame = training_set(conn, cutoffs, 90, date(2025, 9, 28))
    assert set(frame["as_of"].dt.date) == set(cutoffs[:2])
    assert not frame.duplicated(["as_of", "customer_id"]).any()
    assert {"churned", "future_revenue", "recency_days"} <= set(frame.columns)


@pytest.mark.slow  # ingest and feature jobs with MLflow and Great Expectations
def test_bare_transaction_log_is_enough(settings, tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    log = pd.DataFrame(
        {
            "cust": rng.integers(0, 60, n).astype(str),
            "date": (
                pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
            ).astype(str),
            "dollars": rng.gamma(2, 20, n).round(2),
        }
    )
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    run_ingest(
        settings, "transactions", path, {"customer_id": "cust", "ts": "date", "amount": "dollars"}
    )
    result = run_features(settings, date(2025, 9, 30))
    assert result.families == ["transactions", "spend_slope", "timing"]
    with get_engine(settings.warehouse_url).connect() as conn:
        snap = read_frame(conn, "SELECT * FROM feature_snapshots")
    assert len(snap) == log["cust"].nunique()
    for name in ("recency_days", "frequency", "spend_90d", "frequency_trend_90d", "gap_mean_days"):
        assert snap[name].notna().any(), name
    assert snap["logins_30d"].isna().all() and snap["nps_latest"].isna().all()
    with get_engine(settings.warehouse_url).connect() as conn:
        checks = read_frame(
            conn, "SELECT * FROM validation_results WHERE table_name = 'feature_snapshots'"
        )
    assert "one_row_per_customer_and_date" in set(checks["expectation"]) and checks["success"].all()
    # rebuilding the date replaces its snapshot
    run_features(settings, date(2025, 9, 30))
    with get_engine(settings.warehouse_url).connect() as conn:
        assert len(read_frame(conn, "SELECT customer_id FROM feature_snapshots")) == len(snap)


def test_catalog_is_complete_and_docs_are_in_sync():
    names = [f.name for f in catalog()]
    assert len(names) == len(set(names))
    assert {f.family for f in catalog()} >= {
        "rfm",
        "windows",
        "trends",
        "timing",
        "breadth_price",
        "engagement",
        "service",
        "satisfaction",
        "campaign",
        "subscription",
    }
    assert Path("docs/features.md").read_text() == render_catalog()
