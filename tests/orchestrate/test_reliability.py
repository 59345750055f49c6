"""Reliability: refreshes are idempotent and crash-safe.

A build killed with SIGKILL in the middle of writing a model leaves the warehouse readable,
with the model exactly as it was before the run (the window is replaced in one transaction),
and the next run gives the same warehouse as a clean build."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.orchestrate.conftest import (
    GENERATED_CONFIG,
    GENERATED_TIME_ZONE,
    REPO,
    Warehouse,
    make_warehouse,
    table_checksum,
)
from tests.orchestrate.test_nightly_cli import rewrite_day

END = GENERATED_CONFIG.end_date


def truffle(warehouse_path: Path, export: Path, *args: str, kill_at: str | None = None):
    env = dict(os.environ, TRUFFLE_DUCKDB_PATH=str(warehouse_path))
    env.pop("TRUFFLE_TEST_KILL_AT", None)
    if kill_at:
        env["TRUFFLE_TEST_KILL_AT"] = kill_at
    variables = {"ga4_export_path": str(export), "ga4_property_time_zone": GENERATED_TIME_ZONE}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrate.cli",
            "--project-dir",
            str(REPO),
            "--vars",
            json.dumps(variables),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def changed_export(
    generated_export: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The generated export with a day inside the nightly window rewritten by GA4."""
    export = tmp_path_factory.mktemp("changed") / "export"
    shutil.copytree(generated_export[0], export)
    rewrite_day(export / f"events_{END - dt.timedelta(days=1):%Y%m%d}.parquet", keep_every=3)
    return export


@pytest.fixture(scope="module")
def clean_build(changed_export: Path, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """What any successful refresh of the changed export must produce."""
    return make_warehouse(
        tmp_path_factory.mktemp("clean"),
        changed_export,
        {"ga4_property_time_zone": GENERATED_TIME_ZONE, "ga4_run_date": END.isoformat()},
    )


@pytest.fixture
def yesterdays_warehouse(generated_warehouse: Warehouse, tmp_path: Path) -> Path:
    """A copy of the warehouse as built before the export day was rewritten."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(generated_warehouse.path, copy)
    return copy


@pytest.mark.parametrize(
    "kill_at",
    [
        "stg_ga4__events:insert",
        "int_events_recorded:commit",
        "int_sessions_converted:insert",
        "int_users_aggregated:delete",
        "int_users_combined:rename",
    ],
)
def test_a_killed_build_loses_nothing_and_the_rerun_equals_a_clean_build(
    kill_at: str, yesterdays_warehouse: Path, changed_export: Path, clean_build: Warehouse
) -> None:
    model = kill_at.split(":")[0]
    before = table_checksum(yesterdays_warehouse, model)
    run = [
        "nightly",
        "--run-date",
        END.isoformat(),
        "--summary",
        str(yesterdays_warehouse.parent / "s.json"),
    ]
    killed = truffle(yesterdays_warehouse, changed_export, *run, kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-2000:] + killed.stderr[-2000:]
    # readable, and the model is exactly as before: its window was not half replaced
    assert table_checksum(yesterdays_warehouse, model) == before
    rerun = truffle(yesterdays_warehouse, changed_export, *run)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    after = Warehouse(
        yesterdays_warehouse, clean_build.settings, clean_build.target_path, clean_build.run
    )
    assert after.checksums() == clean_build.checksums()


def test_nightly_and_backfill_twice_change_nothing_the_second_time(
    yesterdays_warehouse: Path, changed_export: Path, clean_build: Warehouse
) -> None:
    warehouse = Warehouse(
        yesterdays_warehouse, clean_build.settings, clean_build.target_path, clean_build.run
    )
    summary = str(yesterdays_warehouse.parent / "s.json")
    for _ in range(2):
        result = truffle(
            yesterdays_warehouse,
            changed_export,
            "nightly",
            "--run-date",
            END.isoformat(),
            "--summary",
            summary,
        )
        assert result.returncode == 0, result.stdout[-3000:]
        assert warehouse.checksums() == clean_build.checksums()
    first = (END - dt.timedelta(days=5)).isoformat()
    last = (END - dt.timedelta(days=4)).isoformat()
    for _ in range(2):
        result = truffle(
            yesterdays_warehouse, changed_export, "backfill", "--start", first, "--end", last
        )
        assert result.returncode == 0, result.stdout[-3000:]
        assert warehouse.checksums() == clean_build.checksums()


def test_a_build_waits_while_another_process_reads_the_warehouse(tmp_path: Path) -> None:
    """A `truffle query` (another process) holding the warehouse read-only makes a build that
    starts then wait for it, not fail on DuckDB's file lock; past the wait it is one line."""
    import time

    import duckdb

    from orchestrate.dbt import DbtUsageError, wait_for_warehouse

    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    hold = (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
        "print('held', flush=True); time.sleep(float(sys.argv[2]))"
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", hold, str(path), "2"], stdout=subprocess.PIPE, text=True
    )
    assert reader.stdout is not None and reader.stdout.readline().strip() == "held"
    with pytest.raises(DbtUsageError, match="still in use by another process"):
        wait_for_warehouse(path, seconds=0.5)
    started = time.monotonic()
    wait_for_warehouse(path, seconds=30)
    assert reader.wait(timeout=10) == 0
    assert time.monotonic() - started > 0.5  # it waited for the reader to finish
