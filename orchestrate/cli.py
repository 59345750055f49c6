"""The `truffle` command line: thin, it parses options and hands over to one module per command."""

from __future__ import annotations

import datetime as dt
import traceback
from pathlib import Path
from typing import Annotated

import typer
import yaml

from orchestrate import __version__
from orchestrate.console import CliError, console, fail
from orchestrate.dbt import DbtUsageError
from orchestrate.settings import Settings

app = typer.Typer(
    name="truffle",
    help="Build, refresh and query the Random Truffle GA4 warehouse (dbt on DuckDB or BigQuery).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
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
        typer.Option(help="Folder holding profiles.yml (default: the project's profiles/)."),
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
    except (CliError, DbtUsageError) as error:
        if state.debug:
            traceback.print_exc()
        exit_code = error.exit_code if isinstance(error, CliError) else 2
        raise fail(str(error), exit_code) from None
    except typer.Exit:
        raise
    except Exception as error:  # an unexpected bug: one line, traceback with --debug
        if state.debug:
            traceback.print_exc()
        raise fail(
            f"{type(error).__name__}: {error} (rerun with --debug for a traceback)", 1
        ) from None
    raise typer.Exit(code or 0)


def _parse_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from error


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

    last = _parse_date(end_date) or yesterday(DEMO_TIME_ZONE)
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

    last = _parse_date(end_date) or yesterday(DEMO_TIME_ZONE)
    config = GeneratorConfig(
        end_date=last, days=days, users=users, seed=seed, time_zone=DEMO_TIME_ZONE
    )
    _run(lambda: run_demo(state.settings, config))


@app.command()
def build(
    select: Annotated[
        list[str] | None, typer.Option("--select", "-s", help="dbt selection (repeatable).")
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option(help="Rebuild incremental models from the whole export.")
    ] = False,
) -> None:
    """dbt build (seeds, models, data and unit tests) with a summary; exit 1 if nodes failed."""
    from orchestrate.build import build as run_build
    from orchestrate.build import print_summary

    def action() -> int:
        run = run_build(state.settings, select=select, full_refresh=full_refresh)
        print_summary(run)
        if run.failures:
            raise CliError(run.failure_report(), exit_code=1)
        return 0

    _run(action)


if __name__ == "__main__":  # pragma: no cover
    app()
