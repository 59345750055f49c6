"""The `truffle` command line: thin, it parses options and hands over to one module per command."""

from __future__ import annotations

import datetime as dt
import json
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml
from rich.markup import escape

from orchestrate import __version__
from orchestrate.analyses import ParameterError
from orchestrate.console import (
    CliError,
    OneLineErrors,
    TruffleApp,
    console,
    error_console,
    fail,
    plain,
)
from orchestrate.cost import Thresholds, project_thresholds

if TYPE_CHECKING:
    from orchestrate.build import BuildOutcome
from orchestrate.dbt import DbtUsageError
from orchestrate.engines import DEFAULT_TIMEOUT_SECONDS, QueryFailed, QueryTimeout
from orchestrate.guard import QueryRefused
from orchestrate.settings import Settings

# exit codes: 0 success, 1 the run failed (nodes, tests, cost limit, query error), 2 usage or
# configuration error (bad option, profile, target, export path, refused statement)
USAGE_ERRORS = (DbtUsageError, QueryRefused, ParameterError)
RUN_ERRORS = (QueryFailed, QueryTimeout)

app = TruffleApp(
    name="truffle",
    help="Build, refresh and query the Random Truffle GA4 warehouse (dbt on DuckDB or BigQuery).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=OneLineErrors,
)


class State:
    settings: Settings
    debug: bool = False


state = State()


def _version(value: bool) -> None:
    if value:
        console.print(f"truffle {__version__}")
        raise typer.Exit()


def _parse_vars(text: str | None) -> dict[str, object]:
    if not text:
        return {}
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise typer.BadParameter(f"not YAML/JSON: {error.problem or error}") from error
    if not isinstance(parsed, dict):
        raise typer.BadParameter("must be a mapping, e.g. '{ga4_lookback_days: 5}'")
    return parsed


@app.callback()
def main(
    project_dir: Annotated[
        Path | None, typer.Option(help="The dbt project folder (default: this checkout).")
    ] = None,
    profiles_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder holding profiles.yml [$DBT_PROFILES_DIR, else the project folder]."
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Profile target: duckdb (default) or bigquery.")
    ] = None,
    vars: Annotated[
        str | None,
        typer.Option("--vars", help="dbt variables as YAML/JSON, e.g. '{ga4_lookback_days: 5}'."),
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = None,
) -> None:
    """Global options apply to every command."""
    kwargs: dict[str, object] = {"target": target, "vars": _parse_vars(vars)}
    if project_dir is not None:
        kwargs["project_dir"] = project_dir
    if profiles_dir is not None:
        kwargs["profiles_dir"] = profiles_dir
    state.settings = Settings(**kwargs)  # type: ignore[arg-type]
    state.debug = debug


def _run(action: object) -> None:
    """Run a command body, turning expected failures into one line and an exit code."""
    try:
        code = action()  # type: ignore[operator]
    except (CliError, *USAGE_ERRORS, *RUN_ERRORS) as error:
        if state.debug:
            traceback.print_exc()
        if isinstance(error, CliError):
            exit_code = error.exit_code
        else:
            exit_code = 2 if isinstance(error, USAGE_ERRORS) else 1
        message = str(error) if not isinstance(error, QueryRefused) else f"refused: {error}"
        raise fail(message, exit_code) from None
    except typer.Exit:
        raise
    except Exception as error:  # an unexpected bug: one line, traceback with --debug
        if state.debug:
            traceback.print_exc()
        raise fail(
            f"{type(error).__name__}: {error} (rerun with --debug for a traceback)", 1
        ) from None
    raise typer.Exit(code or 0)


def _parse_date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(
            f"{option} {plain(value, 40)!r} is not a date (YYYY-MM-DD)"
        ) from error


@app.command("demo-data")
def demo_data(
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: the project's export path).")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=3660, help="Export days to write.")] = 14,
    users: Annotated[int, typer.Option(min=1, help="Distinct devices over the period.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 7,
    end_date: Annotated[
        str | None, typer.Option(help="Last export day, YYYY-MM-DD (default: yesterday).")
    ] = None,
    json_days: Annotated[
        int, typer.Option(min=0, help="Oldest days written as BigQuery NDJSON instead of Parquet.")
    ] = 1,
) -> None:
    """Write a deterministic synthetic GA4 export (Parquet + BigQuery NDJSON shards)."""
    from orchestrate.demo import DEMO_TIME_ZONE, write_demo_export, yesterday
    from orchestrate.demo_data import GeneratorConfig

    last = _parse_date(end_date, "--end-date") or yesterday(DEMO_TIME_ZONE)
    target = out.resolve() if out else state.settings.export_path

    def action() -> int:
        config = GeneratorConfig(
            end_date=last, days=days, users=users, seed=seed, json_days=min(json_days, days)
        )
        manifest = write_demo_export(target, config)
        console.print(f"{manifest['raw_rows']:,} rows in {len(manifest['files'])} files.")
        return 0

    _run(action)


@app.command()
def demo(
    days: Annotated[int, typer.Option(min=1, max=3660, help="Export days to generate.")] = 14,
    users: Annotated[int, typer.Option(min=1, help="Distinct devices over the period.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    end_date: Annotated[
        str | None, typer.Option(help="Last export day, YYYY-MM-DD (default: yesterday).")
    ] = None,
) -> None:
    """The main job: generate a GA4 export, build the whole warehouse on DuckDB, print KPIs."""
    from orchestrate.demo import DEMO_TIME_ZONE, run_demo, yesterday
    from orchestrate.demo_data import GeneratorConfig

    last = _parse_date(end_date, "--end-date") or yesterday(DEMO_TIME_ZONE)
    config = GeneratorConfig(
        end_date=last, days=days, users=users, seed=seed, time_zone=DEMO_TIME_ZONE
    )
    _run(lambda: run_demo(state.settings, config))


CostWarn = Annotated[
    float | None, typer.Option("--warn-mb", min=0, help="Warn at this many MiB read [100].")
]
CostMax = Annotated[
    float | None, typer.Option("--max-mb", min=0, help="Refuse at this many MiB read [1024].")
]
AllowExpensive = Annotated[
    bool, typer.Option(help="Run even when a query reads more than the fail threshold.")
]
Select = Annotated[
    list[str] | None, typer.Option("--select", "-s", help="dbt selection (repeatable).")
]
QueryTimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0.1,
        max=86_400,
        help="Seconds before a query (and its cost measurement) is cancelled.",
    ),
]
MemoryLimit = Annotated[
    str | None,
    typer.Option(
        help="Memory cap of a query's connection, e.g. 512MB or 4GB "
        "[$TRUFFLE_QUERY_MEMORY_LIMIT, else 2GB]."
    ),
]
AllowDeletes = Annotated[
    bool,
    typer.Option(
        help="Let retention and erasure delete rows of the newest 30 days or over 25% of a "
        "table (refused otherwise)."
    ),
]
FullChecks = Annotated[
    bool,
    typer.Option(
        help="Run the data tests and monitors over the whole history (an incremental run "
        "checks its window; a full refresh always checks everything)."
    ),
]
JsonOutput = Annotated[
    bool, typer.Option("--json", help="Print the result as JSON on stdout (dbt quiet).")
]
PropertyIds = Annotated[
    list[str] | None,
    typer.Option(
        "--property",
        help="Refresh only this GA4 property (repeat for several; default: every property "
        "declared in ga4_properties). The other properties' days are left as stored.",
    ),
]
RunDate = Annotated[
    str | None,
    typer.Option(
        help="The run date, YYYY-MM-DD (default: today in the property time zone; a future "
        "date is refused)."
    ),
]


def _thresholds(warn_mb: float | None, max_mb: float | None) -> Thresholds:

    return project_thresholds(state.settings.project_dir, warn_mb, max_mb)


def _build_thresholds(warn_mb: float | None, max_mb: float | None) -> Thresholds | None:
    """The cost limits of a building command, or None when it skips the check (DuckDB with
    no limit asked for: build.wants_cost_check)."""
    from orchestrate.build import wants_cost_check

    thresholds = _thresholds(warn_mb, max_mb)
    explicit = warn_mb is not None or max_mb is not None or thresholds != Thresholds()
    return thresholds if wants_cost_check(state.settings, explicit) else None


@app.command()
def build(
    select: Select = None,
    full_refresh: Annotated[
        bool, typer.Option(help="Rebuild incremental models from the whole export.")
    ] = False,
    run_date: RunDate = None,
    warn_mb: CostWarn = None,
    max_mb: CostMax = None,
    allow_expensive: AllowExpensive = False,
    allow_deletes: AllowDeletes = False,
    full_checks: FullChecks = False,
    json_output: JsonOutput = False,
) -> None:
    """Cost check, then dbt build (seeds, models, data and unit tests) with a summary.

    Exit 0 when everything passed, 1 when nodes failed (a refused delete included) or a model
    is over the cost limit, 2 for usage or configuration errors (a future run date)."""
    from orchestrate.build import build as run_build

    day = _parse_date(run_date, "--run-date")

    def action() -> int:
        outcome = run_build(
            state.settings,
            select=select,
            full_refresh=full_refresh,
            run_date=day,
            thresholds=_build_thresholds(warn_mb, max_mb),
            allow_expensive=allow_expensive,
            allow_deletes=allow_deletes,
            full_checks=full_checks,
            quiet=json_output,
        )
        return _finish_build(outcome, json_output)

    _run(action)


def _finish_build(outcome: BuildOutcome, json_output: bool = False) -> int:
    """Print the build summary (or JSON); failing nodes end the command with exit code 1."""
    from orchestrate.build import print_summary
    from orchestrate.nightly import summarize

    if json_output:
        summary = summarize(outcome)
        summary["success"] = not outcome.failures
        print(json.dumps(summary, indent=2, default=str))
        return 1 if outcome.failures else 0
    print_summary(outcome)
    if outcome.failures:
        raise CliError(outcome.failure_report(), exit_code=1)
    return 0


@app.command()
def nightly(
    run_date: Annotated[
        str | None,
        typer.Option(
            help="Pretend today is this date, YYYY-MM-DD (default: today in the "
            "property time zone; a future date is refused)."
        ),
    ] = None,
    catch_up: Annotated[
        bool,
        typer.Option(
            help="After missed nights, re-process every day since the last successful run "
            "(the newest day in the warehouse) in one build."
        ),
    ] = True,
    summary: Annotated[
        Path | None,
        typer.Option(help="Where to write the JSON run summary [target/nightly_summary.json]."),
    ] = None,
    warn_mb: CostWarn = None,
    max_mb: CostMax = None,
    allow_expensive: AllowExpensive = False,
    allow_deletes: AllowDeletes = False,
    full_checks: FullChecks = False,
    json_output: JsonOutput = False,
    report: Annotated[
        Path | None,
        typer.Option(help="After a successful run, write the HTML report (last 30 days) here."),
    ] = None,
    property_ids: PropertyIds = None,
) -> None:
    """The scheduled refresh: freshness check, incremental build of the window (or of every
    day since the last run), tests, cost summary, JSON run summary. A failed freshness check
    turns retention and erasure off for the run. Exit non-zero when anything failed."""
    from orchestrate.build import print_summary
    from orchestrate.nightly import nightly as run_nightly

    day = _parse_date(run_date, "--run-date")

    def action() -> int:
        code, result = run_nightly(
            state.settings,
            _build_thresholds(warn_mb, max_mb),
            run_date=day,
            allow_expensive=allow_expensive,
            allow_deletes=allow_deletes,
            catch_up=catch_up,
            full_checks=full_checks,
            summary_path=summary,
            quiet=json_output,
            property_ids=property_ids,
        )
        outcome = result.pop("outcome", None)
        if code == 0 and report is not None:
            _write_nightly_report(report, _thresholds(warn_mb, max_mb), json_output)
        if json_output:
            print(json.dumps(result, indent=2, default=str))
            return code
        if outcome is not None:
            print_summary(outcome)
        for failure in result.get("failures", []):
            error_console.print(
                f"[red]failed:[/] {escape(str(failure['node']))}: "
                f"{escape(str(failure.get('message')))}"
            )
        path = summary or state.settings.project_dir / "target" / "nightly_summary.json"
        console.print(f"Run summary: {path}")
        return code

    _run(action)


def _write_nightly_report(path: Path, thresholds: Thresholds, quiet: bool) -> None:
    from orchestrate.report import write_report

    written = write_report(state.settings, output=path, thresholds=thresholds)
    if not quiet:
        console.print(f"Report: {written}")


@app.command()
def backfill(
    start: Annotated[str, typer.Option(help="First day to re-process, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last day to re-process, YYYY-MM-DD.")],
    warn_mb: CostWarn = None,
    max_mb: CostMax = None,
    allow_expensive: AllowExpensive = False,
    allow_deletes: AllowDeletes = False,
    full_checks: FullChecks = False,
    json_output: JsonOutput = False,
    property_ids: PropertyIds = None,
) -> None:
    """Re-process exactly a date range (late or corrected export days), without a full
    refresh; sessions touching the range are rebuilt whole."""
    from orchestrate.nightly import backfill as run_backfill

    first, last = _parse_date(start, "--start"), _parse_date(end, "--end")

    def action() -> int:
        assert first is not None and last is not None
        outcome = run_backfill(
            state.settings,
            _build_thresholds(warn_mb, max_mb),
            first,
            last,
            allow_expensive=allow_expensive,
            allow_deletes=allow_deletes,
            full_checks=full_checks,
            quiet=json_output,
            property_ids=property_ids,
        )
        return _finish_build(outcome, json_output)

    _run(action)


@app.command("compile")
def compile_(
    target: Annotated[
        str | None,
        typer.Option(help="Profile target (overrides the global --target): duckdb or bigquery."),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            help="BigQuery without credentials or network: render every model (full and "
            "incremental form) and analysis, then run Google's GoogleSQL analyzer on each."
        ),
    ] = False,
    analyze: Annotated[
        bool, typer.Option(help="With --offline: analyze the rendered SQL (default on).")
    ] = True,
    out: Annotated[
        Path | None,
        typer.Option(help="Where to write the SQL [target/bigquery with --offline, else target]."),
    ] = None,
) -> None:
    """Compile the SQL of every model and analysis for the target's engine.

    `truffle compile --target bigquery --offline` proves the BigQuery side with no account:
    exit 1 if any statement fails to render or to analyze (model name and the analyzer's
    message), 2 for usage errors."""
    from orchestrate.compile import compile_command

    if target is not None:
        state.settings.target = target

    _run(lambda: compile_command(state.settings, offline=offline, analyze=analyze, out_dir=out))


@app.command()
def cost(
    select: Select = None,
    sql: Annotated[
        list[Path] | None,
        typer.Option("--sql", help="Also measure this SQL file (one read-only query; repeatable)."),
    ] = None,
    warn_mb: CostWarn = None,
    max_mb: CostMax = None,
    timeout: QueryTimeoutOption = DEFAULT_TIMEOUT_SECONDS,
    memory_limit: MemoryLimit = None,
    nightly: Annotated[
        bool,
        typer.Option(
            "--nightly",
            help="List every statement the next nightly sends (models, MERGE / delete+insert, "
            "hooks, data tests) with the partitioned tables it reads, the days it reads of "
            "each and its bytes (DuckDB: measured on a scratch copy; BigQuery: the offline "
            "capture, dry-run bytes with an account); flag reads outside the window ±1 day.",
        ),
    ] = False,
    run_date: RunDate = None,
    markdown: Annotated[
        bool,
        typer.Option(
            "--markdown", help="With --nightly: the README's table of what a nightly reads."
        ),
    ] = False,
    every_path: Annotated[
        bool,
        typer.Option(
            "--every-path",
            help="With --nightly on BigQuery: capture a night on which every path runs (a new "
            "erasure request, rows past every retention cutoff) instead "
            "of an ordinary night.",
        ),
    ] = False,
    json_output: JsonOutput = False,
) -> None:
    """What each selected model and analysis (and --sql file) would read, sorted, marked
    ok / warn / fail.

    DuckDB: measured by DuckDB's profiler running the query read-only. BigQuery: a dry-run
    job. Exit 1 if any is over the fail threshold. With --nightly: the next nightly's
    statements and the days each reads (exit 0; the flags are information)."""
    from orchestrate.build import check_costs, print_costs, require_warehouse
    from orchestrate.queries import analysis_parameters_for_cost, measure_sql_files

    day = _parse_date(run_date, "--run-date")

    def action() -> int:
        if every_path and not nightly:
            raise CliError("--every-path goes with --nightly: add --nightly, or drop it.")
        if nightly:
            from orchestrate.audit import markdown as audit_markdown
            from orchestrate.audit import nightly_audit, print_audit

            audit = nightly_audit(
                state.settings, day, night="every path" if every_path else "ordinary"
            )
            if json_output:
                print(json.dumps(audit, indent=2))
            elif markdown:
                print(audit_markdown(audit))
            else:
                print_audit(audit)
            return 0
        thresholds = _thresholds(warn_mb, max_mb)
        require_warehouse(state.settings)
        lines = []
        if select or not sql:
            lines = check_costs(
                state.settings,
                thresholds,
                select=select,
                resource_types=("model", "analysis"),
                parameters=analysis_parameters_for_cost(state.settings),
            )
        lines = lines + measure_sql_files(
            state.settings,
            sql or [],
            thresholds,
            timeout_seconds=timeout,
            memory_limit=memory_limit,
        )
        lines.sort(key=lambda line: (-(line.bytes_read or -1), line.name))
        failing = [line for line in lines if line.status == "fail"]
        if json_output:
            document = {"costs": [line.as_dict() for line in lines], "success": not failing}
            print(json.dumps(document, indent=2))
            return 1 if failing else 0
        print_costs(lines)
        if failing:
            raise CliError(
                f"{len(failing)} over the fail threshold: "
                + ", ".join(line.name for line in failing),
                exit_code=1,
            )
        return 0

    _run(action)


QueryProperty = Annotated[
    str | None,
    typer.Option(
        "--property",
        help="Read only this GA4 property's rows (DuckDB; a relation without a property_id "
        "that holds every property's rows is refused) [every property].",
    ),
]


@app.command(context_settings={"help_option_names": []})
def query(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="The analysis to run (see --list).")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="key=value (repeatable).")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="table, csv, json or parquet.")
    ] = "table",
    output: Annotated[Path | None, typer.Option(help="Write the result to this file.")] = None,
    sql: Annotated[
        Path | None, typer.Option(help="Run this SQL file instead (one read-only query).")
    ] = None,
    list_analyses: Annotated[
        bool, typer.Option("--list", help="List the analyses and their parameters.")
    ] = False,
    timeout: QueryTimeoutOption = DEFAULT_TIMEOUT_SECONDS,
    memory_limit: MemoryLimit = None,
    max_rows: Annotated[
        int, typer.Option(min=1, help="Stop the result at this many rows.")
    ] = 10_000,
    warn_mb: CostWarn = None,
    max_mb: CostMax = None,
    allow_expensive: AllowExpensive = False,
    property_id: QueryProperty = None,
    show_help: Annotated[
        bool, typer.Option("--help", help="Show this help (with NAME: the analysis's parameters).")
    ] = False,
) -> None:
    """Run a reusable analysis from analyses/ (or --sql FILE) with bound parameters.

    Examples: truffle query get_session_trends --param grain=week;
    truffle query get_conversion_funnel -p steps=view_item,add_to_cart,purchase --format csv"""
    from orchestrate import queries

    if show_help and not name:
        console.print(ctx.get_help())
        raise typer.Exit(0)

    def action() -> int:
        if output_format not in queries.FORMATS:
            raise CliError(f"--format must be one of {', '.join(queries.FORMATS)}")
        if list_analyses or (show_help and name):
            return queries.print_catalogue(state.settings, name if show_help else None)
        return queries.run_command(
            state.settings,
            name=name,
            sql_file=sql,
            assignments=param or [],
            output_format=output_format,
            output=output,
            timeout_seconds=timeout,
            max_rows=max_rows,
            thresholds=_thresholds(warn_mb, max_mb),
            allow_expensive=allow_expensive,
            memory_limit=memory_limit,
            property_id=property_id,
        )

    _run(action)


ReportOutput = Annotated[
    Path | None, typer.Option(help="The HTML file to write [target/report.html].")
]


@app.command()
def report(
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD (with --end).")] = None,
    end: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD (with --start).")] = None,
    last: Annotated[
        int | None,
        typer.Option(help="The last 7, 30 or 90 days to the newest session day [30]."),
    ] = None,
    currency: Annotated[
        str, typer.Option(help="Reporting currency of the revenue: USD, MXN or COP.")
    ] = "USD",
    output: ReportOutput = None,
    timeout: QueryTimeoutOption = DEFAULT_TIMEOUT_SECONDS,
    memory_limit: MemoryLimit = None,
    warn_mb: CostWarn = None,
    max_mb: CostMax = None,
    allow_expensive: AllowExpensive = False,
    property_id: QueryProperty = None,
) -> None:
    """Write one self-contained HTML report (KPI cards, charts, data-quality notes) of the
    built warehouse (every property, or --property ID); every figure is an analysis run as
    `truffle query` runs it."""
    from orchestrate.report import write_report

    def action() -> int:
        path = write_report(
            state.settings,
            start=start,
            end=end,
            last=last,
            currency=currency,
            output=output,
            thresholds=_thresholds(warn_mb, max_mb),
            allow_expensive=allow_expensive,
            timeout_seconds=timeout,
            memory_limit=memory_limit,
            property_id=property_id,
        )
        console.print(f"Report: {path}")
        return 0

    _run(action)


if __name__ == "__main__":  # pragma: no cover
    app()
