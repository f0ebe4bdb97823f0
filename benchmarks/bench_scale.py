"""Benchmark: the feature snapshot and the scoring of N customers on PostgreSQL, in one process
against the Dask engine with 1 and 2 worker processes (a LocalCluster on 127.0.0.1, 8
partitions), in one run, with the raw snapshot query as the reference. Results are checked equal
to the local run's.

    .venv/bin/python benchmarks/bench_scale.py --customers 100000 [--postgres URL]

Scoring uses champion models trained once (2 trials) on a 1,500-customer DuckDB warehouse in a
throwaway MLflow store: the models' size, not their quality, sets scoring's cost. `score_*` is the
whole scoring computation (no write); `model_step_local` its partitionable part (BTYD features,
predictions, TreeSHAP reasons) in one process.

`features_*` build and gather the snapshot (no write). `features_local_write` is the local job's
build and write; `features_staged_*` the Dask job's write path without its Great Expectations
suite (which costs the same on both paths): clear the date's staging rows, the partition tasks
build and stage their rows, read the staged rows back (what the suite checks), promote them in
one transaction. The promoted snapshot is checked equal to the local one and the staging table
empty.

On a 2-core machine Dask cannot be much faster than one process (PostgreSQL itself runs on the
same two cores); the figures say what the partitioning costs, and that the same code runs on a
cluster (docs/scale.md turns the per-partition costs into a capacity plan).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import sqlalchemy as sa

AS_OF = date(2025, 12, 31)
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _timed(label: str, fn, results: dict) -> object:
    start = time.perf_counter()
    value = fn()
    results[label] = round(time.perf_counter() - start, 2)
    print(f"{label}: {results[label]} s", flush=True)
    return value


def _table_sizes(conn, schema: str) -> dict[str, dict[str, int]]:
    """Rows and bytes on disk (heap, indexes, TOAST) of every non-empty table of the schema."""
    sizes = {}
    names = conn.execute(
        sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"),
        {"s": schema},
    ).scalars()
    for name in list(names):
        rows = conn.execute(sa.text(f'SELECT count(*) FROM "{schema}"."{name}"')).scalar_one()
        if rows:
            size = conn.execute(
                sa.text("SELECT pg_total_relation_size(:t)"), {"t": f'"{schema}"."{name}"'}
            ).scalar_one()
            sizes[name] = {"rows": int(rows), "bytes": int(size)}
    return sizes


def _small_models():
    """Champion models trained once on 1,500 customers (DuckDB, throwaway MLflow store)."""
    from cvp.config import Settings
    from cvp.data.migrate import upgrade_warehouse
    from cvp.data.synthetic import GeneratorConfig
    from cvp.data.warehouse import get_engine
    from cvp.experiments.tracking import configure_tracking
    from cvp.jobs.data_jobs import run_generate
    from cvp.jobs.training_jobs import TrainingConfig, run_train
    from cvp.scoring.score import load_champions

    root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    small = Settings(
        warehouse_url=f"duckdb:///{root / 'small.duckdb'}",
        mlflow_tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        mlflow_artifact_root=root / "artifacts",
        expectations_dir=root / "expectations",
        pseudonym_key="bench",
        run_by="bench",
    )
    upgrade_warehouse(get_engine(small.warehouse_url))
    run_generate(small, GeneratorConfig(customers=1_500, seed=7))
    run_train(small, TrainingConfig(as_of=AS_OF, trials=2))
    return load_champions(configure_tracking(small))


def _score(conn, models, snapshot, step, explain_step=None):
    """Scoring's computation (no write) of the snapshot, with `step` as its model step and
    `explain_step` explaining the customers acted on (None: in this process)."""
    from cvp.config import LifecycleSettings, ScoringSettings
    from cvp.scoring.score import score

    result = score(
        conn,
        models,
        AS_OF,
        ScoringSettings(),
        LifecycleSettings(),
        snapshot=snapshot,
        model_step=step,
        explain_step=explain_step,
    )
    return result.scores.drop(columns=["scored_at"], errors="ignore")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()

    import pandas as pd

    from cvp.config import ExecutionSettings, Settings
    from cvp.data.load import load_dataset
    from cvp.data.migrate import upgrade_warehouse
    from cvp.data.pseudonym import Pseudonymiser
    from cvp.data.synthetic import GeneratorConfig, generate
    from cvp.data.warehouse import dispose_engines, get_engine, read_frame
    from cvp.execution.dask_engine import (
        SNAPSHOT_TOLERANCE,
        build_features_partitioned,
        explain_on_cluster,
        model_step_on_cluster,
        stage_features_partitioned,
    )
    from cvp.features.build import (
        available_families,
        build_features,
        feature_set_version,
        snapshot_query,
    )
    from cvp.features.store import (
        clear_staging,
        feature_snapshot_staging,
        promote_staged,
        read_snapshot,
        read_staged,
        write_snapshot,
    )
    from cvp.models.dataset import fit_btyd
    from cvp.scoring.score import predict_and_explain

    schema = f"cvp_bench_{uuid.uuid4().hex[:8]}"
    base = sa.create_engine(args.postgres)
    with base.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{args.postgres}?options=-csearch_path%3D{schema}"
    results: dict[str, float | int | str] = {"customers": args.customers}
    try:
        engine = get_engine(url)
        upgrade_warehouse(engine)
        data = _timed(
            "generate", lambda: generate(GeneratorConfig(customers=args.customers, seed=7)), results
        )

        def load() -> None:
            with engine.begin() as conn:
                load_dataset(conn, data, Pseudonymiser(b"bench"))

        _timed("load_postgres", load, results)
        with engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
            results["tables"] = _table_sizes(conn, schema)
            query = snapshot_query(AS_OF, available_families(conn))
            _timed("reference_query", lambda: read_frame(conn, query), results)
            local = _timed("features_local", lambda: build_features(conn, AS_OF), results)
        version = feature_set_version()

        def build_and_write() -> int:
            with engine.connect() as conn:
                frame = build_features(conn, AS_OF)
            with engine.begin() as conn:
                return write_snapshot(conn, version, AS_OF, frame)

        _timed("features_local_write", build_and_write, results)
        with engine.connect() as conn:
            stored_local = read_snapshot(conn, version, AS_OF)

        def staged(settings: Settings) -> int:
            """The Dask features job's path, its GX suite aside; returns the rows promoted."""
            with engine.begin() as conn:
                clear_staging(conn, version, AS_OF)
            counts = stage_features_partitioned(settings, version, AS_OF)
            with engine.connect() as conn:
                read_staged(conn, version, AS_OF)
            with engine.begin() as conn:
                promoted = promote_staged(conn, version, AS_OF)
            assert promoted == sum(counts) == len(local), (promoted, counts)
            return promoted

        results["snapshot_rows"] = len(local)
        results["snapshot_columns"] = local.shape[1]
        results["snapshot_bytes_in_memory"] = int(local.memory_usage(deep=True).sum())
        models = _timed("train_small_models", _small_models, results)
        with engine.connect() as conn:
            profiled = local.reset_index(drop=True)
            _timed(
                "model_step_local",
                lambda: predict_and_explain(models, profiled, fit_btyd(profiled)),
                results,
            )
            scored = _timed("score_local", lambda: _score(conn, models, local, None), results)
        dispose_engines()
        from distributed import LocalCluster

        for workers in (1, 2):
            with LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
            ) as cluster:
                settings = Settings(
                    warehouse_url=url,
                    pseudonym_key="bench",
                    execution=ExecutionSettings(
                        engine="dask",
                        partitions=args.partitions,
                        scheduler_address=cluster.scheduler_address,
                    ),
                )
                # the first build pays the workers' imports; the second is the steady state
                for attempt in ("first", "second"):
                    built = _timed(
                        f"features_dask_{workers}w_{attempt}",
                        lambda s=settings: build_features_partitioned(s, AS_OF),
                        results,
                    )
                    pd.testing.assert_frame_equal(
                        built, local, check_exact=False, rtol=0, atol=SNAPSHOT_TOLERANCE
                    )
                for attempt in ("first", "second"):
                    _timed(
                        f"features_staged_{workers}w_{attempt}",
                        lambda s=settings: staged(s),
                        results,
                    )
                    with engine.connect() as conn:
                        promoted = read_snapshot(conn, version, AS_OF)
                        left = conn.execute(
                            sa.select(sa.func.count()).select_from(feature_snapshot_staging)
                        ).scalar_one()
                    assert left == 0, left
                    pd.testing.assert_frame_equal(
                        promoted,
                        stored_local,
                        check_exact=False,
                        rtol=0,
                        atol=SNAPSHOT_TOLERANCE,
                    )
                step = model_step_on_cluster(settings)
                explain_step = explain_on_cluster(settings)
                for attempt in ("first", "second"):
                    with engine.connect() as conn:
                        on_cluster = _timed(
                            f"score_dask_{workers}w_{attempt}",
                            lambda c=conn, st=step, ex=explain_step: _score(
                                c, models, local, st, ex
                            ),
                            results,
                        )
                    pd.testing.assert_frame_equal(on_cluster, scored)
                dispose_engines()
        for key in ("features_local", "features_dask_1w_second", "features_dask_2w_second"):
            results[f"{key}_vs_reference"] = round(results[key] / results["reference_query"], 2)
        for key in ("features_staged_1w_second", "features_staged_2w_second"):
            results[f"{key}_vs_local_write"] = round(
                results[key] / results["features_local_write"], 2
            )
        for key in ("score_dask_1w_second", "score_dask_2w_second"):
            results[f"{key}_vs_local"] = round(results[key] / results["score_local"], 2)
        results["partitions"] = args.partitions
        print(json.dumps(results))
        out = Path("bench-results")
        out.mkdir(exist_ok=True)
        with (out / "bench_scale.jsonl").open("a") as handle:
            handle.write(json.dumps(results) + "\n")
    finally:
        dispose_engines()
        with base.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        base.dispose()


if __name__ == "__main__":
    main()
