"""Shared pieces of a report section: what was gathered, and the two-line reading of it.

A reading is generated from the numbers, never typed by hand, so it cannot disagree with the
charts; a section with nothing to show says plainly why in `unavailable`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class SectionData:
    """One section of the report: frames for charts and tables, a reading, and notes on what
    is missing (one sentence each, shown as such)."""

    key: str
    title: str
    reading: list[str] = field(default_factory=list)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    unavailable: list[str] = field(default_factory=list)


def share(part: float, whole: float) -> float:
    """part / whole, 0 when there is no whole."""
    return float(part) / float(whole) if whole else 0.0


def money(value: float) -> str:
    return f"{value:,.0f}"


def pct(value: float, digits: int = 1) -> str:
    return f"{100 * value:.{digits}f}%"
