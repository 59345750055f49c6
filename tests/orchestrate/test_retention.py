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
from tests.orchestrate.conftest import GENERATED_CONFIG, REPO, Warehouse


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
