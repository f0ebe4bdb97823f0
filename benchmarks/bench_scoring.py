"""Benchmark: scoring N customers with features already built (prediction, calibration, TreeSHAP
reasons, value index, stages, playbook actions, and the write), against raw `booster.predict`
on the same matrix, measured in the same process.

Models are trained once on a 20k-customer warehouse (same feature set) and registered in a
throwaway MLflow store; the big warehouse is generated, loaded and its snapshot built first.

    .venv/bin/python benchmarks/bench_scoring.py --customers 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

AS_OF = date(2025, 12, 31)


def _settings(root: Path, warehouse: str):
    from cvp.config import Settings

    return Settings(
        warehouse_url=warehouse,
        mlflow_tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}",
        mlflow_artifact_root=root / "mlruns" / "artifacts",
        expectations_dir=root / "expectations",
        pseudonym_key="bench",
        run_by="bench",
    )


def prepare(root: Path, customers: int) -> None:
    from cvp.data.load import load_dataset
    from cvp.data.migrate import upgrade_warehouse
    from cvp.data.pseudonym import Pseudonymiser
    from cvp.data.synthetic import GeneratorConfig, generate
    from cvp.data.warehouse import dispose_engines, get_engine
    from cvp.features.build import build_features, feature_set_version
    from cvp.features.store import write_snapshot
    from cvp.jobs.data_jobs import run_generate
    from cvp.jobs.training_jobs import TrainingConfig, run_train

    small = _settings(root, f"duckdb:///{root / 'small.duckdb'}")
    upgrade_warehouse(get_engine(small.warehouse_url))
    run_generate(small, GeneratorConfig(customers=20_000, seed=7))
    run_train(small, TrainingConfig(as_of=AS_OF, trials=5))
    big = get_engine(f"duckdb:///{root / 'big.duckdb'}")
    upgrade_warehouse(big)
    with big.begin() as conn:
        load_dataset(
            conn, generate(GeneratorConfig(customers=customers, seed=7)), Pseudonymiser(b"bench")
        )
    with big.connect() as conn:
        frame = build_features(conn, AS_OF)
    with big.begin() as conn:
        write_snapshot(conn, feature_set_version(), AS_OF, frame)
    dispose_engines()


def measure(root: Path) -> dict:
    """Own process: peak memory is scoring's alone."""
    from cvp.config import LifecycleSettings, ScoringSettings
    from cvp.data.warehouse import get_engine
    from cvp.experiments.tracking import configure_tracking
    from cvp.features.build import feature_set_version
    from cvp.features.store import read_snapshot
    from cvp.models.dataset import add_btyd_features
    from cvp.models.registry import frame_for
    from cvp.scoring.score import load_champions, score, write_scores

    settings = _settings(root, f"duckdb:///{root / 'big.duckdb'}")
    models = load_champions(configure_tracking(settings))
    engine = get_engine(settings.warehouse_url)
    with engine.connect() as conn:
        snapshot = read_snapshot(conn, feature_set_version(), AS_OF)
    matrix = frame_for(models.churn, add_btyd_features(snapshot, models.horizon_days)).astype(
        "float64"
    )
    t0 = time.perf_counter()
    models.churn.predict(matrix)
    t1 = time.perf_counter()
    del matrix  # the reference's copy is not part of scoring's memory
    with engine.connect() as conn:
        result = score(
            conn, models, AS_OF, ScoringSettings(), LifecycleSettings(), snapshot=snapshot
        )
    t2 = time.perf_counter()
    with engine.begin() as conn:
        write_scores(conn, result, "entropy")
    t3 = time.perf_counter()
    return {
        "customers_scored": len(result.scores),
        "reference_booster_predict_s": round(t1 - t0, 2),
        "score_s": round(t2 - t1, 2),
        "write_s": round(t3 - t2, 2),
        "end_to_end_s": round(t3 - t1, 2),
        "end_to_end_vs_reference": round((t3 - t1) / (t1 - t0), 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the prepared warehouse and models here; a second run reuses them",
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = args.workdir or Path(tmp)
        if not (root / "prepared").exists():
            root.mkdir(parents=True, exist_ok=True)
            prepare(root, args.customers)
            (root / "prepared").write_text(str(args.customers))
        out = subprocess.run(
            [sys.executable, __file__, "--measure", str(root)], capture_output=True, text=True
        )
        if out.returncode:
            raise SystemExit(out.stderr[-3000:])
    result = {"customers": args.customers, **json.loads(out.stdout.strip().splitlines()[-1])}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
