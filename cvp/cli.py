"""The `cvp` command line. Each job command runs its Prefect flow; output is rich tables."""

from __future__ import annotations

import atexit
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="cvp",
    help="Customer Value Platform: churn risk, customer value and retention decisions.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.callback()
def _setup() -> None:
    """Runs before every command: quiet third-party logs, release connections at exit."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    from cvp.data.warehouse import dispose_engines

    atexit.register(dispose_engines)


def _counts_table(title: str, counts: dict[str, int]) -> Table:
    table = Table(title=title)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, value in counts.items():
        table.add_row(name, f"{value:,}")
    return table


@app.command()
def init() -> None:
    """Create or upgrade the warehouse, the MLflow store and the Great Expectations folder."""
    from cvp.config import get_settings
    from cvp.jobs.setup import initialise

    with console.status("Initialising..."):
        result = initialise(get_settings())
    console.print(f"warehouse      {result.warehouse_url} (revision {result.warehouse_revision})")
    console.print(f"mlflow         {result.mlflow_tracking_uri}")
    console.print(f"expectations   {result.expectations_dir}/gx")
    if result.key_created:
        console.print("pseudonymisation key created (keep it secret, back it up)")


@app.command()
def generate(
    customers: Annotated[int | None, typer.Option(min=1, help="Number of customers.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed; same seed, same data.")] = None,
    start: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    end: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    inject_errors: Annotated[
        bool, typer.Option("--inject-errors", help="Plant labelled bad rows.")
    ] = False,
    export_dir: Annotated[
        Path | None,
        typer.Option(help="Write source-style CSV files here instead of loading the warehouse."),
    ] = None,
) -> None:
    """Generate a seeded synthetic customer base with planted ground truth."""
    from cvp.config import get_settings
    from flows.generate import generate_flow

    defaults = get_settings().generator
    with console.status("Generating synthetic data..."):
        result = generate_flow(
            customers=customers or defaults.customers,
            seed=defaults.seed if seed is None else seed,
            start=start.date() if start else defaults.start,
            end=end.date() if end else defaults.end,
            inject_errors=inject_errors,
            export_dir=export_dir,
        )
    console.print(_counts_table("Generated rows", result.row_counts))
    for table, path in result.landing_files.items():
        console.print(f"landing file  {table:<18} {path}")
    console.print(f"data fingerprint {result.fingerprint[:16]}  mlflow run {result.mlflow_run_id}")


def _parse_mapping(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        target, sep, source = pair.partition("=")
        if not sep or not target or not source:
            raise typer.BadParameter(f"{pair!r}: expected target=source", param_hint="--map")
        mapping[target.strip()] = source.strip()
    return mapping


@app.command()
def ingest(
    table: Annotated[str, typer.Argument(help="Raw table, e.g. transactions or customers.")],
    path: Annotated[Path, typer.Argument(help="CSV, TSV or Parquet file.")],
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="target=source column pair; repeat for each column."),
    ] = None,
    header: Annotated[
        bool | None, typer.Option("--header/--no-header", help="Default: detect.")
    ] = None,
    show: Annotated[int, typer.Option(help="Quarantined rows to print.")] = 20,
) -> None:
    """Import your own CSV/Parquet into a raw table; bad rows are quarantined with reasons."""
    from cvp.data.ingest import IngestError
    from flows.ingest import ingest_flow

    mapping = _parse_mapping(map_ or [])
    try:
        with console.status(f"Importing {path} into {table}..."):
            report = ingest_flow(table=table, path=path, mapping=mapping, header=header)
    except IngestError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    summary = Table(title=f"{path} -> {table}")
    for column in ("rows read", "inserted", "already present", "quarantined", "reconciles"):
        summary.add_column(column, justify="right")
    summary.add_row(
        f"{report.rows_read:,}",
        f"{report.inserted:,}",
        f"{report.already_present:,}",
        f"{report.quarantined_rows:,}",
        "yes" if report.reconciles else "[red]NO[/red]",
    )
    console.print(summary)
    if report.customers_derived:
        console.print(f"customers derived from the file: {report.customers_derived:,}")
    if not report.issues.empty:
        issues = Table(title=f"Quarantined (first {show}; all in the quarantine table)")
        for column in ("row", "column", "value", "reason"):
            issues.add_column(column)
        for row in report.issues.head(show).itertuples():
            issues.add_row(str(row.row_number), row.column_name, str(row.raw_value), row.reason)
        console.print(issues)
    if not report.reconciles:
        raise typer.Exit(1)


@app.command()
def validate(
    table: Annotated[
        list[str] | None, typer.Option("--table", help="Only this table; repeatable.")
    ] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Run date; default today."),
    ] = None,
) -> None:
    """Run the Great Expectations checkpoints; exit 1 on a critical failure."""
    import pandas as pd

    from flows.validate import validate_flow

    with console.status("Validating the warehouse..."):
        report = validate_flow(as_of=as_of.date() if as_of else None, tables=table)
    failed = report.failures
    if failed.empty:
        console.print(f"[green]all {len(report.results)} expectations passed[/green]")
    else:
        listing = Table(title=f"Failed expectations ({len(failed)} of {len(report.results)})")
        for column in ("table", "expectation", "severity", "unexpected", "sample"):
            listing.add_column(column)
        for row in failed.itertuples():
            count = "" if pd.isna(row.unexpected_count) else str(int(row.unexpected_count))
            style = "red" if row.severity == "critical" else "yellow"
            listing.add_row(
                row.table_name,
                row.expectation,
                f"[{style}]{row.severity}[/{style}]",
                count,
                "" if pd.isna(row.sample_values) else str(row.sample_values),
            )
        console.print(listing)
    console.print(f"summary page  {report.summary_page.resolve()}")
    console.print(f"data docs     {report.data_docs.resolve()}")
    if not report.passed:
        raise typer.Exit(1)


@app.command()
def features(
    as_of: Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Cutoff date.")],
) -> None:
    """Build the point-in-time feature snapshot for every customer known at --as-of."""
    from flows.features import features_flow

    with console.status(f"Building features as of {as_of.date()}..."):
        result = features_flow(as_of=as_of.date())
    console.print(
        f"feature set {result.feature_set_version}: {result.customers:,} customers as of "
        f"{result.as_of}, families: {', '.join(result.families)}"
    )
    console.print(f"written to feature_snapshots; mlflow run {result.mlflow_run_id}")


@app.command()
def train(
    as_of: Annotated[
        datetime,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Labels known up to this date."),
    ],
    target: Annotated[str, typer.Option(help="churn, clv or all.")] = "all",
    trials: Annotated[int, typer.Option(min=1, help="Optuna trials per model.")] = 20,
    horizon_days: Annotated[int, typer.Option(min=7, help="Churn/CLV horizon in days.")] = 90,
    seed: int = 7,
    force_validation: Annotated[
        bool,
        typer.Option(
            "--force-validation", help="Train despite critical validation failures (recorded)."
        ),
    ] = False,
) -> None:
    """Tune, train, backtest and register the churn and CLV models (champion/challenger)."""
    from cvp.orchestration.parameters import TrainParameters
    from cvp.validation.runner import ValidationFailed
    from flows.train import train_flow
    from tasks.training import leaderboard

    if target not in ("churn", "clv", "all"):
        raise typer.BadParameter("choose churn, clv or all", param_hint="--target")
    targets = ["churn", "clv"] if target == "all" else [target]
    try:
        with console.status(
            f"Training {', '.join(targets)} as of {as_of.date()} ({trials} trials each)..."
        ):
            result = train_flow(
                TrainParameters(
                    as_of=as_of.date(),
                    targets=targets,
                    trials=trials,
                    horizon_days=horizon_days,
                    seed=seed,
                    force_validation=force_validation,
                )
            )
    except ValidationFailed as exc:
        console.print(f"[red]training stopped before any model was written[/red]\n{exc}")
        raise typer.Exit(1) from exc
    board = Table(title=f"Backtest on the latest held-out cutoff (rows {result.rows})")
    for column in (
        "target",
        "metric",
        "lightgbm",
        "btyd",
        "champion before",
        "version",
        "decision",
    ):
        board.add_column(column)
    for row in leaderboard(result):
        board.add_row(
            row["target"],
            row["metric"],
            str(row["lightgbm"]),
            str(row["btyd_baseline"]),
            str(row["champion_before"] or "-"),
            row["version"],
            row["decision"],
        )
    console.print(board)
    for outcome in result.outcomes.values():
        console.print(f"{outcome.target}: {outcome.decision.reason}")
    if result.validation_overridden:
        console.print(
            "[yellow]validation failures were overridden (recorded in MLflow and the audit log)[/yellow]"
        )
    console.print(f"MLflow parent run {result.parent_run_id} (experiment 'training')")


@app.command()
def score(
    as_of: Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Scoring date.")],
    force_validation: Annotated[
        bool,
        typer.Option(
            "--force-validation", help="Score despite critical validation failures (recorded)."
        ),
    ] = False,
) -> None:
    """Score every customer with the champion models: risk, value, stage, reasons, action."""
    from cvp.scoring.score import NoChampionModel
    from cvp.validation.runner import ValidationFailed
    from flows.score import score_flow

    try:
        with console.status(f"Scoring as of {as_of.date()}..."):
            result = score_flow(as_of=as_of.date(), force_validation=force_validation)
    except (NoChampionModel, ValidationFailed) as exc:
        console.print(f"[red]scoring stopped before any score was written[/red]\n{exc}")
        raise typer.Exit(1) from exc
    scores = result.scores
    console.print(
        f"{len(scores):,} customers scored as of {result.as_of} (churn v{result.models.churn_version}, clv v{result.models.clv_version})"
    )
    for column in ("risk_tier", "value_tier", "lifecycle_stage", "rfm_segment", "next_best_action"):
        counts = scores[column].value_counts()
        console.print(f"{column:<17} " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    console.print(
        f"alerts            {len(result.alerts):,}; total expected loss {scores['expected_loss'].sum():,.0f}"
    )
    console.print("written to customer_scores (one set per date), stage_transitions, alerts")


@app.command()
def plan(
    as_of: Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Scored date.")],
    budget: Annotated[float, typer.Option(min=0, help="Retention budget.")],
    campaign: Annotated[
        str | None,
        typer.Option(
            help="Record the plan as this campaign (ledger, fixed arms); see `cvp launch`."
        ),
    ] = None,
) -> None:
    """Choose customers and actions that maximise expected saved value under a budget."""
    from flows.plan import plan_flow

    if campaign:
        _plan_campaign(campaign, as_of.date(), budget)
        return
    try:
        totals = plan_flow(as_of=as_of.date(), budget=budget)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(
        f"budget {totals.budget:,.2f}: reach {totals.reach:,} customers, control group {totals.control:,} (held out), "
        f"cost {totals.cost:,.2f}, expected saved value {totals.expected_saved_value:,.2f}, ROI {totals.roi:.2f}"
    )
    console.print("written to retention_plan")


def _plan_campaign(name: str, as_of, budget: float) -> None:
    from cvp.campaigns.jobs import precheck
    from cvp.campaigns.ledger import CampaignError
    from cvp.config import get_settings
    from flows.campaigns import plan_campaign_flow

    try:
        precheck(get_settings(), name, "plan")
        result = plan_campaign_flow(name=name, as_of=as_of, budget=budget)
    except CampaignError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    t = result.totals
    console.print(
        f"campaign {name}: treatment {t.reach:,}, control {t.control:,} (held out), "
        f"cost {t.cost:,.2f} of {t.budget:,.2f}, expected saved value {t.expected_saved_value:,.2f}"
    )
    if result.replanned:
        console.print(f"re-planned: {result.kept_arms:,} customers kept their arm")
    console.print(f"written to campaigns, campaign_assignments; launch with `cvp launch {name}`")


@app.command(name="export")
def export_command(
    what: Annotated[str, typer.Argument(help="What to export: scores.")],
    as_of: Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"])],
    out: Annotated[Path, typer.Option(help="Output file; .csv or .parquet.")],
) -> None:
    """Export a scored date to CSV or Parquet, with pseudonymous ids only."""
    from cvp.config import get_settings
    from cvp.jobs.scoring_jobs import export_scores

    if what != "scores":
        raise typer.BadParameter("only 'scores' can be exported", param_hint="WHAT")
    try:
        rows = export_scores(get_settings(), as_of.date(), out)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"{rows:,} rows written to {out}")


@app.command()
def demo(
    customers: Annotated[int, typer.Option(min=100)] = 20_000,
    seed: int = 7,
    trials: Annotated[int, typer.Option(min=1, help="Optuna trials per model.")] = 10,
    budget: Annotated[float, typer.Option(min=0, help="Retention budget for the plan.")] = 10_000.0,
) -> None:
    """Run everything that exists end to end on synthetic data, and say where results are."""
    from cvp.config import get_settings
    from flows.demo import demo_flow

    settings = get_settings()
    with console.status("Running the demo pipeline..."):
        result = demo_flow(customers=customers, seed=seed, trials=trials, budget=budget)
    console.print(_counts_table("Generated landing files (rows)", result["generated"].row_counts))
    ingested = Table(title="Imported into the warehouse")
    for column in ("table", "rows read", "inserted", "quarantined", "reconciles"):
        ingested.add_column(column, justify="right")
    for table, report in result["ingested"].items():
        ingested.add_row(
            table,
            f"{report.rows_read:,}",
            f"{report.inserted:,}",
            f"{report.quarantined_rows:,}",
            "yes" if report.reconciles else "NO",
        )
    console.print(ingested)
    validation = result["validation"]
    console.print(
        f"validation      {len(validation.results)} expectations, {len(validation.failures)} failed "
        f"({len(validation.critical_failures)} critical); page {validation.summary_page.resolve()}"
    )
    features = result["features"]
    console.print(
        f"features        {features.customers:,} customers as of {features.as_of} "
        f"({features.feature_set_version}) in table feature_snapshots"
    )
    from tasks.training import leaderboard

    for row in leaderboard(result["trained"]):
        console.print(
            f"model           {row['target']}: {row['metric']} {row['lightgbm']} (BTYD {row['btyd_baseline']}), "
            f"version {row['version']} {row['decision']}"
        )
    scored = result["scored"].scores
    console.print(
        f"scores          {len(scored):,} customers as of {result['scored'].as_of}: risk "
        + ", ".join(f"{k} {v:,}" for k, v in scored["risk_tier"].value_counts().items())
    )
    planned = result["planned"]
    console.print(
        f"plan            budget {planned.budget:,.0f}: reach {planned.reach:,}, control {planned.control:,}, "
        f"cost {planned.cost:,.0f}, expected saved value {planned.expected_saved_value:,.0f}, ROI {planned.roi:.2f}"
    )
    console.print(
        f"warehouse       {settings.warehouse_url} (tables customer_scores, retention_plan, alerts)"
    )
    console.print(
        f"export          .venv/bin/cvp export scores --as-of {result['scored'].as_of} --out data/exports/scores.csv"
    )
    console.print(f"landing files   {Path('data/landing').resolve()}")
    console.print(
        f"MLflow runs     {settings.mlflow_tracking_uri} "
        f"(open with: .venv/bin/mlflow ui --backend-store-uri {settings.mlflow_tracking_uri})"
    )


@app.command()
def backfill(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First date.")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Last date.")],
    every: Annotated[str, typer.Option(help="Step: 1d, 1w, 2w, 1mo, 3mo...")] = "1w",
    target: Annotated[
        list[str], typer.Option("--target", help="train, features, score, plan (repeatable).")
    ] = None,
    max_concurrency: Annotated[int, typer.Option(min=1, max=8)] = 1,
    force: Annotated[bool, typer.Option(help="Redo dates already done.")] = False,
    trials: Annotated[int, typer.Option(min=1, help="Optuna trials, with --target train.")] = 10,
    budget: Annotated[float, typer.Option(min=0, help="Budget, with --target plan.")] = 10_000.0,
) -> None:
    """Run the backfill flow here (the same flow the `backfill` deployment runs)."""
    from pydantic import ValidationError

    from cvp.orchestration.parameters import BackfillParameters
    from flows.backfill import backfill_flow

    try:
        params = BackfillParameters(
            start=start.date(),
            end=end.date(),
            every=every,
            targets=target or ["features", "score"],
            max_concurrency=max_concurrency,
            force=force,
            trials=trials,
            budget=budget,
        )
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from exc
    state = backfill_flow(params, return_state=True)
    if not state.is_completed():
        console.print(f"[red]{state.message}[/red] (table artifact 'backfill-report')")
        raise typer.Exit(1)
    columns = ("as_of", "status", "customers_scored", "duration_s", "detail")
    table = Table(title=f"Backfill {params.start}..{params.end} every {params.every}")
    for column in columns:
        table.add_column(column)
    for row in state.result():
        table.add_row(*(str(row[c]) for c in columns))
    console.print(table)


@app.command()
def deploy() -> None:
    """Apply infra/prefect.yaml (pipeline daily, train weekly, backfill on demand) to the server."""
    from cvp.config import get_settings
    from cvp.orchestration.servers import PREFECT_YAML, prefect_api_url
    from cvp.orchestration.servers import deploy as apply_deployments

    settings = get_settings()
    api = os.environ.get("PREFECT_API_URL") or prefect_api_url(settings.server)
    result = apply_deployments(settings)
    if result.returncode:
        console.print(result.stdout[-4000:], result.stderr[-4000:])
        console.print(f"[red]prefect deploy failed (exit {result.returncode}) against {api}[/red]")
        raise typer.Exit(1)
    console.print(
        f"deployments from {PREFECT_YAML} applied to {api}: pipeline (daily), train (weekly), backfill"
    )
    console.print(f"open {api.removesuffix('/api')}/deployments to run them from the UI")


server_app = typer.Typer(help="Local Prefect server, MLflow tracking server and worker.")
app.add_typer(server_app, name="server")


def _print_services() -> bool:
    from cvp.config import get_settings
    from cvp.orchestration.servers import status

    table = Table(title="cvp servers")
    for column in ("service", "pid", "state", "url", "log"):
        table.add_column(column)
    services = status(get_settings())
    for service in services:
        state = "healthy" if service.healthy else ("running" if service.running else "stopped")
        table.add_row(
            service.name, str(service.pid or "-"), state, service.url or "-", str(service.log)
        )
    console.print(table)
    return all(service.healthy for service in services)


@server_app.command("up")
def server_up() -> None:
    """Start the Prefect server, the MLflow server and a process worker (bound to the host)."""
    from cvp.config import get_settings
    from cvp.orchestration.servers import prefect_api_url, up

    settings = get_settings()
    try:
        up(settings)
    except (RuntimeError, TimeoutError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    _print_services()
    console.print(
        f"Prefect UI: {prefect_api_url(settings.server).removesuffix('/api')}   "
        f"then: export PREFECT_API_URL={prefect_api_url(settings.server)}; cvp deploy"
    )


@server_app.command("status")
def server_status() -> None:
    """Each service's pid, health and log; exit 1 unless all are healthy."""
    if not _print_services():
        raise typer.Exit(1)


@server_app.command("down")
def server_down() -> None:
    """Stop the worker, then both servers."""
    from cvp.config import get_settings
    from cvp.orchestration.servers import down

    stopped = down(get_settings())
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@app.command()
def launch(
    name: Annotated[str, typer.Argument(help="Campaign planned with `cvp plan --campaign`.")],
    launch_date: Annotated[
        datetime | None,
        typer.Option("--date", formats=["%Y-%m-%d"], help="Launch day; default the planned one."),
    ] = None,
) -> None:
    """Launch a planned campaign: write its contacts (and held-out controls) to marketing_touches."""
    from cvp.campaigns.jobs import precheck
    from cvp.campaigns.ledger import CampaignError
    from cvp.config import get_settings
    from flows.campaigns import launch_flow

    try:
        precheck(get_settings(), name, "launch")
        written = launch_flow(name=name, launch_date=launch_date.date() if launch_date else None)
    except CampaignError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"campaign {name} launched: {written:,} rows in marketing_touches")


@app.command(name="simulate-response")
def simulate_response(
    name: Annotated[str, typer.Argument(help="A launched campaign.")],
    effect: Annotated[
        float, typer.Option(min=0, max=1, help="Planted save probability for treated non-buyers.")
    ] = 0.3,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Synthetic data only: generate the campaign's outcome period with a planted effect."""
    from cvp.campaigns.jobs import precheck
    from cvp.campaigns.ledger import CampaignError
    from cvp.config import get_settings
    from flows.campaigns import simulate_response_flow

    try:
        precheck(get_settings(), name, "simulate")
        result = simulate_response_flow(name=name, effect=effect, seed=seed)
    except CampaignError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(
        f"{len(result.transactions):,} outcome-window purchases written; planted uplift: "
        f"repurchase {result.true_repurchase_uplift:+.4f}, revenue per customer {result.true_revenue_uplift:+.2f}"
    )


@app.command()
def measure(
    name: Annotated[str, typer.Argument(help="A launched campaign.")],
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Measurement day; default today."),
    ] = None,
) -> None:
    """Measure a campaign after its outcome window: uplift per arm with intervals, ROI."""
    from datetime import date

    from cvp.campaigns.jobs import precheck
    from cvp.campaigns.ledger import CampaignError
    from cvp.config import get_settings
    from flows.campaigns import measure_flow

    try:
        precheck(get_settings(), name, "measure", as_of.date() if as_of else date.today())
        result = measure_flow(name=name, as_of=as_of.date() if as_of else None)
    except CampaignError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    start, end = result.window
    table = Table(title=f"campaign {name}: outcome window {start} to {end} (95% intervals)")
    for column in (
        "segment",
        "metric",
        "treated",
        "control",
        "T mean",
        "C mean",
        "uplift",
        "interval",
    ):
        table.add_column(column, justify="right" if column not in ("segment", "metric") else "left")
    for r in result.results.itertuples():
        fmt = "{:,.2f}" if r.metric == "revenue" else "{:.3f}"
        table.add_row(
            "all" if r.segment_type == "overall" else f"{r.segment_type}={r.segment}",
            r.metric,
            f"{r.n_treatment:,}",
            f"{r.n_control:,}",
            fmt.format(r.treatment_mean),
            fmt.format(r.control_mean),
            fmt.format(r.uplift),
            f"[{fmt.format(r.ci_low)}, {fmt.format(r.ci_high)}]",
        )
    console.print(table)
    revenue = result.overall("revenue")
    console.print(
        f"incremental revenue {revenue['incremental_revenue']:,.2f}, cost {revenue['cost']:,.2f}, "
        f"ROI {revenue['roi']:.2f}; written to campaign_results and MLflow (experiment 'campaigns')"
    )


@app.command()
def monitor(
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Monitoring date; default today."),
    ] = None,
    trigger: Annotated[
        bool, typer.Option(help="Start the training deployment when retraining is decided.")
    ] = True,
) -> None:
    """Realised accuracy of past scores, drift, model age; decide (and trigger) retraining."""
    from cvp.config import get_settings
    from cvp.experiments.tracking import configure_tracking
    from cvp.monitoring.models import champion_info
    from cvp.orchestration.parameters import MonitorParameters
    from flows.monitor import monitor_flow

    client = configure_tracking(get_settings())
    if champion_info(client, "churn") is None or champion_info(client, "clv") is None:
        console.print(
            "[red]error:[/red] no champion models to monitor: run `cvp train --as-of DATE` first"
        )
        raise typer.Exit(1)
    try:
        result = monitor_flow(
            MonitorParameters(as_of=as_of.date() if as_of else None, trigger=trigger)
        )
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    accuracy = result.accuracy
    if not accuracy.empty:
        table = Table(title="realised accuracy (closed horizons) vs the backtest promise")
        for column in ("scores date", "model", "metric", "realised", "promised"):
            table.add_column(column)
        for r in accuracy.itertuples():
            promised = (
                "-" if r.promised is None or r.promised != r.promised else f"{r.promised:.4f}"
            )
            table.add_row(
                str(r.scores_as_of),
                f"{r.model} v{r.model_version}",
                r.metric,
                f"{r.realised:.4f}",
                promised,
            )
        console.print(table)
    for note in result.notes:
        console.print(note)
    console.print(
        f"drifted features ({len(result.drifted)}): " + (", ".join(result.drifted) or "none")
    )
    console.print(f"retrain: {'yes' if result.retrain else 'no'}")
    for reason in result.reasons:
        console.print(f"  - {reason}")
    if result.triggered:
        console.print(result.triggered)
    console.print(
        "written to realised_accuracy, drift_results, monitor_decisions; MLflow 'monitoring'"
    )


@app.command()
def version() -> None:
    """Print the installed version."""
    from importlib.metadata import version as package_version

    console.print(package_version("cvp"))


if __name__ == "__main__":
    app()
