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
