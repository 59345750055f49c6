"""`truffle demo` and `truffle demo-data`: the synthetic GA4 export and the main job on it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from orchestrate.build import build, print_summary
from orchestrate.console import CliError, console
from orchestrate.cost import project_thresholds
from orchestrate.demo_data import GeneratorConfig, generate_export
from orchestrate.kpis import read_summary
from orchestrate.report import write_report
from orchestrate.settings import Settings

DEMO_TIME_ZONE = "America/Mexico_City"


def yesterday(time_zone: str) -> dt.date:
    """Yesterday in the property's time zone: the newest complete export day."""
    return dt.datetime.now(ZoneInfo(time_zone)).date() - dt.timedelta(days=1)


def write_demo_export(out_dir: Path, config: GeneratorConfig) -> dict:
    """Generate the synthetic export into out_dir, replacing an earlier one."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("events_*"):
        old.unlink()
    console.print(
        f"Generating a synthetic GA4 export: {config.days} days to {config.end_date}, "
        f"{config.users:,} devices, seed {config.seed} -> {out_dir}"
    )
    return generate_export(out_dir, config, progress=lambda line: console.print(f"  {line}"))


def run_demo(settings: Settings, config: GeneratorConfig) -> int:
    """Generate the export, build the whole warehouse on DuckDB, print the KPI summary."""
    from orchestrate.engines import target_type

    if target_type(settings) != "duckdb":
        raise CliError("the demo runs on the embedded DuckDB target; drop --target.")
    manifest = write_demo_export(settings.export_path, config)
    console.print(f"  {manifest['raw_rows']:,} raw export rows written\n")
    console.print("Building the warehouse (dbt build: seeds, models, data and unit tests)...")
    outcome = build(
        settings,
        full_refresh=True,
        extra_vars={
            "ga4_property_time_zone": config.time_zone,
            "ga4_run_date": config.end_date.isoformat(),
        },
    )
    print_summary(outcome)
    if outcome.failures:
        raise CliError(outcome.failure_report(), exit_code=1)
    summary = read_summary(settings.warehouse_path)
    console.print("\n[bold]Warehouse KPIs[/]")
    for line in summary.lines():
        console.print(f"  {line}")
    report = write_report(settings, last=7, thresholds=project_thresholds(settings.project_dir))
    console.print(f"\nWarehouse file: {settings.warehouse_path}")
    console.print(f"Export files:   {settings.export_path}")
    console.print(f"Report:         {report}  (open it in a browser)")
    console.print(
        "\nTry next:\n"
        f"  .venv/bin/python -c \"import duckdb; duckdb.connect('{settings.warehouse_path}', "
        "read_only=True).sql('select * from daily_kpis order by kpi_date').show()\"\n"
        "  .venv/bin/truffle build --select sessions+    # rebuild a mart and what depends on it\n"
        "  .venv/bin/truffle report --last 7 --currency MXN --output week.html\n"
        "  .venv/bin/dbt docs generate && .venv/bin/dbt docs serve\n"
        "  make test                                     # lint, dbt build on real GA4 data, pytest"
    )
    return 0
