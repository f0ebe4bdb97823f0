# Bootstraps everything from a bare python3: uv into .tools/, the locked environment into .venv/.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: install demo test test-fast lint format bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/bin/cvp: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

install: $(VENV)/bin/cvp  ## create .venv with the locked dependencies and the `cvp` script

demo: install  ## the whole pipeline on synthetic data, on the embedded defaults
	$(VENV)/bin/cvp demo

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy cvp

test: lint  ## lint, then the test suite on DuckDB and the local PostgreSQL
	$(VENV)/bin/pytest

test-fast: install  ## unit tests only: no training, servers or PostgreSQL (under a minute)
	$(VENV)/bin/pytest -q -m "not slow and not postgres"

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install  ## benchmarks at 100k, 300k and 1M customers; printed and appended to bench-results/
	$(VENV)/bin/python benchmarks/bench_generate.py --customers 100000 300000 1000000
	$(VENV)/bin/python benchmarks/bench_features.py --customers 100000 300000 1000000
	$(VENV)/bin/python benchmarks/bench_scoring.py --customers 100000 300000 1000000
	$(VENV)/bin/python benchmarks/bench_train.py --customers 100000 300000 1000000 --trials 20

clean:
	rm -rf data mlruns .secrets .cvp expectations/gx/uncommitted
