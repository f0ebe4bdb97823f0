"""Versioned YAML playbook, validated with pydantic; errors name the key and the line."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cvp.errors import BadInput

DEFAULT_PLAYBOOK = Path(__file__).with_name("playbook.yaml")
Tier = Literal["high", "medium", "low", "*"]
Stage = Literal["new", "active", "at_risk", "lapsed", "churned", "reactivated", "*"]
Family = Literal["service", "price", "engagement", "value", "satisfaction", "contract", "*"]


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value_tier: Tier = "*"
    risk_tier: Tier = "*"
    stage: Stage = "*"
    reason_family: Family = "*"


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    match: Match
    action: str
    channel: str
    incentive: str
    unit_cost: float = Field(ge=0)
    save_rate: float = Field(ge=0, le=1)


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str
    rules: list[Rule] = Field(min_length=1)


MATCH_COLUMNS = {
    "value_tier": "value_tier",
    "risk_tier": "risk_tier",
    "stage": "lifecycle_stage",
    "reason_family": "reason_family",
}


class PlaybookError(BadInput):
    pass


def _line_of(root: yaml.Node | None, location: tuple) -> int | None:
    """1-based line of the YAML node at a pydantic error location."""
    node = root
    for key in location:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            match = node.value[key]
        else:
            match = None
        if match is None:
            break
        node = match
    return node.start_mark.line + 1 if node is not None else None


def load_playbook(path: Path = DEFAULT_PLAYBOOK) -> Playbook:
    text = Path(path).read_text()
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise PlaybookError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return Playbook.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"])
            line = _line_of(root, error["loc"])
            problems.append(f"{path}:{line}: {key}: {error['msg']}")
        raise PlaybookError("invalid playbook:\n  " + "\n  ".join(problems)) from exc


def apply_playbook(playbook: Playbook, frame: pd.DataFrame) -> pd.DataFrame:
    """First matching rule per customer: action, channel, incentive, unit cost, save rate."""
    chosen = np.full(len(frame), -1)
    for i, rule in enumerate(playbook.rules):
        hit = chosen < 0
        for key, column in MATCH_COLUMNS.items():
            wanted = getattr(rule.match, key)
            if wanted != "*":
                hit &= (frame[column] == wanted).to_numpy()
        chosen[hit] = i
    if (chosen < 0).any():
        raise PlaybookError(
            "playbook has no rule for some customers; end it with a catch-all '*' rule"
        )
    rules = playbook.rules
    return pd.DataFrame(
        {
            "playbook_rule": [rules[i].name for i in chosen],
            "next_best_action": [rules[i].action for i in chosen],
            "channel": [rules[i].channel for i in chosen],
            "incentive": [rules[i].incentive for i in chosen],
            "unit_cost": [rules[i].unit_cost for i in chosen],
            "save_rate": [rules[i].save_rate for i in chosen],
        },
        index=frame.index,
    )
