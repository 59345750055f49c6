"""Retention per event category, applied by the build: as the date retention counts from moves
on, each category's rows are dropped once they are older than its retention (defaults:
transaction 7 years, interaction 1, user activity 2, content 7).

Retention counts from the newest export day unless `ga4_retention_as_of` says otherwise; these
tests move that date on explicitly (and allow the deletes, which remove recent rows)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from orchestrate.dbt import run_dbt
from orchestrate.settings import Settings
from tests.orchestrate.conftest import (
    GENERATED_CONFIG,
    REPO,
    Warehouse,
    make_warehouse,
    month_boundary_export,
    table_checksum,
)


def as_of(day: dt.date) -> dict[str, object]:
    """Retention counted from `day`, on a run a month after the export's last day (its window
    holds no export day: only retention changes the warehouse)."""
    return {
        "ga4_run_date": (GENERATED_CONFIG.end_date + dt.timedelta(30)).isoformat(),
        "ga4_retention_as_of": day.isoformat(),
        "ga4_allow_deletes": True,
    }


def build_as_of(warehouse: Warehouse, copy: Path, day: dt.date) -> Warehouse:
    settings = Settings(project_dir=REPO, vars=dict(warehouse.settings.vars), duckdb_path=copy)
    run = run_dbt(
        ["build"], settings, target_path=copy.parent / "target", extra_vars=as_of(day), quiet=True
    )
    assert run.success, run.failure_report()
    return Warehouse(copy, settings, copy.parent / "target", run)


def by_category(warehouse: Warehouse) -> dict[str, int]:
    return dict(warehouse.query("select retention_category, count(*) from events group by 1"))


def test_categories_expire_on_their_own_schedule(
    generated_warehouse: Warehouse, tmp_path: Path
) -> None:
    before = by_category(generated_warehouse)
    assert set(before) == {"transaction", "interaction", "user_activity", "content"}
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(generated_warehouse.path, copy)

    # 400 days on: interaction events (1 year) are gone, the others stay
    later = build_as_of(generated_warehouse, copy, GENERATED_CONFIG.end_date + dt.timedelta(400))
    after = by_category(later)
    assert "interaction" not in after
    assert {k: v for k, v in before.items() if k != "interaction"} == after
    sessions = later.scalar("select count(*) from sessions")
    assert sessions == generated_warehouse.scalar("select count(*) from sessions")

    # 3 years on: user activity (2 years) is gone too, and so are sessions; purchases stay
    latest = build_as_of(generated_warehouse, copy, GENERATED_CONFIG.end_date + dt.timedelta(1100))
    assert set(by_category(latest)) == {"transaction", "content"}
    assert latest.scalar("select count(*) from sessions") == 0
    assert latest.scalar("select count(*) from conversions") == generated_warehouse.scalar(
        "select count(*) from conversions"
    )


def test_retention_is_configurable(generated_warehouse: Warehouse, tmp_path: Path) -> None:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(generated_warehouse.path, copy)
    settings = Settings(
        project_dir=REPO,
        vars={**generated_warehouse.settings.vars, "retention_years_content": 0},
        duckdb_path=copy,
    )
    run = run_dbt(
        ["build"],
        settings,
        target_path=tmp_path / "target",
        extra_vars=as_of(GENERATED_CONFIG.end_date + dt.timedelta(30)),
        quiet=True,
    )
    assert run.success, run.failure_report()
    warehouse = Warehouse(copy, settings, tmp_path / "target", run)
    assert "content" not in by_category(warehouse)
    assert "interaction" in by_category(warehouse)


def test_a_nightly_retention_reads_only_the_days_that_expired(
    generated_warehouse: Warehouse, tmp_path: Path
) -> None:
    """The retention ledger bounds each DELETE to the days that crossed a cutoff since the
    table's last retention, as a literal list; the result equals a full build as of the
    same date, and a second run as of that date sends no retention statement at all."""
    from tests.orchestrate.test_erasure import sent_statements

    def build(copy: Path, day: dt.date, name: str, *args: str) -> Warehouse:
        settings = Settings(
            project_dir=REPO, vars=dict(generated_warehouse.settings.vars), duckdb_path=copy
        )
        extra = {  # a run whose window holds no export day and lies far from the cutoffs
            "ga4_run_date": (GENERATED_CONFIG.end_date + dt.timedelta(300)).isoformat(),
            "ga4_retention_as_of": day.isoformat(),
            "ga4_allow_deletes": True,
        }
        target = tmp_path / name
        run = run_dbt(["build", *args], settings, target_path=target, extra_vars=extra)
        assert run.success, run.failure_report()
        return Warehouse(copy, settings, target, run)

    def retention_sql(warehouse: Warehouse, table: str) -> list[str]:
        return [
            " ".join(sql.split())
            for model, sql in sent_statements(warehouse.target_path / "logs" / "dbt.log")
            if model == table
            and sql.startswith("delete from")
            and "not (case retention_category" in sql  # not the delete+insert's own delete
        ]

    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(generated_warehouse.path, copy)
    first_day = GENERATED_CONFIG.end_date - dt.timedelta(GENERATED_CONFIG.days - 1)
    # a year after the first export day: its interaction events expire (a range: a year of
    # days is pending since the build)
    build(copy, first_day.replace(year=first_day.year + 1) + dt.timedelta(1), "year")
    # two nights later: exactly two days per category are read, as a literal list
    day = first_day.replace(year=first_day.year + 1) + dt.timedelta(3)
    later = build(copy, day, "later")
    expiring = sorted(
        day.replace(year=day.year - years) - dt.timedelta(back)
        for years in {1, 2, 7}
        for back in (1, 2)
    )
    listed = ", ".join(f"cast('{d}' as date)" for d in expiring)
    (delete,) = retention_sql(later, "int_events_recorded")
    assert f"where event_date in ({listed}) and not" in delete
    after = by_category(later)
    assert 0 < after["interaction"] < by_category(generated_warehouse)["interaction"]

    full_copy = tmp_path / "full.duckdb"
    shutil.copy(generated_warehouse.path, full_copy)
    full = build(full_copy, day, "full", "--full-refresh")
    assert after == by_category(full)
    for table in ("items", "sessions", "conversions"):
        query = f"select count(*) from {table}"
        assert later.scalar(query) == full.scalar(query), table

    # the same date again: nothing is pending, no retention statement and no ledger row
    again = build(copy, day, "again")
    assert retention_sql(again, "int_events_recorded") == []
    statements = sent_statements(again.target_path / "logs" / "dbt.log")
    recorded = [sql for _, sql in statements if sql.startswith("insert into")]
    assert not [sql for sql in recorded if "int_retentions_applied" in sql]
    assert by_category(again) == after


def month_boundary_nightly(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    """A small generated export over a month boundary (Feb 26 - Mar 3 2026) and the variables
    of its nightly: one-day session span and no lookback (the settled line is Mar 2), run
    on its last day."""
    export, config = month_boundary_export(tmp_path)
    return export, {
        "ga4_property_time_zone": config.time_zone,
        "ga4_session_max_span_days": 1,
        "ga4_lookback_days": 0,
        "ga4_run_date": config.end_date.isoformat(),
    }


def test_expiring_rows_update_the_users_state_from_the_expired_months_only(
    tmp_path: Path,
) -> None:
    """The users' state settles per pair and month and keeps the date retention was last
    counted from, so a nightly on which rows expire reads again only the months holding the
    days that expired since (their settled rows), instead of rebuilding the state from every
    session and conversion kept (every night, on a warehouse older than its retention). An
    export over a month boundary (Feb 26 - Mar 3), settled from the first build on (one-day
    span, no lookback: the settled line is Mar 2); user activity kept a year, counted from a
    year after Feb 28 (first on a run that skips destructive steps: nothing is counted),
    then Mar 2: each night's state is an update that reads the expired
    months' days kept and nothing older, and equals the state rebuilt from the same marts
    (user_attributes and the audiences); every table equals a full build as of the same
    date (test_a_full_build_equals_the_nightlies_as_retention_passes says why)."""
    export, variables = month_boundary_nightly(tmp_path)
    variables["retention_years_user_activity"] = 1
    nightly = make_warehouse(tmp_path / "nightly", export, variables)
    settled_months = (
        "select count(distinct bucket_month) from int_users_aggregated where bucket_date is null"
    )
    # the settled line (Mar 2) lies in March: February is folded, March's settled day (Mar 1)
    # stays a day row until the line leaves March
    assert nightly.scalar(settled_months) == 1, (
        "the first build should hold settled rows of February only"
    )
    assert nightly.scalar("select min(bucket_date) from int_users_aggregated") == dt.date(
        2026, 3, 1
    )
    compiled = (
        nightly.target_path / "compiled" / "random_truffle" / "models" / "intermediate"
    ) / "int_users_aggregated.sql"
    # Feb 28: Feb 26-27 expired, February is read again (Feb 1 - Mar 1); Mar 2: Feb 28 - Mar 1
    # expired, February and March before the settled line (Mar 1) are read again
    reads = {
        dt.date(2026, 2, 28): ["'2026-02-01' as date) and session_start_date < cast('2026-03-01'"],
        dt.date(2026, 3, 2): [
            "'2026-02-01' as date) and session_start_date < cast('2026-03-01'",
            "'2026-03-01' as date) and session_start_date < cast('2026-03-02'",
        ],
    }
    people = (
        "select * exclude (as_of_date, days_since_first_seen, days_since_last_seen)"
        " from user_attributes order by all"
    )
    # a run that skips destructive steps (truffle's, when freshness fails) deletes nothing
    # and so counts no retention: the state keeps the date it was counted from, and the next
    # run expires the days for it
    retained = nightly.scalar("select max(retained_as_of) from int_users_aggregated")
    skipped = {"ga4_retention_as_of": "2027-02-28", "ga4_skip_deletes": True}
    nightly.build(extra_vars=skipped)
    assert nightly.scalar("select max(retained_as_of) from int_users_aggregated") == retained
    assert nightly.scalar("select min(first_seen_date) from int_users_aggregated") < dt.date(
        2026, 2, 28
    )
    for cutoff, expected_reads in reads.items():
        extra = {
            "ga4_retention_as_of": cutoff.replace(year=cutoff.year + 1).isoformat(),
            "ga4_allow_deletes": True,
        }
        nightly.build(extra_vars=extra)
        sql = " ".join(compiled.read_text().split())
        assert "truffle_state deletes" in sql, "the users' state should be updated, not rebuilt"
        assert "1900-01-01" not in sql
        for read in expected_reads:
            bounded = f"is not null and session_start_date >= cast({read} as date)"
            assert bounded in sql
        assert nightly.scalar("select min(first_seen_date) from int_users_aggregated") == cutoff
        assert nightly.scalar("select max(retained_as_of) from int_users_aggregated") == (
            cutoff.replace(year=cutoff.year + 1)
        )
        # the oracle: the state rebuilt from the same marts
        rebuilt_path = tmp_path / f"rebuilt-{cutoff}.duckdb"
        shutil.copy(nightly.path, rebuilt_path)
        rebuilt = Warehouse(
            rebuilt_path,
            Settings(project_dir=REPO, vars=dict(nightly.settings.vars), duckdb_path=rebuilt_path),
            tmp_path / f"rebuilt-{cutoff}",
            nightly.run,
        )
        rebuilt.build("--select", "int_users_aggregated+", "--full-refresh", extra_vars=extra)
        assert (
            "truffle_state deletes"
            not in (rebuilt.target_path / "compiled" / "random_truffle" / "models" / "intermediate")
            .joinpath("int_users_aggregated.sql")
            .read_text()
        )
        assert nightly.query(people) == rebuilt.query(people)
        for table in ("int_users_combined", "int_audience_members_evaluated", "audience_metrics"):
            assert table_checksum(nightly.path, table) == table_checksum(rebuilt.path, table)
        full = make_warehouse(tmp_path / f"full-{cutoff}", export, {**variables, **extra})
        tables = ("events", "sessions", "int_sessions_aggregated", "conversions", "items")
        for table in (*tables, "int_transactions_counted", "int_users_combined"):
            assert table_checksum(nightly.path, table) == table_checksum(full.path, table), table
        assert nightly.query(people) == full.query(people)


def test_a_full_build_equals_the_nightlies_as_retention_passes(tmp_path: Path) -> None:
    """Retention keeps each category on its own schedule, and a full build as of a date
    equals the nightlies that reached it: every derived fact is computed from every event
    recorded (ga4_recorded_events), not from the events still kept. With interaction events
    kept a year and user activity two (the defaults' order): a year on, the sessions keep
    counting the interaction events that expired (as the nightly counted them when the days
    were new); two years on, the conversions (kept as transactions) outlive their sessions
    and their events (a sign_up is user activity), and keep both themselves and their
    sessions' attribution. Every table compared, both dates."""
    export, variables = month_boundary_nightly(tmp_path)
    variables.update(retention_years_interaction=1, retention_years_user_activity=2)
    nightly = make_warehouse(tmp_path / "nightly", export, variables)
    sessions = nightly.scalar("select count(*) from sessions")
    conversions = nightly.query("select conversion_key, source from conversions order by all")
    interactions = "select count(*) from events where retention_category = 'interaction'"
    assert nightly.scalar(interactions) > 0
    people = (
        "select * exclude (as_of_date, days_since_first_seen, days_since_last_seen)"
        " from user_attributes order by all"
    )
    tables = (
        "events",
        "sessions",
        "int_sessions_aggregated",
        "conversions",
        "items",
        "int_transactions_counted",
        "int_users_combined",
    )
    for day in ("2027-02-28", "2028-02-28"):
        extra = {"ga4_retention_as_of": day, "ga4_allow_deletes": True}
        nightly.build(extra_vars=extra)
        full = make_warehouse(tmp_path / f"full-{day}", export, {**variables, **extra})
        for table in tables:
            assert table_checksum(nightly.path, table) == table_checksum(full.path, table), table
        assert nightly.query(people) == full.query(people)
    # the schedules did bite: the interaction events and most sessions are gone (the days
    # from Feb 28 on stay two years), the conversions all stay with their attribution
    assert nightly.scalar(interactions) == 0
    assert 0 < nightly.scalar("select count(*) from sessions") < sessions
    assert nightly.query("select conversion_key, source from conversions order by all") == (
        conversions
    )
    orphaned = (
        "select count(*) from conversions where session_key not in"
        " (select session_key from int_sessions_aggregated) and source <> '(not set)'"
    )
    assert nightly.scalar(orphaned) > 0
