from pathlib import Path

import pytest

from cvp.config import Settings


def test_toml_file_then_environment_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = tmp_path / "custom.toml"
    config.write_text('warehouse_url = "duckdb:///x.duckdb"\n[generator]\ncustomers = 123\n')
    monkeypatch.setenv("CVP_CONFIG_FILE", str(config))
    monkeypatch.delenv("CVP_WAREHOUSE_URL", raising=False)
    assert Settings().warehouse_url == "duckdb:///x.duckdb"
    assert Settings().generator.customers == 123

    monkeypatch.setenv("CVP_WAREHOUSE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("CVP_GENERATOR__CUSTOMERS", "77")
    assert Settings().warehouse_url == "postgresql+psycopg://u@h/db"
    assert Settings().generator.customers == 77


def test_invalid_value_is_rejected(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CVP_GENERATOR__CUSTOMERS", "-5")
    with pytest.raises(ValueError, match="customers"):
        Settings()


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("CVP_CONFIG_FILE", str(tmp_path / "absent.toml"))
    for name in ("CVP_WAREHOUSE_URL", "CVP_MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.warehouse_url == "duckdb:///data/warehouse.duckdb"
    assert settings.mlflow_tracking_uri == "sqlite:///mlruns/mlflow.db"
    assert settings.mlflow_artifact_root == Path("mlruns/artifacts")
