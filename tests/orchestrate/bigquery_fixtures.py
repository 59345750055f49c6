"""Fixtures for the BigQuery tests: the offline render and its analysis (never skipped), and a
local BigQuery emulator with the warehouse built on it twice (skipped, with the reason, when
Python 3.13 is missing). Session-scoped: each is made once per test run.

Test modules use them with `pytest_plugins = ("tests.orchestrate.bigquery_fixtures",)`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchestrate.bigquery import emulator as bq_emulator
from orchestrate.bigquery.analyzer import AnalysisReport, analyze_statements
from orchestrate.bigquery.capture import (
    Capture,
    CapturedAnalysis,
    CapturedStatement,
    CaptureReport,
)
from orchestrate.bigquery.render import RenderedStatement, load_manifest, manifest_statements
from orchestrate.cli import app
from orchestrate.dbt import DbtRun, run_dbt
from orchestrate.settings import Settings
from tests.orchestrate.conftest import REAL_SAMPLE, REPO

RUN_DATE = "2020-11-02"
RENDER_VARIABLES = {"ga4_run_date": RUN_DATE, "ga4_partition_expiration_days": 400}
EMULATOR_PROJECT = "emulator-project"
EMULATOR_EXPORT_DATASET = "analytics_123456789"
EMULATOR_DATASET = "random_truffle"
# Unit tests the emulator cannot run as BigQuery does. The emulator executes BigQuery SQL on
# DuckDB through sqlglot (30.31 in .venv-bq), which transpiles our first / last non-null pick,
# `array_agg(x ignore nulls order by … limit 1)`, to `ARRAY_AGG(x ORDER BY … LIMIT 1)
# FILTER(WHERE x ORDER BY … LIMIT 1 IS NOT NULL)`: the limit applies before the nulls are
# dropped, so a group whose last value is null picks null (sqlglot's IGNORE NULLS → FILTER
# translation, tobymao/sqlglot#7893, builds the filter from the ORDER / LIMIT wrapper). This
# unit test is the one place with such a group (the real sample has none); it runs on DuckDB
# and in the offline BigQuery proof. It can go once local-bigquery's sqlglot transpiles it.
EMULATOR_UNSUPPORTED = ("a_pick_from_an_earlier_session_keeps_its_own_order",)
# The real sample is the 2020-21 export vintage (no newer columns); its property is in
# California, as the DuckDB reference build says.
EMULATOR_VARIABLES = {
    "ga4_project": EMULATOR_PROJECT,
    "ga4_dataset": EMULATOR_EXPORT_DATASET,
    "ga4_bigquery_has_newer_columns": False,
    "ga4_property_time_zone": "America/Los_Angeles",
}


@dataclass
class Rendered:
    statements: list[RenderedStatement]
    target_path: Path
    manifest: dict[str, Any]

    def get(self, name: str, form: str = "full") -> RenderedStatement:
        return next(s for s in self.statements if s.name == name and s.form == form)


@dataclass
class OfflineCompile:
    """`truffle compile --target bigquery --offline` as run through the CLI: its exit code,
    what it printed and the folder it wrote."""

    exit_code: int
    output: str
    out: Path


@pytest.fixture(scope="session")
def offline_compile(tmp_path_factory: pytest.TempPathFactory) -> OfflineCompile:
    """The offline proof through the CLI, once per test run, for the run date 2020-11-02 with a
    partition retention of 400 days: the render, the analysis and the captured builds that the
    fixtures below read from its folder."""
    out = tmp_path_factory.mktemp("offline_compile") / "sql"
    arguments = ["--project-dir", str(REPO), "--vars", json.dumps(RENDER_VARIABLES)]
    arguments += ["compile", "--target", "bigquery", "--offline", "--out", str(out)]
    result = CliRunner().invoke(app, arguments)
    return OfflineCompile(result.exit_code, result.output, out)


def _proven(compiled: OfflineCompile) -> Path:
    if compiled.exit_code != 0:
        pytest.fail(f"the offline proof failed:\n{compiled.output}")
    return compiled.out


@pytest.fixture(scope="session")
def bigquery_render(offline_compile: OfflineCompile) -> Rendered:
    """Every model (full and incremental form) and analysis rendered for BigQuery, offline
    (the proof's render: the manifests it wrote for each form)."""
    target = _proven(offline_compile) / "dbt"
    statements = [
        statement
        for form in ("full", "incremental")
        for statement in manifest_statements(load_manifest(target, form), form)
    ]
    return Rendered(statements, target, load_manifest(target))


@pytest.fixture(scope="session")
def bigquery_analysis(bigquery_render: Rendered) -> AnalysisReport:
    return analyze_statements(bigquery_render.statements, bigquery_render.manifest, REPO)


@pytest.fixture(scope="session")
def bigquery_builds(offline_compile: OfflineCompile) -> CaptureReport:
    """Every statement a full build and a nightly (run date 2020-11-02) send, captured
    offline and analyzed (read back from the proof's `builds/<run>.json`)."""
    folder = _proven(offline_compile) / "builds"
    captures, results = [], []
    for run in ("full", "nightly"):
        listing = json.loads((folder / f"{run}.json").read_text())
        capture = Capture(listing["run"], failures=listing["failures"])
        for entry in listing["statements"]:
            statement = CapturedStatement(
                listing["run"], entry["node"] or "", entry["kind"], entry["sql"]
            )
            capture.statements.append(statement)
            results.append(CapturedAnalysis(statement, entry["error"]))
        captures.append(capture)
    return CaptureReport(captures, results)


# ------------------------------------------------------------------ emulator ----


def query_rows(client: Any, sql: str) -> list[tuple]:
    """A query's rows on the emulator, as tuples."""
    return [tuple(row.values()) for row in client.query(sql).result()]


@dataclass
class EmulatorWarehouse:
    emulator: bq_emulator.Emulator
    client: Any
    full: DbtRun
    incremental: DbtRun

    def query(self, sql: str) -> list[tuple]:
        return query_rows(self.client, sql)

    def table(self, name: str) -> str:
        return f"`{EMULATOR_PROJECT}.{EMULATOR_DATASET}.{name}`"


@pytest.fixture(scope="session")
def bigquery_emulator(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A running emulator on free loopback ports; its virtual environment is set up first if
    needed (skips, saying why, when there is no Python 3.13)."""
    reason = bq_emulator.unavailable_reason(REPO)
    if reason is not None:
        pytest.skip(f"BigQuery emulator tests skipped: {reason}")
    root = tmp_path_factory.mktemp("bigquery_emulator")
    emulator = bq_emulator.Emulator(REPO, root / "data", project=EMULATOR_PROJECT).start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def emulator_warehouse(
    bigquery_emulator: bq_emulator.Emulator, tmp_path_factory: pytest.TempPathFactory
) -> EmulatorWarehouse:
    """The two real sample days loaded as events_20201101/02, then `dbt build` on the
    BigQuery target twice: a full refresh, then an incremental run for 2020-11-02."""
    root = tmp_path_factory.mktemp("bigquery_emulator_build")
    client = bigquery_emulator.client()
    bq_emulator.load_export_days(
        client, EMULATOR_EXPORT_DATASET, sorted(REAL_SAMPLE.glob("events_*.parquet"))
    )
    settings = Settings(
        project_dir=REPO,
        profiles_dir=bigquery_emulator.profile(root / "profile", EMULATOR_DATASET),
        target="bigquery",
        vars=dict(EMULATOR_VARIABLES),
    )
    full = run_dbt(
        ["build", "--full-refresh", "--exclude", *EMULATOR_UNSUPPORTED],
        settings,
        target_path=root / "full",
    )
    incremental = run_dbt(
        ["build", "--exclude", *EMULATOR_UNSUPPORTED],
        settings,
        target_path=root / "incremental",
        extra_vars={"ga4_run_date": RUN_DATE},
    )
    return EmulatorWarehouse(bigquery_emulator, client, full, incremental)
