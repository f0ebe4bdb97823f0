"""The validation page: one self-contained HTML file with the latest run of every suite.

GX's own Data Docs load CSS and JS from CDNs; this page inlines its styling, so it renders the same
with no network. It is rebuilt from `validation_results` after every validation (raw tables,
feature snapshots, scores), taking each suite's latest run: validating one table updates that
table's section and keeps the others. Each section says which date it validated and when.
Failed expectations show what was expected (the expectation's parameters for that run, read
from the GX suite the run used) next to what was observed.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cvp.config import Settings
from cvp.data.rules import DERIVED_TABLES
from cvp.data.warehouse import read_frame
from cvp.validation.store import validation_results

PAGE_NAME = "index.html"
# expectation parameters that say nothing about the threshold
_NOT_THRESHOLDS = {"column", "result_format", "batch_id", "catch_exceptions", "meta"}
_SHOWN = 120  # characters of a long value set or observed value

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("cvp.validation", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def summary_page_path(settings: Settings) -> Path:
    return Path(settings.expectations_dir) / "data_docs" / PAGE_NAME


def latest_results(engine: Engine) -> pd.DataFrame:
    """Every expectation of each table's latest validation run."""
    v = validation_results
    latest = (
        sa.select(v.c.table_name, sa.func.max(v.c.validated_at).label("latest"))
        .group_by(v.c.table_name)
        .subquery()
    )
    query = sa.select(v).join(
        latest,
        sa.and_(v.c.table_name == latest.c.table_name, v.c.validated_at == latest.c.latest),
    )
    with engine.connect() as conn:
        rows = read_frame(conn, query)
    if rows.empty:
        return rows
    # two runs of one table within the same second: keep one of them whole
    run = rows.groupby("table_name")["run_id"].transform("max")
    return rows[rows["run_id"] == run].reset_index(drop=True)


def _short(value: Any) -> str:
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ", timespec="seconds")
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, default=str)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def suite_thresholds(context: Any, table: str) -> dict[str, str]:
    """Expectation name -> its parameters ("min_value=2025-12-01 ..., mostly=0.99") as the
    table's suite in the GX context holds them: the suite of its latest run."""
    try:
        suite = context.suites.get(f"{table}_suite")
    except Exception:  # noqa: BLE001 - no suite stored: the page shows no threshold
        return {}
    out = {}
    for expectation in suite.expectations:
        name = (expectation.meta or {}).get("name", expectation.expectation_type)
        kwargs = expectation.configuration.kwargs
        out[name] = ", ".join(
            f"{key}={_short(value)}"
            for key, value in kwargs.items()
            if key not in _NOT_THRESHOLDS and value is not None
        )
    return out


def observed_text(value: Any) -> str:
    """A stored `observed_value` (JSON text) as the page shows it."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    try:
        return _short(json.loads(value))
    except (TypeError, ValueError):
        return _short(value)


def _suite(table: str, rows: pd.DataFrame, thresholds: dict[str, str]) -> dict[str, Any]:
    first = rows.iloc[0]
    return {
        "table": table,
        "as_of": pd.Timestamp(first["as_of"]).date(),
        "validated_at": pd.Timestamp(first["validated_at"]).strftime("%Y-%m-%d %H:%M"),
        "failed": int((~rows["success"].astype(bool)).sum()),
        "rows": [
            {
                "expectation": r.expectation,
                "severity": r.severity,
                "success": bool(r.success),
                "expected": thresholds.get(r.expectation, ""),
                "observed": observed_text(r.observed_value),
                "unexpected": "" if pd.isna(r.unexpected_count) else f"{int(r.unexpected_count):,}",
                "sample": "" if pd.isna(r.sample_values) else _short(r.sample_values),
            }
            for r in rows.itertuples()
        ],
    }


def render(results: pd.DataFrame, thresholds: dict[str, dict[str, str]]) -> str:
    """The page for `results` (rows of `validation_results`, one latest run per table);
    `thresholds` per table from `suite_thresholds`. Raw tables first, derived ones after."""
    order = {name: i for i, name in enumerate(DERIVED_TABLES)}
    tables = sorted(results["table_name"].unique(), key=lambda t: (t in order, order.get(t, 0)))
    suites = [_suite(t, results[results["table_name"] == t], thresholds.get(t, {})) for t in tables]
    failed = results[~results["success"].astype(bool)]
    critical = int((failed["severity"] == "critical").sum())
    raw_dates = sorted({s["as_of"] for s in suites if s["table"] not in order})
    return _templates.get_template("validation_page.html.j2").render(
        suites=suites,
        expectations=len(results),
        critical=critical,
        warnings=len(failed) - critical,
        raw_dates=", ".join(str(d) for d in raw_dates) or "-",
        built_at=datetime.now().strftime("%Y-%m-%d %H:%M"),
    )


def write_summary_page(settings: Settings, engine: Engine, context: Any) -> Path:
    """Rebuild the page from the warehouse: every suite's latest run, with its thresholds."""
    results = latest_results(engine)
    thresholds = {t: suite_thresholds(context, t) for t in results["table_name"].unique()}
    path = summary_page_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(results, thresholds))
    return path
