"""Checks follow the window: on an incremental run the data tests of an incremental model read
only the re-processed window (one day either side), so a nightly's tests do not grow with
history; a full refresh and `--full-checks` check everything."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb

from orchestrate.dbt import run_dbt
from orchestrate.settings import Settings
from tests.orchestrate.conftest import GENERATED_CONFIG, REPO, Warehouse

END = GENERATED_CONFIG.end_date


def test_tests_read_the_window_unless_full_checks(
    generated_warehouse: Warehouse, tmp_path: Path
) -> None:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(generated_warehouse.path, copy)
    oldest = generated_warehouse.scalar("select min(event_date) from events")
    assert oldest < END - dt.timedelta(days=4)  # outside the window of a run on END
    # a duplicate event on the oldest day: only a whole-history check can see it
    with duckdb.connect(str(copy)) as connection:  # the events mart is a view over this table
        connection.execute(
            "insert into int_events_recorded select * from int_events_recorded"
            " where event_date = ? limit 1",
            [oldest],
        )
    settings = Settings(
        project_dir=REPO, vars=dict(generated_warehouse.settings.vars), duckdb_path=copy
    )

    def test_events(**extra: object):
        return run_dbt(
            ["test", "--select", "unique_events_v1_event_key"],
            settings,
            target_path=tmp_path / "target",
            extra_vars={"ga4_run_date": END.isoformat(), **extra},
            quiet=True,
        )

    windowed = test_events()
    assert [r.status for r in windowed.results] == ["pass"]
    compiled = next((tmp_path / "target" / "compiled").rglob("unique_events_v1_event_key.sql"))
    window = f"event_date >= cast('{END - dt.timedelta(days=4)}' as date)"
    assert window in compiled.read_text()

    whole = test_events(ga4_full_checks=True)
    assert [r.status for r in whole.results] == ["fail"]
    assert "event_date >=" not in compiled.read_text()


def test_the_people_checks_read_those_last_seen_in_the_window(
    generated_warehouse: Warehouse, tmp_path: Path
) -> None:
    """The people are a table rebuilt whole: a nightly's tests of them (and of user_attributes
    and the audience members over them) check the people last seen in the window, so they
    miss a duplicate last seen before it and catch one last seen in it."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(generated_warehouse.path, copy)
    settings = Settings(
        project_dir=REPO, vars=dict(generated_warehouse.settings.vars), duckdb_path=copy
    )
    # a person is unique within their property (property_id, unified_user_id)
    tests = (
        "truffle_unique_combination_int_users_combined_property_id__unified_user_id "
        "truffle_unique_combination_user_attributes_v1_property_id__unified_user_id"
    )

    def test_people(**extra: object) -> list[str]:
        run = run_dbt(
            ["test", "--select", *tests.split()],
            settings,
            target_path=tmp_path / "target",
            extra_vars={"ga4_run_date": END.isoformat(), **extra},
            quiet=True,
        )
        return sorted(r.status for r in run.results)

    def duplicate(last_seen: str) -> None:
        with duckdb.connect(str(copy)) as connection:
            connection.execute(
                "insert into int_users_combined select * from int_users_combined"
                f" where last_seen_date = ({last_seen}) limit 1"
            )

    oldest = generated_warehouse.scalar("select min(last_seen_date) from int_users_combined")
    assert oldest < END - dt.timedelta(days=4)  # outside the window of a run on END
    # a person last seen long before the window, twice: only a whole-history check sees it
    duplicate("select min(last_seen_date) from int_users_combined")
    assert test_people() == ["pass", "pass"]
    assert test_people(ga4_full_checks=True) == ["fail", "fail"]
    # a person last seen on the run date, twice: the window's check sees it
    duplicate(f"select date '{END.isoformat()}'")
    assert test_people() == ["fail", "fail"]


def test_a_window_sessions_people_are_looked_up_among_those_seen_since_it(
    generated_warehouse: Warehouse, tmp_path: Path
) -> None:
    """Every session's person is in user_attributes: a nightly checks the window's sessions
    against the people last seen since the window began (truffle_relationships_active), so it
    misses a person gone who was last seen long before and catches one seen on the run date."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(generated_warehouse.path, copy)
    settings = Settings(
        project_dir=REPO, vars=dict(generated_warehouse.settings.vars), duckdb_path=copy
    )

    def check(**extra: object) -> list[str]:
        run = run_dbt(
            ["test", "--select", "test_name:truffle_relationships_active"],
            settings,
            target_path=tmp_path / "target",
            extra_vars={"ga4_run_date": END.isoformat(), **extra},
            quiet=True,
        )
        return [r.status for r in run.results]

    def remove_a_person(last_seen: str) -> None:
        with duckdb.connect(str(copy)) as connection:
            connection.execute(
                "delete from int_users_combined where unified_user_id = ("
                " select unified_user_id from int_users_combined"
                f" where last_seen_date = ({last_seen}) order by unified_user_id limit 1)"
            )

    assert check() == ["pass"]
    assert check(ga4_full_checks=True) == ["pass"]
    oldest = generated_warehouse.scalar("select min(last_seen_date) from int_users_combined")
    assert oldest < END - dt.timedelta(days=4)  # outside the window of a run on END
    # a person last seen long before the window, gone: only a whole-history check sees it
    remove_a_person("select min(last_seen_date) from int_users_combined")
    assert check() == ["pass"]
    assert check(ga4_full_checks=True) == ["fail"]
    # a person with a session on the run date, gone: the window's check sees it
    remove_a_person(f"select date '{END.isoformat()}'")
    assert check() == ["fail"]
