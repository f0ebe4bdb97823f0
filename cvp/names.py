"""Names the platform agrees on in one place: registered models, targets, experiments.

A model's registry name is read by training (register), scoring (load the champion), the jobs
(audit rows) and the backfill (skip rule): spelling it once keeps them from drifting apart."""

from __future__ import annotations

from typing import Final, Literal

ModelTarget = Literal["churn", "clv"]

CHURN: Final = "churn"
CLV: Final = "clv"
MODEL_TARGETS: Final[tuple[ModelTarget, ...]] = (CHURN, CLV)

CHURN_MODEL: Final = "cvp-churn"
CLV_MODEL: Final = "cvp-clv"
MODEL_NAMES: Final[dict[str, str]] = {CHURN: CHURN_MODEL, CLV: CLV_MODEL}
# a labelled subscriber snapshot's churn model (with its time-to-churn model in the same run);
# apart from MODEL_NAMES, which are the purchase-based models every scoring run needs
CONTRACT_CHURN_MODEL: Final = "cvp-contract-churn"

# MLflow experiments, one per job family
TRAINING_EXPERIMENT: Final = "training"
SCORING_EXPERIMENT: Final = "scoring"
FEATURES_EXPERIMENT: Final = "features"
VALIDATION_EXPERIMENT: Final = "validation"


def model_versions(churn_version: str, clv_version: str) -> dict[str, str]:
    """Registry versions keyed by model name, as `audit_log.model_versions` records them."""
    return {CHURN_MODEL: str(churn_version), CLV_MODEL: str(clv_version)}


def campaign_name(as_of: object) -> str:
    """The retention campaign of a scoring date: the control-group draw and the plan use it."""
    return f"retention-{as_of}"
