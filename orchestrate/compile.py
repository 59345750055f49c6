"""`truffle compile`: the SQL of every model and analysis, for the target's engine.

`--offline` on the bigquery target renders the BigQuery SQL of every model in its
full-refresh and incremental forms and of every analysis with no credentials and no network
(orchestrate.bigquery.render), writes one file per statement, and runs Google's GoogleSQL
analyzer over all of them (orchestrate.bigquery.analyzer). Then it captures every statement a
full build and a nightly send (orchestrate.bigquery.capture: materializations, MERGEs with
their partition lists, hooks, data tests, unit tests) and analyzes those too. Otherwise it is
`dbt compile` on the target's profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrate.console import CliError, console
from orchestrate.dbt import run_dbt
from orchestrate.engines import target_type
from orchestrate.settings import Settings

if TYPE_CHECKING:
    from orchestrate.bigquery.catalog import BigQueryCatalog


@dataclass
class OfflineRender:
    out_dir: Path
    files: list[Path]
    counts: dict[str, int]  # full models, incremental models, analyses
    analysis_summary: str | None
    failure_report: str | None
    build_summary: str | None = None  # the statements a full build and a nightly send


def render_offline(settings: Settings, out_dir: Path, *, analyze: bool = True) -> OfflineRender:
    """Render (and analyze) the BigQuery SQL of the whole project into out_dir/<form>/."""
    from orchestrate.bigquery.render import RenderError, load_manifest, render_bigquery

    variables = {k: v for k, v in settings.vars.items() if k != "ga4_export_path"}
    try:
        statements = render_bigquery(
            settings.project_dir, out_dir / "dbt", variables=variables, quiet=True
        )
    except RenderError as error:
        raise CliError(f"the BigQuery render failed: {error}", exit_code=1) from None
    files = []
    for statement in statements:
        folder = {"analysis": "analyses", "test": f"tests/{statement.form}"}.get(
            statement.kind, statement.form
        )
        # dbt names generic tests after their arguments: shortened, kept apart by their hash
        name = statement.name
        if statement.kind == "test":
            name = f"{name[:80]}.{statement.unique_id.rsplit('.', 1)[-1]}"
        path = out_dir / folder / f"{name}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(statement.sql.rstrip() + "\n")
        files.append(path)
    counts = {
        "full": sum(1 for s in statements if s.kind == "model" and s.form == "full"),
        "incremental": sum(1 for s in statements if s.kind == "model" and s.form == "incremental"),
        "analyses": sum(1 for s in statements if s.kind == "analysis"),
        "tests": sum(1 for s in statements if s.kind == "test" and s.form == "full"),
        "incremental_tests": sum(1 for s in statements if s.kind == "test" and s.form != "full"),
    }
    summary = failures = None
    if analyze:
        from orchestrate.bigquery.analyzer import analyze_statements
        from orchestrate.properties import bigquery_exports

        report = analyze_statements(
            statements,
            load_manifest(out_dir / "dbt"),
            settings.project_dir,
            newer_columns=bool(settings.vars.get("ga4_bigquery_has_newer_columns", True)),
            exports=bigquery_exports(settings),
        )
        summary = report.summary()
        failures = report.failure_report() if report.error_count else None
        if not failures:
            # the builds' answers come from the resolved schemas: only once they are sound
            build_summary, build_failures = _prove_builds(
                settings, out_dir, report.catalog, variables
            )
            failures = build_failures
            return OfflineRender(out_dir, files, counts, summary, failures, build_summary)
    return OfflineRender(out_dir, files, counts, summary, failures)


def _prove_builds(
    settings: Settings, out_dir: Path, catalog: BigQueryCatalog, variables: dict[str, object]
) -> tuple[str, str | None]:
    """Capture and analyze what a full build and a nightly send; (summary, failure report)."""
    from orchestrate.bigquery.capture import prove_builds, write_capture
    from orchestrate.bigquery.render import (
        DEFAULT_DATASET,
        DEFAULT_PROJECT,
        RenderError,
        load_manifest,
    )

    try:
        report = prove_builds(
            settings.project_dir,
            out_dir / "dbt" / "builds",
            catalog,
            load_manifest(out_dir / "dbt"),
            variables,
            project=DEFAULT_PROJECT,
            dataset=DEFAULT_DATASET,
        )
    except RenderError as error:
        raise CliError(f"the BigQuery build capture failed: {error}", exit_code=1) from None
    write_capture(report, out_dir / "builds")
    errors = report.errors
    failures = None
    if errors:
        lines = [f"statements a build sends: {len(errors)} errors:"]
        lines += [f"  - {error}" for error in errors]
        failures = "\n".join(lines)
    summary = report.summary()
    return summary, failures


def compile_command(
    settings: Settings, *, offline: bool, analyze: bool, out_dir: Path | None
) -> int:
    """The body of `truffle compile`; returns the exit code."""
    if offline:
        if target_type(settings) != "bigquery":
            raise CliError(
                "--offline renders BigQuery SQL: use it with --target bigquery (DuckDB "
                "compiles locally without it)"
            )
        from orchestrate.extras import require_bigquery

        modules = ("dbt.adapters.bigquery", "zetasql") if analyze else ("dbt.adapters.bigquery",)
        require_bigquery("the offline BigQuery proof", *modules)
        out = (out_dir or settings.project_dir / "target" / "bigquery").resolve()
        console.print("rendering the BigQuery SQL of every model and analysis, offline ...")
        result = render_offline(settings, out, analyze=analyze)
        console.print(
            f"rendered {result.counts['full']} models (full refresh), "
            f"{result.counts['incremental']} incremental forms, "
            f"{result.counts['analyses']} analyses and {result.counts['tests']} data tests "
            f"(full build; {result.counts['incremental_tests']} as a nightly sends them) "
            f"into {out}"
        )
        if result.analysis_summary is not None:
            console.print(f"GoogleSQL analyzer: {result.analysis_summary}")
        if result.build_summary is not None:
            console.print(
                f"statements a build sends (into {out / 'builds'}): {result.build_summary}"
            )
        if result.failure_report:
            raise CliError(result.failure_report, exit_code=1)
        return 0
    target_path = (out_dir or settings.project_dir / "target").resolve()
    run = run_dbt(["compile"], settings, target_path=target_path)
    if not run.success:
        raise CliError(run.failure_report(), exit_code=1)
    console.print(f"compiled {len(run.results)} nodes into {target_path / 'compiled'}")
    return 0
