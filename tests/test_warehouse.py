"""Generated data in the real warehouse (DuckDB and PostgreSQL): migration, replace-on-rerun,
and PII kept out of every table but `customer_identities`."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
import sqlalchemy as sa

from cvp.data import schema
from cvp.data.fingerprint import warehouse_fingerprint
from cvp.data.migrate import current_revision, upgrade_warehouse
from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import get_engine, read_frame, table_counts
from cvp.experiments.tracking import tracking_client
from cvp.jobs.data_jobs import run_generate

CONFIG = GeneratorConfig(customers=1_500, seed=7)


def _content_hash(conn, table: str) -> str:
    frame = read_frame(conn, f'SELECT * FROM "{table}"').drop(
        columns=["loaded_at"], errors="ignore"
    )
    key = [c.name for c in schema.metadata.tables[table].primary_key.columns]
    frame = frame.sort_values(key).reset_index(drop=True)
    frame = frame.astype("string").fillna("<null>")
    return hashlib.sha256(
        pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
    ).hexdigest()


def test_migrations_create_every_table_and_are_repeatable(warehouse_url):
    engine = get_engine(warehouse_url)
    upgrade_warehouse(engine)  # second upgrade is a no-op
    from alembic.script import ScriptDirectory

    from cvp.data.migrate import alembic_config

    assert (
        current_revision(engine) == ScriptDirectory.from_config(alembic_config()).get_current_head()
    )
    assert current_revision(engine) == "0014"
    names = set(sa.inspect(engine).get_table_names())
    assert set(schema.metadata.tables) <= names
    with engine.connect() as conn:
        keyed = set(
            conn.execute(
                sa.text(
                    "SELECT table_name FROM information_schema.table_constraints "
                    "WHERE constraint_type = 'PRIMARY KEY'"
                )
            ).scalars()
        )
    # DuckDB: the raw event tables and the planted truth carry no key index (0014); PostgreSQL
    # keeps every key
    events = {"transactions", "subscriptions", "events", "support_tickets", "surveys"}
    events |= {"marketing_touches", "ground_truth_customers"}
    assert {"customers", "consent", "customer_scores", "feature_snapshots"} <= keyed
    if engine.dialect.name == "duckdb":
        assert not keyed & events, keyed & events
    else:
        assert events <= keyed


@pytest.mark.slow
def test_generate_fills_every_raw_table_and_rerun_is_identical(settings):
    first = run_generate(settings, CONFIG)
    engine = get_engine(settings.warehouse_url)
    with engine.connect() as conn:
        counts = table_counts(conn, schema.RAW_TABLES)
        hashes = {t: _content_hash(conn, t) for t in (*schema.RAW_TABLES, "ground_truth_customers")}
    assert all(counts[t] > 0 for t in schema.RAW_TABLES), counts
    assert counts["customers"] == CONFIG.customers
    assert counts == {t: first.row_counts[t] for t in schema.RAW_TABLES}

    second = run_generate(settings, CONFIG)
    with engine.connect() as conn:
        assert table_counts(conn, schema.RAW_TABLES) == counts
        assert {t: _content_hash(conn, t) for t in hashes} == hashes
    assert second.fingerprint == first.fingerprint


@pytest.mark.slow
def test_no_raw_pii_outside_customer_identities(settings):
    run_generate(settings, CONFIG)
    engine = get_engine(settings.warehouse_url)
    with engine.connect() as conn:
        identities = read_frame(conn, "SELECT * FROM customer_identities")
        pii = set(identities["email"]) | set(identities["phone"]) | set(identities["name"])
        source_ids = set(identities["source_customer_id"])
        for table in schema.metadata.tables:
            if table in {"customer_identities", "alembic_version"}:
                continue
            frame = read_frame(conn, f'SELECT * FROM "{table}"')
            for column in frame.columns:
                values = set(frame[column].dropna().astype(str))
                assert not values & pii, f"PII in {table}.{column}"
                assert not values & source_ids, f"source ids in {table}.{column}"
    assert identities["customer_id"].str.startswith("c_").all()


@pytest.mark.slow
def test_fingerprint_changes_with_the_data(settings):
    run_generate(settings, CONFIG)
    engine = get_engine(settings.warehouse_url)
    with engine.connect() as conn:
        before, counts = warehouse_fingerprint(conn)
    with engine.begin() as conn:
        conn.execute(
            sa.update(schema.transactions)
            .where(schema.transactions.c.amount > 100)
            .values(amount=1.0)
        )
    with engine.connect() as conn:
        after, counts_after = warehouse_fingerprint(conn)
    assert counts == counts_after and before != after


@pytest.mark.slow
def test_runs_are_audited_and_tracked_in_mlflow(settings):

    result = run_generate(settings, CONFIG)
    engine = get_engine(settings.warehouse_url)
    with engine.connect() as conn:
        audit = read_frame(conn, "SELECT * FROM audit_log")
    assert list(audit["status"]) == ["succeeded"]
    assert audit.loc[0, "run_by"] == "pytest"
    assert audit.loc[0, "data_fingerprint"] == result.fingerprint
    assert audit.loc[0, "mlflow_run_id"] == result.mlflow_run_id
    run = tracking_client(settings).get_run(result.mlflow_run_id)
    assert run.data.metrics["rows_customers"] == CONFIG.customers
    assert run.data.tags["cvp.data_fingerprint"] == result.fingerprint
    assert run.data.params["seed"] == "7"


def test_write_frame_takes_arrow_and_falls_back_to_duckdbs_scan_for_mixed_objects(tmp_path):
    """DuckDB gets frames as Arrow tables; a column Arrow cannot type (ints and texts mixed, as a
    raw file's value column may be) goes through DuckDB's own pandas scan, rows unchanged."""
    from cvp.data.warehouse import _arrow_or_frame, write_frame

    table = sa.Table(
        "mixed", sa.MetaData(), sa.Column("id", sa.String(8)), sa.Column("value", sa.String(16))
    )
    typed = pd.DataFrame({"id": ["007", "010"], "value": ["a", None]})
    mixed = pd.DataFrame({"id": ["011", "012"], "value": pd.Series([1, "b"], dtype=object)})
    assert not isinstance(_arrow_or_frame(typed), pd.DataFrame)
    assert isinstance(_arrow_or_frame(mixed), pd.DataFrame)
    engine = get_engine(f"duckdb:///{tmp_path / 'w.duckdb'}")
    with engine.begin() as conn:
        table.create(conn)
        assert write_frame(conn, table, typed) + write_frame(conn, table, mixed) == 4
    with engine.connect() as conn:
        rows = read_frame(conn, 'SELECT * FROM "mixed" ORDER BY id')
    assert rows["id"].tolist() == ["007", "010", "011", "012"]
    assert rows["value"].tolist()[2:] == ["1", "b"] and pd.isna(rows["value"].iloc[1])
