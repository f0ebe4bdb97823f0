"""Benchmark: `cvp train` (the training job, 20 trials by default) on N generated customers, with
the time split between the feature build (every cutoff's snapshot and labels), the Optuna trials
(both models), the early-stopped fit of the tuned parameters on every training row (when the
trials ran on a sample, `[training] tuning_rows`), model logging (MLflow: models, figures, dicts,
metrics) and the rest (backtest, calibration, refits, SHAP importance), the peak memory, and the
backtest metrics.

Each size runs in a fresh process (peak memory is that size's alone). The split is measured by
wrapping the job's functions (`assemble`, `tune`, `log_model`, `mlflow.log_*`) with timers.

    .venv/bin/python benchmarks/bench_train.py --customers 100000 300000 1000000 [--trials 20]

With `--churn-max-depth 5 --churn-max-leaves 32` it trains in the capped search space of the
earlier scoring benchmark, for the backtest comparison; `--tuning-rows N` sets the trials' sample
(a value above the training rows tunes on every row, for the sampled-against-full comparison).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

AS_OF = date(2025, 12, 31)


def _timed(spent: dict[str, float], label: str, module: Any, name: str) -> None:
    original = getattr(module, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - start

    setattr(module, name, wrapper)


def measure(customers: int, trials: int, extra: dict[str, int]) -> dict:
    import mlflow

    import cvp.jobs.training_jobs as jobs
    import cvp.models.engine as engine
    import cvp.models.train as train
    from cvp.config import Settings, TrainingSettings
    from cvp.data.migrate import upgrade_warehouse
    from cvp.data.synthetic import GeneratorConfig
    from cvp.data.warehouse import get_engine
    from cvp.jobs.data_jobs import run_generate
    from cvp.jobs.training_jobs import TrainingConfig, run_train

    spent: dict[str, float] = defaultdict(float)
    _timed(spent, "feature_build_s", jobs, "assemble")
    _timed(spent, "optuna_trials_s", train, "tune")
    _timed(spent, "full_data_fit_s", engine, "early_stopped_fit")  # inside `tune`
    _timed(spent, "logging_s", train, "log_model")
    for name in ("log_dict", "log_figure", "log_metrics", "log_params", "log_param"):
        _timed(spent, "logging_s", mlflow, name)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(
            warehouse_url=f"duckdb:///{root / 'warehouse.duckdb'}",
            mlflow_tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}",
            mlflow_artifact_root=root / "mlruns" / "artifacts",
            expectations_dir=root / "expectations",
            pseudonym_key="bench",
            run_by="bench",
            training=TrainingSettings(**extra),
        )
        upgrade_warehouse(get_engine(settings.warehouse_url))
        t0 = time.perf_counter()
        run_generate(settings, GeneratorConfig(customers=customers, seed=7))
        t1 = time.perf_counter()
        result = run_train(settings, TrainingConfig(as_of=AS_OF, trials=trials))
        t2 = time.perf_counter()
        churn_run = mlflow.MlflowClient(settings.mlflow_tracking_uri).get_run(
            result.outcomes["churn"].run_id
        )
        trial_rows = int(churn_run.data.params["trial_rows"])
    total = t2 - t1
    churn, clv = result.outcomes["churn"], result.outcomes["clv"]
    spent["optuna_trials_s"] -= spent["full_data_fit_s"]
    split = {k: round(v, 2) for k, v in spent.items()}
    return {
        "customers": customers,
        "trials": trials,
        "search_space": extra or "[training] defaults",
        "training_rows": result.rows.get("train"),
        "generate_and_load_s": round(t1 - t0, 2),
        "train_s": round(total, 2),
        "train_s_per_100k": round(total / customers * 100_000, 2),
        **split,
        "backtest_refit_rest_s": round(total - sum(spent.values()), 2),
        "churn_backtest_roc_auc": round(churn.metrics["roc_auc"], 4),
        "churn_backtest_ece": round(churn.metrics["ece"], 4),
        "churn_max_depth": churn.params.get("max_depth"),
        "churn_num_leaves": churn.params.get("num_leaves"),
        "churn_rounds": churn.params.get("num_boost_round"),
        "trial_rows": trial_rows,
        "clv_backtest_normalized_gini": round(clv.metrics["normalized_gini"], 4),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--churn-max-depth", type=int)
    parser.add_argument("--churn-max-leaves", type=int)
    parser.add_argument("--tuning-rows", type=int)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    extra = {
        k: v
        for k, v in (
            ("churn_max_depth", args.churn_max_depth),
            ("churn_max_leaves", args.churn_max_leaves),
            ("tuning_rows", args.tuning_rows),
        )
        if v is not None
    }
    if args.one:
        print(json.dumps(measure(args.customers[0], args.trials, extra)))
        return
    results = []
    for n in args.customers:
        command = [sys.executable, __file__, "--one", "--customers", str(n)]
        command += ["--trials", str(args.trials)]
        for key, value in extra.items():
            command += [f"--{key.replace('_', '-')}", str(value)]
        out = subprocess.run(command, capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(out.stderr[-3000:])
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(result)
        print(json.dumps(result), flush=True)
    out_dir = Path("bench-results")
    out_dir.mkdir(exist_ok=True)
    entry = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "load_average": list(os.getloadavg()),
        "python": platform.python_version(),
        "results": results,
    }
    with (out_dir / "train.jsonl").open("a") as handle:
        handle.write(json.dumps(entry) + "\n")


if __name__ == "__main__":
    main()
