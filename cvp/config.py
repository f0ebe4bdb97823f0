"""Typed platform settings: `cvp.toml` first, `CVP_*` environment variables on top."""

from __future__ import annotations

import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_ENV = "CVP_CONFIG_FILE"


class GeneratorSettings(BaseModel):
    """Defaults for `cvp generate`; the CLI flags override them."""

    customers: int = Field(20_000, ge=1)
    seed: int = 7
    start: date = date(2024, 1, 1)
    end: date = date(2025, 12, 31)


class IngestSettings(BaseModel):
    """Plausibility limits applied when importing a business's own files."""

    max_abs_amount: float = Field(100_000.0, gt=0)
    timestamp_floor: date = date(1990, 1, 1)


class ValidationSettings(BaseModel):
    """Known vocabularies and limits checked by the Great Expectations suites."""

    freshness_days: int = Field(7, ge=0, description="newest event at most this old at as_of")
    categories: list[str] = ["grocery", "fashion", "electronics", "home", "beauty", "sports"]
    channels: list[str] = ["web", "app", "store"]
    event_types: list[str] = ["login", "view", "search", "cart", "feature_use"]
    ticket_categories: list[str] = ["billing", "delivery", "product", "account", "complaint"]
    consent_purposes: list[str] = ["marketing", "analytics", "profiling"]
    arms: list[str] = ["treatment", "control"]


class ScoringSettings(BaseModel):
    """Business rules for turning predictions into tiers, actions and plans."""

    high_risk_probability: float = Field(0.6, gt=0, lt=1)
    medium_risk_probability: float = Field(0.3, gt=0, lt=1)
    control_share: float = Field(0.1, ge=0, lt=1, description="held out of every campaign")
    annual_discount_rate: float = Field(0.10, ge=0)
    lifetime_years: float = Field(3.0, gt=0)
    value_drop_alert_share: float = Field(0.2, gt=0, lt=1)
    value_index_weights: dict[str, float] | None = Field(
        None, description="override the entropy-learned weights, indicator -> weight"
    )
    playbook: Path | None = Field(None, description="YAML playbook; the shipped default if unset")


class CampaignSettings(BaseModel):
    """`cvp plan --campaign`, `cvp launch`, `cvp measure`: the experiment design of a campaign."""

    control_share: float = Field(
        0.1, gt=0, lt=1, description="share of selected customers held out as the control arm"
    )
    launch_offset_days: int = Field(1, ge=0, description="launch date = scores date + this")
    outcome_days: int = Field(90, ge=1, description="outcome window after launch, in days")
    confidence: float = Field(0.95, gt=0, lt=1, description="level of the uplift intervals")


class MonitoringSettings(BaseModel):
    """`cvp monitor`: when drift, realised accuracy or age calls for retraining."""

    psi_threshold: float = Field(0.2, gt=0, description="PSI above this = drifted")
    ks_p_value: float = Field(0.01, gt=0, lt=1, description="KS p-value below this ...")
    ks_min_statistic: float = Field(0.1, gt=0, lt=1, description="... and statistic above this")
    drift_bins: int = Field(10, ge=2, le=100, description="quantile bins of the training data")
    retrain_drifted_features: int = Field(
        3, ge=1, description="retrain when at least this many features drift"
    )
    accuracy_margin: float = Field(
        0.05, ge=0, description="retrain when realised AUC / Gini is this far below the promise"
    )
    max_model_age_days: int = Field(90, ge=1, description="retrain a champion older than this")
    train_deployment: str = Field("train/train", description="deployment triggered to retrain")
    fairness_max_gap: float = Field(
        0.2, gt=0, le=1, description="largest allowed between-group gap; above it blocks promotion"
    )
    fairness_min_group_size: int = Field(
        200,
        ge=1,
        description="groups with fewer customers in a rate's denominator are reported, not compared",
    )
    fairness_metrics: list[str] = Field(
        ["selection_rate", "true_positive_rate", "false_positive_rate"],
        description="gaps the promotion gate checks",
    )


class ServerSettings(BaseModel):
    """`cvp server up`: Prefect server, MLflow tracking server and a worker, on this machine."""

    host: str = Field("127.0.0.1", description="bind address of both servers")
    prefect_port: int = Field(4200, ge=1, le=65535)
    mlflow_port: int = Field(5000, ge=1, le=65535)
    backend: Literal["sqlite", "postgresql"] = Field(
        "sqlite", description="database of the Prefect server and the MLflow tracking server"
    )
    postgres_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432",
        description="PostgreSQL server for backend=postgresql; databases are created if missing",
    )
    prefect_database: str = "cvp_prefect"
    mlflow_database: str = "cvp_mlflow"
    state_dir: Path = Field(Path(".cvp/servers"), description="pid files, logs, SQLite files")
    startup_timeout_s: float = Field(120.0, gt=0)


class Settings(BaseSettings):
    """One settings object for every command; nested keys use `CVP_SECTION__KEY`."""

    model_config = SettingsConfigDict(
        env_prefix="CVP_",
        env_nested_delimiter="__",
        toml_file="cvp.toml",
        extra="ignore",
    )

    warehouse_url: str = "duckdb:///data/warehouse.duckdb"
    mlflow_tracking_uri: str = "sqlite:///mlruns/mlflow.db"
    mlflow_artifact_root: Path = Path("mlruns/artifacts")
    expectations_dir: Path = Path("expectations")
    pseudonym_key: str | None = Field(
        None, description="HMAC key for pseudonymous ids; prefer the key file or a secret store."
    )
    pseudonym_key_file: Path = Path(".secrets/pseudonym.key")
    run_by: str | None = Field(
        None, description="Who is recorded as running a job; $USER if unset."
    )
    generator: GeneratorSettings = GeneratorSettings()
    ingest: IngestSettings = IngestSettings()
    validation: ValidationSettings = ValidationSettings()
    scoring: ScoringSettings = ScoringSettings()
    server: ServerSettings = ServerSettings()
    campaigns: CampaignSettings = CampaignSettings()
    monitoring: MonitoringSettings = MonitoringSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get(CONFIG_FILE_ENV, "cvp.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
            file_secret_settings,
        )

    @property
    def operator(self) -> str:
        return self.run_by or os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests and the CLI change the environment; this makes the next read see it."""
    get_settings.cache_clear()
