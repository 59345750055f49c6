"""dbt-bigquery against a local BigQuery emulator (local-bigquery, in its own Python 3.13
environment): the two real sample days as `events_20201101` / `events_20201102`, `dbt build`
twice on the BigQuery target (full refresh, then incremental for 2020-11-02), every model and
test passing and the marts holding the DuckDB reference figures. Skipped, saying why, where
Python 3.13 is missing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from orchestrate.bigquery import emulator as bq_emulator
from orchestrate.bigquery.dry_run import DryRunError, dry_run_bytes
from orchestrate.dbt import run_dbt
from orchestrate.settings import Settings
from tests.orchestrate.bigquery_fixtures import (
    EMULATOR_DATASET,
    EMULATOR_EXPORT_DATASET,
    EMULATOR_PROJECT,
    EMULATOR_UNSUPPORTED,
    EMULATOR_VARIABLES,
    RUN_DATE,
    query_rows,
)
from tests.orchestrate.conftest import REAL_SAMPLE, REPO

if TYPE_CHECKING:
    from tests.orchestrate.bigquery_fixtures import EmulatorWarehouse

pytest_plugins = ("tests.orchestrate.bigquery_fixtures",)

# "warn": a data-quality monitor with warn severity (the 2020 sample is not fresh);
# "no-op": the exposures (the analyses, the report, the nightly), which dbt build lists
PASSING = {"success", "pass", "warn", "no-op"}


def _statuses(run) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in run.results:
        counts[result.status] = counts.get(result.status, 0) + 1
    return counts


def test_full_refresh_build_passes(emulator_warehouse: EmulatorWarehouse) -> None:
    run = emulator_warehouse.full
    print(f"full refresh: {_statuses(run)}")
    assert run.success, run.failure_report()
    assert {result.status for result in run.results} <= PASSING
    kinds = {result.resource_type for result in run.results}
    assert {"model", "seed", "test", "unit_test"} <= kinds


def test_incremental_build_passes(emulator_warehouse: EmulatorWarehouse) -> None:
    run = emulator_warehouse.incremental
    print(f"incremental: {_statuses(run)}")
    assert run.success, run.failure_report()
    assert {result.status for result in run.results} <= PASSING
    assert len(run.results) == len(emulator_warehouse.full.results)


def test_marts_hold_the_reference_figures(emulator_warehouse: EmulatorWarehouse) -> None:
    warehouse = emulator_warehouse
    sessions, engaged = warehouse.query(
        f"select count(*), countif(is_engaged_session) from {warehouse.table('sessions')}"
    )[0]
    events, devices = warehouse.query(
        "select count(*), count(distinct user_pseudo_id) "
        f"from {warehouse.table('events')} where event_date >= '1900-01-01'"
    )[0]
    purchases, revenue = warehouse.query(
        "select count(*), round(sum(revenue_usd), 2) "
        f"from {warehouse.table('conversions')} where conversion_type = 'purchase'"
    )[0]
    print(
        f"sessions {sessions}, engaged {engaged}, events {events}, devices {devices}, "
        f"purchases {purchases}, revenue_usd {revenue}"
    )
    assert (sessions, engaged) == (6351, 5391)
    assert (events, devices) == (79660, 5499)
    assert (purchases, revenue) == (63, 5562.0)
    kpis = warehouse.query(
        "select sum(sessions), sum(events), round(sum(revenue_usd), 2) "
        f"from {warehouse.table('daily_kpis')}"
    )[0]
    assert kpis == (6351, 79660, 5562.0)


def test_the_stored_events_require_a_partition_filter(
    emulator_warehouse: EmulatorWarehouse,
) -> None:
    """The stored events (under the events mart, a view) refuse a query without a date; the
    view read with one answers. BigQuery applies the requirement through the view too; the
    emulator checks only the statement's own tables, so the view's side is not shown here."""
    with pytest.raises(Exception, match="partition"):
        emulator_warehouse.query(
            f"select count(*) from {emulator_warehouse.table('int_events_recorded')}"
        )
    ((events,),) = emulator_warehouse.query(
        f"select count(*) from {emulator_warehouse.table('events')} "
        "where event_date >= date '2020-11-01'"
    )
    assert events == 79_660


def test_a_dry_run_is_accepted_and_invalid_sql_is_one_clear_error(
    emulator_warehouse: EmulatorWarehouse,
) -> None:
    client = emulator_warehouse.client
    table = emulator_warehouse.table("sessions")
    # the emulator reports 0 bytes: thresholds are measured on DuckDB
    assert dry_run_bytes(f"select count(*) from {table}", client=client) >= 0
    endpoint = emulator_warehouse.emulator.endpoint
    from orchestrate.engines import BigQueryEngine

    engine = BigQueryEngine(project=emulator_warehouse.emulator.project, api_endpoint=endpoint)
    assert dry_run_bytes(f"select session_key from {table}", client=engine.client) >= 0
    with pytest.raises(DryRunError) as caught:
        dry_run_bytes(f"select no_such_column from {table}", client=client)
    assert "no_such_column" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_without_python_313_the_emulator_says_why_in_one_line(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Never skipped: what a machine without Python 3.13 sees (make and pytest)."""
    from orchestrate.bigquery import emulator

    monkeypatch.setattr(emulator, "find_python313", lambda: None)
    reason = emulator.unavailable_reason(tmp_path)
    assert reason is not None and "Python 3.13" in reason and "\n" not in reason
    monkeypatch.setattr(emulator, "venv_dir", lambda project_dir: tmp_path / ".venv-bq")
    assert emulator.main(["setup"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "skipped" in out and "Python 3.13" in out


def test_jobs_carry_labels_for_cost_attribution(emulator_warehouse: EmulatorWarehouse) -> None:
    """query-comment with job-label: each dbt query job is labelled with the model it built
    and the invocation, so the bill splits by model and by run."""
    labels = [job.labels or {} for job in emulator_warehouse.client.list_jobs(max_results=2000)]
    events_jobs = [label for label in labels if label.get("model") == "events"]
    assert events_jobs, "no job labelled model=events"
    assert all(label.get("app") == "random_truffle" for label in events_jobs)
    assert all(label.get("invocation_id") for label in events_jobs)


def test_a_backfill_over_a_day_whose_export_table_is_gone_keeps_its_rows(
    emulator_warehouse: EmulatorWarehouse, tmp_path: Path
) -> None:
    """Staging replaces only the window's days that have an export table: a backfill over
    a day whose `events_YYYYMMDD` expired (the sandbox's 60 days) or was deleted leaves that
    day's stored rows, and those of every model built from staging, as they were."""
    warehouse = emulator_warehouse
    counted = {
        "stg_ga4__events": "event_date",
        "int_events_recorded": "event_date",
        "int_conversions_attributed": "conversion_date",
    }

    def per_day() -> dict[str, list[tuple]]:
        return {
            table: warehouse.query(
                f"select {column}, count(*) from {warehouse.table(table)} "
                f"where {column} >= '1900-01-01' group by 1 order by 1"
            )
            for table, column in counted.items()
        }

    before = per_day()
    assert [day for day, _ in before["stg_ga4__events"]] == [
        dt.date(2020, 11, 1),
        dt.date(2020, 11, 2),
    ]
    gone = f"{EMULATOR_PROJECT}.{EMULATOR_EXPORT_DATASET}.events_20201101"
    warehouse.client.delete_table(gone)
    try:
        settings = Settings(
            project_dir=REPO,
            profiles_dir=warehouse.emulator.profile(tmp_path / "profile", EMULATOR_DATASET),
            target="bigquery",
            vars=dict(EMULATOR_VARIABLES),
        )
        run = run_dbt(
            ["run", "--select", "stg_ga4__events+", "--exclude", *EMULATOR_UNSUPPORTED],
            settings,
            target_path=tmp_path / "target",
            extra_vars={
                "ga4_run_date": RUN_DATE,
                "ga4_backfill_start_date": "2020-11-01",
                "ga4_backfill_end_date": "2020-11-02",
            },
        )
        assert run.success, run.failure_report()
        assert per_day() == before
    finally:
        bq_emulator.load_export_days(
            warehouse.client, EMULATOR_EXPORT_DATASET, [REAL_SAMPLE / "events_20201101.parquet"]
        )


def test_a_nightly_of_two_properties_replaces_only_each_propertys_own_days(
    bigquery_emulator: bq_emulator.Emulator, tmp_path: Path
) -> None:
    """Two properties on BigQuery (dbt-bigquery's own statements, on the emulator): the two
    real days in each property's export dataset, in its own time zone, built whole into one
    dataset. A nightly of one property (`--property`) replaces that property's days and
    leaves the other's rows of the same partitions as they were; a nightly that finds one
    property's export table of a day gone replaces the other property's rows of that day and
    keeps the stale property's. After each, per property and day, staging and the models
    built from it hold what the full build held."""
    client = bigquery_emulator.client()
    declared = []
    for property_id, zone in (("111", "America/Los_Angeles"), ("222", "Pacific/Kiritimati")):
        dataset = f"analytics_{property_id}"
        bq_emulator.load_export_days(client, dataset, sorted(REAL_SAMPLE.glob("events_*.parquet")))
        declared.append(
            {
                "property_id": property_id,
                "project": EMULATOR_PROJECT,
                "dataset": dataset,
                "time_zone": zone,
            }
        )
    dataset = "random_truffle_two_properties"
    settings = Settings(
        project_dir=REPO,
        profiles_dir=bigquery_emulator.profile(tmp_path / "profile", dataset),
        target="bigquery",
        vars={"ga4_properties": declared, "ga4_bigquery_has_newer_columns": False},
    )
    counted = {
        "stg_ga4__events": "event_date",
        "int_events_recorded": "event_date",
        "int_sessions_converted": "session_start_date",
        "int_conversions_attributed": "conversion_date",
    }

    def per_property_day() -> dict[str, list[tuple]]:
        return {
            table: query_rows(
                client,
                f"select property_id, {column}, count(*) "
                f"from `{EMULATOR_PROJECT}.{dataset}.{table}` "
                f"where {column} >= '1900-01-01' group by 1, 2 order by 1, 2",
            )
            for table, column in counted.items()
        }

    def nightly(name: str, **extra: object) -> None:
        run = run_dbt(
            ["run", "--exclude", *EMULATOR_UNSUPPORTED],
            settings,
            target_path=tmp_path / name,
            extra_vars={"ga4_run_date": RUN_DATE, **extra},
        )
        assert run.success, run.failure_report()

    def drop_staged(property_id: str) -> None:
        """Delete a property's staged rows of the run date: a nightly that replaces that
        property's day brings them back."""
        client.query(
            f"delete from `{EMULATOR_PROJECT}.{dataset}.stg_ga4__events` "
            f"where event_date = '{RUN_DATE}' and property_id = '{property_id}'"
        ).result()

    for step in (["seed"], ["run", "--full-refresh"]):
        full = run_dbt(step, settings, target_path=tmp_path / "full")
        assert full.success, full.failure_report()
    built = per_property_day()
    staged = {(property_id, str(day)): rows for property_id, day, rows in built["stg_ga4__events"]}
    # the same export in both properties: the same rows, tagged with each property
    days = ("2020-11-01", "2020-11-02")
    assert set(staged) == {(property_id, day) for property_id in ("111", "222") for day in days}
    assert all(staged[("111", day)] == staged[("222", day)] > 0 for day in days), staged

    # a nightly of property 111 only: its day is replaced (the rows deleted come back), and
    # property 222's rows of the same partitions are untouched
    drop_staged("111")
    nightly("one_property", ga4_refresh_properties=["111"])
    assert per_property_day() == built

    # every property, property 222's export of the run date gone: 111 replaced, 222's kept
    client.delete_table(f"{EMULATOR_PROJECT}.analytics_222.events_{RUN_DATE.replace('-', '')}")
    drop_staged("111")
    nightly("one_stale")
    assert per_property_day() == built
