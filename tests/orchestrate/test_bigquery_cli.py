"""`truffle compile --target bigquery --offline` and `truffle cost` on the BigQuery target,
through Typer's CliRunner. The offline render and analysis never skip; the cost check's
dry runs need the local BigQuery emulator (skipped, saying why, without Python 3.13)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from orchestrate.cli import app
from tests.orchestrate.conftest import REPO

if TYPE_CHECKING:
    from tests.orchestrate.bigquery_fixtures import EmulatorWarehouse, OfflineCompile

pytest_plugins = ("tests.orchestrate.bigquery_fixtures",)

runner = CliRunner()
PROJECT_PARTS = (
    "dbt_project.yml",
    "profiles.yml",
    "models",
    "macros",
    "seeds",
    "analyses",
    "profiles",
    "tests/dbt",
)


def compile_offline(project_dir: Path, out: Path) -> object:
    arguments = ["--project-dir", str(project_dir), "compile", "--target", "bigquery"]
    return runner.invoke(app, [*arguments, "--offline", "--out", str(out)])


def test_compile_offline_renders_and_analyzes_every_model_and_analysis(
    offline_compile: OfflineCompile,
) -> None:
    """The proof as `truffle compile --target bigquery --offline --vars …` runs it (the
    shared run: the BigQuery fixtures read what it wrote)."""
    result, sql = offline_compile, offline_compile.out
    assert result.exit_code == 0, result.output
    models = sorted(p.stem for p in (REPO / "models").rglob("*.sql"))
    names = {p.stem.replace("_v1", "") for p in (REPO / "models").rglob("*.sql")}
    written = {
        form: sorted(p.stem for p in (sql / form).glob("*.sql"))
        for form in ("full", "incremental", "analyses", "tests/full", "tests/incremental")
    }
    assert set(written["full"]) == names and len(written["full"]) == len(models)
    assert written["analyses"] == sorted(p.stem for p in (REPO / "analyses").glob("*.sql"))
    assert {"stg_ga4__events", "int_events_recorded", "int_sessions_converted"} <= set(
        written["incremental"]
    )
    # every data test, as a full build and as a nightly send it
    assert len(written["tests/full"]) == len(written["tests/incremental"]) > 50
    statements = sum(len(files) for files in written.values())
    assert f"{statements} statements analyzed, 0 errors" in result.output
    staging = (sql / "incremental" / "stg_ga4__events.sql").read_text()
    assert "_table_suffix between" in staging and "dummy" not in staging
    # then every statement a full build and a nightly send, counted by kind, written per run
    (builds,) = [line for line in result.output.splitlines() if "a build sends" in line]
    assert "full build" in builds and "merge" in builds and builds.endswith("; 0 errors")
    nightly = (sql / "builds" / "nightly.sql").read_text()
    assert "-- [1] " in nightly and "merge into" in nightly
    assert (sql / "builds" / "full.sql").is_file()
    # and machine-readable: each statement with its kind, node and the analyzer's verdict
    listing = json.loads((sql / "builds" / "nightly.json").read_text())
    assert listing["run"] == "nightly" and listing["failures"] == []
    entries = listing["statements"]
    assert len(entries) == len(re.findall(r"^-- \[\d+\] ", nightly, flags=re.M))
    assert f"nightly build {len(entries)} statements" in builds
    assert [entry["number"] for entry in entries] == list(range(1, len(entries) + 1))
    assert all(entry["error"] is None for entry in entries)
    assert {entry["kind"] for entry in entries} >= {"model", "merge", "hook", "test", "unit test"}


def test_compile_offline_fails_with_the_model_and_the_analyzers_message(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, project / part, symlinks=True)
        else:
            project.mkdir(exist_ok=True)
            shutil.copy(source, project / part)
    view = project / "models" / "views" / "cortex_ga4_sessions.sql"
    text = view.read_text()
    assert "event_count as events" in text
    view.write_text(text.replace("event_count as events", "upper(event_count) as events"))
    result = compile_offline(project, tmp_path / "sql")
    assert result.exit_code == 1, result.output
    assert "1 errors" in result.output
    failing = [line for line in result.output.splitlines() if line.strip().startswith("- ")]
    assert failing and all("cortex_ga4_sessions" in line for line in failing)
    assert "UPPER" in failing[0].upper() and "signature" in failing[0]


def test_compile_offline_is_for_bigquery_only() -> None:
    result = runner.invoke(app, ["compile", "--target", "duckdb", "--offline"])
    assert result.exit_code == 2
    assert "--target bigquery" in result.output
    assert result.output.count("\n") == 1


def test_cost_on_bigquery_runs_dry_runs_on_the_emulator(
    emulator_warehouse: EmulatorWarehouse, tmp_path: Path
) -> None:
    from tests.orchestrate.bigquery_fixtures import EMULATOR_VARIABLES

    profiles = emulator_warehouse.emulator.profile(tmp_path / "profile")
    base = ["--project-dir", str(REPO), "--profiles-dir", str(profiles), "--target", "bigquery"]
    base += ["--vars", json.dumps(EMULATOR_VARIABLES)]
    result = runner.invoke(app, [*base, "cost", "--select", "sessions cortex_ga4_sessions"])
    assert result.exit_code == 0, result.output
    assert "sessions" in result.output and "cortex_ga4_sessions" in result.output
    # the emulator accepts the dry-run jobs and reports 0 bytes: nothing over a threshold
    assert "0.00" in result.output and "unmeasured" not in result.output

    good = tmp_path / "good.sql"
    good.write_text(f"select count(*) as sessions from {emulator_warehouse.table('sessions')}")
    measured = runner.invoke(app, [*base, "cost", "--sql", str(good)])
    assert measured.exit_code == 0, measured.output
    assert "good.sql" in measured.output

    bad = tmp_path / "bad.sql"
    bad.write_text(f"select no_such_column from {emulator_warehouse.table('sessions')}")
    rejected = runner.invoke(app, [*base, "cost", "--sql", str(bad)])
    assert rejected.exit_code == 1
    assert "bad.sql could not be measured: dry run rejected the query" in rejected.output
    assert "no_such_column" in rejected.output


def test_the_bigquery_engine_connects_as_the_profile_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """truffle's own BigQuery jobs (cost dry runs, analyses, freshness) use the profile
    target's project, location and byte cap, as dbt-bigquery's jobs do."""
    from orchestrate.engines import BigQueryEngine, QueryFailed, profile_target

    monkeypatch.setenv("TRUFFLE_BQ_PROJECT", "acme-warehouse")
    monkeypatch.setenv("TRUFFLE_BQ_LOCATION", "EU")
    monkeypatch.setenv("TRUFFLE_BQ_MAXIMUM_BYTES_BILLED", "123456789")
    monkeypatch.delenv("BIGQUERY_EMULATOR_HOST", raising=False)
    engine = BigQueryEngine.from_profile(REPO / "profiles", "bigquery")
    assert (engine.project, engine.location) == ("acme-warehouse", "EU")
    assert engine.maximum_bytes_billed == 123456789
    assert engine._config({}, dry_run=True).maximum_bytes_billed == 123456789
    assert profile_target(REPO / "profiles", "bigquery")["method"] == "service-account"
    with pytest.raises(QueryFailed, match="not a BigQuery target"):
        BigQueryEngine.from_profile(REPO / "profiles", "duckdb")
