"""The `cvp` command line. Each job command runs its Prefect flow; output is rich tables."""

from __future__ import annotations

import atexit
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


class CvpTyper(typer.Typer):
    """The app with one error path for every command: an expected failure (`cvp.errors`) prints
    one line naming the log file and exits with its documented code; the traceback goes only to
    the log (`[jobs] log_dir`). Prefect's console handler is raised to CRITICAL so its own
    logging of a failed task does not reach the terminal either."""

    def __call__(self, *args, **kwargs):
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
        try:
            return super().__call__(*args, **kwargs)
        except SystemExit:
            raise
        except BaseException as exc:  # noqa: BLE001 - the one place every failure ends
            from rich.markup import escape

            from cvp.errors import failure_line, write_log

            log = write_log(exc, _log_dir(), sys.argv)
            line, code = failure_line(exc, log)
            Console(stderr=True).print(
                f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True
            )
            _exit_quietly(code)


def _exit_quietly(code: int) -> None:
    """Run the exit handlers (engines, Prefect's log handler, MLflow), then leave without the
    interpreter's teardown, where DuckDB's bindings print "nanobind: leaked ..." lines that
    would bury the one-line message."""
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _log_dir() -> Path:
    try:
        from cvp.config import get_settings

        return get_settings().jobs.log_dir
    except Exception:  # noqa: BLE001 - a broken cvp.toml must not hide the original error
        return Path(".cvp/logs")


app = CvpTyper(
    name="cvp",
    help="Customer Value Platform: churn risk, customer value and retention decisions.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

if TYPE_CHECKING:
    from cvp.orchestration.prefect_env import PrefectTarget

_prefect: PrefectTarget | None = None


@app.callback()
def _setup() -> None:
    """Runs before every command: quiet third-party logs, decide where Prefect runs go (before
    Prefect is imported), release connections at exit."""
    global _prefect
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # INFO reaches the API (the run pages); the terminal's console handler stays at CRITICAL
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    from cvp.config import get_settings
    from cvp.data.warehouse import dispose_engines
    from cvp.orchestration.prefect_env import configure_prefect

    _prefect = configure_prefect(get_settings())
    atexit.register(dispose_engines)


@contextmanager
def _orchestrated() -> Iterator[None]:
    """Around a command that runs Prefect flows: say in one line where its runs go, start
    Prefect's temporary server as a visible stage when no server runs, show stage progress."""
    from cvp.progress import RichReporter, stage

    target = _prefect
    if target is not None:
        console.print(f"[dim]Prefect: {target.describe()}[/dim]")
    with RichReporter(console):
        if target is not None and target.mode == "ephemeral":
            from prefect.server.api.server import SubprocessASGIServer

            with stage("Starting Prefect's temporary API server"):
                try:
                    SubprocessASGIServer().start(timeout=int(target.startup_timeout_s))
                except RuntimeError as exc:
                    from cvp.errors import StateError

                    raise StateError(
                        "Prefect's temporary API server did not start within "
                        f"{target.startup_timeout_s:.0f} s; raise [prefect] "
                        "ephemeral_startup_timeout_s in cvp.toml or run `cvp server up` first"
                    ) from exc
        yield


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
    drift_date: Annotated[
        datetime | None,
        typer.Option(
            "--drift-date",
            formats=["%Y-%m-%d"],
            help="Plant a behaviour shift from this day: spend per purchase x1.8, 80% of "
            "purchases move to the app (for `cvp monitor`).",
        ),
    ] = None,
    activity_shift_date: Annotated[
        datetime | None,
        typer.Option(
            "--activity-shift-date",
            formats=["%Y-%m-%d"],
            help="Plant a shift in purchase activity from this day: only "
            "`generator.activity_shift_factor` (0.6) of the purchases happen.",
        ),
    ] = None,
    subscribers: Annotated[
        int | None,
        typer.Option(
            min=100,
            help="Instead: a subscriber snapshot of N customers (telecom-style CSV and its "
            "planted truth) written to --export-dir.",
        ),
    ] = None,
) -> None:
    """Generate a seeded synthetic customer base with planted ground truth."""
    from cvp.config import get_settings

    defaults = get_settings().generator
    if subscribers is not None:
        _generate_subscribers(subscribers, defaults.seed if seed is None else seed, export_dir)
        return
    from flows.generate import generate_flow

    with _orchestrated():
        result = generate_flow(
            customers=customers or defaults.customers,
            seed=defaults.seed if seed is None else seed,
            start=start.date() if start else defaults.start,
            end=end.date() if end else defaults.end,
            inject_errors=inject_errors,
            export_dir=export_dir,
            drift_date=drift_date.date() if drift_date else None,
            activity_shift_date=activity_shift_date.date() if activity_shift_date else None,
            activity_shift_factor=defaults.activity_shift_factor,
        )
    console.print(_counts_table("Generated rows", result.row_counts))
    if drift_date:
        console.print(f"planted drift from {drift_date.date()}: spend x1.8, purchases to the app")
    if activity_shift_date:
        console.print(
            f"planted activity shift from {activity_shift_date.date()}: "
            f"purchases x{defaults.activity_shift_factor:g}"
        )
    for table, path in result.landing_files.items():
        console.print(f"landing file  {table:<18} {path}")
    console.print(f"data fingerprint {result.fingerprint[:16]}  mlflow run {result.mlflow_run_id}")


def _generate_subscribers(n: int, seed: int, export_dir: Path | None) -> None:
    """A file-only generator: no warehouse, no flow; the snapshot is imported like a real one."""
    from cvp.data.subscribers import export_subscribers, generate_subscribers

    if export_dir is None:
        raise typer.BadParameter("--subscribers writes files: give --export-dir DIR")
    paths = export_subscribers(generate_subscribers(n, seed), export_dir)
    console.print(f"subscriber snapshot  {paths['subscribers']}  ({n:,} customers, seed {seed})")
    console.print(f"planted truth        {paths['truth']}  (never imported; for checking models)")


def _parse_mapping(pairs: list[str]) -> dict[str, str]:
    from cvp.data.source import IngestError

    mapping: dict[str, str] = {}
    for pair in pairs:
        target, sep, source = pair.partition("=")
        if not sep or not target.strip() or not source.strip():
            raise IngestError(f"--map {pair!r}: expected target=source, e.g. --map ts=order_date")
        mapping[target.strip()] = source.strip()
    return mapping


def _cell(value: object, width: int = 60) -> str:
    """A value from someone's file, safe to show: no markup, no control characters, short."""
    from rich.markup import escape

    shown = "" if value is None or str(value) == "<NA>" else str(value)
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in shown)
    return escape(text if len(text) <= width else text[: width - 1] + "…")


def _one_line(message: str, style: str = "red", label: str = "error") -> None:
    """One line, never wrapped: errors on stderr (as the shared error path prints them),
    warnings beside the report on stdout."""
    from rich.markup import escape

    out = Console(stderr=True) if label == "error" else console
    out.print(f"[{style}]{label}:[/{style}] {escape(message)}", soft_wrap=True)


@app.command()
def ingest(
    table: Annotated[str, typer.Argument(help="Raw table, e.g. transactions or customers.")],
    path: Annotated[Path, typer.Argument(help="CSV, TSV, TXT or Parquet file.")],
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="target=source column pair; repeat for each column."),
    ] = None,
    header: Annotated[
        bool | None, typer.Option("--header/--no-header", help="Default: detect.")
    ] = None,
    sep: Annotated[
        str | None,
        typer.Option(help="Separator: comma, semicolon, tab or pipe. Default: detect."),
    ] = None,
    decimal: Annotated[
        str | None,
        typer.Option(
            help="Decimal mark, '.' or ','. Needed when numbers contain commas (e.g. 1.234,56)."
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(help="File encoding, e.g. latin-1, cp1252, utf-16. Default: BOM or UTF-8."),
    ] = None,
    date_format: Annotated[
        str | None,
        typer.Option(
            "--date-format",
            help="strftime format of the date columns, e.g. %d/%m/%Y; needed when day and "
            "month cannot be told apart.",
        ),
    ] = None,
    flow: Annotated[
        bool,
        typer.Option(
            "--flow/--no-flow",
            help="Run as a Prefect flow (default), or in this process without Prefect "
            "(same checks, audit row and MLflow run; needs `cvp init` first).",
        ),
    ] = True,
    show: Annotated[int, typer.Option(help="Quarantined rows to print.")] = 20,
    label: Annotated[
        str | None, typer.Option(help="customers: the Yes/No label column (e.g. churn).")
    ] = None,
    type_: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            help="customers: column=type (boolean, number, integer, months, "
            "category, text, date); other columns are inferred.",
        ),
    ] = None,
    sensitive: Annotated[
        list[str] | None,
        typer.Option(help="customers: fairness-only columns, never features (a,b or repeated)."),
    ] = None,
    plan: Annotated[
        str | None, typer.Option(help="customers: the plan column of derived subscriptions.")
    ] = None,
    fee: Annotated[
        str | None, typer.Option(help="customers: the monthly fee column of subscriptions.")
    ] = None,
    snapshot_date: Annotated[
        datetime | None,
        typer.Option(
            "--snapshot-date", formats=["%Y-%m-%d"], help="customers: date of the snapshot."
        ),
    ] = None,
) -> None:
    """Import your own CSV/Parquet into a raw table; bad rows are quarantined with reasons.

    A customer file keeps every other column as a typed attribute (README, "Contractual
    customers"): --label, --type, --sensitive, --plan, --fee and --snapshot-date describe them.

    Exit codes: 0 imported (quarantined rows are listed and kept in the quarantine table);
    1 the counts do not reconcile; 2 the file or the arguments were refused, nothing written.
    """
    from cvp.data.source import IngestError, ReadOptions, read_source

    try:
        from cvp.config import get_settings
        from cvp.contract.attributes import parse_type_pairs, split_names
        from cvp.contract.options import AttributeOptions

        attributes = AttributeOptions(
            label=label,
            types=parse_type_pairs(type_ or []),
            sensitive=split_names(sensitive or []),
            plan=plan,
            fee=fee,
            snapshot_date=snapshot_date.date() if snapshot_date else None,
            category_max_levels=get_settings().contract.category_max_levels,
        )
        options = ReadOptions(
            _parse_mapping(map_ or []), header, sep, decimal, encoding, date_format, attributes
        )
        read_source(path, table, options)  # refuse an unusable file before anything starts
        with _orchestrated() if flow else nullcontext():
            report = _run_ingest(table, path, options, flow)
    except IngestError as exc:
        _one_line(str(exc))
        raise typer.Exit(2) from exc
    summary = Table(title=f"{_cell(path, 120)} -> {table}")
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
    console.print(f"read as {_cell(report.read_as, 200)}", soft_wrap=True)
    console.print(
        f"{report.rows_read} rows read = {report.inserted} inserted + "
        f"{report.already_present} already present + {report.quarantined_rows} quarantined",
        soft_wrap=True,
    )
    for warning in report.warnings:
        _one_line(warning, "yellow", "warning")
    if report.customers_derived:
        console.print(f"customers derived from the file: {report.customers_derived:,}")
    if report.attributes:
        console.print(
            f"attributes kept: {len(report.attributes)} ({', '.join(report.attributes)}); "
            f"{report.subscriptions_derived:,} subscriptions derived",
            soft_wrap=True,
            markup=False,
        )
    if not report.issues.empty:
        issues = Table(title=f"Quarantined (first {show}; all in the quarantine table)")
        for column in ("row", "column", "value", "reason"):
            issues.add_column(column)
        for row in report.issues.head(show).itertuples():
            issues.add_row(
                str(row.row_number), row.column_name, _cell(row.raw_value), _cell(row.reason, 120)
            )
        console.print(issues)
    if not report.reconciles:
        raise typer.Exit(1)


def _run_ingest(table: str, path: Path, options, flow: bool):
    """The ingest job through its Prefect flow, or in this process."""
    from cvp.data.source import IngestError

    if flow:
        from flows.ingest import ingest_flow

        return ingest_flow(table=table, path=path, options=options)
    import sqlalchemy as sa

    from cvp.config import get_settings
    from cvp.data.pseudonym import MissingPseudonymKey
    from cvp.data.warehouse import get_engine
    from cvp.jobs.data_jobs import run_ingest

    settings = get_settings()
    if not sa.inspect(get_engine(settings.warehouse_url)).has_table(table):
        raise IngestError(f"the warehouse has no table {table!r}; run cvp init first")
    try:
        return run_ingest(settings, table, path, options=options)
    except MissingPseudonymKey as exc:
        raise IngestError(str(exc)) from exc


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

    with _orchestrated():
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

    with _orchestrated():
        result = features_flow(as_of=as_of.date())
    console.print(
        f"feature set {result.feature_set_version}: {result.customers:,} customers as of "
        f"{result.as_of}, families: {', '.join(result.families)}"
    )
    console.print(f"written to feature_snapshots; mlflow run {result.mlflow_run_id}")


def _parse_cutoffs(text: str) -> list[date]:
    try:
        return [date.fromisoformat(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise typer.BadParameter(f"{exc}; give YYYY-MM-DD dates", param_hint="--cutoffs") from exc


@app.command()
def train(
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Labels known up to this date."),
    ] = None,
    target: Annotated[str, typer.Option(help="churn, clv or all.")] = "all",
    trials: Annotated[
        int | None,
        typer.Option(min=1, help="Optuna trials per model (default: training.trials in cvp.toml)."),
    ] = None,
    horizon_days: Annotated[
        int | None,
        typer.Option(min=7, help="Churn/CLV horizon in days (default: training.horizon_days)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default: training.seed).")] = None,
    cutoffs: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated YYYY-MM-DD cutoffs: training..., validation, test "
            "(default: derived from the data, or training.cutoffs)."
        ),
    ] = None,
    force_validation: Annotated[
        bool,
        typer.Option(
            "--force-validation", help="Train despite critical validation failures (recorded)."
        ),
    ] = False,
    label: Annotated[
        str,
        typer.Option(
            help="purchases: churn labelled from the purchase history (needs --as-of); "
            "supplied: the label of an imported snapshot (README, Contractual customers)."
        ),
    ] = "purchases",
) -> None:
    """Tune, train, backtest and register the churn and CLV models (champion/challenger)."""
    from cvp.orchestration.parameters import TrainParameters
    from flows.train import train_flow
    from tasks.training import leaderboard

    if _contract_label(label, as_of):
        if cutoffs or horizon_days or target != "all":
            raise typer.BadParameter(
                "--cutoffs, --horizon-days and --target apply to purchase labels; a snapshot's "
                "split is stratified random ([contract] in cvp.toml)",
                param_hint="--label supplied",
            )
        _train_contract(trials, seed)
        return
    assert as_of is not None

    if target not in ("churn", "clv", "all"):
        raise typer.BadParameter("choose churn, clv or all", param_hint="--target")
    targets = ["churn", "clv"] if target == "all" else [target]
    explicit = _parse_cutoffs(cutoffs) if cutoffs else None
    with _orchestrated():
        result = train_flow(
            TrainParameters(
                as_of=as_of.date(),
                targets=targets,
                trials=trials,
                horizon_days=horizon_days,
                seed=seed,
                cutoffs=explicit,
                force_validation=force_validation,
            )
        )
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
        for note in outcome.notes:
            console.print(f"{outcome.target} {note}", markup=False)
    if result.validation_overridden:
        console.print(
            "[yellow]validation failures were overridden (recorded in MLflow and the audit log)[/yellow]"
        )
    console.print(f"MLflow parent run {result.parent_run_id} (experiment 'training')")


def _contract_label(label: str, as_of: datetime | None) -> bool:
    """True for `--label supplied`; refuses an unknown label or a missing --as-of in one line."""
    if label not in ("purchases", "supplied"):
        raise typer.BadParameter("choose purchases or supplied", param_hint="--label")
    if label == "purchases" and as_of is None:
        raise typer.BadParameter("give the date (YYYY-MM-DD)", param_hint="--as-of")
    return label == "supplied"


def _train_contract(trials: int | None, seed: int | None) -> None:
    from flows.contract import train_contract_flow

    with _orchestrated():
        result = train_contract_flow(trials=trials, seed=seed)
    outcome = result.outcome
    board = Table(title=f"Backtest on a stratified random test part (rows {outcome.rows})")
    for column in ("metric", "lightgbm", "plan baseline"):
        board.add_column(column)
    for metric in ("roc_auc", "pr_auc", "brier"):
        board.add_row(
            metric, f"{outcome.metrics[metric]:.4f}", f"{outcome.baseline_metrics[metric]:.4f}"
        )
    board.add_row(
        "concordance (time to churn)",
        f"{outcome.concordance:.4f}",
        f"{outcome.baseline_concordance:.4f}",
    )
    console.print(board)
    console.print(
        f"features: {len(outcome.features)}; sensitive, for the fairness audit only: "
        f"{', '.join(outcome.sensitive) or 'none'}",
        markup=False,
    )
    console.print(f"cvp-contract-churn v{outcome.version}: {outcome.decision.reason}", markup=False)
    console.print(f"MLflow parent run {result.parent_run_id} (experiment 'training')")


def _score_contract() -> None:
    from flows.contract import score_contract_flow

    with _orchestrated():
        result = score_contract_flow()
    scores = result.scores
    active = scores[scores["status"] == "active"]
    console.print(
        f"{len(scores):,} customers of the snapshot of {result.snapshot_date} scored "
        f"(cvp-contract-churn v{result.version}); {len(active):,} active"
    )
    counts = scores["risk_tier"].value_counts()
    console.print("risk_tier " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    console.print(
        f"active: median expected remaining tenure "
        f"{active['expected_remaining_months'].median():.1f} months, contractual CLV "
        f"{active['contract_clv'].sum():,.0f} in total"
    )
    console.print("written to contract_scores (one set per snapshot date)")


@app.command()
def score(
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Scoring date."),
    ] = None,
    force_validation: Annotated[
        bool,
        typer.Option(
            "--force-validation", help="Score despite critical validation failures (recorded)."
        ),
    ] = False,
    label: Annotated[
        str,
        typer.Option(help="purchases (needs --as-of) or supplied: score the imported snapshot."),
    ] = "purchases",
) -> None:
    """Score every customer with the champion models: risk, value, stage, reasons, action."""
    from flows.score import score_flow

    if _contract_label(label, as_of):
        _score_contract()
        return
    assert as_of is not None

    with _orchestrated():
        result = score_flow(as_of=as_of.date(), force_validation=force_validation)
    scores = result.scores
    console.print(
        f"{len(scores):,} customers scored as of {result.as_of} (churn v{result.models.churn_version}, clv v{result.models.clv_version})"
    )
    for column in ("risk_tier", "value_tier", "lifecycle_stage", "rfm_segment", "next_best_action"):
        counts = scores[column].value_counts()
        console.print(f"{column:<17} " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    from cvp.scoring.summary import alert_line

    console.print(f"alerts            {alert_line(result)}")
    console.print(f"expected loss     {scores['expected_loss'].sum():,.0f} in total")
    if result.consent is not None:
        counts = result.consent.summary()
        console.print(
            f"consent           {counts['profiling_opt_out']:,} profiling opt-outs not scored "
            f"(no prediction, reasons or action stored), {counts['no_marketing_consent']:,} "
            f"without marketing consent (never contacted); see \\[privacy] in cvp.toml"
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
    from cvp.actions.plan_summary import plan_breakdown, stored_plan
    from cvp.config import get_settings
    from cvp.data.warehouse import get_engine

    with _orchestrated():
        totals = plan_flow(as_of=as_of.date(), budget=budget)
    with get_engine(get_settings().warehouse_url).connect() as conn:
        breakdown = plan_breakdown(stored_plan(conn, as_of.date()))
    console.print(_plan_table(breakdown, f"Retention plan as of {as_of.date()}"))
    console.print(
        f"budget {totals.budget:,.2f}: reach {totals.reach:,} customers, control group {totals.control:,} (held out), "
        f"cost {totals.cost:,.2f}, expected saved value {totals.expected_saved_value:,.2f}, ROI {totals.roi:.2f}"
    )
    if totals.reason_empty:
        console.print(f"[yellow]{escape(totals.reason_empty)}[/yellow]")
    if totals.model_note:
        console.print(f"[yellow]{escape(totals.model_note)}[/yellow]")
    console.print("written to retention_plan")


def _plan_table(breakdown, title: str) -> Table:
    """By action and channel: customers contacted, cost, expected saved value, control group."""
    table = Table(title=title)
    table.add_column("action")
    table.add_column("channel")
    for name in ("customers", "cost", "expected saved value", "control group"):
        table.add_column(name, justify="right")
    last = len(breakdown) - 1
    for i, row in enumerate(breakdown.itertuples()):
        table.add_row(
            row.action,
            row.channel,
            f"{row.customers:,}",
            f"{row.cost:,.2f}",
            f"{row.expected_saved_value:,.2f}",
            f"{row.control:,}",
            style="bold" if i == last else None,
            end_section=i == last - 1,
        )
    return table


def _plan_campaign(name: str, as_of, budget: float) -> None:
    from cvp.campaigns.jobs import precheck
    from cvp.campaigns.ledger import CampaignError
    from cvp.config import get_settings
    from flows.campaigns import plan_campaign_flow

    try:
        precheck(get_settings(), name, "plan")
        with _orchestrated():
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
    what: Annotated[str, typer.Argument(help="scores (pseudonymous) or activation (source ids).")],
    as_of: Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"])],
    out: Annotated[Path, typer.Option(help="Output file; .csv or .parquet.")],
    purpose: Annotated[
        str, typer.Option(help="activation: the purpose that allows contact (marketing).")
    ] = "marketing",
) -> None:
    """Export a scored date: `scores` with pseudonymous ids only, or `activation`, the contact
    list for a CRM (source ids, consenting customers only). Every export is audited."""
    from cvp.config import get_settings
    from cvp.jobs.scoring_jobs import export_activation, export_scores

    if what not in ("scores", "activation"):
        raise typer.BadParameter("choose 'scores' or 'activation'", param_hint="WHAT")
    settings = get_settings()
    if what == "scores":
        result = export_scores(settings, as_of.date(), out)
    else:
        result = export_activation(settings, as_of.date(), out, purpose)
    console.print(f"{result.rows:,} rows written to {out} (audit_log run {result.audit_run_id})")
    if result.without_identity:
        console.print(
            f"[yellow]{result.without_identity:,} contactable customers have no source id in "
            "customer_identities and were left out[/yellow]"
        )
    if result.reason_empty:
        console.print(f"[yellow]{escape(result.reason_empty)}[/yellow]")


@app.command()
def forget(
    customer: Annotated[str, typer.Argument(help="Source customer id or pseudonymous id (c_...).")],
) -> None:
    """Erase a customer everywhere and keep a tombstone so re-imports cannot bring them back."""
    from cvp.config import get_settings
    from cvp.jobs.privacy_jobs import run_forget
    from cvp.privacy.erasure import UnknownCustomer

    try:
        report = run_forget(get_settings(), customer)
    except UnknownCustomer as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    state = "was already erased; " if report.already_erased else ""
    tables = ", ".join(f"{t} {n:,}" for t, n in report.rows_deleted.items()) or "none"
    console.print(f"{report.customer_id} {state}rows deleted: {tables}")
    for path in report.files_rewritten:
        console.print(f"export rewritten without them: {path}")
    if report.files_scrubbed:
        console.print(f"reports scrubbed: {len(report.files_scrubbed)} files")
    console.print("tombstone kept in erased_customers; the audit_log row names the pseudonym only")


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
    with _orchestrated():
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
    if result.get("report") is not None:
        console.print(f"report          {Path(result['report']).resolve()} (open in a browser)")
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
        list[str] | None,
        typer.Option("--target", help="train, features, score, plan (repeatable)."),
    ] = None,
    max_concurrency: Annotated[int, typer.Option(min=1, max=8)] = 1,
    force: Annotated[bool, typer.Option(help="Redo dates already done.")] = False,
    trials: Annotated[int, typer.Option(min=1, help="Optuna trials, with --target train.")] = 10,
    budget: Annotated[float, typer.Option(min=0, help="Budget, with --target plan.")] = 10_000.0,
) -> None:
    """Run the backfill flow here (the same flow the `backfill` deployment runs)."""
    from prefect.states import State
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
    with _orchestrated():
        state = backfill_flow(params, return_state=True)
    assert isinstance(state, State)  # a sync flow returns its final state, not an awaitable
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
    from cvp.progress import RichReporter, stage

    settings = get_settings()
    if _prefect is not None and _prefect.mode == "ephemeral":
        console.print(
            "[red]error:[/red] no Prefect server to deploy to: run `cvp server up` first "
            "(or set PREFECT_API_URL to your server)"
        )
        raise typer.Exit(3)
    api = os.environ.get("PREFECT_API_URL") or prefect_api_url(settings.server)
    with RichReporter(console), stage(f"Applying {PREFECT_YAML.name} to {api}"):
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
def server_up(
    host: Annotated[
        str | None,
        typer.Option(
            help="Bind address (default [server] host, 127.0.0.1). Any other address needs "
            "credentials: PREFECT_SERVER_API_AUTH_STRING and MLFLOW_AUTH_ADMIN_USERNAME/PASSWORD."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Also start a Dask scheduler and this many worker processes on 127.0.0.1 "
            "(default [server] dask_workers, 0); jobs with [execution] engine = dask use them.",
        ),
    ] = None,
) -> None:
    """Start the Prefect server, the MLflow server and a process worker (bound to the host)."""
    from cvp.config import get_settings
    from cvp.orchestration.servers import prefect_api_url, up
    from cvp.progress import RichReporter

    settings = get_settings()
    overrides = {
        key: value
        for key, value in (("host", host), ("dask_workers", workers))
        if value is not None
    }
    if overrides:
        settings = settings.model_copy(
            update={"server": settings.server.model_copy(update=overrides)}
        )
    try:
        with RichReporter(console):
            up(settings)
    except (RuntimeError, TimeoutError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    _print_services()
    console.print(
        f"Prefect UI: {prefect_api_url(settings.server).removesuffix('/api')}; every cvp command "
        "run from this folder now reports there (no variable to export); next: cvp deploy"
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
    imported: Annotated[
        bool,
        typer.Option(
            "--imported",
            help="A channel system sent it: launch on its touches already imported with "
            "`cvp ingest marketing_touches` (campaign = NAME) instead of writing them.",
        ),
    ] = False,
) -> None:
    """Launch a planned campaign: write its contacts (and held-out controls) to marketing_touches,
    or adopt a channel system's imported touches; either way reconcile them with the arms."""
    from cvp.campaigns.jobs import precheck
    from cvp.campaigns.ledger import CampaignError
    from cvp.config import get_settings
    from flows.campaigns import launch_flow

    try:
        precheck(get_settings(), name, "launch", imported=imported)
        with _orchestrated():
            touches = launch_flow(
                name=name,
                launch_date=launch_date.date() if launch_date else None,
                imported=imported,
            )
    except CampaignError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"campaign {name} launched; touches in marketing_touches:")
    for line in touches.lines():
        console.print(f"  {line}")


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
        with _orchestrated():
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
        with _orchestrated():
            result = measure_flow(name=name, as_of=as_of.date() if as_of else None)
    except CampaignError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    start, end = result.window
    level = get_settings().campaigns.confidence
    table = Table(title=f"campaign {name}: outcome window {start} to {end} ({level:.0%} intervals)")
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
            "all" if r.segment_type == "overall" else f"{r.segment_type.split('_')[0]}={r.segment}",
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
    console.print("intention to treat: every customer is measured in the arm drawn for them")
    for line in result.touches.lines():
        console.print(f"  {line}")


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
        with _orchestrated():
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
    drift = result.drift
    calendar = (
        set(drift.loc[drift["calendar"].fillna(False).astype(bool), "feature"])
        if not drift.empty
        else set()
    )
    counted = [f for f in result.drifted if f not in calendar]
    console.print(f"drifted features ({len(counted)}): " + (", ".join(counted) or "none"))
    if set(result.drifted) & calendar:
        console.print(
            "drifted with the calendar, not counted: "
            + ", ".join(f for f in result.drifted if f in calendar)
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
def report(
    as_of: Annotated[
        datetime, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Scores date to report on.")
    ],
    out: Annotated[
        Path | None, typer.Option(help="HTML file to write; default reports/report-DATE.html.")
    ] = None,
    customer: Annotated[
        str | None,
        typer.Option(help="Add this customer's profile (source or pseudonymous id)."),
    ] = None,
) -> None:
    """Write the report of a scores date: one HTML page that opens offline."""
    from cvp.config import get_settings
    from cvp.errors import CvpError
    from cvp.jobs.report_jobs import run_report

    try:
        with console.status("Writing the report..."):
            path, data = run_report(get_settings(), as_of.date(), out, customer)
    except CvpError as exc:
        if customer is None:
            raise
        _one_line(str(exc))  # not through the shared path: its log file records argv (PII)
        raise typer.Exit(exc.exit_code) from exc
    h = data.headline
    plan = f"plan cost {h.plan_cost:,.0f}" if h.plan_cost is not None else "no plan yet"
    console.print(
        f"{h.customers_scored:,} customers scored, {100 * h.high_risk_share:.1f}% of the retainable high risk, "
        f"expected loss {h.expected_loss:,.0f}, {plan}"
    )
    console.print(f"report  {path.resolve()} ({path.stat().st_size / 1e6:.1f} MB)")


@app.command()
def customer(
    customer_id: Annotated[str, typer.Argument(help="Source or pseudonymous customer id.")],
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Up to this scores date; default all."),
    ] = None,
) -> None:
    """One customer's profile for a retention agent: scores, reasons, action, consent, history."""
    from cvp.config import get_settings
    from cvp.data.warehouse import get_engine
    from cvp.errors import CvpError
    from cvp.reports.customer import customer_profile, resolve_customer
    from cvp.reports.customer_view import print_profile

    settings = get_settings()
    with get_engine(settings.warehouse_url).connect() as conn:
        try:
            pseudonym = resolve_customer(conn, settings, customer_id)
        except CvpError as exc:  # not through the shared path: its log file records argv (PII)
            _one_line(str(exc))
            raise typer.Exit(exc.exit_code) from exc
        profile = customer_profile(conn, settings, pseudonym, as_of.date() if as_of else None)
    print_profile(console, profile)


@app.command()
def version() -> None:
    """Print the installed version."""
    from importlib.metadata import version as package_version

    console.print(package_version("cvp"))


def main() -> None:
    """The `cvp` console script: every command, successful or not, leaves through
    `_exit_quietly` (exit handlers, then no interpreter teardown)."""
    try:
        app()  # standalone: usage errors and typer.Exit end in SystemExit with their code
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    _exit_quietly(code)


if __name__ == "__main__":
    main()
