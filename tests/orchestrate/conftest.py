"""Shared fixtures: real DuckDB warehouses built with dbt from the real GA4 sample days and
from the project's synthetic export. Built once per test session; tests only read them."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from bench.fingerprint import relation_checksum
from orchestrate.dbt import DbtRun, run_dbt
from orchestrate.demo_data import GeneratorConfig, generate_export
from orchestrate.settings import Settings

REPO = Path(__file__).resolve().parents[2]
REAL_SAMPLE = REPO / "tests" / "fixtures" / "ga4_sample"
JSON_SAMPLE = REPO / "tests" / "fixtures" / "ga4_json_sample"
GENERATED_CONFIG = GeneratorConfig(
    end_date=dt.date(2026, 1, 31), days=6, users=400, seed=11, json_days=1, intraday_days=2
)
GENERATED_TIME_ZONE = GENERATED_CONFIG.time_zone
MART_TABLES = ("events", "sessions", "conversions", "user_attributes", "items")
VIEWS = ("daily_kpis", "audience_metrics", "cortex_ga4_sessions")


@dataclass
class Warehouse:
    """A built warehouse: its DuckDB file, the settings that built it, the last dbt run."""

    path: Path
    settings: Settings
    target_path: Path
    run: DbtRun

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.path), read_only=True) as connection:
            return connection.execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: list | None = None) -> object:
        return self.query(sql, params)[0][0]

    def build(self, *args: str, extra_vars: dict[str, object] | None = None) -> DbtRun:
        self.run = dbt_build(self.settings, self.target_path, *args, extra_vars=extra_vars)
        return self.run

    def checksums(self) -> dict[str, tuple[int, str]]:
        """Row count and an order-independent checksum of every column, per mart and view."""
        return {table: table_checksum(self.path, table) for table in MART_TABLES + VIEWS}


def table_checksum(path: Path, table: str) -> tuple[int, str]:
    """Row count and an order-independent checksum of all columns of one table (floats
    rounded: summation order is not deterministic across threads)."""
    with duckdb.connect(str(path), read_only=True) as connection:
        count, checksum, _ = relation_checksum(connection, table)
    return count, checksum


def dbt_build(
    settings: Settings, target_path: Path, *args: str, extra_vars: dict | None = None
) -> DbtRun:
    run = run_dbt(["build", *args], settings, target_path=target_path, extra_vars=extra_vars)
    assert run.success, run.failure_report()
    return run


def make_warehouse(
    root: Path, export_path: Path, variables: dict[str, object] | None = None
) -> Warehouse:
    """Full-refresh build of the whole project (seeds, models, data and unit tests)."""
    root.mkdir(parents=True, exist_ok=True)
    warehouse_path = root / "warehouse.duckdb"
    settings = Settings(
        project_dir=REPO,
        vars={"ga4_export_path": str(export_path), **(variables or {})},
        duckdb_path=warehouse_path,
    )
    target_path = root / "target"
    run = dbt_build(settings, target_path, "--full-refresh")
    return Warehouse(warehouse_path, settings, target_path, run)


def month_boundary_export(
    root: Path, end_date: dt.date = dt.date(2026, 3, 3), days: int = 6
) -> tuple[Path, GeneratorConfig]:
    """A small generated export over a month boundary (by default Feb 26 - Mar 3 2026): the
    users' state folds a month's days into one row per pair only on the night its settled
    line leaves that month, so the tests of folding need days on both sides of one."""
    config = GeneratorConfig(
        end_date=end_date, days=days, users=150, seed=7, json_days=0, intraday_days=0
    )
    export = root / "export"
    generate_export(export, config)
    return export, config


@pytest.fixture(scope="session")
def real_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """The warehouse built from the two real days of Google's public GA4 sample."""
    root = tmp_path_factory.mktemp("real")
    return make_warehouse(
        root,
        REAL_SAMPLE,
        # as of the sample's own last day (retention counts back from the run date)
        {"ga4_property_time_zone": "America/Los_Angeles", "ga4_run_date": "2020-11-02"},
    )


@pytest.fixture(scope="session")
def generated_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A synthetic export (6 days, 2 intraday shards, 1 NDJSON day) and its ground truth.

    An `events_fresh_*` copy of the newest day sits beside it: the models must never read it.
    """
    export = tmp_path_factory.mktemp("generated_export")
    manifest = generate_export(export, GENERATED_CONFIG)
    newest = export / f"events_{GENERATED_CONFIG.end_date:%Y%m%d}.parquet"
    shutil.copy(newest, export / f"events_fresh_{GENERATED_CONFIG.end_date:%Y%m%d}.parquet")
    return export, manifest


@pytest.fixture(scope="session")
def generated_warehouse(
    tmp_path_factory: pytest.TempPathFactory, generated_export: tuple[Path, dict]
) -> Warehouse:
    export, _ = generated_export
    root = tmp_path_factory.mktemp("generated")
    return make_warehouse(
        root,
        export,
        {
            "ga4_property_time_zone": GENERATED_TIME_ZONE,
            "ga4_run_date": GENERATED_CONFIG.end_date.isoformat(),
        },
    )


@pytest.fixture(scope="session")
def manifest(generated_export: tuple[Path, dict]) -> dict:
    return generated_export[1]


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
