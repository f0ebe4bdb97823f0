"""Where scoring's time goes: `score` on a workdir `bench_scoring.py --workdir DIR` prepared
(its champion models and big warehouse with the stored snapshot), run once plain and once under
cProfile, printing the plain time and the profile's top functions by cumulative and own time.

    .venv/bin/python benchmarks/profile_scoring.py --workdir DIR --customers 1000000

cProfile charges every Python call, so Python-heavy steps look dearer under it than they are:
read the shares, and the plain time for seconds.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

import bench_scoring


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()

    from cvp.config import LifecycleSettings, ScoringSettings
    from cvp.data.warehouse import get_engine
    from cvp.experiments.tracking import configure_tracking
    from cvp.features.build import feature_set_version
    from cvp.features.store import read_snapshot
    from cvp.scoring.score import load_champions, score

    if not (args.workdir / f"prepared-{args.customers}").exists():
        raise SystemExit(
            f"{args.workdir} has no prepared {args.customers:,}-customer warehouse: run "
            f"benchmarks/bench_scoring.py --customers {args.customers} --workdir {args.workdir}"
        )
    warehouse = f"duckdb:///{bench_scoring._big(args.workdir, args.customers)}"
    settings = bench_scoring._settings(args.workdir, warehouse)
    models = load_champions(configure_tracking(settings))
    engine = get_engine(settings.warehouse_url)

    def run() -> None:
        with engine.connect() as conn:
            snapshot = read_snapshot(conn, feature_set_version(), bench_scoring.AS_OF)
            score(
                conn,
                models,
                bench_scoring.AS_OF,
                ScoringSettings(),
                LifecycleSettings(),
                snapshot=snapshot,
            )

    start = time.perf_counter()
    run()
    print(f"score, plain (snapshot read included): {time.perf_counter() - start:.2f} s", flush=True)
    profile = cProfile.Profile()
    profile.enable()
    run()
    profile.disable()
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top // 2)


if __name__ == "__main__":
    main()
