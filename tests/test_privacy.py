"""Privacy on DuckDB and PostgreSQL: consent as a history (as-of semantics, revocations),
purposes honoured by scoring, planning and exports, audited exports, `cvp forget`, and no
per-customer data in MLflow."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from cvp.config import PrivacySettings
from cvp.data import schema
from cvp.data.ingest import ReadOptions, ingest_file
from cvp.data.landing import landing_mapping
from cvp.data.migrate import upgrade_warehouse
from cvp.data.pseudonym import Pseudonymiser
from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import dispose_engines, get_engine, read_frame
from cvp.jobs.data_jobs import run_generate, run_ingest
from cvp.jobs.privacy_jobs import run_forget
from cvp.jobs.scoring_jobs import export_activation, export_scores, run_plan, run_score
from cvp.jobs.training_jobs import TrainingConfig, run_train
from cvp.privacy.consent import consent_state, permissions
from tests.conftest import TEST_KEY, _backends, _postgres_base, make_settings

pytestmark = pytest.mark.slow  # trains models, runs jobs or the cvp script: not in make test-fast

AS_OF = date(2025, 12, 31)
INGEST_ORDER = (
    "customers",
    "transactions",
    "subscriptions",
    "events",
    "support_tickets",
    "surveys",
    "marketing_touches",
    "consent",
)


def _write(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- consent history, as of a date


def test_consent_history_as_of_revocation_and_idempotent_reimport(settings, tmp_path):
    engine = get_engine(settings.warehouse_url)
    pseudo = Pseudonymiser(TEST_KEY.encode())
    log = _write(
        tmp_path / "tx.csv",
        [{"customer_id": cid, "ts": "2025-01-02", "amount": 10} for cid in ("A", "B", "C", "D")],
    )
    grant = _write(
        tmp_path / "grant.csv",
        [
            {"customer_id": c, "purpose": "marketing", "granted": "true", "ts": "2025-01-10"}
            for c in ("A", "B", "D")
        ]
        + [{"customer_id": "C", "purpose": "profiling", "granted": "false", "ts": "2025-01-10"}]
        + [{"customer_id": "B", "purpose": "spam", "granted": "true", "ts": "2025-01-10"}],
    )
    revoke = _write(
        tmp_path / "revoke.csv",
        [
            {
                "customer_id": "A",
                "purpose": "marketing",
                "granted": "false",
                "ts": "2025-03-01 09:00",
            },
            # a grant and a refusal at the same instant: the refusal wins
            {"customer_id": "D", "purpose": "marketing", "granted": "true", "ts": "2025-03-02"},
            {"customer_id": "D", "purpose": "marketing", "granted": "false", "ts": "2025-03-02"},
        ],
    )
    options = ReadOptions({})
    with engine.begin() as conn:
        ingest_file(conn, "transactions", log, options, pseudo, settings)
        first = ingest_file(conn, "consent", grant, options, pseudo, settings)
        second = ingest_file(conn, "consent", revoke, options, pseudo, settings)
        again = ingest_file(conn, "consent", revoke, options, pseudo, settings)
    assert (first.inserted, first.quarantined_rows) == (4, 1)
    assert first.issues["reason"].str.startswith("unknown purpose (known:").any()
    assert (second.inserted, second.already_present) == (3, 0)
    assert (again.inserted, again.already_present) == (0, 3) and again.reconciles

    a, b, c, d = (pseudo.key_for(x) for x in "ABCD")
    with engine.connect() as conn:
        history = read_frame(conn, sa.select(schema.consent))
        assert len(history) == 7 and history["source"].str.startswith("consent:").all()
        assert history["loaded_at"].notna().all()

        def state(day: date) -> dict[str, bool]:
            frame = consent_state(conn, day)
            marketing = frame[frame["purpose"] == "marketing"]
            return dict(zip(marketing["customer_id"], marketing["granted"], strict=True))

        assert (
            state(date(2025, 1, 9)) == {}
        )  # nothing known yet: a backfill cannot see later grants
        assert state(date(2025, 1, 10)) == {a: True, b: True, d: True}  # on the day counts
        assert state(date(2025, 2, 28)) == {a: True, b: True, d: True}
        assert state(date(2025, 3, 1)) == {a: False, b: True, d: True}
        assert state(date(2025, 3, 2)) == {a: False, b: True, d: False}

        policy = PrivacySettings()
        allowed = permissions(conn, [a, b, c, d], date(2025, 3, 2), policy)
        assert allowed["marketing"].tolist() == [False, True, False, False]  # C: no record, deny
        assert allowed["profiling"].tolist() == [True, True, False, True]  # C refused
        assert allowed.dtypes.eq(bool).all()
        lenient = permissions(conn, [c], None, PrivacySettings(missing_consent="allow"))
        assert lenient.loc[c, "marketing"]
        strict = PrivacySettings(missing_profiling_consent="deny")
        assert not permissions(conn, [b], None, strict).loc[b, "profiling"]


# ---------------------------------------------------------------- a trained world per backend


@pytest.fixture(scope="module", params=_backends())
def world(request, tmp_path_factory):
    """Landing files imported as a user would, models trained with few trials."""
    root = tmp_path_factory.mktemp(f"privacy-{request.param}")
    if request.param == "duckdb":
        url = f"duckdb:///{root / 'warehouse.duckdb'}"
        schema_name = None
    else:
        schema_name = f"cvp_test_{uuid.uuid4().hex[:10]}"
        base = sa.create_engine(_postgres_base())
        with base.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema_name}"'))
        base.dispose()
        url = f"{_postgres_base()}?options=-csearch_path%3D{schema_name}"
    settings = make_settings(root, url)
    # 1,500 customers make age-band rates too noisy for the fairness gate, which is not what
    # these tests are about (tests/test_fairness.py is): a first model must become champion
    settings.monitoring.fairness_max_gap = 1.0
    upgrade_warehouse(get_engine(url))
    landing = root / "landing"
    run_generate(settings, GeneratorConfig(customers=1_500, seed=11), export_dir=landing)
    for table in INGEST_ORDER:
        run_ingest(settings, table, landing / f"{table}.csv", landing_mapping(table))
    run_train(settings, TrainingConfig(as_of=AS_OF, trials=2, max_boost_rounds=200))
    yield settings, landing, root
    dispose_engines()
    if schema_name:
        base = sa.create_engine(_postgres_base())
        with base.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema_name}" CASCADE'))
        base.dispose()


def _identities(settings) -> pd.DataFrame:
    with get_engine(settings.warehouse_url).connect() as conn:
        return read_frame(conn, sa.select(schema.customer_identities))


def _table(settings, sql: str) -> pd.DataFrame:
    with get_engine(settings.warehouse_url).connect() as conn:
        return read_frame(conn, sql)


def test_grant_revoke_score_plan_export_contacts_nobody_who_revoked(world, tmp_path):
    settings, _, _ = world
    first = run_score(settings, AS_OF)
    contacted = first.scores[first.scores["channel"] != "none"]
    contacted = contacted[~contacted["in_control_group"]].sort_values("priority_rank")
    assert len(contacted) > 30
    ids = _identities(settings).set_index("customer_id")["source_customer_id"]
    revokers = contacted["customer_id"].head(5).tolist()
    late_revoker = contacted["customer_id"].iloc[5]
    others = first.scores.loc[~first.scores["customer_id"].isin([*revokers, late_revoker])]
    opt_outs = others["customer_id"].iloc[-25:].tolist()
    changes = [
        {"customer_id": ids[c], "purpose": "marketing", "granted": "false", "ts": "2025-12-20"}
        for c in revokers
    ] + [
        {"customer_id": ids[c], "purpose": "profiling", "granted": "false", "ts": "2025-12-01"}
        for c in opt_outs
    ]
    report = run_ingest(settings, "consent", _write(tmp_path / "revoke.csv", changes), {})
    assert report.inserted == 30 and report.reconciles

    result = run_score(settings, AS_OF)
    scores = _table(settings, f"SELECT * FROM customer_scores WHERE as_of = DATE '{AS_OF}'")
    # profiling opt-outs: no stored individual prediction, reasons or action
    assert not set(opt_outs) & set(scores["customer_id"])
    summary = result.consent.summary()
    assert summary["profiling_opt_out"] >= 25
    assert len(scores) == summary["customers_known"] - summary["profiling_opt_out"]
    # revokers: never contacted
    mine = scores.set_index("customer_id").loc[revokers]
    assert not mine["marketing_consent"].any()
    assert (mine["next_best_action"] == "suppressed_no_consent").all()
    assert (mine["channel"] == "none").all()
    audit = _table(
        settings, "SELECT notes FROM audit_log WHERE command = 'score' AND status = 'succeeded'"
    )
    assert json.loads(audit["notes"].iloc[-1])["consent"] == summary

    # a revocation recorded after scoring, dated today: later plans and exports drop them too
    late = [
        {
            "customer_id": ids[late_revoker],
            "purpose": "marketing",
            "granted": "false",
            "ts": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        }
    ]
    run_ingest(settings, "consent", _write(tmp_path / "late.csv", late), {})
    totals, _ = run_plan(settings, AS_OF, 1_000_000)
    plan = _table(settings, f"SELECT * FROM retention_plan WHERE as_of = DATE '{AS_OF}'")
    assert totals.reach > 0 and totals.reason_empty is None
    assert not set(revokers + [late_revoker]) & set(plan["customer_id"])

    out = tmp_path / "activation.csv"
    exported = export_activation(settings, AS_OF, out, "marketing")
    frame = pd.read_csv(out, dtype={"source_customer_id": "string"})
    assert exported.rows == len(frame) > 0
    forbidden = {ids[c] for c in [*revokers, late_revoker, *opt_outs]}
    assert not forbidden & set(frame["source_customer_id"])
    assert set(frame["source_customer_id"]) <= set(ids)  # only from customer_identities
    granted = consent_state_marketing(settings)
    assert {ids[c] for c in granted} >= set(frame["source_customer_id"])
    pseudonymous = export_scores(settings, AS_OF, tmp_path / "scores.parquet")

    rows = _table(
        settings,
        "SELECT run_id, command, run_by, started_at, status, model_versions, notes "
        "FROM audit_log WHERE command LIKE 'export%' ORDER BY started_at",
    )
    assert rows["command"].tolist() == ["export activation", "export scores"]
    assert (rows["status"] == "succeeded").all() and (rows["run_by"] == "pytest").all()
    notes = [json.loads(n) for n in rows["notes"]]
    assert notes[0]["purpose"] == "marketing" and notes[1]["purpose"] == "analytics"
    assert [n["rows"] for n in notes] == [exported.rows, pseudonymous.rows]
    assert notes[0]["destination"] == str(out.resolve())
    assert all(n["scores_date"] == AS_OF.isoformat() for n in notes)
    versions = json.loads(rows["model_versions"].iloc[0])
    assert versions == {
        "cvp-churn": result.models.churn_version,
        "cvp-clv": result.models.clv_version,
    }


def consent_state_marketing(settings) -> set[str]:
    with get_engine(settings.warehouse_url).connect() as conn:
        state = consent_state(conn, None)
    marketing = state[(state["purpose"] == "marketing") & state["granted"]]
    return set(marketing["customer_id"])


def _all_text(settings) -> dict[str, str]:
    """Every value of every table, as text, per table."""
    engine = get_engine(settings.warehouse_url)
    with engine.connect() as conn:
        return {
            name: read_frame(conn, f'SELECT * FROM "{name}"').astype(str).to_csv(index=False)
            for name in sa.inspect(conn).get_table_names()
        }


def _tables_with(settings, needle: str) -> set[str]:
    return {name for name, text in _all_text(settings).items() if needle in text}


def _files_with(root: Path, needles: list[str], skip: set[Path]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if not path.is_file() or path in skip or path.suffix in {".duckdb", ".wal"}:
            continue
        data = path.read_bytes()
        found += [f"{path}: {n}" for n in needles if n.encode() in data]
    return found


def test_forget_erases_everywhere_and_reimport_does_not_restore(world, tmp_path):
    settings, landing, root = world
    ids = _identities(settings)
    unique_name = ids.drop_duplicates("name", keep=False)
    scored = _table(
        settings, f"SELECT customer_id FROM customer_scores WHERE as_of = DATE '{AS_OF}'"
    )
    target = unique_name[unique_name["customer_id"].isin(scored["customer_id"])].iloc[0]
    pseudonym, source_id = target["customer_id"], target["source_customer_id"]
    needles = [source_id, target["name"], target["email"], target["phone"], pseudonym]
    export = root / "exports" / "scores.csv"
    export_scores(settings, AS_OF, export)
    assert pseudonym in export.read_text()

    report = run_forget(settings, source_id)
    assert report.customer_id == pseudonym and not report.already_erased
    assert {"customers", "customer_identities", "transactions", "customer_scores"} <= set(
        report.rows_deleted
    )
    assert str(export) in report.files_rewritten
    for needle in needles[:4]:
        assert _tables_with(settings, needle) == set(), needle
    tomb = _table(settings, "SELECT * FROM erased_customers")
    assert tomb["customer_id"].tolist() == [pseudonym]
    assert _tables_with(settings, pseudonym) == {"erased_customers", "audit_log"}
    landing_files = set(landing.glob("*.csv"))
    assert _files_with(root, needles, landing_files) == []

    # the original files again: the customer stays erased, their rows are quarantined as such
    for table in INGEST_ORDER:
        again = run_ingest(settings, table, landing / f"{table}.csv", landing_mapping(table))
        assert again.reconciles
        if table in ("customers", "transactions"):
            assert (again.issues["reason"] == "erased").any(), table
    for needle in needles[:4]:
        assert _tables_with(settings, needle) == set(), needle
    rescored = run_score(settings, AS_OF)
    assert pseudonym not in set(rescored.scores["customer_id"])
    assert pseudonym not in set(rescored.features["customer_id"])
    again = run_forget(settings, pseudonym)  # by pseudonym, idempotent
    # only the re-import's own 'erased' quarantine records held the pseudonym
    assert again.already_erased and set(again.rows_deleted) <= {"quarantine"}
    forgets = _table(settings, "SELECT parameters FROM audit_log WHERE command = 'forget'")
    assert len(forgets) == 2 and source_id not in "".join(forgets["parameters"])


def test_mlflow_holds_no_per_customer_data(world):
    settings, _, root = world
    ids = _identities(settings)
    store = root / "mlruns"
    blobs = [p.read_bytes() for p in store.rglob("*") if p.is_file()]
    assert blobs and any(len(b) > 10_000 for b in blobs)
    needles = [*ids["source_customer_id"], *ids["customer_id"], *ids["email"].dropna()]
    leaks = [n for n in needles if any(n.encode() in blob for blob in blobs)]
    assert leaks == []


def test_migration_0005_keeps_existing_consent_and_downgrades(warehouse_url):
    from alembic import command

    from cvp.data.migrate import alembic_config

    engine = get_engine(warehouse_url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0004")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO consent (customer_id, purpose, granted, ts) "
                "VALUES ('c_1', 'marketing', true, TIMESTAMP '2025-01-01 00:00:00')"
            )
        )
    upgrade_warehouse(engine)
    with engine.begin() as conn:
        ingest_time = "TIMESTAMP '2025-02-01 00:00:00'"
        conn.execute(
            sa.text(
                "INSERT INTO consent (customer_id, purpose, granted, ts) "
                f"VALUES ('c_1', 'marketing', false, {ingest_time})"
            )
        )
        rows = read_frame(conn, "SELECT * FROM consent ORDER BY ts")
    assert rows["granted"].tolist() == [True, False]
    assert rows["source"].iloc[0] == "before revision 0005"
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0004")
        latest = read_frame(conn, "SELECT * FROM consent")
    assert latest["granted"].tolist() == [False] and "source" not in latest
    upgrade_warehouse(engine)
