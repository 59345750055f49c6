"""The truffle CLI, driven through Typer's CliRunner against real DuckDB builds."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from orchestrate import __version__
from orchestrate.cli import app
from tests.orchestrate.conftest import JSON_SAMPLE

runner = CliRunner()


@pytest.fixture
def warehouse_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(path))
    return path


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "demo-data", "build"):
        assert command in result.output


def test_help_gives_each_command_one_unbroken_summary() -> None:
    """The command list shows each docstring's first paragraph as one sentence: wrapped by
    the panel's width, not broken where the docstring's lines end."""
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0
    lines = {line.split()[1]: line for line in result.output.splitlines() if line.startswith("│ ")}
    assert (
        "incremental build of the window (or of every day since the last run)" in lines["nightly"]
    )
    assert "with a summary." in lines["build"]
    assert "every figure is an analysis run as `truffle query` runs it." in lines["report"]


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_demo_data_is_deterministic(tmp_path: Path) -> None:
    arguments = ["demo-data", "--days", "2", "--users", "30", "--end-date", "2026-02-02"]
    first = runner.invoke(app, [*arguments, "--out", str(tmp_path / "a")])
    second = runner.invoke(app, [*arguments, "--out", str(tmp_path / "b")])
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    names = sorted(path.name for path in (tmp_path / "a").glob("events_*"))
    assert names == sorted(path.name for path in (tmp_path / "b").glob("events_*"))
    assert "events_20260202.parquet" in names
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_bad_date_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo-data", "--end-date", "yesterday", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


def test_build_succeeds_with_exit_0(warehouse_env: Path) -> None:
    result = runner.invoke(
        app,
        [
            "--vars",
            json.dumps({"ga4_export_path": str(JSON_SAMPLE), "ga4_run_date": "2020-12-27"}),
            "build",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "dbt build summary" in result.output
    with duckdb.connect(str(warehouse_env), read_only=True) as connection:
        assert connection.execute("select count(*) from events").fetchall()[0][0] == 20


def test_failing_nodes_exit_1_and_are_listed(warehouse_env: Path) -> None:
    variables = [
        "--vars",
        json.dumps({"ga4_export_path": str(JSON_SAMPLE), "ga4_run_date": "2020-12-27"}),
    ]
    assert runner.invoke(app, [*variables, "build"]).exit_code == 0
    with duckdb.connect(str(warehouse_env)) as connection:  # break the sessions key
        connection.execute(  # the sessions mart is a view over this stored table
            "insert into int_sessions_converted select * from int_sessions_converted limit 1"
        )
    result = runner.invoke(app, [*variables, "build", "--select", "unique_sessions_v1_session_key"])
    assert result.exit_code == 1
    assert "1 dbt node(s) failed" in result.output
    assert "unique_sessions_v1_session_key" in result.output


def test_unknown_target_exits_2(warehouse_env: Path) -> None:
    result = runner.invoke(
        app,
        [
            "--target",
            "nosuch",
            "--vars",
            json.dumps({"ga4_export_path": str(JSON_SAMPLE), "ga4_run_date": "2020-12-27"}),
            "build",
        ],
    )
    assert result.exit_code == 2
    assert "error:" in result.output
    assert "nosuch" in result.output


def test_missing_export_path_exits_2_with_what_to_do(warehouse_env: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["--vars", json.dumps({"ga4_export_path": str(tmp_path / "none")}), "build"]
    )
    assert result.exit_code == 2
    assert "No GA4 export files" in result.output
    assert "truffle demo-data" in result.output


def test_vars_must_be_a_mapping() -> None:
    result = runner.invoke(app, ["--vars", "[1, 2]", "build"])
    assert result.exit_code == 2
    assert "mapping" in result.output


def test_missing_profiles_dir_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--profiles-dir", str(tmp_path), "build"])
    assert result.exit_code == 2
    assert "profiles.yml" in result.output


def test_demo_builds_and_prints_kpis(tmp_path: Path, warehouse_env: Path) -> None:
    export = tmp_path / "export"
    result = runner.invoke(
        app,
        [
            "--vars",
            json.dumps({"ga4_export_path": str(export)}),
            "demo",
            "--days",
            "3",
            "--users",
            "80",
            "--end-date",
            "2026-02-03",
        ],
    )
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(warehouse_env), read_only=True) as connection:
        sessions = connection.execute("select count(*) from sessions").fetchall()[0][0]
        users = connection.execute("select count(*) from user_attributes").fetchall()[0][0]
        usd = connection.execute("select sum(revenue_usd) from conversions").fetchall()[0][0]
    assert f"sessions     {sessions:,}" in result.output
    assert f"users        {users:,}" in result.output
    assert f"{usd:,.2f} USD" in result.output
    assert str(warehouse_env) in result.output
    assert "Try next" in result.output
