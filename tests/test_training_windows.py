"""Training on the history the data holds: an 18-month log trains with 30-, 91- and 182-day
horizons; a 9-month log with a 182-day horizon is refused in one line (CLI, exit code 3)."""

from __future__ import annotations

from datetime import date

import pytest

from cvp.data.migrate import upgrade_warehouse
from cvp.data.synthetic import GeneratorConfig
from cvp.data.warehouse import dispose_engines, get_engine
from cvp.experiments.tracking import tracking_client
from cvp.jobs.data_jobs import run_generate
from cvp.jobs.training_jobs import TrainingConfig, run_train
from tests.conftest import make_settings
from tests.test_cli import cli_env, run_cvp  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow  # trains models

START, END = date(2024, 7, 1), date(2025, 12, 31)  # 18 months


@pytest.fixture(scope="module")
def eighteen_months(tmp_path_factory):
    root = tmp_path_factory.mktemp("eighteen")
    settings = make_settings(root, f"duckdb:///{root / 'warehouse.duckdb'}")
    upgrade_warehouse(get_engine(settings.warehouse_url))
    run_generate(settings, GeneratorConfig(customers=2_000, seed=11, start=START, end=END))
    yield settings
    dispose_engines()


@pytest.mark.parametrize("horizon", [30, 91, 182])
def test_eighteen_month_log_trains_every_horizon(eighteen_months, horizon):
    result = run_train(
        eighteen_months,
        TrainingConfig(as_of=END, horizon_days=horizon, trials=1, max_boost_rounds=200),
    )
    assert min(result.rows.values()) > 0
    params = tracking_client(eighteen_months).get_run(result.parent_run_id)
    assert params.data.params["cutoff_test"] == str(date.fromordinal(END.toordinal() - horizon))
    for outcome in result.outcomes.values():
        assert outcome.decision.version  # registered
        assert outcome.metrics  # backtested


def test_nine_month_log_with_a_182_day_horizon_is_one_clear_line(tmp_path, cli_env):  # noqa: F811
    generated = run_cvp(
        ["generate", "--customers", "300", "--start", "2025-04-01", "--end", "2025-12-31"],
        tmp_path,
        cli_env,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    out = run_cvp(
        ["train", "--as-of", "2025-12-31", "--horizon-days", "182", "--trials", "1"],
        tmp_path,
        cli_env,
    )
    assert out.returncode == 3, out.stdout + out.stderr
    said = [line for line in (out.stdout + out.stderr).splitlines() if "182-day horizon" in line]
    assert len(said) == 1 and "needs at least 484 days" in said[0], out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
