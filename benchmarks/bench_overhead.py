"""What Prefect and the CLI add to a small command, with and without `cvp server up`.

Three ways of doing the same work (`validate` of the customers table on a small warehouse), each
a fresh process, timed from outside, in one run so the machine's load is shared:

- `in-process`: `python -c` importing the job function and calling it (no CLI, no Prefect);
- `cvp, no server`: the `cvp validate` command, which starts Prefect's temporary API server;
- `cvp, server up`: the same command after `cvp server up` (it finds the server by itself).

The overhead is the command's median wall time minus the in-process median.

    .venv/bin/python benchmarks/bench_overhead.py [--repeat 3] [--customers 2000]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
AS_OF = "2025-12-31"

IN_PROCESS = f"""
from datetime import date
from cvp.config import get_settings
from cvp.jobs.validation_jobs import run_validate
report = run_validate(get_settings(), date.fromisoformat("{AS_OF}"), ["customers"])
assert report.passed
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CVP_", "PREFECT_"))}
    env.update(
        CVP_CONFIG_FILE=str(work / "absent.toml"),
        CVP_WAREHOUSE_URL=f"duckdb:///{work / 'warehouse.duckdb'}",
        CVP_MLFLOW_TRACKING_URI=f"sqlite:///{work / 'mlruns' / 'mlflow.db'}",
        CVP_MLFLOW_ARTIFACT_ROOT=str(work / "mlruns" / "artifacts"),
        CVP_EXPECTATIONS_DIR=str(work / "expectations"),
        CVP_PSEUDONYM_KEY_FILE=str(work / ".secrets" / "key"),
        CVP_SERVER__STATE_DIR=str(work / "servers"),
        CVP_SERVER__PREFECT_PORT=str(_free_port()),
        CVP_SERVER__MLFLOW_PORT=str(_free_port()),
        CVP_PREFECT__HOME=str(work / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        COLUMNS="200",
    )
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(args[:3])} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return elapsed


def _measure(name: str, args: list[str], env: dict[str, str], cwd: Path, repeat: int) -> dict:
    times = [_run(args, env, cwd) for _ in range(repeat)]
    print(f"  {name:<16} runs {', '.join(f'{t:.1f}' for t in times)} s", flush=True)
    return {"name": name, "median": statistics.median(times), "worst": max(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--customers", type=int, default=2000)
    args = parser.parse_args()
    cvp = str(BIN / "cvp")
    with tempfile.TemporaryDirectory(prefix="cvp-overhead-") as tmp:
        work = Path(tmp)
        env = _environment(work)
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        _run([cvp, "init"], env, work)
        _run([cvp, "generate", "--customers", str(args.customers), "--seed", "7"], env, work)
        _run([cvp, "validate", "--table", "customers", "--as-of", AS_OF], env, work)  # warm-up
        command = [cvp, "validate", "--table", "customers", "--as-of", AS_OF]
        rows = [
            _measure("in-process", [str(BIN / "python"), "-c", IN_PROCESS], env, work, args.repeat)
        ]
        rows.append(_measure("cvp, no server", command, env, work, args.repeat))
        _run([cvp, "server", "up"], env, work)
        try:
            rows.append(_measure("cvp, server up", command, env, work, args.repeat))
        finally:
            _run([cvp, "server", "down"], env, work)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    reference = rows[0]["median"]
    print(f"\n{'how':<16} {'median s':>9} {'worst s':>8} {'overhead s':>11} {'ratio':>6}")
    for row in rows:
        print(
            f"{row['name']:<16} {row['median']:>9.1f} {row['worst']:>8.1f} "
            f"{row['median'] - reference:>11.1f} {row['median'] / reference:>6.2f}"
        )


if __name__ == "__main__":
    main()
