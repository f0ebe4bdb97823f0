"""Benchmark: full feature build for one as_of at a given size, against a hand-written DuckDB
reference query computing the RFM and window core on the same data, in the same process.

    .venv/bin/python benchmarks/bench_features.py --customers 100000 300000 1000000

`--workdir DIR` keeps the generated warehouses (DIR/bench-<customers>.duckdb) and reuses them on
the next run: generating and loading 1 M customers takes longer than the build it serves.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REFERENCE_SQL = """
SELECT customer_id,
       min(date_diff('second', ts, TIMESTAMP '{as_of} 23:59:59') / 86400.0) FILTER (WHERE NOT is_refund) AS recency_days,
       count(*) FILTER (WHERE NOT is_refund) AS frequency,
       sum(amount) AS monetary_total, avg(amount) AS monetary_mean, max(amount) AS monetary_max,
       {windows}
FROM transactions WHERE ts <= TIMESTAMP '{as_of} 23:59:59' GROUP BY customer_id
"""


def _windows() -> str:
    parts = []
    for w in (7, 30, 90, 180, 365):
        cond = f"ts > TIMESTAMP '{{as_of}} 23:59:59' - INTERVAL {w} DAY"
        parts += [
            f"count(*) FILTER (WHERE NOT is_refund AND {cond}) AS tx_count_{w}d",
            f"coalesce(sum(amount) FILTER (WHERE {cond}), 0) AS spend_{w}d",
            f"count(DISTINCT CAST(ts AS DATE)) FILTER (WHERE NOT is_refund AND {cond}) AS active_days_{w}d",
        ]
    return ",\n       ".join(parts)


def prepare(path: str, customers: int) -> dict[str, int]:
    from cvp.data.load import load_dataset
    from cvp.data.migrate import upgrade_warehouse
    from cvp.data.pseudonym import Pseudonymiser
    from cvp.data.synthetic import GeneratorConfig, generate
    from cvp.data.warehouse import dispose_engines, get_engine

    engine = get_engine(f"duckdb:///{path}")
    upgrade_warehouse(engine)
    with engine.begin() as conn:
        counts = load_dataset(
            conn, generate(GeneratorConfig(customers=customers, seed=7)), Pseudonymiser(b"b")
        )
    dispose_engines()
    return counts


def measure(path: str, as_of: date) -> dict:
    """Runs in its own process, so its peak memory is the feature build's alone."""
    from cvp.data.warehouse import get_engine
    from cvp.features.build import build_features, feature_set_version
    from cvp.features.store import write_snapshot

    engine = get_engine(f"duckdb:///{path}")
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        sql = REFERENCE_SQL.format(as_of=as_of, windows=_windows().format(as_of=as_of))
        t0 = time.perf_counter()
        reference_rows = len(raw.sql(sql).fetchnumpy()["customer_id"])
        t1 = time.perf_counter()
        frame = build_features(conn, as_of)
        t2 = time.perf_counter()
        build_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # The reference ran first, on a cold buffer pool; run it again warm, as the build was,
        # so the stricter ratio is printed too.
        raw.complete()
        t_warm = time.perf_counter()
        raw.sql(sql).fetchnumpy()
        warm = time.perf_counter() - t_warm
    with engine.begin() as conn:
        write_snapshot(conn, feature_set_version(), as_of, frame)
    t3 = time.perf_counter()
    return {
        "snapshot_rows": len(frame),
        "features": frame.shape[1] - 2,
        "reference_rfm_windows_s": round(t1 - t0, 2),
        "reference_rows": reference_rows,
        "build_s": round(t2 - t1, 2),
        "write_s": round(t3 - t2, 2),
        "build_vs_reference": round((t2 - t1) / (t1 - t0), 2),
        "reference_warm_s": round(warm, 2),
        "build_vs_warm_reference": round((t2 - t1) / warm, 2),
        "build_and_write_vs_reference": round((t3 - t1) / (t1 - t0), 2),
        "build_s_per_100k_snapshot_rows": round((t2 - t1) / len(frame) * 100_000, 2),
        "build_peak_rss_gb": round(build_peak / 1024**2, 2),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2025, 9, 30))
    parser.add_argument("--workdir", type=Path, help="keep and reuse the generated warehouses here")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.as_of)))
        return
    results = []
    for n in args.customers:
        with tempfile.TemporaryDirectory() as tmp:
            if args.workdir is not None:
                args.workdir.mkdir(parents=True, exist_ok=True)
                path = str(args.workdir / f"bench-{n}.duckdb")
                counts_file = args.workdir / f"bench-{n}.counts.json"
                if not counts_file.exists():
                    Path(path).unlink(missing_ok=True)
                    counts_file.write_text(json.dumps(prepare(path, n)))
                counts = json.loads(counts_file.read_text())
            else:
                path = f"{tmp}/bench.duckdb"
                counts = prepare(path, n)
            out = subprocess.run(
                [sys.executable, __file__, "--measure", path, "--as-of", args.as_of.isoformat()],
                capture_output=True,
                text=True,
                check=True,
            )
        result = {
            "customers": n,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "transactions": counts["transactions"],
            "events": counts["events"],
        }
        result.update(json.loads(out.stdout.strip().splitlines()[-1]))
        results.append(result)
        print(json.dumps(result), flush=True)
    out_dir = Path("bench-results")
    out_dir.mkdir(exist_ok=True)
    entry = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "load_average": list(os.getloadavg())}
    with (out_dir / "features.jsonl").open("a") as handle:
        handle.write(json.dumps({**entry, "results": results}) + "\n")


if __name__ == "__main__":
    main()
