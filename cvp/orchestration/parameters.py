"""Typed parameters of the deployments. Prefect turns each model into the Run form of the UI
(dates, enums, bounds, descriptions) and the server rejects values outside the bounds.

Dates that mean "today" are `None` by default and resolved when the run starts: a default
computed at deploy time would freeze the deploy date into every scheduled run."""

from __future__ import annotations

from datetime import date
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cvp.names import MODEL_TARGETS, ModelTarget
from cvp.orchestration.calendar import EVERY_PATTERN, backfill_dates

# The one order of the steps of a date. The daily pipeline runs some of them, a backfill maps
# the same steps over its dates: neither lists them again.
PipelineStep = Literal["validate", "train", "features", "score", "plan"]
PIPELINE_ORDER: tuple[PipelineStep, ...] = ("validate", "train", "features", "score", "plan")
DAILY_STEPS: tuple[PipelineStep, ...] = ("validate", "features", "score", "plan")
BackfillTarget = Literal["train", "features", "score", "plan"]
# a backfill validates through each job's gate, not as a step of its own
BACKFILL_ORDER = cast(
    tuple[BackfillTarget, ...], tuple(step for step in PIPELINE_ORDER if step != "validate")
)


def in_pipeline_order(steps: list[PipelineStep] | list[BackfillTarget]) -> list[PipelineStep]:
    return [step for step in PIPELINE_ORDER if step in steps]


def resolve_as_of(as_of: date | None) -> date:
    return as_of or date.today()


class PipelineParameters(BaseModel):
    """Daily run: validate the raw data, build the features, score, plan the retention budget."""

    model_config = ConfigDict(extra="forbid")
    as_of: date | None = Field(
        None, description="Scoring date; empty means the day the run starts."
    )
    budget: float = Field(10_000.0, ge=0, description="Retention budget for the plan.")
    force_validation: bool = Field(
        False, description="Run despite critical validation failures (recorded in the audit log)."
    )
    steps: list[PipelineStep] = Field(
        list(DAILY_STEPS),
        min_length=1,
        description="Steps to run, always in the order validate, train, features, score, plan.",
    )
    trials: int | None = Field(
        None,
        ge=1,
        le=500,
        description="Optuna trials per model, with 'train'; empty: training.trials (20).",
    )
    refresh_features: bool = Field(
        False, description="Rebuild the feature snapshot even if one is cached for these data."
    )

    def ordered_steps(self) -> list[PipelineStep]:
        return in_pipeline_order(self.steps)


class TrainParameters(BaseModel):
    """Weekly run: Optuna-tuned LightGBM churn and CLV models, registered as challengers."""

    model_config = ConfigDict(extra="forbid")
    as_of: date | None = Field(
        None, description="Training date; empty means the day the run starts."
    )
    targets: list[ModelTarget] = Field(
        list(MODEL_TARGETS), min_length=1, description="Models to train."
    )
    # empty knobs take their `[training]` defaults from cvp.toml when the run starts
    trials: int | None = Field(
        None, ge=1, le=500, description="Optuna trials per model; empty: training.trials (20)."
    )
    horizon_days: int | None = Field(
        None,
        ge=7,
        le=365,
        description="Churn / CLV horizon after the cutoff, in days; empty: training.horizon_days (90).",
    )
    seed: int | None = Field(
        None, ge=0, description="Seed for Optuna and LightGBM; empty: training.seed (7)."
    )
    cutoffs: list[date] | None = Field(
        None,
        description="Explicit cutoffs (training..., validation, test); empty: derived from the data.",
    )
    force_validation: bool = Field(
        False, description="Train despite critical validation failures (recorded)."
    )


class BackfillParameters(BaseModel):
    """Historical features and scores for every date in a range, a bounded number at a time."""

    model_config = ConfigDict(extra="forbid")
    start: date = Field(description="First date of the range.")
    end: date = Field(description="Last date of the range (included when on the step).")
    every: str = Field(
        "1w", pattern=EVERY_PATTERN, description="Step between dates: 1d, 1w, 2w, 1mo, 3mo..."
    )
    targets: list[BackfillTarget] = Field(
        ["features", "score"],
        min_length=1,
        description="Jobs per date, run in the order train, features, score, plan.",
    )
    max_concurrency: int = Field(
        1, ge=1, le=8, description="Dates processed at once (a Prefect concurrency limit)."
    )
    force: bool = Field(
        False, description="Redo dates already done for the same data and model versions."
    )
    trials: int = Field(10, ge=1, le=500, description="Optuna trials per model, with 'train'.")
    budget: float = Field(10_000.0, ge=0, description="Retention budget, with 'plan'.")
    force_validation: bool = Field(
        False, description="Run despite critical validation failures (recorded)."
    )

    @model_validator(mode="after")
    def _range(self) -> BackfillParameters:
        self.dates()  # raises with a clear message on end < start or too many dates
        return self

    def dates(self) -> list[date]:
        return backfill_dates(self.start, self.end, self.every)

    def ordered_targets(self) -> list[BackfillTarget]:
        return [t for t in BACKFILL_ORDER if t in self.targets]

    def pipeline(self, as_of: date) -> PipelineParameters:
        """The pipeline run of one date: the requested steps; `force` rebuilds cached features."""
        return PipelineParameters(
            as_of=as_of,
            steps=in_pipeline_order(self.targets),
            budget=self.budget,
            force_validation=self.force_validation,
            trials=self.trials,
            refresh_features=self.force,
        )


class MonitorParameters(BaseModel):
    """Monthly run: realised accuracy, drift, model age; triggers `train` when a rule fires."""

    model_config = ConfigDict(extra="forbid")
    as_of: date | None = Field(
        None, description="Monitoring date; empty means the day the run starts."
    )
    trigger: bool = Field(
        True, description="Start the training deployment when retraining is decided."
    )
