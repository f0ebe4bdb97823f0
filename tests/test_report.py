"""The report page and the customer view, on the session's trained warehouse (8,000 customers,
seed 7) scored and planned at two dates: the page is small and self-contained, its headline is
the warehouse's, it renders in a headless Chromium with the network off, and no source id
reaches it."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa

from cvp.data.warehouse import get_engine
from cvp.errors import BAD_INPUT
from cvp.experiments.tracking import configure_tracking
from cvp.jobs.report_jobs import attach_report, job_run_id, run_report
from cvp.jobs.scoring_jobs import run_plan, run_score
from tests.conftest import TRAINED_AS_OF, cvp_env, export_settings

PREVIOUS = date(2025, 11, 30)
BUDGET = 5_000.0
MAX_BYTES = 15_000_000
CHROMIUM = Path("/usr/bin/chromium")
CVP = str(Path(sys.executable).with_name("cvp"))
EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


class _Resources(HTMLParser):
    """Every address the page would load or link: src/href attributes and CSS url(...)."""

    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []
        self.in_style = False
        self.scripts_with_src = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.addresses += [v for k, v in attrs if k in ("src", "href", "action") and v]
        self.addresses += re.findall(r"url\(\s*['\"]?([^'\")]+)", values.get("style") or "")
        self.in_style = tag == "style"
        if tag == "script" and values.get("src"):
            self.scripts_with_src += 1

    def handle_data(self, data: str) -> None:
        if self.in_style:
            self.addresses += re.findall(r"url\(\s*['\"]?([^'\")]+)", data)

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False


@pytest.fixture(scope="module")
def reported(trained_warehouse, tmp_path_factory):
    """Scores at two dates (so stage transitions exist), a plan at the second, and its page with
    one customer's section asked for by source id."""
    settings, _ = trained_warehouse
    run_score(settings, PREVIOUS)
    run_score(settings, TRAINED_AS_OF)
    run_plan(settings, TRAINED_AS_OF, BUDGET)
    with get_engine(settings.warehouse_url).connect() as conn:
        pseudonym, source_id, name, email = conn.execute(
            sa.text(
                "SELECT i.customer_id, i.source_customer_id, i.name, i.email "
                "FROM customer_identities i JOIN customer_scores s "
                "ON s.customer_id = i.customer_id AND s.as_of = :d "
                "WHERE s.risk_tier = 'high' ORDER BY i.customer_id LIMIT 1"
            ),
            {"d": TRAINED_AS_OF},
        ).one()
    out = tmp_path_factory.mktemp("report") / "report.html"
    path, data = run_report(settings, TRAINED_AS_OF, out, customer=source_id)
    customer = {"pseudonym": pseudonym, "source_id": source_id, "name": name, "email": email}
    return settings, path, data, customer


def test_page_is_small_self_contained_and_embeds_plotly_once(reported):
    _, path, _, _ = reported
    html = path.read_text(encoding="utf-8")
    assert path.stat().st_size < MAX_BYTES
    parser = _Resources()
    parser.feed(html)
    external = [a for a in parser.addresses if EXTERNAL.match(a)]
    assert external == [], external
    assert parser.scripts_with_src == 0
    assert html.count("* plotly.js v") == 1  # the library's banner: embedded once, inline
    assert "mathjax" not in html.lower().split("* plotly.js v")[0]  # no MathJax loader
    assert html.count('class="plotly-graph-div"') >= 12


def test_headline_equals_the_warehouse(reported):
    settings, path, data, _ = reported
    with get_engine(settings.warehouse_url).connect() as conn:
        scored, kept, high, loss = conn.execute(
            sa.text(
                "SELECT COUNT(*), SUM(CASE WHEN lifecycle_stage NOT IN ('lapsed', 'churned') "
                "THEN 1 ELSE 0 END), SUM(CASE WHEN risk_tier = 'high' AND lifecycle_stage NOT IN "
                "('lapsed', 'churned') THEN 1 ELSE 0 END), SUM(expected_loss) "
                "FROM customer_scores WHERE as_of = :d"
            ),
            {"d": TRAINED_AS_OF},
        ).one()
        cost, contacted = conn.execute(
            sa.text(
                "SELECT SUM(cost), SUM(CASE WHEN arm = 'treatment' THEN 1 ELSE 0 END) "
                "FROM retention_plan WHERE as_of = :d"
            ),
            {"d": TRAINED_AS_OF},
        ).one()
    h = data.headline
    assert (h.customers_scored, h.retainable_customers, h.high_risk_customers) == (
        scored,
        kept,
        high,
    )
    assert 0 < high < kept < scored  # the base has lapsed customers, counted apart
    assert h.expected_loss == pytest.approx(loss)
    assert h.plan_cost == pytest.approx(cost) and h.plan_contacted == contacted
    assert 0 < cost <= BUDGET and scored > 7_000
    shown = dict(re.findall(r'data-kpi="(\w+)">([^<]+)<', path.read_text(encoding="utf-8")))
    assert shown == {
        "customers_scored": f"{scored:,}",
        "high_risk_share": f"{100 * high / kept:.1f}%",
        "expected_loss": f"{loss:,.0f}",
        "plan_cost": f"{cost:,.0f}",
    }


def test_sections_read_their_numbers_and_say_what_is_missing(reported):
    _, path, data, _ = reported
    keys = [s.key for s in data.sections]
    assert keys == ["health", "model", "base", "risk", "plan", "monitoring"]
    for section in data.sections:
        assert len(section.reading) == 2 and all(section.reading), section.key
    base = next(s for s in data.sections if s.key == "base")
    assert base.values["previous_as_of"] == PREVIOUS  # transitions since the previous date
    assert base.frames["transitions"]["customers"].sum() > 7_000
    model = next(s for s in data.sections if s.key == "model")
    comparison = model.frames["comparison"]
    # the champion and the BTYD baseline are compared on the same metric names
    assert {"roc_auc", "brier", "normalized_gini"} <= set(comparison["metric"])
    assert model.values["curves"]["scores"].keys() == {"lightgbm", "btyd"}
    plan = next(s for s in data.sections if s.key == "plan")
    assert plan.values["cost"] == pytest.approx(data.headline.plan_cost)
    html = path.read_text(encoding="utf-8")
    # no monitoring has run on this warehouse: the page says so instead of drawing nothing
    assert "Not available: drift: `cvp monitor` has not run" in html


def test_no_source_id_or_contact_details_in_the_page(reported):
    _, path, data, customer = reported
    html = path.read_text(encoding="utf-8")
    assert data.customer is not None and data.customer.customer_id == customer["pseudonym"]
    assert f"Customer {customer['pseudonym']}" in html
    for pii in (customer["source_id"], customer["name"], customer["email"]):
        if pii:
            assert pii not in html


def test_report_attached_to_the_scoring_run(reported):
    settings, path, _, _ = reported
    run_id = job_run_id(settings, "score", TRAINED_AS_OF)
    assert run_id is not None
    attach_report(settings, path, run_id)
    listed = [a.path for a in configure_tracking(settings).list_artifacts(run_id, "report")]
    assert listed == [f"report/{path.name}"]


def _chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """Headless, no GPU, every request sent to a closed port and every name unresolvable."""
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--virtual-time-budget=20000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install -y chromium"
)
def test_chromium_renders_every_chart_offline(reported, tmp_path):
    from PIL import Image, ImageStat

    _, path, _, _ = reported
    dom = _chromium(["--dump-dom", path.as_uri()], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    charts = dom.stdout.split('class="plotly-graph-div')[1:]
    assert len(charts) >= 12
    for i, chart in enumerate(charts):
        assert 'class="main-svg"' in chart.split('class="plotly-graph-div')[0], f"chart {i}"
    shot = tmp_path / "page.png"
    taken = _chromium(["--window-size=1400,3000", f"--screenshot={shot}", path.as_uri()], tmp_path)
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    image = Image.open(shot).convert("L")
    assert image.size == (1400, 3000)
    assert ImageStat.Stat(image).stddev[0] > 20  # not a blank page
    assert len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50


def _cvp(args: list[str], settings, tmp_path: Path) -> subprocess.CompletedProcess:
    env = cvp_env(settings, tmp_path)
    return subprocess.run(
        [CVP, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )


def test_customer_profile_by_source_or_pseudonymous_id(reported, tmp_path):
    from cvp.data.warehouse import dispose_engines

    settings, _, data, customer = reported
    dispose_engines()  # DuckDB: one process holds the file at a time
    by_source = _cvp(["customer", customer["source_id"]], settings, tmp_path)
    by_pseudonym = _cvp(["customer", customer["pseudonym"]], settings, tmp_path)
    assert by_source.returncode == 0, by_source.stderr
    assert by_source.stdout == by_pseudonym.stdout
    latest = data.customer.latest
    out = by_source.stdout
    assert customer["pseudonym"] in out and "(high risk)" in out
    assert data.customer.reasons and all(reason in out for reason in data.customer.reasons)
    assert f"Recommended  {latest['next_best_action']} by {latest['channel']}" in out
    assert "may be contacted" in out or "may NOT be contacted" in out
    assert "Scores over time" in out and str(PREVIOUS) in out and str(TRAINED_AS_OF) in out


def test_unknown_customer_is_one_line_and_exit_code(reported, tmp_path):
    from cvp.data.warehouse import dispose_engines

    settings, _, _, _ = reported
    dispose_engines()
    unknown = _cvp(["customer", "NO-SUCH-CUSTOMER-42"], settings, tmp_path)
    assert unknown.returncode == BAD_INPUT
    lines = unknown.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown customer" in lines[0]
    assert "NO-SUCH-CUSTOMER-42" not in unknown.stderr + unknown.stdout  # may be a source id
    assert unknown.stdout == ""
    assert not list((tmp_path / ".cvp").glob("logs/*"))  # no log file records the typed id


@pytest.mark.usefixtures("prefect_server")
def test_score_flow_writes_attaches_and_links_the_report(reported, monkeypatch):
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.utilities.asyncutils import run_coro_as_sync

    from cvp.config import reset_settings_cache
    from cvp.jobs.report_jobs import report_path
    from flows.score import score_flow

    settings, _, _, _ = reported
    export_settings(monkeypatch, settings)
    try:
        score_flow(as_of=TRAINED_AS_OF)
    finally:
        reset_settings_cache()
    page = report_path(settings, TRAINED_AS_OF)
    assert page.exists() and page.stat().st_size < MAX_BYTES
    run_id = job_run_id(settings, "score", TRAINED_AS_OF)
    assert run_id is not None
    listed = [a.path for a in configure_tracking(settings).list_artifacts(run_id, "report")]
    assert listed == [f"report/{page.name}"]

    async def artifacts():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["report"]))
            )

    links = [a.data for a in run_coro_as_sync(artifacts())]
    assert any(page.resolve().as_uri() in str(link) for link in links), links
