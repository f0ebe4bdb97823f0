"""The feature snapshot is rebuilt when the data it reads changes, and a snapshot that fails its
suite never replaces the stored one. Real warehouse (DuckDB and PostgreSQL), real GX, and for
the cache a real Prefect server."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from cvp.data import schema
from cvp.data.landing import landing_mapping
from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import get_engine, read_frame
from cvp.features.build import feature_set_version
from cvp.features.store import read_snapshot
from cvp.jobs import feature_jobs
from cvp.jobs.data_jobs import run_generate, run_ingest
from cvp.validation.runner import ValidationFailed

pytestmark = pytest.mark.slow  # trains models, runs jobs or the cvp script: not in make test-fast

AS_OF = date(2025, 12, 31)
CONFIG = GeneratorConfig(customers=600, seed=11)


def _snapshot(settings) -> pd.DataFrame:
    with get_engine(settings.warehouse_url).connect() as conn:
        return read_snapshot(conn, feature_set_version(), AS_OF)


def _succeeded(settings, command: str) -> int:
    with get_engine(settings.warehouse_url).connect() as conn:
        audit = read_frame(
            conn,
            f"SELECT run_id FROM audit_log WHERE command = '{command}' AND status = 'succeeded'",
        )
    return len(audit)


def test_a_snapshot_failing_its_suite_leaves_the_previous_one_in_place(settings, monkeypatch):
    run_generate(settings, CONFIG)
    feature_jobs.run_features(settings, AS_OF)
    before = _snapshot(settings)
    assert len(before) > 0

    build = feature_jobs.features_for

    def broken(settings, conn, as_of):  # a defect in a feature: negative recency for one customer
        frame = build(settings, conn, as_of)
        frame.loc[frame.index[0], "recency_days"] = -5.0
        return frame

    monkeypatch.setattr(feature_jobs, "features_for", broken)
    with pytest.raises(ValidationFailed, match="recency_days_not_negative"):
        feature_jobs.run_features(settings, AS_OF)
    after = _snapshot(settings)
    pd.testing.assert_frame_equal(after, before)
    assert (after["recency_days"].dropna() >= 0).all()


@pytest.mark.usefixtures("prefect_server")
def test_importing_a_customer_master_after_a_build_rebuilds_the_snapshot(env_settings, tmp_path):
    from flows.features import features_flow

    landing = run_generate(env_settings, CONFIG, export_dir=tmp_path / "landing").landing_files
    # a bare transaction log first: customers are derived from it, without country or channel
    run_ingest(
        env_settings, "transactions", landing["transactions"], landing_mapping("transactions"), True
    )
    features_flow(as_of=AS_OF)
    features_flow(as_of=AS_OF)  # unchanged data: a cache hit, not a second build
    assert _succeeded(env_settings, "features") == 1
    derived = _snapshot(env_settings)
    assert derived["country"].isna().all()

    # the master of exactly the customers already derived: same row count, same keys, new content
    buyers = set(pd.read_csv(landing["transactions"])["cust"])
    customers = pd.read_csv(landing["customers"])
    master_file = tmp_path / "customer_master.csv"
    customers[customers["customer_ref"].isin(buyers)].to_csv(master_file, index=False)
    with get_engine(env_settings.warehouse_url).connect() as conn:
        derived_count = len(read_frame(conn, "SELECT customer_id FROM customers"))
    master = run_ingest(env_settings, "customers", master_file, landing_mapping("customers"), True)
    assert master.inserted == derived_count
    features_flow(as_of=AS_OF)
    assert _succeeded(env_settings, "features") == 2  # rebuilt, not served from the cache
    rebuilt = _snapshot(env_settings)
    assert len(rebuilt) == len(derived) and rebuilt["country"].notna().all()

    # a correction of the master in place: no count changes anywhere, the content does
    with get_engine(env_settings.warehouse_url).begin() as conn:
        conn.execute(sa.update(schema.customers).values(country="ZZ"))
    features_flow(as_of=AS_OF)
    assert _succeeded(env_settings, "features") == 3
    assert (_snapshot(env_settings)["country"] == "ZZ").all()
