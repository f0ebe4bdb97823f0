"""Benchmark: synthetic generation and warehouse load at a given size.

Each size runs in a fresh subprocess so peak memory (ru_maxrss) belongs to that size alone.
Reference measured in the same run: DuckDB's own `CREATE TABLE AS SELECT` of the same frames into
an unconstrained table, i.e. the fastest this machine moves those rows into DuckDB.

    .venv/bin/python benchmarks/bench_generate.py --customers 100000 300000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(customers: int, seed: int) -> dict:
    import duckdb

    from cvp.data.load import load_dataset
    from cvp.data.migrate import upgrade_warehouse
    from cvp.data.pseudonym import Pseudonymiser
    from cvp.data.synthetic import GeneratorConfig, generate
    from cvp.data.warehouse import dispose_engines, get_engine

    with tempfile.TemporaryDirectory() as tmp:
        url = f"duckdb:///{tmp}/bench.duckdb"
        engine = get_engine(url)
        upgrade_warehouse(engine)
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        dataset = generate(GeneratorConfig(customers=customers, seed=seed))
        t1 = time.perf_counter()
        # the generator's own peak (the goal's figure): the process peak below includes the load
        generate_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with engine.begin() as conn:
            counts = load_dataset(conn, dataset, Pseudonymiser(b"bench"))
        t2 = time.perf_counter()
        dispose_engines()
        reference = duckdb.connect(f"{tmp}/reference.duckdb")
        t3 = time.perf_counter()
        for name, frame in dataset.tables.items():
            reference.register("frame", frame)
            reference.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
            reference.unregister("frame")
        t4 = time.perf_counter()
        reference.close()
    return {
        "customers": customers,
        "rows_total": sum(counts.values()),
        "transactions": counts["transactions"],
        "events": counts["events"],
        "generate_s": round(t1 - t0, 2),
        "load_s": round(t2 - t1, 2),
        "total_s": round(t2 - t0, 2),
        "reference_duckdb_ctas_s": round(t4 - t3, 2),
        "load_vs_reference": round((t2 - t1) / (t4 - t3), 2),
        "generate_s_per_100k": round((t1 - t0) / customers * 100_000, 2),
        "load_s_per_100k": round((t2 - t1) / customers * 100_000, 2),
        "generate_peak_rss_gb": round(generate_rss / 1024**2, 2),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
        "load_average_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.customers[0], args.seed)))
        return
    results = []
    for n in args.customers:
        out = subprocess.run(
            [sys.executable, __file__, "--one", "--customers", str(n), "--seed", str(args.seed)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(result)
        print(json.dumps(result), flush=True)
    out_dir = Path("bench-results")
    out_dir.mkdir(exist_ok=True)
    record = {
        "machine": platform.machine(),
        "load_average": list(os.getloadavg()),
        "python": platform.python_version(),
        "results": results,
    }
    (out_dir / f"generate-{int(time.time())}.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
