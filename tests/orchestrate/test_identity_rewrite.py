"""Identity follows the current export on every path: when GA4 rewrites export days and a
device's login disappears from them, the next nightly leaves no trace of the old stitching
in partitions it does not re-process, and equals a full build of the rewritten export.

The data: a generated export in which one device, anonymous on every early day, logs in on
the last two days, so a full build stitches its early (out-of-window) events to that login.
Then both days are rewritten without the login.

A backfill of an old day is held to the same: a device first logged in on the first day and
again on a later one; the first day is rewritten without that login and backfilled alone, so
the device's first login moves to the later day, which the backfill does not re-process."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import Result
from typer.testing import CliRunner

from orchestrate.cli import app
from orchestrate.demo_data import GeneratorConfig, generate_export
from tests.orchestrate.conftest import (
    MART_TABLES,
    VIEWS,
    Warehouse,
    make_warehouse,
    table_checksum,
)

runner = CliRunner()
END = dt.date(2026, 1, 31)
CONFIG = GeneratorConfig(end_date=END, days=7, users=200, seed=23, json_days=0, intraday_days=0)
LOGIN = "login-from-rewritten-days"
REWRITTEN = (END - dt.timedelta(days=1), END)
WINDOW_START = END - dt.timedelta(days=3)  # the nightly re-processes ga4_lookback_days (3) + 1


def day_file(export: Path, day: dt.date) -> Path:
    return export / f"events_{day:%Y%m%d}.parquet"


def pick_device(export: Path) -> str:
    """A device never logged in, seen on the first day and on both rewritten days."""
    with duckdb.connect() as connection:
        return connection.execute(
            "select user_pseudo_id from read_parquet($files, filename = true) "
            "where user_pseudo_id is not null group by user_pseudo_id "
            "having count(user_id) = 0 "
            "and count(*) filter (where event_date = $first) > 0 "
            "and count(distinct event_date) filter (where event_date in ($a, $b)) = 2 "
            "order by user_pseudo_id limit 1",
            {
                "files": str(export / "events_*.parquet"),
                "first": f"{END - dt.timedelta(days=CONFIG.days - 1):%Y%m%d}",
                "a": f"{REWRITTEN[0]:%Y%m%d}",
                "b": f"{REWRITTEN[1]:%Y%m%d}",
            },
        ).fetchall()[0][0]


def rewrite_days(
    export: Path, device: str, user_id: str | None, days: tuple[dt.date, ...] = REWRITTEN
) -> None:
    """Rewrite the days, the device's events carrying `user_id` (None: anonymous)."""
    with duckdb.connect() as connection:
        for day in days:
            path = day_file(export, day)
            connection.execute(
                "copy (select * replace (case when user_pseudo_id = $device then $user_id "
                "else user_id end as user_id) from read_parquet($source)) "
                "to $target (format parquet)",
                {
                    "device": device,
                    "user_id": user_id,
                    "source": str(path),
                    "target": str(path) + ".new",
                },
            )
            Path(str(path) + ".new").replace(path)


def run_on_export(warehouse: Warehouse, export: Path, variables: dict, *command: str) -> Result:
    """`truffle <command>` on the warehouse, reading `export` in place of the one it was
    built from."""
    return runner.invoke(
        app,
        ["--vars", json.dumps({**variables, "ga4_export_path": str(export)}), *command],
        env={"TRUFFLE_DUCKDB_PATH": str(warehouse.path)},
    )


def checksums(path: Path) -> dict[str, tuple[int, str]]:
    return {table: table_checksum(path, table) for table in (*MART_TABLES, *VIEWS)}


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("identity_rewrite")
    export = root / "export"
    generate_export(export, CONFIG)
    device = pick_device(export)
    rewrite_days(export, device, LOGIN)
    variables = {"ga4_property_time_zone": CONFIG.time_zone, "ga4_run_date": END.isoformat()}
    warehouse = make_warehouse(root / "nightly", export, variables)
    stitched_before = warehouse.scalar(
        "select count(*) from events where user_pseudo_id = ? and unified_user_id = ? "
        "and event_date < ?",
        [device, LOGIN, WINDOW_START],
    )
    rewritten_export = root / "rewritten_export"
    shutil.copytree(export, rewritten_export)
    rewrite_days(rewritten_export, device, None)
    result = run_on_export(
        warehouse, rewritten_export, variables, "nightly", "--run-date", str(END)
    )
    reference = make_warehouse(root / "full", rewritten_export, variables)
    return {
        "device": device,
        "stitched_before": stitched_before,
        "nightly": result,
        "warehouse": warehouse,
        "reference": reference,
    }


def test_the_old_login_stitched_partitions_outside_the_window(rewritten: dict) -> None:
    assert rewritten["stitched_before"] > 0


def test_a_removed_login_leaves_no_trace_after_the_nightly(rewritten: dict) -> None:
    assert rewritten["nightly"].exit_code == 0, rewritten["nightly"].output
    warehouse = rewritten["warehouse"]
    for table in ("events", "sessions", "conversions", "user_attributes"):
        column = "unified_user_id"
        left = warehouse.scalar(f"select count(*) from {table} where {column} = ?", [LOGIN])
        assert left == 0, f"{table} still carries the removed login"
    assert (
        warehouse.scalar(
            "select count(*) from int_devices_stitched where user_pseudo_id = ?",
            [rewritten["device"]],
        )
        == 0
    )
    assert (
        warehouse.scalar(
            "select count(*) from events where user_pseudo_id = ? and is_stitched_identity",
            [rewritten["device"]],
        )
        == 0
    )


def test_the_nightly_equals_a_full_build_of_the_rewritten_export(rewritten: dict) -> None:
    assert rewritten["nightly"].exit_code == 0, rewritten["nightly"].output
    assert checksums(rewritten["warehouse"].path) == checksums(rewritten["reference"].path)


FIRST_DAY = END - dt.timedelta(days=CONFIG.days - 1)


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("identity_backfill")
    export = root / "export"
    generate_export(export, CONFIG)
    device = pick_device(export)  # seen on the first day and on both of REWRITTEN
    rewrite_days(export, device, LOGIN, days=(FIRST_DAY, REWRITTEN[0]))
    variables = {"ga4_property_time_zone": CONFIG.time_zone, "ga4_run_date": END.isoformat()}
    warehouse = make_warehouse(root / "backfill", export, variables)
    first_login_before = warehouse.scalar(
        "select first_login_date from int_device_users_paired where user_pseudo_id = ?", [device]
    )
    rewritten_export = root / "rewritten_export"
    shutil.copytree(export, rewritten_export)
    rewrite_days(rewritten_export, device, None, days=(FIRST_DAY,))
    result = run_on_export(
        warehouse,
        rewritten_export,
        variables,
        "backfill",
        "--start",
        str(FIRST_DAY),
        "--end",
        str(FIRST_DAY),
    )
    reference = make_warehouse(root / "full", rewritten_export, variables)
    return {
        "device": device,
        "first_login_before": first_login_before,
        "backfill": result,
        "warehouse": warehouse,
        "reference": reference,
    }


def test_a_backfill_that_removes_a_first_login_moves_it_to_the_next(backfilled: dict) -> None:
    """The pair's first login was on the backfilled day; after the backfill it is the later
    login the backfill did not re-process (the pairs are read up to the newest login day),
    and the device map, marts and views equal a full build of the rewritten export."""
    assert backfilled["first_login_before"] == FIRST_DAY
    assert backfilled["backfill"].exit_code == 0, backfilled["backfill"].output
    warehouse = backfilled["warehouse"]
    assert (
        warehouse.scalar(
            "select first_login_date from int_device_users_paired where user_pseudo_id = ?",
            [backfilled["device"]],
        )
        == REWRITTEN[0]
    )
    tables = ("int_device_users_paired", "int_devices_stitched", *MART_TABLES, *VIEWS)
    ours = {table: table_checksum(warehouse.path, table) for table in tables}
    full = {table: table_checksum(backfilled["reference"].path, table) for table in tables}
    assert ours == full
