"""`truffle build`: the cost check, then dbt build with dbt's per-node progress, then a summary."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import duckdb
from rich.table import Table

from orchestrate.accounting import accounting_by_property, print_accounting, row_accounting
from orchestrate.console import CliError, console, error_console, plain, print_table
from orchestrate.cost import CostLine, Thresholds, compiled_nodes, measure, sort_lines
from orchestrate.dbt import DbtRun, DbtUsageError, NodeResult, check_project, run_dbt
from orchestrate.engines import engine_for, target_type
from orchestrate.properties import declared_properties
from orchestrate.run_dates import (
    SHARD_NAMES,
    export_files,
    newest_loaded_day,
    pinned_vars,
    resolve_run_date,
    unreadable_parquet,
    validate_vars,
)
from orchestrate.settings import Settings


def require_export(settings: Settings, *, report_unread: bool = True) -> list[str]:
    """On DuckDB the export is a folder of files per property: say so plainly when one is
    missing or empty (after the project and profile checks: configuration first). Each other
    file of a folder (not a GA4 export file name) is named on one line, as not read; returns
    them."""
    check_project(settings)
    if target_type(settings) != "duckdb":
        return []
    unread_names: list[str] = []
    for prop in declared_properties(settings):
        folder = prop.export_path or settings.export_path
        read, unread = export_files(folder)
        if report_unread:
            for path in unread:
                error_console.print(
                    f"not read: {plain(path.name)} (not a GA4 export file: {SHARD_NAMES})"
                )
        for path in read:
            if reason := unreadable_parquet(path):
                raise DbtUsageError(
                    f"export file {path} cannot be read: {reason}. Export the day again, or "
                    "move the file out of the export folder"
                )
        if not read:
            where = (
                f"the export_path of property {prop.property_id} in ga4_properties"
                if prop.declared
                else "the variable ga4_export_path at your export folder (--vars "
                "'{ga4_export_path: ...}')"
            )
            raise DbtUsageError(
                "No GA4 export files (events_YYYYMMDD.parquet / .json / .ndjson) found in "
                f"'{folder}'. Point {where}, or run `truffle demo-data` to generate one."
            )
        unread_names += [path.name for path in unread]
    return unread_names


class WarehouseMissing(CliError):
    """The DuckDB warehouse file is not there yet (exit code 2)."""


def require_warehouse(settings: Settings) -> None:
    """On DuckDB, the warehouse file exists (else one line: WarehouseMissing)."""
    if target_type(settings) == "duckdb" and not settings.warehouse_path.is_file():
        raise WarehouseMissing(
            f"the warehouse {settings.warehouse_path} does not exist yet: nothing to measure "
            "against; build it first (truffle build)"
        )


def wants_cost_check(settings: Settings, explicit: bool) -> bool:
    """Whether a build measures its models first. BigQuery: always (a free dry run per
    model). DuckDB: only when a limit was asked for (`explicit`: --warn-mb / --max-mb or the
    project's truffle_cost_* variables), as measuring there runs every model's query once
    more before the build runs it again; `truffle cost` measures on demand."""
    return explicit or target_type(settings) != "duckdb"


@dataclass(frozen=True)
class Restatement:
    """Days built again after a run (restate), and the run that built them."""

    start: dt.date
    end: dt.date
    run: DbtRun

    @property
    def models(self) -> int:
        return sum(1 for r in self.run.results if r.resource_type == "model")

    @property
    def models_built(self) -> int:
        return sum(1 for r in self.run.results if r.resource_type == "model" and not r.failed)

    def as_dict(self) -> dict[str, object]:
        """For --json: the days, what the run built, its tests and its row accounting."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "models": self.models,
            "models_built": self.models_built,
            "tests": tests_by_outcome(self.run),
            "accounting": row_accounting(self.run),
            "accounting_by_property": accounting_by_property(self.run),
        }


def tests_by_outcome(run: DbtRun) -> dict[str, int]:
    """A run's data and unit tests by outcome."""
    tests = [r for r in run.results if r.resource_type in ("test", "unit_test")]
    return {
        "passed": sum(1 for r in tests if r.status == "pass"),
        "warned": sum(1 for r in tests if r.status == "warn"),
        "failed": sum(1 for r in tests if r.failed),
    }


@dataclass
class BuildOutcome:
    run: DbtRun
    costs: list[CostLine] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    unread_files: list[str] = field(default_factory=list)
    # the runs that built again the days the run found counting a transaction first sent
    # earlier (restate)
    restatements: list[Restatement] = field(default_factory=list)

    @property
    def runs(self) -> list[DbtRun]:
        return [self.run, *(restated.run for restated in self.restatements)]

    @property
    def failures(self) -> list[NodeResult]:
        return [failure for run in self.runs for failure in run.failures]

    def failure_report(self) -> str:
        return "\n".join(run.failure_report() for run in self.runs if run.failures)


def check_costs(
    settings: Settings,
    thresholds: Thresholds,
    *,
    select: list[str] | None = None,
    resource_types: tuple[str, ...] = ("model",),
    extra_vars: dict[str, object] | None = None,
    parameters=None,
) -> list[CostLine]:
    """Compile the selection and measure each model (and analysis) it contains. On DuckDB a
    warehouse that does not exist yet is one line (WarehouseMissing), not a Catalog Error per
    model."""
    require_warehouse(settings)
    target_path = settings.project_dir / "target" / "cost"
    args = ["compile"]
    if select:
        args += ["--select", *select]
    run = run_dbt(args, settings, target_path=target_path, extra_vars=extra_vars, quiet=True)
    ids = [result.unique_id for result in run.results]
    nodes = [node for node in compiled_nodes(target_path, ids) if node.kind in resource_types]
    engine = engine_for(settings)
    lines = []
    for node in nodes:
        lines.append(measure(engine, node, thresholds, parameters))
    return sort_lines(lines)


def refuse_expensive(lines: list[CostLine]) -> None:
    failing = [line for line in lines if line.status == "fail"]
    if failing:
        names = ", ".join(f"{line.name} ({line.megabytes:,.1f} MiB)" for line in failing)
        raise CliError(
            f"over the cost limit: {names}. Narrow the selection or the window, raise the limit "
            "(--max-mb, or meta cost_max_mb on the model), or pass --allow-expensive",
            exit_code=1,
        )


def model_row_counts(settings: Settings, run: DbtRun) -> dict[str, int]:
    """Rows in each table the run built (DuckDB: counted; BigQuery: as dbt reports them)."""
    counts: dict[str, int] = {}
    built = [r for r in run.results if r.resource_type == "model" and r.status == "success"]
    if target_type(settings) != "duckdb":
        return {r.name: r.rows_affected for r in built if r.rows_affected is not None}
    manifest_path = run.target_path / "manifest.json"
    if not built or not manifest_path.is_file() or not settings.warehouse_path.is_file():
        return counts
    import json

    nodes = json.loads(manifest_path.read_text())["nodes"]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        for result in built:
            node = nodes.get(result.unique_id) or {}
            relation = node.get("relation_name")
            if relation and node.get("config", {}).get("materialized") != "view":
                counts[node["name"]] = connection.execute(
                    f"select count(*) from {relation}"
                ).fetchall()[0][0]
    return counts


def build(
    settings: Settings,
    *,
    select: list[str] | None = None,
    full_refresh: bool = False,
    run_date: dt.date | None = None,
    extra_vars: dict[str, object] | None = None,
    thresholds: Thresholds | None = None,
    allow_expensive: bool = False,
    allow_deletes: bool = False,
    skip_deletes: bool = False,
    full_checks: bool = False,
    quiet: bool = False,
) -> BuildOutcome:
    """Cost check (unless no thresholds), then `dbt build` on the selection, with the run's
    dates resolved once and pinned (run_dates.pinned_vars). Data tests check the window on
    incremental runs, the whole history on a full refresh or with `full_checks`."""
    check_project(settings)
    validate_vars(settings)
    unread = require_export(settings)
    run_date = resolve_run_date(settings, run_date)
    variables = pinned_vars(
        settings, run_date, allow_deletes=allow_deletes, skip_deletes=skip_deletes
    )
    if full_checks:
        variables["ga4_full_checks"] = True
    if full_refresh or first_build(settings):
        variables["ga4_account_all_days"] = True  # the row accounting covers every day read
    variables.update(extra_vars or {})
    costs: list[CostLine] = []
    if thresholds is not None:
        if not quiet:
            console.print("Checking what each model would read...")
        try:
            costs = check_costs(settings, thresholds, select=select, extra_vars=variables)
        except WarehouseMissing:
            if not quiet:
                console.print("Cost check skipped: a first build (no warehouse to measure yet).")
        if not allow_expensive:
            refuse_expensive(costs)
    args = ["build"]
    if select:
        args += ["--select", *select]
    if full_refresh:
        args.append("--full-refresh")
    run = run_dbt(args, settings, extra_vars=variables, quiet=quiet)
    refuse_unreadable_file(settings, run)
    restatements = [] if full_refresh else restate(settings, run, args, variables, quiet=quiet)
    return BuildOutcome(
        run=run,
        costs=costs,
        rows=model_row_counts(settings, run),
        unread_files=unread,
        restatements=restatements,
    )


def restate(
    settings: Settings,
    run: DbtRun,
    args: list[str],
    variables: dict[str, object],
    *,
    quiet: bool = False,
) -> list[Restatement]:
    """Build again the days whose conversions count a transaction this run found first sent
    earlier (a late export day backfilled: int_transactions_counted.restated_from_date), each
    range of consecutive days as a backfill of it, so that the conversions, the sessions'
    revenue and the users' state all follow, as a full build counts them."""
    if run.failures or not run.restated:
        return []
    days = sorted(dt.date.fromisoformat(day) for day in run.restated)
    ranges: list[list[dt.date]] = []
    for day in days:
        if ranges and (day - ranges[-1][1]).days == 1:
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    runs = []
    for start, end in ranges:
        if not quiet:
            console.print(
                f"Restating {start} .. {end}: transactions counted there were first sent "
                "earlier (found by this run); building those days again"
            )
        restating = {
            **variables,
            "ga4_backfill_start_date": start.isoformat(),
            "ga4_backfill_end_date": end.isoformat(),
        }
        # the days were built before: "today" is at least their last
        restating["ga4_run_date"] = max(str(variables["ga4_run_date"]), end.isoformat())
        runs.append(
            Restatement(start, end, run_dbt(args, settings, extra_vars=restating, quiet=quiet))
        )
    return runs


def refuse_unreadable_file(settings: Settings, run: DbtRun) -> None:
    """An export file damaged inside (its Parquet frame intact, so not caught up front) fails
    staging with the engine naming it: say so in one line, as for a truncated file (exit 2),
    rather than as a failed node."""
    import re

    folders = tuple(
        str(prop.export_path or settings.export_path) for prop in declared_properties(settings)
    )
    for result in run.failures:
        message = " ".join((result.message or "").split())
        match = re.search(r"""["']([^"']+)["']""", message)
        if result.name == "stg_ga4__events" and match and match.group(1).startswith(folders):
            kind = re.search(r"(IO Error|Invalid Input Error|Invalid Error)[^:]*: [^\"']*", message)
            reason = kind.group(0).strip() if kind else "the engine cannot read it"
            raise DbtUsageError(
                f"export file {match.group(1)} cannot be read ({reason.rstrip(' :')}). Export the "
                "day again, or move the file out of the export folder"
            )


def first_build(settings: Settings) -> bool:
    """No events mart yet: this build reads every export day."""
    from orchestrate.engines import QueryFailed

    try:
        return newest_loaded_day(settings) is None
    except QueryFailed:  # a BigQuery warehouse it cannot ask: the usual window
        return False


def print_summary(outcome: BuildOutcome) -> None:
    """A table per resource type (models, tests, seeds): how many ran, by status, rows, time;
    then the cost of each model."""
    run = outcome.run
    table = Table(title="dbt build summary")
    for column in ("resource", "total", "ok", "warn", "fail/error", "skipped", "rows", "seconds"):
        table.add_column(column, justify="left" if column == "resource" else "right")
    by_type: dict[str, list] = {}
    for result in run.results:
        by_type.setdefault(result.resource_type, []).append(result)
    for resource_type, results in sorted(by_type.items()):
        statuses = Counter(result.status for result in results)
        rows = sum(outcome.rows.get(result.name, 0) for result in results)
        if resource_type == "seed":
            rows = sum(result.rows_affected or 0 for result in results)
        table.add_row(
            resource_type,
            str(len(results)),
            str(statuses["success"] + statuses["pass"]),
            str(statuses["warn"]),
            str(sum(statuses[s] for s in ("error", "fail", "runtime error"))),
            str(statuses["skipped"]),
            f"{rows:,}" if resource_type in ("model", "seed") else "",
            f"{sum(result.execution_time for result in results):.1f}",
        )
    print_table(table)
    for restated in outcome.restatements:
        tests = tests_by_outcome(restated.run)
        console.print(
            f"Restated {restated.start} .. {restated.end}: "
            f"{restated.models_built} of {restated.models} models built again; tests "
            f"{tests['passed']} passed, {tests['warned']} warned, {tests['failed']} failed"
        )
    print_deletions([deletion for run in outcome.runs for deletion in run.deletions])
    print_accounting(row_accounting(outcome.run))
    for property_id, accounted in accounting_by_property(outcome.run).items():
        print_accounting(accounted, title=f"export rows of property {property_id} (per export day)")
    for restated in outcome.restatements:
        print_accounting(
            row_accounting(restated.run),
            title=f"export rows accounted for (restated {restated.start} .. {restated.end})",
        )
    if outcome.costs:
        print_costs(outcome.costs, title="cost check (before the build)")


def print_deletions(deletions: list[dict[str, object]]) -> None:
    """What each destructive step removed (or was refused, or skipped), per table."""
    if not deletions:
        console.print("Destructive steps: nothing deleted (no rows past retention, no erasure).")
        return
    table = Table(title="destructive steps")
    for column in ("table", "step", "rows removed", "of rows", "days", "status"):
        table.add_column(column, justify="right" if "rows" in column else "left")
    for item in deletions:
        status = "refused" if item.get("refused") else "skipped" if item.get("skipped") else "done"
        removed = 0 if status != "done" else item.get("rows", 0)
        days = f"{item['first_day']} to {item['last_day']}" if item.get("first_day") else ""
        table.add_row(
            str(item.get("table")),
            str(item.get("step")),
            f"{removed:,}",
            f"{item['table_rows']:,}" if item.get("table_rows") is not None else "",
            days,
            status,
        )
    print_table(table)


def print_costs(lines: list[CostLine], title: str = "cost") -> None:
    table = Table(title=title)
    for column in ("node", "kind", "MiB read", "status", "warn / fail at", "note"):
        table.add_column(column, justify="right" if column == "MiB read" else "left")
    colours = {"ok": "green", "warn": "yellow", "fail": "red", "unmeasured": "dim"}
    for line in lines:
        table.add_row(
            line.name,
            line.kind,
            "" if line.megabytes is None else f"{line.megabytes:,.2f}",
            f"[{colours[line.status]}]{line.status}[/]",
            f"{line.thresholds.warn_mb:g} / {line.thresholds.max_mb:g}",
            line.note,
        )
    print_table(table)
