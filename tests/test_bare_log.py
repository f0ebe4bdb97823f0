"""A real-shaped bare transaction log, end to end through the installed `cvp` script: text ids
with leading zeros (and a few mixed-case ones), integer YYYYMMDD dates, several rows per customer
and day, no other table. Every customer known at the date is scored, ids come back unchanged in
the activation export, and contacts follow consent: with no consent nobody, and the plan says
why; with a consent file granting some, only those."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import CVP, cvp_env, newcomer_settings

pytestmark = pytest.mark.slow  # trains models, runs jobs or the cvp script: not in make test-fast

START, AS_OF = date(2024, 7, 1), date(2025, 12, 31)
CUSTOMERS = 2_500


def bare_log(customers: int = CUSTOMERS, seed: int = 5) -> pd.DataFrame:
    """Purchases at a per-customer Poisson rate until an exponential churn time, each visit
    written as one to three rows (line items) on the same day."""
    rng = np.random.default_rng(seed)
    days = (AS_OF - START).days + 1
    ids = np.array([f"{i:06d}" for i in range(1, customers + 1)], dtype=object)
    ids[::250] = [f"AbC-{i:04d}x" for i in range(len(ids[::250]))]  # mixed case, kept exactly
    first = rng.integers(0, days - 30, customers)
    rate = rng.gamma(2.0, 1 / 40, customers)
    life = rng.exponential(300, customers)
    rows = []
    for idx in range(customers):
        end = min(days, first[idx] + life[idx])
        visits = rng.poisson(rate[idx] * (end - first[idx]))
        when = np.sort(rng.integers(first[idx], max(first[idx] + 1, int(end)), max(visits, 1)))
        for day in when:
            for _ in range(rng.integers(1, 4)):
                rows.append((ids[idx], int(day), round(float(rng.gamma(2.0, 20.0)), 2)))
    frame = pd.DataFrame(rows, columns=["cust_no", "day", "amount"])
    stamp = pd.Timestamp(START) + pd.to_timedelta(frame.pop("day"), unit="D")
    frame.insert(1, "purchase_date", stamp.dt.strftime("%Y%m%d").astype(int))
    return frame


def run_cvp(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [CVP, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert out.returncode == 0, f"cvp {' '.join(args)}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cvp_env(
        newcomer_settings(tmp_path),
        tmp_path,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
        COLUMNS="250",
    )


def _scored(tmp_path: Path) -> pd.DataFrame:
    import duckdb

    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        return con.execute(
            f"SELECT customer_id, marketing_consent FROM customer_scores WHERE as_of = '{AS_OF}'"
        ).df()


def test_bare_log_end_to_end_with_and_without_consent(tmp_path, env):
    log = bare_log()
    assert log.groupby(["cust_no", "purchase_date"]).size().max() > 1
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    assert log["cust_no"].str.startswith("000").any()
    day = AS_OF.isoformat()
    maps = ["--map", "customer_id=cust_no", "--map", "ts=purchase_date", "--map", "amount=amount"]

    run_cvp(["init"], tmp_path, env)
    ingested = run_cvp(["ingest", "transactions", str(path), *maps], tmp_path, env)
    assert f"customers derived from the file: {log['cust_no'].nunique():,}" in ingested.stdout
    run_cvp(["validate", "--as-of", day], tmp_path, env)
    run_cvp(["features", "--as-of", day], tmp_path, env)
    run_cvp(["train", "--as-of", day, "--trials", "2"], tmp_path, env)
    run_cvp(["score", "--as-of", day], tmp_path, env)
    scored = _scored(tmp_path)
    assert len(scored) == log["cust_no"].nunique()  # every customer known at the date
    assert not scored["marketing_consent"].any()

    planned = run_cvp(["plan", "--as-of", day, "--budget", "5000"], tmp_path, env)
    assert "reach 0 customers" in planned.stdout
    assert "0 customers may be contacted: no marketing consent recorded" in planned.stdout
    assert "[privacy] in cvp.toml" in planned.stdout
    empty = tmp_path / "nobody.csv"
    exported = run_cvp(
        ["export", "activation", "--as-of", day, "--purpose", "marketing", "--out", str(empty)],
        tmp_path,
        env,
    )
    assert "0 rows written" in exported.stdout
    assert pd.read_csv(empty).empty

    # a consent file granting marketing to some customers, leading zeros and mixed case included
    ids = pd.Series(log["cust_no"].unique())
    granted = ids.iloc[::5]
    consent = pd.DataFrame(
        {"customer_id": granted, "purpose": "marketing", "granted": "yes", "ts": "20250601"}
    )
    consent_path = tmp_path / "consent.csv"
    consent.to_csv(consent_path, index=False)
    run_cvp(["ingest", "consent", str(consent_path)], tmp_path, env)
    run_cvp(["score", "--as-of", day], tmp_path, env)
    assert _scored(tmp_path)["marketing_consent"].sum() == len(granted)
    planned = run_cvp(["plan", "--as-of", day, "--budget", "5000"], tmp_path, env)
    assert "may be contacted" not in planned.stdout
    out = tmp_path / "activation.csv"
    run_cvp(["export", "activation", "--as-of", day, "--out", str(out)], tmp_path, env)
    contacts = pd.read_csv(out, dtype={"source_customer_id": "string"})
    assert len(contacts) > 0
    assert set(contacts["source_customer_id"]) <= set(granted)  # only those who consented
    assert contacts["source_customer_id"].str.match(r"^(0\d{5}|AbC-\d{4}x)$").all()
    assert contacts["source_customer_id"].str.startswith("00").any()
    for column in ("next_best_action", "channel", "incentive", "top_reasons"):
        assert contacts[column].notna().all() and (contacts[column] != "").all()
    assert (contacts["channel"] != "none").all()

    # forget one of them by source id: gone from the earlier export, later exports and re-imports
    gone = contacts["source_customer_id"].iloc[0]
    forgotten = run_cvp(["forget", gone], tmp_path, env)
    assert "rows deleted" in forgotten.stdout and str(out) in forgotten.stdout.replace("\n", "")
    assert gone not in set(
        pd.read_csv(out, dtype={"source_customer_id": "string"})["source_customer_id"]
    )
    unknown = subprocess.run(
        [CVP, "forget", "no-such-customer"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert unknown.returncode == 1 and "matches no customer" in unknown.stdout
    assert "Traceback" not in unknown.stdout + unknown.stderr
    again = run_cvp(["ingest", "transactions", str(path), *maps], tmp_path, env)
    assert "erased" in again.stdout
    later = tmp_path / "later.parquet"
    run_cvp(["export", "activation", "--as-of", day, "--out", str(later)], tmp_path, env)
    assert gone not in set(pd.read_parquet(later)["source_customer_id"])
