"""Typed parameters of the deployments. Prefect turns each model into the Run form of the UI
(dates, enums, bounds, descriptions) and the server rejects values outside the bounds.

Dates that mean "today" are `None` by default and resolved when the run starts: a default
computed at deploy time would freeze the deploy date into every scheduled run."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cvp.orchestration.calendar import EVERY_PATTERN, backfill_dates

ModelTarget = Literal["churn", "clv"]
BackfillTarget = Literal["train", "features", "score", "plan"]
BACKFILL_ORDER: tuple[BackfillTarget, ...] = ("train", "features", "score", "plan")


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


class TrainParameters(BaseModel):
    """Weekly run: Optuna-tuned LightGBM churn and CLV models, registered as challengers."""

    model_config = ConfigDict(extra="forbid")
    as_of: date | None = Field(
        None, description="Training date; empty means the day the run starts."
    )
    targets: list[ModelTarget] = Field(
        ["churn", "clv"], min_length=1, description="Models to train."
    )
    trials: int = Field(20, ge=1, le=500, description="Optuna trials per model.")
    horizon_days: int = Field(
        90, ge=7, le=365, description="Churn / CLV horizon after the cutoff, in days."
    )
    seed: int = Field(7, ge=0, description="Seed for Optuna and LightGBM.")
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


class MonitorParameters(BaseModel):
    """Monthly run: realised accuracy, drift, model age; triggers `train` when a rule fires."""

    model_config = ConfigDict(extra="forbid")
    as_of: date | None = Field(
        None, description="Monitoring date; empty means the day the run starts."
    )
    trigger: bool = Field(
        True, description="Start the training deployment when retraining is decided."
    )
