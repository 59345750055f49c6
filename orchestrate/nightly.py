"""`truffle nightly` and `truffle backfill`: the scheduled refresh and explicit reprocessing.

nightly: source freshness (the newest export day is recent enough) -> the cost check ->
incremental `dbt build` of the re-processed window (the run date is today in the property
time zone) with its tests -> a machine-readable summary in target/nightly_summary.json.
backfill: the same build for an explicit date range, without a full refresh.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from orchestrate.accounting import accounting_by_property, row_accounting
from orchestrate.build import BuildOutcome, build, require_export, tests_by_outcome
from orchestrate.console import CliError, console
from orchestrate.cost import Thresholds
from orchestrate.properties import Property, chosen_properties, declared_properties
from orchestrate.run_dates import (
    newest_export_day,
    newest_loaded_day,
    project_var,
    resolve_run_date,
    validate_vars,
)
from orchestrate.settings import Settings


@dataclass
class Freshness:
    """One property's export: its newest day, how many days before the property's run date
    (the run date, or its own today when that is earlier), and the limit."""

    newest_day: dt.date | None
    lag_days: int | None
    max_lag_days: int
    property_id: str = ""
    run_date: dt.date | None = None

    @property
    def ok(self) -> bool:
        return self.lag_days is not None and self.lag_days <= self.max_lag_days

    def as_dict(self) -> dict[str, object]:
        return {
            "newest_export_day": self.newest_day.isoformat() if self.newest_day else None,
            "lag_days": self.lag_days,
            "max_lag_days": self.max_lag_days,
            "status": "pass" if self.ok else "error",
        }


@dataclass
class PropertiesFreshness:
    """Every property's freshness. The whole passes when each does; its figures are the
    stalest property's (one property: that property's)."""

    properties: list[Freshness]

    @property
    def ok(self) -> bool:
        return all(fresh.ok for fresh in self.properties)

    @property
    def stale(self) -> list[Freshness]:
        return [fresh for fresh in self.properties if not fresh.ok]

    @property
    def stalest(self) -> Freshness:
        return max(
            self.properties,
            key=lambda fresh: (fresh.lag_days is None, fresh.lag_days or 0),
        )

    def as_dict(self) -> dict[str, object]:
        summary = self.stalest.as_dict()
        summary["status"] = "pass" if self.ok else "error"
        summary["properties"] = {fresh.property_id: fresh.as_dict() for fresh in self.properties}
        return summary


def refresh_vars(property_ids: list[str] | None) -> dict[str, object]:
    """The variable that limits staging to the named properties (none: every property)."""
    return {"ga4_refresh_properties": list(dict.fromkeys(property_ids))} if property_ids else {}


def check_freshness(
    settings: Settings, run_date: dt.date, properties: list[Property] | None = None
) -> PropertiesFreshness:
    max_lag = int(project_var(settings, "ga4_freshness_max_days", 2))
    checked = []
    for prop in properties or declared_properties(settings):
        newest = newest_export_day(settings, prop)
        property_run_date = min(run_date, prop.today())
        lag = (property_run_date - newest).days if newest else None
        checked.append(Freshness(newest, lag, max_lag, prop.property_id, property_run_date))
    return PropertiesFreshness(checked)


def lookback_days(settings: Settings) -> int:
    value = project_var(settings, "ga4_lookback_days", 3)
    try:
        days = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        days = -1
    if days < 0:
        raise CliError(f"ga4_lookback_days must be a whole number of days >= 0, not {value!r}")
    return days


def catch_up_start(settings: Settings, run_date: dt.date) -> dt.date | None:
    """The first day to re-process when nightlies were missed, or None when the usual window
    covers everything since the last successful run.

    The last run got to the newest event day the warehouse holds (L). When L is older than
    the day before the usual window, days were missed: the run re-processes from
    L - lookback + 1 (GA4 may have rewritten those days since they were last read) to the run
    date, in one build. An export with nothing newer than L (a stale export) has nothing to
    catch up on."""
    loaded = newest_loaded_day(settings)
    lookback = lookback_days(settings)
    if loaded is None or loaded >= run_date - dt.timedelta(days=lookback + 1):
        return None
    newest = newest_export_day(settings)
    if newest is None or newest <= loaded:
        return None  # nothing new has landed since: there is nothing to catch up on
    return loaded - dt.timedelta(days=max(lookback - 1, 0))


def _window(settings: Settings, run_date: dt.date, first: dt.date | None = None) -> dict[str, str]:
    """The days re-processed: from the earliest property's run date (the run date, or its
    own today when earlier) less the lookback, or from `first`, to the run date."""
    lookback = lookback_days(settings)
    earliest = min(min(run_date, prop.today()) for prop in declared_properties(settings))
    return {
        "start": (first or earliest - dt.timedelta(days=lookback)).isoformat(),
        "end": run_date.isoformat(),
    }


def write_summary(path: Path, summary: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return path


def quarantine_counts(settings: Settings, outcome: BuildOutcome) -> dict[str, int]:
    """Raw rows held in quarantine, by reason (from the quarantine model)."""
    from orchestrate.engines import QueryFailed, engine_for

    manifest_path = outcome.run.target_path / "manifest.json"
    if not manifest_path.is_file():
        return {}
    nodes = json.loads(manifest_path.read_text())["nodes"]
    node = nodes.get("model.random_truffle.stg_ga4__events_quarantined") or {}
    relation = node.get("relation_name")
    if not relation:
        return {}
    engine = engine_for(settings)
    try:
        result = engine.run(
            f"select quarantine_reason, sum(raw_row_count) from {relation} group by 1",
            {},
            [],
            timeout_seconds=60,
            max_rows=100,
        )
    except QueryFailed:
        return {}
    return {str(reason): int(rows) for reason, rows in result.rows}


def summarize(outcome: BuildOutcome) -> dict[str, object]:
    run = outcome.run
    costs = {line.name: line for line in outcome.costs}
    models = []
    for result in run.results:
        if result.resource_type not in ("model", "seed"):
            continue
        cost = costs.get(result.name)
        models.append(
            {
                "name": result.name,
                "resource_type": result.resource_type,
                "status": result.status,
                "rows": outcome.rows.get(result.name, result.rows_affected),
                "bytes": cost.bytes_read if cost else None,
                "seconds": round(result.execution_time, 3),
            }
        )
    return {
        "models": models,
        "tests": tests_by_outcome(run),
        "warnings": [
            {"node": r.name, "message": r.message} for r in run.results if r.status == "warn"
        ]
        + [
            {"node": line.name, "message": f"cost {line.megabytes:,.1f} MiB over warn limit"}
            for line in outcome.costs
            if line.status == "warn"
        ],
        "failures": [
            {"node": r.name, "status": r.status, "message": r.message} for r in outcome.failures
        ],
        "restated_days": run.restated,
        # the runs that built those days again: each its own models, tests and accounting
        "restatements": [restated.as_dict() for restated in outcome.restatements],
        "deletions": [deletion for built in outcome.runs for deletion in built.deletions],
        "unread_files": outcome.unread_files,
        "accounting": row_accounting(run),
        "accounting_by_property": accounting_by_property(run),
        "costs": [line.as_dict() for line in outcome.costs],
    }


def plan(
    settings: Settings,
    run_date: dt.date | None = None,
    *,
    catch_up: bool = True,
    property_ids: list[str] | None = None,
) -> tuple[dt.date, dt.date | None, dict[str, object]]:
    """What the next nightly processes: its run date, the first day of a catch-up (None for
    the usual window) and the variables that name a catch-up range and the properties
    refreshed (`property_ids`; none: every property)."""
    validate_vars(settings)
    chosen_properties(settings, property_ids)
    require_export(settings, report_unread=False)  # the build names them
    run_date = resolve_run_date(settings, run_date)
    first = catch_up_start(settings, run_date) if catch_up else None
    range_vars: dict[str, object] = refresh_vars(property_ids)
    if first is not None:
        range_vars.update(
            {
                "ga4_backfill_start_date": first.isoformat(),
                "ga4_backfill_end_date": run_date.isoformat(),
            }
        )
    return run_date, first, range_vars


def nightly(
    settings: Settings,
    thresholds: Thresholds | None,
    *,
    run_date: dt.date | None = None,
    allow_expensive: bool = False,
    allow_deletes: bool = False,
    catch_up: bool = True,
    full_checks: bool = False,
    summary_path: Path | None = None,
    quiet: bool = False,
    property_ids: list[str] | None = None,
) -> tuple[int, dict]:
    """Run the nightly refresh; returns (exit code, summary). The summary is always written.

    After missed nights (or with `catch_up`), the run re-processes every day since the last
    successful run in one build. A failed freshness check still builds, but with the
    destructive steps (retention, erasure) off."""
    started = dt.datetime.now(dt.UTC)
    run_date, first, range_vars = plan(
        settings, run_date, catch_up=catch_up, property_ids=property_ids
    )
    refreshed = chosen_properties(settings, property_ids)
    summary_path = summary_path or settings.project_dir / "target" / "nightly_summary.json"
    summary: dict[str, object] = {
        "command": "nightly",
        "started_at": started.isoformat(),
        "target": settings.target_name,
        "run_date": run_date.isoformat(),
        "window": _window(settings, run_date, first),
        "catch_up": first is not None,
        "properties": [prop.property_id for prop in refreshed],
    }
    freshness = check_freshness(settings, run_date, refreshed)
    summary["freshness"] = freshness.as_dict()
    several = len(freshness.properties) > 1
    for fresh in freshness.properties:
        console.print(
            ("Source freshness" + (f" of property {fresh.property_id}" if several else ""))
            + f": newest export day {fresh.newest_day} "
            f"({fresh.lag_days} day(s) before {fresh.run_date}; limit {fresh.max_lag_days})"
        )
    if not freshness.ok:
        console.print("Freshness failed: retention and erasure are skipped in this run.")
    if first is not None:
        console.print(f"Catching up: re-processing {first} to {run_date} (missed nightlies).")
    exit_code = 0
    try:
        outcome = build(
            settings,
            run_date=run_date,
            extra_vars=range_vars,
            thresholds=thresholds,
            allow_expensive=allow_expensive,
            allow_deletes=allow_deletes,
            skip_deletes=not freshness.ok,
            full_checks=full_checks,
            quiet=quiet,
        )
        summary.update(summarize(outcome))
        summary["quarantine"] = quarantine_counts(settings, outcome)
        summary["outcome"] = outcome
    except CliError as error:
        summary.update({"models": [], "failures": [{"node": "cost check", "message": str(error)}]})
        exit_code = error.exit_code
    failures: list = summary.setdefault("failures", [])  # type: ignore[assignment]
    for fresh in reversed(freshness.stale):
        failures.insert(
            0,
            {
                "node": "source freshness",
                "status": "error",
                "message": (f"property {fresh.property_id}: " if several else "")
                + f"newest export day {fresh.newest_day} is {fresh.lag_days} "
                f"day(s) old (limit {fresh.max_lag_days}); retention and erasure skipped",
            },
        )
    if failures and exit_code == 0:
        exit_code = 1
    summary["finished_at"] = dt.datetime.now(dt.UTC).isoformat()
    summary["success"] = exit_code == 0
    outcome_object = summary.pop("outcome", None)
    write_summary(summary_path, summary)
    summary["outcome"] = outcome_object
    return exit_code, summary


def backfill(
    settings: Settings,
    thresholds: Thresholds | None,
    start: dt.date,
    end: dt.date,
    *,
    allow_expensive: bool = False,
    allow_deletes: bool = False,
    full_checks: bool = False,
    quiet: bool = False,
    property_ids: list[str] | None = None,
) -> BuildOutcome:
    """Re-process exactly [start, end] (late or corrected export days), no full refresh; of
    the named properties' exports only (`property_ids`; none: every property's)."""
    if start > end:
        raise CliError(f"--start {start} is after --end {end}")
    if (end - start).days > 3660:
        raise CliError("a backfill covers at most 10 years; split it")
    validate_vars(settings)
    chosen_properties(settings, property_ids)
    require_export(settings, report_unread=False)  # the build names them
    run_date = resolve_run_date(settings)
    if end > run_date:
        raise CliError(f"--end {end} is after the run date {run_date}: fix the date")
    return build(
        settings,
        run_date=run_date,
        extra_vars={
            "ga4_backfill_start_date": start.isoformat(),
            "ga4_backfill_end_date": end.isoformat(),
            **refresh_vars(property_ids),
        },
        thresholds=thresholds,
        allow_expensive=allow_expensive,
        allow_deletes=allow_deletes,
        full_checks=full_checks,
        quiet=quiet,
    )
