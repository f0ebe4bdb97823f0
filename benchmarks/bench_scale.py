"""Benchmark: the feature snapshot of N customers on PostgreSQL, built in one process against
the Dask engine with 1 and 2 worker processes (a LocalCluster on 127.0.0.1, 8 partitions), in one
run, with the raw snapshot query as the reference. Results are checked equal to the local build.

    .venv/bin/python benchmarks/bench_scale.py --customers 100000 [--postgres URL]

On a 2-core machine Dask cannot be much faster than one process (PostgreSQL itself runs on the
same two cores); the figure says what the partitioning costs, and that the same code runs on a
cluster. Scoring's model step is not partitioned yet (see docs/deployment.md).
"""

from __future__ import annotations

import argparse
import json
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
    from cvp.execution.dask_engine import SNAPSHOT_TOLERANCE, build_features_partitioned
    from cvp.features.build import available_families, build_features, snapshot_query

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
            query = snapshot_query(AS_OF, available_families(conn))
            _timed("reference_query", lambda: read_frame(conn, query), results)
            local = _timed("features_local", lambda: build_features(conn, AS_OF), results)
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
        for key in ("features_local", "features_dask_1w_second", "features_dask_2w_second"):
            results[f"{key}_vs_reference"] = round(results[key] / results["reference_query"], 2)
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
