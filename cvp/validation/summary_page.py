"""A self-contained HTML page of the suites and the latest results. GX's own Data Docs load CSS
and JS from CDNs; this page inlines its styling, so it renders the same with no network."""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path

import pandas as pd

from cvp.config import Settings

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2933;background:#f5f7fa}
h1{font-size:1.6rem;margin-bottom:.2rem} .sub{color:#616e7c;margin-bottom:1.5rem}
.cards{display:flex;gap:1rem;margin-bottom:1.5rem;flex-wrap:wrap}
.card{background:#fff;border-radius:8px;padding:1rem 1.4rem;box-shadow:0 1px 3px rgba(0,0,0,.12);min-width:9rem}
.card b{display:block;font-size:1.6rem}
section{background:#fff;border-radius:8px;padding:1rem 1.4rem;margin-bottom:1rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h2{font-size:1.15rem;margin:.2rem 0 .8rem} table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e4e7eb} th{background:#f0f4f8}
.ok{color:#0e7c3a;font-weight:600} .fail{color:#c81e1e;font-weight:600} .warn{color:#b45309;font-weight:600}
.badge{display:inline-block;border-radius:999px;padding:.05rem .55rem;font-size:.75rem;background:#e4e7eb}
.badge.critical{background:#fde8e8;color:#9b1c1c} .badge.warning{background:#fef3c7;color:#92400e}
code{font-size:.85rem;color:#52606d}
"""


def _status(row) -> str:
    if row.success:
        return '<span class="ok">passed</span>'
    css = "fail" if row.severity == "critical" else "warn"
    return f'<span class="{css}">failed</span>'


def render(results: pd.DataFrame, as_of: date) -> str:
    failed = results[~results["success"]]
    critical = failed[failed["severity"] == "critical"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>cvp data validation</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Data validation</h1>",
        f"<div class='sub'>Great Expectations suites for the raw tables, as of {as_of}</div>",
        "<div class='cards'>",
        f"<div class='card'><b>{results['table_name'].nunique()}</b>suites</div>",
        f"<div class='card'><b>{len(results)}</b>expectations</div>",
        f"<div class='card'><b class='fail'>{len(critical)}</b>critical failures</div>",
        f"<div class='card'><b class='warn'>{len(failed) - len(critical)}</b>warnings</div>",
        "</div>",
    ]
    for table, rows in results.groupby("table_name", sort=False):
        parts.append(f"<section><h2>{html.escape(table)}_suite</h2><table>")
        parts.append(
            "<tr><th>expectation</th><th>severity</th><th>status</th><th>unexpected</th><th>sample</th></tr>"
        )
        for row in rows.itertuples():
            count = "" if pd.isna(row.unexpected_count) else int(row.unexpected_count)
            sample = "" if pd.isna(row.sample_values) else html.escape(str(row.sample_values))
            parts.append(
                f"<tr><td><code>{html.escape(row.expectation)}</code></td>"
                f"<td><span class='badge {row.severity}'>{row.severity}</span></td>"
                f"<td>{_status(row)}</td><td>{count}</td><td><code>{sample}</code></td></tr>"
            )
        parts.append("</table></section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_summary_page(settings: Settings, results: pd.DataFrame, as_of: date) -> Path:
    path = Path(settings.expectations_dir) / "data_docs" / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(results, as_of))
    return path
