"""What `cvp ingest customers` is told about a snapshot's attributes (`--label`, `--type`,
`--sensitive`, `--plan`, `--fee`, `--snapshot-date`); kept free of other cvp imports so the
file reader (`cvp.data.source.ReadOptions`) can carry it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class AttributeOptions:
    """None/empty: infer types, every attribute a feature, no label, no subscriptions."""

    label: str | None = None
    types: tuple[tuple[str, str], ...] = ()
    sensitive: tuple[str, ...] = ()
    plan: str | None = None
    fee: str | None = None
    snapshot_date: date | None = None
    category_max_levels: int = 50

    def named(self) -> list[str]:
        """Every column a flag names."""
        names = [self.label, self.plan, self.fee, *self.sensitive, *(c for c, _ in self.types)]
        return [n for n in names if n]

    def as_params(self) -> dict[str, object]:
        return {
            "label": self.label,
            "types": dict(self.types),
            "sensitive": list(self.sensitive),
            "plan": self.plan,
            "fee": self.fee,
            "snapshot_date": self.snapshot_date.isoformat() if self.snapshot_date else None,
        }
