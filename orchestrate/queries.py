"""`truffle query`: run a reusable analysis (or a user's SQL file) safely.

The statement is compiled by dbt (refs resolved), checked by the query guard (one read-only
query), checked for cost (refused over the fail threshold unless allowed), then run with its
parameters bound as query parameters, a time limit and a row limit.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrate.analyses import Analysis, ParameterError, load_analyses, resolve_parameters
from orchestrate.console import CliError
from orchestrate.cost import CompiledNode, CostLine, Thresholds, measure
from orchestrate.dbt import run_dbt
from orchestrate.engines import Engine, QueryResult
from orchestrate.guard import check_read_only
from orchestrate.settings import Settings

SALT_VARIABLE = "TRUFFLE_ACTIVATION_SALT"
FORMATS = ("table", "csv", "json", "parquet")


@dataclass
class QueryOutcome:
    result: QueryResult
    cost: CostLine
    parameters: dict[str, object]


def get_analysis(settings: Settings, name: str) -> Analysis:
    analyses = load_analyses(settings.project_dir)
    if name not in analyses:
        known = ", ".join(sorted(analyses)) or "none"
        raise CliError(f"no analysis named {name!r} (available: {known}; see truffle query --list)")
    return analyses[name]


def session_date_range(engine: Engine) -> tuple[dt.date, dt.date]:
    """(oldest, newest) session start date in the warehouse, for relative date defaults."""
    result = engine.run(
        "select min(session_start_date), max(session_start_date) from sessions",
        {},
        [],
        timeout_seconds=30,
        max_rows=1,
    )
    oldest, newest = result.rows[0]
    if oldest is None:
        raise CliError("the warehouse has no sessions yet: build it first (truffle build)")
    return oldest, newest


def compile_analysis(settings: Settings, analysis: Analysis) -> str:
    """The analysis's SQL for the target, compiled by dbt (refs resolved, parameters bound)."""
    target_path = settings.project_dir / "target" / "query"
    run = run_dbt(
        ["compile", "--select", analysis.name], settings, target_path=target_path, quiet=True
    )
    compiled = target_path / "compiled" / "random_truffle" / "analyses" / f"{analysis.name}.sql"
    if not run.success or not compiled.is_file():
        raise CliError(f"dbt could not compile {analysis.name}: {run.failure_report()}", 1)
    return compiled.read_text()


def bind_values(analysis: Analysis, given: dict[str, str], engine: Engine) -> dict[str, object]:
    try:
        values = resolve_parameters(analysis, given, lambda: session_date_range(engine))
    except ParameterError as error:
        raise CliError(str(error)) from None
    for secret in analysis.secret_parameters:
        if secret == "salt":
            salt = os.environ.get(SALT_VARIABLE, "")
            if len(salt) < 8:
                raise CliError(
                    f"{analysis.name} hashes user ids with a secret salt: set {SALT_VARIABLE} "
                    "(at least 8 characters) in the environment; it is never passed as an argument"
                )
            values[secret] = salt
    return values


def run_checked(
    engine: Engine,
    name: str,
    sql: str,
    values: dict[str, object],
    bind_order: list[str],
    *,
    thresholds: Thresholds,
    meta: dict | None,
    allow_expensive: bool,
    timeout_seconds: float,
    max_rows: int,
) -> QueryOutcome:
    """Guard, cost check, then run."""
    check_read_only(sql, engine.name)
    node = CompiledNode(unique_id=name, name=name, kind="analysis", sql=sql, meta=meta or {})
    cost = measure(
        engine, node, thresholds, lambda _: (values, bind_order), timeout_seconds=timeout_seconds
    )
    if cost.status == "fail" and not allow_expensive:
        raise CliError(
            f"{name} would read {cost.megabytes:,.1f} MiB, over the {cost.thresholds.max_mb:g} MiB "
            "limit: narrow it (dates, filters) or pass --allow-expensive",
            exit_code=1,
        )
    if cost.status == "unmeasured":
        raise CliError(f"{name} cannot run: {cost.note}", exit_code=1)
    result = engine.run(sql, values, bind_order, timeout_seconds=timeout_seconds, max_rows=max_rows)
    return QueryOutcome(result=result, cost=cost, parameters=values)


def _plain(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def render(result: QueryResult, output_format: str, output: Path | None) -> str | None:
    """Write the result as csv/json/parquet to `output` (or return the text for stdout)."""
    if output_format == "parquet":
        if output is None:
            raise CliError("--format parquet needs --output FILE")
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = {
            name: [row[index] for row in result.rows] for index, name in enumerate(result.columns)
        }
        pq.write_table(pa.table(columns), output)
        return None
    if output_format == "json":
        text = json.dumps(
            [
                {name: _plain(value) for name, value in zip(result.columns, row, strict=True)}
                for row in result.rows
            ],
            indent=2,
        )
    elif output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([[_plain(value) for value in row] for row in result.rows])
        text = buffer.getvalue()
    else:
        raise CliError(f"unknown format {output_format!r}")
    if output is not None:
        output.write_text(text if text.endswith("\n") else text + "\n")
        return None
    return text


def analysis_parameters_for_cost(
    settings: Settings,
) -> Callable[[CompiledNode], tuple[dict[str, object], list[str]]]:
    """For the cost check: each analysis measured with its default parameters (a throwaway
    salt stands in for the secret one; nothing is shown)."""
    from orchestrate.engines import engine_for

    analyses = load_analyses(settings.project_dir)
    engine = engine_for(settings)

    def parameters(node: CompiledNode) -> tuple[dict[str, object], list[str]]:
        analysis = analyses.get(node.name)
        if analysis is None:
            return {}, []
        values = resolve_parameters(analysis, {}, lambda: session_date_range(engine))
        for secret in analysis.secret_parameters:
            values[secret] = "cost-check-salt"
        return values, analysis.bind_order

    return parameters


def print_catalogue(settings: Settings, name: str | None) -> int:
    """The analyses (or one) with their parameters: name, type, default, description."""
    from rich.table import Table

    from orchestrate.console import console

    analyses = load_analyses(settings.project_dir)
    chosen = [get_analysis(settings, name)] if name else list(analyses.values())
    for analysis in chosen:
        console.print(f"[bold]{analysis.name}[/]  {analysis.description}")
        table = Table(show_header=True, box=None, padding=(0, 2))
        for column in ("parameter", "type", "default", "description"):
            table.add_column(column)
        for parameter in analysis.parameters:
            choices = f" (one of {', '.join(parameter.choices)})" if parameter.choices else ""
            default = parameter.default
            shown = ",".join(default) if isinstance(default, list) else str(default)
            table.add_row(parameter.name, parameter.type, shown, parameter.description + choices)
        console.print(table)
        if analysis.secret_parameters:
            console.print(f"  needs {SALT_VARIABLE} in the environment")
        console.print(
            f"  usage: truffle query {analysis.name}"
            + "".join(f" --param {p.name}=..." for p in analysis.parameters[:2])
            + "\n"
        )
    return 0


def run_command(
    settings: Settings,
    *,
    name: str | None,
    sql_file: Path | None,
    assignments: list[str],
    output_format: str,
    output: Path | None,
    timeout_seconds: float,
    max_rows: int,
    thresholds: Thresholds,
    allow_expensive: bool,
) -> int:
    """`truffle query`: one analysis or one SQL file, guarded, cost-checked, bound, limited."""
    from orchestrate.analyses import parse_assignments
    from orchestrate.console import console, error_console
    from orchestrate.engines import engine_for

    if bool(name) == bool(sql_file):
        raise CliError("give an analysis NAME or --sql FILE (see truffle query --list)")
    engine = engine_for(settings)
    try:
        given = parse_assignments(assignments)
    except ParameterError as error:
        raise CliError(str(error)) from None
    if sql_file is not None:
        if given:
            raise CliError("--param applies to analyses; a --sql file takes no parameters")
        if not sql_file.is_file():
            raise CliError(f"no such SQL file: {sql_file}")
        sql, values, order, meta, label = sql_file.read_text(), {}, [], {}, sql_file.name
    else:
        analysis = get_analysis(settings, name or "")
        values = bind_values(analysis, given, engine)
        sql, order, meta, label = (
            compile_analysis(settings, analysis),
            analysis.bind_order,
            {},
            analysis.name,
        )
    outcome = run_checked(
        engine,
        label,
        sql,
        values,
        order,
        thresholds=thresholds,
        meta=meta,
        allow_expensive=allow_expensive,
        timeout_seconds=timeout_seconds,
        max_rows=max_rows,
    )
    result = outcome.result
    if output_format == "table":
        from rich.table import Table

        table = Table(title=label)
        for column in result.columns:
            table.add_column(column)
        for row in result.rows:
            table.add_row(*["" if value is None else str(_plain(value)) for value in row])
        if output is not None:
            raise CliError("--output needs --format csv, json or parquet")
        console.print(table)
    else:
        text = render(result, output_format, output)
        if text is not None:
            print(text, end="" if text.endswith("\n") else "\n")
    if result.truncated:
        error_console.print(
            f"[yellow]notice:[/] the result was cut at {max_rows:,} rows (--max-rows to change)"
        )
    if output is not None:
        error_console.print(f"{len(result.rows):,} rows written to {output}")
    return 0


def measure_sql_files(
    settings: Settings, files: list[Path], thresholds: Thresholds
) -> list[CostLine]:
    """The cost of ad-hoc SQL files (each must pass the guard first)."""
    from orchestrate.engines import engine_for

    engine = engine_for(settings)
    lines = []
    for path in files:
        if not path.is_file():
            raise CliError(f"no such SQL file: {path}")
        sql = path.read_text()
        check_read_only(sql, engine.name)
        node = CompiledNode(unique_id=str(path), name=path.name, kind="sql", sql=sql, meta={})
        line = measure(engine, node, thresholds)
        if line.status == "unmeasured":  # the engine rejected it: say so, do not list a blank
            raise CliError(f"{path.name} could not be measured: {line.note}", exit_code=1)
        lines.append(line)
    return lines
