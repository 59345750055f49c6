"""`truffle query`: run a reusable analysis (or a user's SQL file) safely.

The statement is compiled by dbt (refs resolved) once and cached under
target/query_cache/ (compiled apart from the warehouse, so no query ever takes the
warehouse's write lock), checked by the query guard (one read-only query over the
warehouse's relations), checked for cost on the same guarded connection it then runs on
(refused over the fail threshold unless allowed), then run with its parameters bound as query
parameters, one time limit, a memory cap and a row limit.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import decimal
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrate.analyses import Analysis, ParameterError, load_analyses, resolve_parameters
from orchestrate.console import CliError, plain, print_table
from orchestrate.cost import CompiledNode, CostLine, Thresholds, measure
from orchestrate.dbt import run_dbt
from orchestrate.engines import DEFAULT_TIMEOUT_SECONDS, Engine, QueryResult, profile_target
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
        raise CliError(
            f"no analysis named {name[:60]!r} (available: {known}; see truffle query --list)"
        )
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


PARSE_STATE = "partial_parse.msgpack"  # dbt's saved parse, kept in the cache between compiles
CACHE_INPUTS = ("analyses", "macros", "models", "seeds", "dbt_project.yml", "packages.yml")


def _compile_key(settings: Settings) -> str:
    """What the compiled SQL depends on: the project's files, the variables and the target's
    connection (for DuckDB, the warehouse's catalog name: its file name)."""
    digest = hashlib.sha256()
    for entry in CACHE_INPUTS:
        path = settings.project_dir / entry
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                digest.update(str(file.relative_to(settings.project_dir)).encode())
                digest.update(hashlib.sha256(file.read_bytes()).digest())
    assert settings.profiles_dir is not None
    output = dict(profile_target(settings.profiles_dir, settings.target_name))
    if output.get("type") == "duckdb":
        output["path"] = settings.warehouse_path.stem
    identity = [settings.target_name, output, settings.dbt_vars()]
    digest.update(json.dumps(identity, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:20]


def compile_analysis(settings: Settings, analysis: Analysis) -> str:
    """The analysis's SQL for the target (refs resolved, parameters as placeholders), from
    target/query_cache/ when the project files, variables and target are those it was compiled
    for. Otherwise dbt compiles every analysis in one invocation (one project parse, the slow
    part, itself partial from the previous compile's parse state) and caches them all, so only
    the first query after a change waits for dbt. dbt compiles against a stand-in of the
    warehouse (a path of the same file name under the cache, which `compile
    --no-populate-cache` never opens), so it never opens, let alone locks, the real one."""
    cache = settings.project_dir / "target" / "query_cache"
    key = _compile_key(settings)
    cached = cache / f"{analysis.name}-{key}.sql"
    if cached.is_file():
        return cached.read_text()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="compile-", dir=cache) as folder:
        scratch = Path(folder)
        # one stand-in path for every compile: dbt's partial parse state stays valid across them
        stand_in = dataclasses.replace(
            settings, duckdb_path=cache / "stand_in" / settings.warehouse_path.name
        )
        target_path = scratch / "target"
        parse_state = cache / PARSE_STATE
        if parse_state.is_file():
            target_path.mkdir()
            with contextlib.suppress(OSError):
                shutil.copyfile(parse_state, target_path / PARSE_STATE)
        run = run_dbt(
            ["compile", "--select", "resource_type:analysis", "--no-populate-cache"],
            stand_in,
            target_path=target_path,
            quiet=True,
        )
        compiled_dir = target_path / "compiled" / "random_truffle" / "analyses"
        if not run.success or not (compiled_dir / f"{analysis.name}.sql").is_file():
            raise CliError(f"dbt could not compile {analysis.name}: {run.failure_report()}", 1)
        for compiled in sorted(compiled_dir.glob("*.sql")):
            partial = scratch / f"{compiled.stem}.partial"
            partial.write_text(compiled.read_text())
            # atomic: a concurrent reader sees all of it or nothing
            os.replace(partial, cache / f"{compiled.stem}-{key}.sql")
            _prune(cache, compiled.stem, keep=cache / f"{compiled.stem}-{key}.sql")
        if (target_path / PARSE_STATE).is_file():
            os.replace(target_path / PARSE_STATE, parse_state)  # atomic, as the SQL above
    return cached.read_text()


def _prune(cache: Path, name: str, *, keep: Path, older_than_days: float = 1.0) -> None:
    """Drop this analysis's compilations for project files long since changed."""
    cutoff = dt.datetime.now().timestamp() - older_than_days * 86_400
    for path in cache.glob(f"{name}-*.sql"):
        with contextlib.suppress(OSError):
            if path != keep and path.stat().st_mtime < cutoff:
                path.unlink()


def restricted_engine(
    settings: Settings, memory_limit: str | None, property_id: str | None
) -> Engine:
    """The engine a query runs on: restricted to one declared GA4 property, or not."""
    from orchestrate.engines import engine_for
    from orchestrate.properties import chosen_properties

    if property_id is not None:
        chosen_properties(settings, [property_id])
    return engine_for(settings, memory_limit=memory_limit, property_id=property_id)


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
    """Guard, cost check, then run (the cost check runs the query on the same guarded
    connection as the run: read-only, external access off, memory cap, same time limit)."""
    check_read_only(
        sql,
        engine.name,
        lambda: engine.relations(wait_seconds=timeout_seconds),
        engine.withheld,
    )
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


def _exact(value: decimal.Decimal) -> str:
    """A decimal (money: NUMERIC, DECIMAL(38,9)) with every digit the engine returned; a
    float keeps about 16 significant digits and would round it."""
    return format(value, "f") if value.is_finite() else str(value)


def _plain(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return _exact(value)
    return value


def _json_text(value: object, depth: int = 0) -> str:
    """JSON as `json.dumps(indent=2)` writes it, except that a decimal is a JSON number
    written with its exact digits (json.dumps would only write it through a float)."""
    inner, outer = "  " * (depth + 1), "  " * depth
    if isinstance(value, decimal.Decimal) and value.is_finite():
        return _exact(value)
    if isinstance(value, dict) and value:
        members = [
            f"{inner}{json.dumps(str(key))}: {_json_text(item, depth + 1)}"
            for key, item in value.items()
        ]
        return "{\n" + ",\n".join(members) + f"\n{outer}}}"
    if isinstance(value, list | tuple) and value:
        members = [inner + _json_text(item, depth + 1) for item in value]
        return "[\n" + ",\n".join(members) + f"\n{outer}]"
    return json.dumps(_plain(value))  # a scalar, or an empty object or list


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
        text = _json_text([dict(zip(result.columns, row, strict=True)) for row in result.rows])
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
        print_table(table)
        if analysis.secret_parameters:
            console.print(f"  needs {SALT_VARIABLE} in the environment")
        console.print(
            f"  usage: truffle query {analysis.name}"
            + "".join(f" --param {p.name}=..." for p in analysis.parameters[:2])
            + "\n"
        )
    return 0


def read_sql_file(path: Path) -> str:
    """A user's SQL file as text (exit code 2 when it cannot be read as UTF-8 text)."""
    if not path.is_file():
        raise CliError(f"no such SQL file: {path}")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read {path.name} as UTF-8 text ({type(error).__name__})") from None


def _cell(value: object) -> object:
    from rich.text import Text

    # data is shown as written: a Text is never read as markup
    return Text("" if value is None else str(_plain(value)))


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
    memory_limit: str | None = None,
    property_id: str | None = None,
) -> int:
    """`truffle query`: one analysis or one SQL file, guarded, cost-checked, bound, limited;
    with `property_id`, reading only that GA4 property's rows."""
    from orchestrate.analyses import parse_assignments
    from orchestrate.console import error_console

    if bool(name) == bool(sql_file):
        raise CliError("give an analysis NAME or --sql FILE (see truffle query --list)")
    if output is not None and output_format == "table":
        raise CliError("--output needs --format csv, json or parquet")
    engine = restricted_engine(settings, memory_limit, property_id)
    try:
        given = parse_assignments(assignments)
    except ParameterError as error:
        raise CliError(str(error)) from None
    if sql_file is not None:
        if given:
            raise CliError("--param applies to analyses; a --sql file takes no parameters")
        sql, values, order, meta, label = read_sql_file(sql_file), {}, [], {}, sql_file.name
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

        table = Table(title=plain(label, 120))
        for column in result.columns:
            table.add_column(plain(column, 120))
        for row in result.rows:
            table.add_row(*[_cell(value) for value in row])
        print_table(table)
    else:
        try:
            text = render(result, output_format, output)
        except OSError as error:
            raise CliError(
                f"cannot write {output}: {error.strerror or type(error).__name__}"
            ) from None
        if text is not None:
            print(text, end="" if text.endswith("\n") else "\n")
    if result.truncated:
        error_console.print(
            f"[yellow]notice:[/] the result was cut at {max_rows:,} rows (--max-rows to change)"
        )
    if output is not None:
        error_console.print(f"{len(result.rows):,} rows written to {plain(output)}")
    return 0


def measure_sql_files(
    settings: Settings,
    files: list[Path],
    thresholds: Thresholds,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    memory_limit: str | None = None,
) -> list[CostLine]:
    """The cost of ad-hoc SQL files: each must pass the guard first, and is measured on the
    guarded connection with the same time limit as `truffle query`."""
    from orchestrate.engines import engine_for

    engine = engine_for(settings, memory_limit=memory_limit)
    lines = []
    for path in files:
        sql = read_sql_file(path)
        check_read_only(
            sql,
            engine.name,
            lambda: engine.relations(wait_seconds=timeout_seconds),
            engine.withheld,
        )
        node = CompiledNode(unique_id=str(path), name=path.name, kind="sql", sql=sql, meta={})
        line = measure(engine, node, thresholds, timeout_seconds=timeout_seconds)
        if line.status == "unmeasured":  # the engine rejected it: say so, do not list a blank
            raise CliError(f"{path.name} could not be measured: {line.note}", exit_code=1)
        lines.append(line)
    return lines
