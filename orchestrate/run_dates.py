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
from pathlib import Path

import duckdb
import yaml

from orchestrate.dbt import DbtUsageError, wait_for_warehouse
from orchestrate.properties import Property, declared_properties
from orchestrate.settings import Settings

# A GA4 export file: GA4's table name exactly (events_YYYYMMDD, events_intraday_YYYYMMDD), then
# an extension in any case (whatever the export tool wrote). The same names as the models read
# (macros/ga4/export_rows.sql, ga4_export_file_pattern).
# The stored, partitioned events (the events mart is a view over it that resolves identity).
STORED_EVENTS = "int_events_recorded"
SHARD = re.compile(r"^events_(?:intraday_)?([0-9]{8})\.(?i:parquet|json|ndjson|jsonl)$")
SHARD_NAMES = "events_YYYYMMDD or events_intraday_YYYYMMDD with .parquet, .json, .ndjson or .jsonl"


def unreadable_parquet(path: Path) -> str | None:
    """Why a Parquet export file cannot be read (zero bytes, cut short), or None. A Parquet
    file starts and ends with the magic bytes PAR1; checked before anything runs, so a bad
    file is one line naming it, not an engine error halfway through the build."""
    if path.suffix.lower() != ".parquet":
        return None
    size = path.stat().st_size
    if size == 0:
        return "it is empty (0 bytes)"
    with path.open("rb") as handle:
        head = handle.read(4)
        handle.seek(max(size - 4, 0))
        tail = handle.read(4)
    if size < 12 or head != b"PAR1" or tail != b"PAR1":
        return f"it is not a whole Parquet file ({size:,} bytes: truncated or damaged)"
    return None


def export_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """The folder's GA4 export files, and its other files (not read: each is reported)."""
    if not folder.is_dir():
        return [], []
    read, unread = [], []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        (read if SHARD.match(path.name) else unread).append(path)
    return read, unread


def project_var(settings: Settings, name: str, default: object = None) -> object:
    """A dbt variable as this run sees it: --vars first, then dbt_project.yml."""
    if name in settings.vars:
        return settings.vars[name]
    document = yaml.safe_load((settings.project_dir / "dbt_project.yml").read_text()) or {}
    value = (document.get("vars") or {}).get(name)
    return default if value is None else value


# The numeric variables a run depends on, checked before anything runs: name -> (the
# smallest value allowed, the largest or None, whole numbers only, what the value is).
NUMERIC_VARS: dict[str, tuple[float, float | None, bool, str]] = {
    "ga4_lookback_days": (0, None, True, "days re-processed before the run date"),
    "ga4_freshness_max_days": (0, None, True, "days the newest export day may lag"),
    "ga4_session_max_span_days": (0, None, True, "days a session may span"),
    "ga4_delete_guard_recent_days": (0, None, True, "days the delete guard protects"),
    "ga4_delete_guard_max_share": (0, 1, False, "share of a table a delete may remove"),
    "ga4_max_event_revenue": (0, None, False, "largest believable amount"),
    "retention_years_transaction": (0, None, True, "years kept"),
    "retention_years_interaction": (0, None, True, "years kept"),
    "retention_years_user_activity": (0, None, True, "years kept"),
    "retention_years_content": (0, None, True, "years kept"),
}
DATE_VARS = ("ga4_start_date", "ga4_run_date", "ga4_backfill_start_date", "ga4_backfill_end_date")


def validate_vars(settings: Settings) -> None:
    """The run's variables (--vars, then dbt_project.yml) are usable: each numeric one a
    number in its range, each date a date, the time zone known. Raises DbtUsageError (exit 2)
    naming the variable, its value and what is allowed."""
    for name, (low, high, whole, what) in NUMERIC_VARS.items():
        value = project_var(settings, name)
        if value is None:
            continue
        try:
            number = float(str(value)) if not isinstance(value, bool) else float("nan")
        except ValueError:
            number = float("nan")
        allowed = f"a {'whole ' if whole else ''}number >= {low:g}" + (
            f" and <= {high:g}" if high is not None else ""
        )
        if (
            number != number  # NaN: not a number
            or number < low
            or (high is not None and number > high)
            or (whole and not number.is_integer())
        ):
            raise DbtUsageError(
                f"variable {name} = {str(value)[:40]!r}: must be {allowed} ({what})"
            )
    for name in DATE_VARS:
        value = project_var(settings, name)
        if value is not None:
            parse_day(value, f"variable {name}")
    declared_properties(settings)  # the properties, their time zones and currencies


def latest_today(settings: Settings) -> tuple[dt.date, str]:
    """The latest date today of any property, and its time zone: a run date after it is in
    the future everywhere."""
    return max((prop.today(), prop.time_zone) for prop in declared_properties(settings))


def parse_day(value: object, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise DbtUsageError(f"{what} {str(value)[:40]!r} is not a date (YYYY-MM-DD)") from None


def resolve_run_date(settings: Settings, given: dt.date | None = None) -> dt.date:
    """The run date: the option, else the ga4_run_date variable, else today in the property
    time zone (several properties: the latest of their todays; each property's window ends
    at the run date or its own today, whichever is earlier: macros/incremental/window.sql).
    A run date after today is refused (a typo would otherwise count the window and retention
    from the future)."""
    today, zone = latest_today(settings)
    configured = project_var(settings, "ga4_run_date")
    run_date = given or (parse_day(configured, "ga4_run_date") if configured else today)
    if run_date > today:
        raise DbtUsageError(
            f"run date {run_date} is in the future (today is {today} in {zone}): fix the date"
        )
    return run_date


def newest_export_days(settings: Settings) -> dict[str, dt.date | None]:
    """Each property's newest daily or intraday export day (None: no shard)."""
    return {
        prop.property_id: newest_export_day(settings, prop)
        for prop in declared_properties(settings)
    }


def newest_export_day(settings: Settings, prop: Property | None = None) -> dt.date | None:
    """The newest daily or intraday shard of a property's export (None: of the least recent
    property's, the day every property's export has reached)."""
    from orchestrate.engines import engine_for, target_type

    if prop is None:
        days = list(newest_export_days(settings).values())
        return None if None in days or not days else min(days)  # type: ignore[type-var]
    # a shard dated after the property's today holds only quarantined rows: it says nothing
    # about how fresh the export is
    today = prop.today().strftime("%Y%m%d")

    if target_type(settings) == "bigquery":
        project = prop.project or ""
        dataset = prop.dataset
        prefix = f"`{project}`.{dataset}" if project else str(dataset)
        result = engine_for(settings).run(
            "select max(regexp_extract(table_name, r'([0-9]{8})$')) from "
            f"{prefix}.INFORMATION_SCHEMA.TABLES "
            r"where regexp_contains(table_name, r'^events_(intraday_)?[0-9]{8}$') "
            f"and regexp_extract(table_name, r'([0-9]{{8}})$') <= '{today}'",
            {},
            [],
            timeout_seconds=60,
            max_rows=1,
        )
        newest = result.rows[0][0] if result.rows else None
        return dt.datetime.strptime(newest, "%Y%m%d").date() if newest else None
    days = [
        day
        for path in export_files(prop.export_path or settings.export_path)[0]
        if (day := SHARD.match(path.name).group(1)) <= today  # type: ignore[union-attr]
    ]
    return dt.datetime.strptime(max(days), "%Y%m%d").date() if days else None


def newest_loaded_day(settings: Settings) -> dt.date | None:
    """The newest event day the warehouse holds (the stored events behind the events mart),
    or None before the first build: where the last successful run got to."""
    from orchestrate.engines import engine_for, profile_target, target_type

    if target_type(settings) == "bigquery":
        profile = profile_target(settings.profiles_dir, settings.target_name)  # type: ignore[arg-type]
        result = engine_for(settings).run(
            "select max(partition_id) from "
            f"`{profile.get('project')}`.{profile.get('dataset')}.INFORMATION_SCHEMA.PARTITIONS "
            f"where table_name = '{STORED_EVENTS}' "
            "and regexp_contains(partition_id, r'^[0-9]{8}$')",
            {},
            [],
            timeout_seconds=60,
            max_rows=1,
        )
        newest = result.rows[0][0] if result.rows else None
        return dt.datetime.strptime(newest, "%Y%m%d").date() if newest else None
    if not settings.warehouse_path.is_file():
        return None
    wait_for_warehouse(settings.warehouse_path)  # another process writing it: wait, or exit 2
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        exists = connection.execute(
            "select count(*) from information_schema.tables where table_name = ?", [STORED_EVENTS]
        ).fetchall()[0][0]
        if not exists:
            return None
        return connection.execute(f"select max(event_date) from {STORED_EVENTS}").fetchall()[0][0]


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
