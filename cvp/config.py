"""Typed platform settings: `cvp.toml` first, `CVP_*` environment variables on top."""

from __future__ import annotations

import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
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
    activity_shift_factor: float = Field(
        0.6,
        gt=0,
        le=1,
        description="`--activity-shift-date`: share of purchases kept from that day on",
    )


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


class TrainingSettings(BaseModel):
    """Defaults of `cvp train` and the train deployment; their flags and form fields override them."""

    horizon_days: int = Field(90, ge=7, le=365, description="churn / CLV label window, in days")
    trials: int = Field(20, ge=1, le=500, description="Optuna trials per model")
    seed: int = Field(7, ge=0, description="seed of Optuna's sampler and LightGBM")
    train_cutoffs: int = Field(
        6, ge=1, description="at most this many training cutoffs (as many as the history fits)"
    )
    step_days: int = Field(30, ge=1, description="days between training cutoffs")
    min_history_days: int = Field(
        90, ge=0, description="days of data before the first training cutoff"
    )
    cutoffs: list[date] = Field(
        default_factory=list,
        description="explicit cutoffs (training..., validation, test); empty: derived from the data",
    )
    max_boost_rounds: int = Field(2000, ge=1, description="LightGBM rounds before early stopping")
    churn_max_depth: int = Field(
        10, ge=3, le=16, description="deepest churn tree Optuna may try (quality bounds it)"
    )
    churn_max_leaves: int = Field(
        255, ge=4, le=1024, description="most leaves per churn tree Optuna may try"
    )
    tuning_rows: int = Field(
        300_000,
        ge=1_000,
        description="Optuna's trials fit on at most this many training rows (whole customers);"
        " above it, the tuned model is fitted on every row, early-stopped on the full validation"
        " window",
    )


class PromotionSettings(BaseModel):
    """The registry gate: when a challenger becomes champion."""

    margin: float = Field(
        0.002, ge=0, description="backtest gain (AUC / normalised Gini) a challenger must show"
    )
    max_ece: float = Field(
        0.05, gt=0, lt=1, description="largest calibration error a churn champion may have"
    )


class LifecycleSettings(BaseModel):
    """Lifecycle stage rules, first match wins: churned, lapsed, reactivated, new, at_risk."""

    new_max_tenure_days: int = Field(60, ge=0, description="new while tenure is at most this")
    lapsed_after_days: int = Field(180, ge=1, description="lapsed after this many quiet days")
    churned_after_days: int = Field(365, ge=1, description="churned after this many quiet days")
    reactivated_within_days: int = Field(
        60, ge=0, description="a lapsed/churned customer buying within this is reactivated"
    )
    at_risk_probability: float = Field(0.6, gt=0, lt=1, description="at_risk from this P(churn)")


class ScoringSettings(BaseModel):
    """Business rules for turning predictions into tiers, actions and plans."""

    high_risk_share: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="share of the not lapsed/churned most likely to churn: tier high",
    )
    medium_risk_share: float = Field(0.3, gt=0, lt=1, description="next share: risk tier medium")
    high_value_share: float = Field(0.2, gt=0, lt=1, description="top share of the value index")
    medium_value_share: float = Field(0.3, gt=0, lt=1, description="next share after the top")
    control_share: float = Field(0.1, ge=0, lt=1, description="held out of every campaign")
    annual_discount_rate: float = Field(0.10, ge=0)
    lifetime_years: float = Field(3.0, gt=0)
    value_drop_alert_share: float = Field(0.2, gt=0, lt=1)
    next_purchase_min_p_alive: float = Field(
        0.5, ge=0, le=1, description="below this BG/NBD P(alive) a customer gets no purchase date"
    )
    next_purchase_max_days: float = Field(
        365, gt=0, description="no purchase date when the median wait is longer than this"
    )
    value_index_weights: dict[str, float] | None = Field(
        None, description="override the entropy-learned weights, indicator -> weight"
    )
    playbook: Path | None = Field(None, description="YAML playbook; the shipped default if unset")
    reasons_for: Literal["acted", "all"] = Field(
        "acted",
        description="exact TreeSHAP reasons for the customers acted on (at-risk tiers, anyone"
        " whose action costs something) or for every customer",
    )

    @model_validator(mode="after")
    def _ordered(self) -> ScoringSettings:
        if self.high_risk_share + self.medium_risk_share >= 1:
            raise ValueError("scoring.high_risk_share + medium_risk_share must be below 1")
        if self.high_value_share + self.medium_value_share >= 1:
            raise ValueError("scoring.high_value_share + medium_value_share must be below 1")
        return self


class ContractSettings(BaseModel):
    """Contractual snapshots (README, "Contractual customers"): attribute inference and the
    random split of a snapshot, which has no time axis."""

    category_max_levels: int = Field(
        50, ge=2, description="an inferred text attribute with at most this many values: category"
    )
    validation_share: float = Field(0.2, gt=0, lt=0.5, description="stratified, for tuning")
    test_share: float = Field(0.2, gt=0, lt=0.5, description="stratified, for the backtest")
    fairness_flag_probability: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="the fairness audit counts a subscriber as flagged at this churn probability",
    )


class JobsSettings(BaseModel):
    """How jobs share a warehouse (README, "Locking and concurrency") and where logs go."""

    lock_wait_seconds: float = Field(
        30.0, ge=0, description="wait this long for a busy warehouse or date, then refuse"
    )
    log_dir: Path = Field(Path(".cvp/logs"), description="one log file per failed command")


class PrivacySettings(BaseModel):
    """What to do for a customer and purpose with no recorded consent change at the date.

    `deny` treats the customer as having refused, `allow` as having agreed. An explicit
    `granted=false` is always honoured, whatever these say.
    """

    missing_consent: Literal["deny", "allow"] = Field(
        "deny",
        description="marketing (may be contacted): opt-in, so nobody without a recorded grant "
        "is contacted (GDPR art. 6(1)(a), ePrivacy art. 13)",
    )
    missing_profiling_consent: Literal["deny", "allow"] = Field(
        "allow",
        description="profiling (individual prediction, reasons, action): scoring rests on "
        "legitimate interest with a right to object (GDPR art. 6(1)(f), 21), so only a recorded "
        "refusal excludes a customer; set 'deny' where profiling needs opt-in consent",
    )
    missing_analytics_consent: Literal["deny", "allow"] = Field(
        "allow", description="analytics (aggregates): same basis as profiling"
    )

    def default_for(self, purpose: str) -> bool:
        """True when a customer without any recorded change counts as having agreed."""
        setting = {
            "marketing": self.missing_consent,
            "profiling": self.missing_profiling_consent,
            "analytics": self.missing_analytics_consent,
        }[purpose]
        return setting == "allow"


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

    psi_threshold: float = Field(
        0.1, gt=0, description="a column drifts when PSI is above this ..."
    )
    ks_p_value: float = Field(
        0.01, gt=0, lt=1, description="... and the KS test's p-value is below this"
    )
    drift_bins: int = Field(10, ge=2, le=100, description="quantile bins of the training data")
    calendar_features: list[str] = Field(
        [
            "tenure_days",
            "subscription_tenure_days",
            "frequency",
            "monetary_total",
            "refund_count",
            "surveys_answered",
        ],
        description="features that move with the calendar by construction: reported, never counted",
    )
    retrain_drift_importance: float = Field(
        0.2,
        gt=0,
        le=1,
        description="retrain when drifted features carry this share of a champion's importance",
    )
    score_psi_threshold: float = Field(
        0.2, gt=0, description="retrain when a score distribution's PSI is above this"
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
    fairness_confidence: float = Field(
        0.95,
        gt=0.5,
        lt=1,
        description="a gap blocks only when its lower one-sided bound at this level is over the limit",
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
    dask_workers: int = Field(
        0, ge=0, description="Dask worker processes `cvp server up` starts beside a scheduler"
    )
    dask_port: int = Field(8786, ge=1, le=65535, description="the Dask scheduler's port")
    secrets_file: Path = Field(
        Path(".secrets/servers.env"),
        description="KEY=value credentials of the servers (git-ignored, chmod 600); "
        "the environment wins",
    )


class ExecutionSettings(BaseModel):
    """Where partitioned work runs: this process, or a Dask cluster (`cvp/execution/`)."""

    engine: Literal["local", "dask"] = Field(
        "local", description="dask: feature builds fan out over customer partitions"
    )
    scheduler_address: str = Field(
        "", description="tcp://host:8786 of a running scheduler; empty: a LocalCluster per job"
    )
    partitions: int = Field(8, ge=1, le=4096, description="customer partitions per job")
    local_workers: int = Field(2, ge=1, description="worker processes of the LocalCluster")
    tuning_storage: str = Field(
        "",
        description="Optuna RDB storage URL the workers share; empty: the warehouse's "
        "PostgreSQL, schema cvp_optuna",
    )


class PrefectSettings(BaseModel):
    """How a `cvp` command reaches Prefect when no server from `cvp server up` is running."""

    home: Path = Field(
        Path(".cvp/prefect"),
        description="Prefect's state for the temporary API server, unless PREFECT_HOME is set",
    )
    ephemeral_startup_timeout_s: float = Field(
        300.0,
        gt=0,
        description="wait for the temporary API server; its first start creates its database",
    )


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
    training: TrainingSettings = TrainingSettings()
    promotion: PromotionSettings = PromotionSettings()
    scoring: ScoringSettings = ScoringSettings()
    privacy: PrivacySettings = PrivacySettings()
    lifecycle: LifecycleSettings = LifecycleSettings()
    server: ServerSettings = ServerSettings()
    prefect: PrefectSettings = PrefectSettings()
    execution: ExecutionSettings = ExecutionSettings()
    jobs: JobsSettings = JobsSettings()
    campaigns: CampaignSettings = CampaignSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    contract: ContractSettings = ContractSettings()

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
        """`run_by`, else the login name: `getpass` reads LOGNAME/USER/USERNAME and falls back to
        the password database, so a shell without $USER (containers, cron) still says who ran."""
        if self.run_by:
            return self.run_by
        import getpass

        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return f"uid {os.getuid()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests and the CLI change the environment; this makes the next read see it."""
    get_settings.cache_clear()
