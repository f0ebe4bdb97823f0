"""Every business knob has one documented default: the shipped `cvp.toml` states the same values
the settings models declare, and the README's Configuration table names every section."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from cvp.config import (
    CampaignSettings,
    ContractSettings,
    LifecycleSettings,
    MonitoringSettings,
    PromotionSettings,
    ScoringSettings,
    Settings,
    TrainingSettings,
)

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = {
    "training": TrainingSettings,
    "promotion": PromotionSettings,
    "scoring": ScoringSettings,
    "lifecycle": LifecycleSettings,
    "campaigns": CampaignSettings,
    "monitoring": MonitoringSettings,
    "contract": ContractSettings,
}


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_shipped_toml_states_the_declared_defaults(section):
    shipped = tomllib.loads((ROOT / "cvp.toml").read_text())[section]
    defaults = SECTIONS[section]().model_dump()
    assert shipped, section
    for key, value in shipped.items():
        assert key in defaults, f"[{section}] {key} is not a setting"
        assert defaults[key] == value, f"[{section}] {key}: cvp.toml {value} != {defaults[key]}"


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_readme_documents_every_key(section):
    readme = (ROOT / "README.md").read_text()
    for key in SECTIONS[section].model_fields:
        assert f"{section}.{key}" in readme, f"README does not document {section}.{key}"


def test_inconsistent_thresholds_are_refused():
    with pytest.raises(ValueError, match="high_risk_share"):
        Settings(scoring={"high_risk_share": 0.6, "medium_risk_share": 0.4})
    with pytest.raises(ValueError, match="high_value_share"):
        Settings(scoring={"high_value_share": 0.6, "medium_value_share": 0.5})
