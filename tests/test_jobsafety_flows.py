"""Refusals seen from where users meet them: a scheduled pipeline run on stale data ends Failed
in Prefect with the one-line reason; `cvp score` before any training prints one line, no
traceback, exit 3."""

from __future__ import annotations

import subprocess
from datetime import date

import pytest

from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import dispose_engines
from cvp.errors import STATE
from cvp.jobs.data_jobs import run_generate
from tests.conftest import CVP, cvp_env

pytestmark = pytest.mark.slow  # trains models, runs jobs or the cvp script: not in make test-fast


@pytest.mark.usefixtures("prefect_server")
def test_stale_scheduled_pipeline_run_fails_visibly(env_settings):
    from cvp.orchestration.parameters import PipelineParameters
    from flows.pipeline import pipeline_flow

    run_generate(env_settings, GeneratorConfig(customers=300, seed=3))
    state = pipeline_flow(PipelineParameters(as_of=date(2099, 1, 1)), return_state=True)
    assert state.is_failed()
    assert "cannot build features as of 2099-01-01" in state.message
    assert "possible dates are 2024-01-01 to 2026-01-07" in state.message


@pytest.mark.usefixtures("prefect_server")
def test_score_before_training_is_one_line_with_exit_3(settings, tmp_path):
    from prefect.settings import PREFECT_API_URL

    run_generate(settings, GeneratorConfig(customers=300, seed=3))
    dispose_engines()  # the cvp process needs the DuckDB file
    env = cvp_env(
        settings,
        tmp_path,
        isolate=("CVP_", "PREFECT_"),
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
    )
    out = subprocess.run(
        [CVP, "score", "--as-of", "2025-12-31"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == STATE, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(
        "error: no champion churn and CLV models in the registry: run `cvp train"
    )
    assert "Traceback" not in out.stdout + out.stderr
    [log] = (tmp_path / ".cvp" / "logs").glob("cvp-*.log")
    assert str(log.relative_to(tmp_path)) in lines[0]
    assert "NoChampionModel" in log.read_text()
