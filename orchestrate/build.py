"""`truffle build`: dbt build with dbt's per-node progress, then a summary of what ran."""

from __future__ import annotations

from collections import Counter

from rich.table import Table

from orchestrate.console import console
from orchestrate.dbt import DbtRun, DbtUsageError, run_dbt
from orchestrate.settings import Settings

EXPORT_PATTERNS = ("events_*.parquet", "events_*.json", "events_*.ndjson", "events_*.jsonl")


def require_export(settings: Settings) -> None:
    """On DuckDB the export is a folder of files: say so plainly when it is missing or empty."""
    if settings.target_name != "duckdb":
        return
    folder = settings.export_path
    if not any(next(folder.glob(pattern), None) for pattern in EXPORT_PATTERNS):
        raise DbtUsageError(
            f"No GA4 export files (events_YYYYMMDD.parquet / .json / .ndjson) found in '{folder}'. "
            "Point the variable ga4_export_path at your export folder (--vars "
            "'{ga4_export_path: ...}'), or run `truffle demo-data` to generate one."
        )


def build(
    settings: Settings,
    *,
    select: list[str] | None = None,
    full_refresh: bool = False,
    extra_vars: dict[str, object] | None = None,
) -> DbtRun:
    """Run `dbt build` (seeds, models, data and unit tests) on the selection."""
    require_export(settings)
    args = ["build"]
    if select:
        args += ["--select", *select]
    if full_refresh:
        args.append("--full-refresh")
    return run_dbt(args, settings, extra_vars=extra_vars)


def print_summary(run: DbtRun) -> None:
    """A table per resource type (models, tests, seeds): how many ran, by status, rows, time."""
    table = Table(title="dbt build summary", show_lines=False)
    for column in ("resource", "total", "ok", "warn", "fail/error", "skipped", "rows", "seconds"):
        table.add_column(column, justify="left" if column == "resource" else "right")
    by_type: dict[str, list] = {}
    for result in run.results:
        by_type.setdefault(result.resource_type, []).append(result)
    for resource_type, results in sorted(by_type.items()):
        statuses = Counter(result.status for result in results)
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
    console.print(table)
