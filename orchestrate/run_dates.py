"""The dates a run stands on, resolved once and passed down to dbt as literals.

Every command that builds (build, nightly, backfill) pins the run date (`ga4_run_date`: the
user's, else today in the property time zone; a date after today is refused) and the date
retention counts back from (`ga4_retention_as_of`: the newest export day, no later than the
run date, so an export years old keeps what its policy keeps). The models then see the same
literal dates in every statement of the run.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import yaml

from orchestrate.dbt import DbtUsageError
from orchestrate.settings import Settings

SHARD = re.compile(r"^events_(?:intraday_)?(\d{8})\.(?:parquet|json|ndjson|jsonl)$")


def project_var(settings: Settings, name: str, default: object = None) -> object:
    """A dbt variable as this run sees it: --vars first, then dbt_project.yml."""
    if name in settings.vars:
        return settings.vars[name]
    document = yaml.safe_load((settings.project_dir / "dbt_project.yml").read_text()) or {}
    value = (document.get("vars") or {}).get(name)
    return default if value is None else value


def property_zone(settings: Settings) -> str:
    return str(project_var(settings, "ga4_property_time_zone", "UTC"))


def property_today(settings: Settings) -> dt.date:
    zone = property_zone(settings)
    try:
        return dt.datetime.now(ZoneInfo(zone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        raise DbtUsageError(f"unknown ga4_property_time_zone {zone!r} (use an IANA name)") from None


def parse_day(value: object, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise DbtUsageError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from None


def resolve_run_date(settings: Settings, given: dt.date | None = None) -> dt.date:
    """The run date: the option, else the ga4_run_date variable, else today in the property
    time zone. A run date after today there is refused (a typo would otherwise count the
    window and retention from the future)."""
    today = property_today(settings)
    configured = project_var(settings, "ga4_run_date")
    run_date = given or (parse_day(configured, "ga4_run_date") if configured else today)
    if run_date > today:
        raise DbtUsageError(
            f"run date {run_date} is in the future (today is {today} in "
            f"{property_zone(settings)}): fix the date"
        )
    return run_date


def newest_export_day(settings: Settings) -> dt.date | None:
    """The newest daily or intraday shard of the export."""
    from orchestrate.engines import engine_for, target_type

    if target_type(settings) == "bigquery":
        project = project_var(settings, "ga4_project") or ""
        dataset = project_var(settings, "ga4_dataset")
        prefix = f"`{project}`.{dataset}" if project else str(dataset)
        result = engine_for(settings).run(
            "select max(regexp_extract(table_name, r'([0-9]{8})$')) from "
            f"{prefix}.INFORMATION_SCHEMA.TABLES "
            r"where regexp_contains(table_name, r'^events_(intraday_)?[0-9]{8}$')",
            {},
            [],
            timeout_seconds=60,
            max_rows=1,
        )
        newest = result.rows[0][0] if result.rows else None
        return dt.datetime.strptime(newest, "%Y%m%d").date() if newest else None
    days = [
        match.group(1)
        for path in settings.export_path.glob("events_*")
        if (match := SHARD.match(path.name))
    ]
    return dt.datetime.strptime(max(days), "%Y%m%d").date() if days else None


def newest_loaded_day(settings: Settings) -> dt.date | None:
    """The newest event day the warehouse holds (the events mart), or None before the first
    build: where the last successful run got to."""
    from orchestrate.engines import engine_for, profile_target, target_type

    if target_type(settings) == "bigquery":
        profile = profile_target(settings.profiles_dir, settings.target_name)  # type: ignore[arg-type]
        result = engine_for(settings).run(
            "select max(partition_id) from "
            f"`{profile.get('project')}`.{profile.get('dataset')}.INFORMATION_SCHEMA.PARTITIONS "
            "where table_name = 'events' and regexp_contains(partition_id, r'^[0-9]{8}$')",
            {},
            [],
            timeout_seconds=60,
            max_rows=1,
        )
        newest = result.rows[0][0] if result.rows else None
        return dt.datetime.strptime(newest, "%Y%m%d").date() if newest else None
    if not settings.warehouse_path.is_file():
        return None
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        exists = connection.execute(
            "select count(*) from information_schema.tables where table_name = 'events'"
        ).fetchall()[0][0]
        if not exists:
            return None
        return connection.execute("select max(event_date) from events").fetchall()[0][0]


def pinned_vars(
    settings: Settings,
    run_date: dt.date,
    *,
    allow_deletes: bool = False,
    skip_deletes: bool = False,
) -> dict[str, object]:
    """The variables every building command passes: the run date, the retention date (unless
    the user set one), and the delete guard's switches."""
    pinned: dict[str, object] = {"ga4_run_date": run_date.isoformat()}
    if project_var(settings, "ga4_retention_as_of") is None:
        newest = newest_export_day(settings)
        if newest is not None:
            pinned["ga4_retention_as_of"] = min(newest, run_date).isoformat()
    if allow_deletes:
        pinned["ga4_allow_deletes"] = True
    if skip_deletes:
        pinned["ga4_skip_deletes"] = True
    return pinned
