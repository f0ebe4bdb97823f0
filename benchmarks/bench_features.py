"""Benchmark: full feature build for one as_of at a given size, against a hand-written DuckDB
reference query computing the RFM and window core on the same data, each in a fresh process.

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


def measure_reference(path: str, as_of: date) -> dict:
    """The hand-written query, in its own process: cold (a fresh buffer pool, as the build gets
    in its process) and again warm; its own peak memory is not charged to the build."""
    from cvp.data.warehouse import get_engine

    engine = get_engine(f"duckdb:///{path}")
    sql = REFERENCE_SQL.format(as_of=as_of, windows=_windows().format(as_of=as_of))
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        t0 = time.perf_counter()
        reference_rows = len(raw.sql(sql).fetchnumpy()["customer_id"])
        t1 = time.perf_counter()
        raw.sql(sql).fetchnumpy()
        t2 = time.perf_counter()
    return {
        "reference_rfm_windows_s": round(t1 - t0, 2),
        "reference_warm_s": round(t2 - t1, 2),
        "reference_rows": reference_rows,
        "reference_peak_rss_gb": _peak_gb(),
    }


def measure_build(path: str, as_of: date) -> dict:
    """The feature build and the snapshot write, in their own process, so the peak memory is
    theirs alone."""
    from cvp.data.warehouse import get_engine
    from cvp.features.build import build_features, feature_set_version
    from cvp.features.store import write_snapshot

    engine = get_engine(f"duckdb:///{path}")
    with engine.connect() as conn:
        t1 = time.perf_counter()
        frame = build_features(conn, as_of)
        t2 = time.perf_counter()
    build_peak = _peak_gb()
    with engine.begin() as conn:
        write_snapshot(conn, feature_set_version(), as_of, frame)
    t3 = time.perf_counter()
    return {
        "snapshot_rows": len(frame),
        "features": frame.shape[1] - 2,
        "build_s": round(t2 - t1, 2),
        "write_s": round(t3 - t2, 2),
        "build_s_per_100k_snapshot_rows": round((t2 - t1) / len(frame) * 100_000, 2),
        "build_peak_rss_gb": build_peak,
        "build_and_write_peak_rss_gb": _peak_gb(),
    }


def _peak_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)


def _run(part: str, path: str, as_of: date) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", path, "--part", part, "--as-of", as_of.isoformat()],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(path: str, as_of: date) -> dict:
    """Reference and build, each in a fresh process (cold buffer pool, own peak memory)."""
    result = _run("reference", path, as_of) | _run("build", path, as_of)
    build, cold, warm = (
        result["build_s"],
        result["reference_rfm_windows_s"],
        result["reference_warm_s"],
    )
    return result | {
        "build_vs_reference": round(build / cold, 2),
        "build_vs_warm_reference": round(build / warm, 2),
        "build_and_write_vs_reference": round((build + result["write_s"]) / cold, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2025, 9, 30))
    parser.add_argument("--workdir", type=Path, help="keep and reuse the generated warehouses here")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--part", choices=["reference", "build"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        part = measure_reference if args.part == "reference" else measure_build
        print(json.dumps(part(args.measure, args.as_of)))
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
            measured = measure(path, args.as_of)
        result = {
            "customers": n,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "transactions": counts["transactions"],
            "events": counts["events"],
        }
        result.update(measured)
        results.append(result)
        print(json.dumps(result), flush=True)
    out_dir = Path("bench-results")
    out_dir.mkdir(exist_ok=True)
    entry = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "load_average": list(os.getloadavg())}
    with (out_dir / "features.jsonl").open("a") as handle:
        handle.write(json.dumps({**entry, "results": results}) + "\n")


if __name__ == "__main__":
    main()
