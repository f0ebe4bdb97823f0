"""The installed `cvp` console script, as a newcomer runs it (subprocess, ephemeral Prefect)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import CVP, cvp_env, newcomer_settings
from tests.test_ingest import MAPPING, MESSY

pytestmark = pytest.mark.slow  # each command is a subprocess on an ephemeral Prefect server


def run_cvp(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CVP, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return cvp_env(newcomer_settings(tmp_path), tmp_path)


def test_help_lists_every_command(tmp_path, cli_env):
    out = run_cvp(["--help"], tmp_path, cli_env)
    assert out.returncode == 0
    for command in ("init", "generate", "ingest", "demo"):
        assert command in out.stdout


def test_init_then_ingest_reports_by_row_and_is_idempotent(tmp_path, cli_env):
    init = run_cvp(["init"], tmp_path, cli_env)
    assert init.returncode == 0, init.stderr
    assert (tmp_path / ".secrets" / "key").exists()
    assert (tmp_path / "expectations" / "gx" / "great_expectations.yml").exists()
    log = tmp_path / "some.csv"
    log.write_text(MESSY)
    maps = [arg for target, source in MAPPING.items() for arg in ("--map", f"{target}={source}")]
    first = run_cvp(["ingest", "transactions", str(log), *maps], tmp_path, cli_env)
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    summary = next(line for line in lines if "yes" in line)
    assert [c.strip() for c in summary.split("│") if c.strip()][:4] == ["10", "4", "0", "6"]
    assert any("not a valid date/time" in line and "│ 4 " in line for line in lines)
    assert any("timestamp in the future" in line and "│ 8 " in line for line in lines)
    second = run_cvp(["ingest", "transactions", str(log), *maps], tmp_path, cli_env)
    assert second.returncode == 0
    row = next(line for line in second.stdout.splitlines() if "yes" in line)
    cells = [c.strip() for c in row.split("│") if c.strip()]
    assert cells[:4] == ["10", "0", "4", "6"]


def test_bad_mapping_is_a_clear_error(tmp_path, cli_env):
    run_cvp(["init"], tmp_path, cli_env)
    log = tmp_path / "some.csv"
    log.write_text(MESSY)
    out = run_cvp(
        ["ingest", "transactions", str(log), "--map", "customer_id=nope"], tmp_path, cli_env
    )
    assert out.returncode == 2
    assert "nope" in out.stderr and "not in file columns" in out.stderr
    assert "Traceback" not in out.stdout + out.stderr


def test_validate_exits_nonzero_on_injected_errors_and_zero_on_clean_data(tmp_path, cli_env):
    assert run_cvp(["init"], tmp_path, cli_env).returncode == 0
    dirty = run_cvp(
        ["generate", "--customers", "1500", "--seed", "3", "--inject-errors"], tmp_path, cli_env
    )
    assert dirty.returncode == 0, dirty.stderr
    failed = run_cvp(["validate", "--as-of", "2025-12-31"], tmp_path, cli_env)
    assert failed.returncode == 1
    for name in (
        "amount_negative_only_for_refunds",
        "customer_id_references_customers",
        "ts_not_in_future",
    ):
        assert name in failed.stdout
    assert (tmp_path / "expectations" / "data_docs" / "index.html").exists()
    assert (
        run_cvp(["generate", "--customers", "1500", "--seed", "3"], tmp_path, cli_env).returncode
        == 0
    )
    clean = run_cvp(["validate", "--as-of", "2025-12-31"], tmp_path, cli_env)
    assert clean.returncode == 0, clean.stdout
    assert "all 62 expectations passed" in clean.stdout
