"""Benchmark: scoring N customers with features already built (prediction, calibration, TreeSHAP
reasons, value index, stages, playbook actions, and the write), against raw `booster.predict`
on the same matrix, measured in the same process.

Models are trained once on a 20k-customer warehouse (same feature set, the `[training]` search
space) and registered in a throwaway MLflow store; the big warehouse is generated, loaded and its
snapshot built first. Scoring computes reasons for the customers acted on (the default
`[scoring] reasons_for`); the measuring process then also times exact TreeSHAP reasons for every
customer (`explain` on all rows: what `reasons_for = "all"` adds) and, on the first 100k rows,
woodelf against LightGBM's `pred_contrib` on the same champion (max abs difference).

End to end runs from reading the stored snapshot to the committed scores of a date not scored
yet (a scoring day; the date's earlier scores are deleted first, untimed); `rewrite_s` then times
a re-run's write, which replaces them. `peak_rss_gb` is the process's high-water mark at that
point (the models and the snapshot included). The raw
`booster.predict` reference runs after it, on the same snapshot's matrix, so its copy of the
matrix is not charged to scoring.

    .venv/bin/python benchmarks/bench_scoring.py --customers 100000 300000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
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


def _big(root: Path, customers: int) -> Path:
    return root / f"big-{customers}.duckdb"


def prepare(root: Path, customers: int, warehouse_from: Path | None = None) -> None:
    """Models (once per workdir) and the big warehouse with its snapshot (or a copy of one
    another workdir prepared, e.g. with other code: the data and features are the same)."""
    from cvp.data.load import load_dataset
    from cvp.data.migrate import upgrade_warehouse
    from cvp.data.pseudonym import Pseudonymiser
    from cvp.data.synthetic import GeneratorConfig, generate
    from cvp.data.warehouse import dispose_engines, get_engine
    from cvp.features.build import build_features, feature_set_version
    from cvp.features.store import write_snapshot
    from cvp.jobs.data_jobs import run_generate
    from cvp.jobs.training_jobs import TrainingConfig, run_train

    if not (root / "models-prepared").exists():
        small = _settings(root, f"duckdb:///{root / 'small.duckdb'}")
        upgrade_warehouse(get_engine(small.warehouse_url))
        run_generate(small, GeneratorConfig(customers=20_000, seed=7))
        run_train(small, TrainingConfig(as_of=AS_OF, trials=5))
        (root / "models-prepared").write_text("")
    if warehouse_from is not None:
        shutil.copyfile(warehouse_from, _big(root, customers))
        return
    big = get_engine(f"duckdb:///{_big(root, customers)}")
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


def measure(root: Path, customers: int) -> dict:
    """Own process: peak memory is scoring's alone."""
    import numpy as np
    import sqlalchemy as sa

    from cvp.actions.reasons import contributions, explain, shap_method
    from cvp.config import LifecycleSettings, ScoringSettings
    from cvp.data.warehouse import get_engine
    from cvp.experiments.tracking import configure_tracking
    from cvp.features.build import feature_set_version
    from cvp.features.store import read_snapshot
    from cvp.models.dataset import add_btyd_features
    from cvp.models.registry import frame_for
    from cvp.scoring.score import load_champions, score, write_scores
    from cvp.scoring.store import alerts, customer_scores, stage_transitions, value_index_versions

    settings = _settings(root, f"duckdb:///{_big(root, customers)}")
    models = load_champions(configure_tracking(settings))
    engine = get_engine(settings.warehouse_url)
    with engine.begin() as conn:  # a scoring day's first write, not a re-run's (timed below)
        for table in (customer_scores, stage_transitions, alerts, value_index_versions):
            conn.execute(sa.delete(table).where(table.c.as_of == AS_OF))
    t1 = time.perf_counter()  # end to end: from reading the stored snapshot to the written scores
    with engine.connect() as conn:
        snapshot = read_snapshot(conn, feature_set_version(), AS_OF)
        result = score(
            conn, models, AS_OF, ScoringSettings(), LifecycleSettings(), snapshot=snapshot
        )
    t2 = time.perf_counter()
    with engine.begin() as conn:
        write_scores(conn, result, "entropy")
    result_rows = len(result.scores)
    t3 = time.perf_counter()
    with engine.begin() as conn:  # a re-run of the day: the stored scores are replaced
        write_scores(conn, result, "entropy")
    rewrite_s = time.perf_counter() - t3
    acted = int((result.scores["top_reasons"] != "").sum())
    # the process's peak so far is scoring's (with the snapshot it read; the re-run's write too):
    # the reference runs
    # after it, so its matrix copy is not counted as scoring's memory
    peak_scoring = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    del result
    x_churn = frame_for(models.churn, add_btyd_features(snapshot, models.horizon_days)).astype(
        "float64"
    )
    del snapshot
    t0 = time.perf_counter()
    models.churn.predict(x_churn)
    reference_s = time.perf_counter() - t0
    t4 = time.perf_counter()
    explain(models.churn, x_churn)
    t5 = time.perf_counter()
    sample = x_churn.iloc[:100_000]
    del x_churn
    t6 = time.perf_counter()
    reference = models.churn.predict(sample, pred_contrib=True)[:, :-1]
    t7 = time.perf_counter()
    chosen = contributions(models.churn, sample)
    t8 = time.perf_counter()
    trees = models.churn.dump_model()["tree_info"]
    return {
        "churn_trees": len(trees),
        "churn_max_leaves": max(t["num_leaves"] for t in trees),
        "shap_method": shap_method(models.churn),
        "customers_scored": result_rows,
        "customers_with_reasons": acted,
        "reference_booster_predict_s": round(reference_s, 2),
        "score_s": round(t2 - t1, 2),
        "write_s": round(t3 - t2, 2),
        "rewrite_s": round(rewrite_s, 2),
        "end_to_end_s": round(t3 - t1, 2),
        "end_to_end_vs_reference": round((t3 - t1) / reference_s, 1),
        "end_to_end_s_per_100k": round((t3 - t1) / result_rows * 100_000, 2),
        "peak_rss_gb": round(peak_scoring, 2),
        "reasons_for_all_s": round(t5 - t4, 2),
        "reasons_for_all_vs_reference": round((t5 - t4) / reference_s, 1),
        "sample_rows": len(sample),
        "sample_pred_contrib_s": round(t7 - t6, 2),
        "sample_chosen_s": round(t8 - t7, 2),
        "sample_max_abs_diff": float(np.abs(chosen - reference).max()),
        "peak_rss_gb_with_extras": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the prepared warehouses and models here (one subdirectory per size); "
        "a second run reuses them",
    )
    parser.add_argument(
        "--warehouse-from",
        type=Path,
        help="copy this prepared warehouse (with its snapshot, e.g. an earlier run's big.duckdb) "
        "instead of generating one (one size only)",
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.customers[0])))
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.workdir or Path(tmp)
        for n in args.customers:
            if not (root / f"prepared-{n}").exists():
                root.mkdir(parents=True, exist_ok=True)
                prepare(root, n, args.warehouse_from)
                (root / f"prepared-{n}").write_text("")
            out = subprocess.run(
                [sys.executable, __file__, "--measure", str(root), "--customers", str(n)],
                capture_output=True,
                text=True,
            )
            if out.returncode:
                raise SystemExit(out.stderr[-3000:])
            result = {"customers": n, **json.loads(out.stdout.strip().splitlines()[-1])}
            results.append(result)
            print(json.dumps(result), flush=True)
    record("scoring", results)


def record(name: str, results: list[dict]) -> None:
    """Append the results to bench-results/ (git-ignored) with the machine's load."""
    out_dir = Path("bench-results")
    out_dir.mkdir(exist_ok=True)
    entry = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "load_average": list(os.getloadavg()),
        "python": platform.python_version(),
        "results": results,
    }
    with (out_dir / f"{name}.jsonl").open("a") as handle:
        handle.write(json.dumps(entry) + "\n")


if __name__ == "__main__":
    main()
