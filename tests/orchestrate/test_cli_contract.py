"""What a dbt user expects of `truffle` around the dbt project (issue 14): the engine comes
from the profile's `type`, a selection that matches nothing is an error, a cost check with no
warehouse is one line, `--json` on build and cost, tables printed whole, and the BigQuery
pieces missing (the extra not installed) or misconfigured (no key file) are one line each."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrate.cli import app
from tests.orchestrate.conftest import REPO, Warehouse

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def one_line_error(result, exit_code: int = 2) -> str:
    """The error as one line on stderr (dbt's own progress, if any, is on stdout)."""
    assert result.exit_code == exit_code, result.output
    assert result.stderr.startswith("error:"), result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output
    return result.stderr


def warehouse_args(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(warehouse.path))
    variables = json.dumps({"ga4_export_path": warehouse.settings.vars["ga4_export_path"]})
    return ["--vars", variables]


def test_a_bigquery_target_named_prod_runs_on_bigquery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine is the profile's `type`, not the target's name: a BigQuery target called
    `prod` is BigQuery (here: it asks for its key file), never the DuckDB warehouse."""
    profile = tmp_path / "profiles.yml"
    profile.write_text(
        "random_truffle:\n  target: prod\n  outputs:\n    prod:\n      type: bigquery\n"
        "      method: service-account\n      keyfile: \"{{ env_var('MISSING_KEY', '') }}\"\n"
        "      project: acme\n      dataset: warehouse\n      threads: 1\n"
    )
    monkeypatch.delenv("TRUFFLE_TARGET", raising=False)
    base = ["--project-dir", str(REPO), "--profiles-dir", str(tmp_path), "--target", "prod"]
    for command in (["build"], ["nightly"], ["cost", "--select", "sessions"]):
        output = one_line_error(invoke(*base, *command))
        assert "BigQuery key file" in output and "TRUFFLE_BQ_KEYFILE" in output, output
        assert "No such file or directory: ''" not in output

    from orchestrate.engines import BigQueryEngine, engine_for, target_type
    from orchestrate.settings import Settings

    settings = Settings(project_dir=REPO, profiles_dir=tmp_path, target="prod")
    assert target_type(settings) == "bigquery"
    assert isinstance(engine_for(settings), BigQueryEngine)


def test_a_missing_key_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUFFLE_BQ_KEYFILE", str(tmp_path / "nowhere.json"))
    output = one_line_error(invoke("--target", "bigquery", "compile"))
    assert "nowhere.json" in output and "does not exist" in output


def test_bigquery_without_the_extra_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A DuckDB-only install (no dbt-bigquery, no zetasql): the BigQuery commands say which
    extra to install, in one line."""
    monkeypatch.setitem(sys.modules, "zetasql", None)  # as if not installed
    output = one_line_error(invoke("--target", "bigquery", "compile", "--offline"))
    assert "pip install 'random-truffle[bigquery]'" in output
    assert "zetasql" in output

    monkeypatch.setitem(sys.modules, "dbt.adapters.bigquery", None)
    output = one_line_error(invoke("--target", "bigquery", "compile", "--offline", "--no-analyze"))
    assert "dbt-bigquery" in output and "random-truffle[bigquery]" in output


def test_a_selection_that_matches_nothing_is_an_error(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = warehouse_args(real_warehouse, monkeypatch)
    for command in ("build", "cost"):
        output = one_line_error(invoke(*base, command, "--select", "no_such_model"))
        assert "no_such_model" in output and "matches nothing" in output


def test_cost_before_the_first_build_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(tmp_path / "not_built.duckdb"))
    output = one_line_error(invoke("cost", "--select", "sessions"))
    assert "not_built.duckdb does not exist yet" in output
    assert "Catalog Error" not in output


def test_every_path_is_for_the_bigquery_nightly_audit_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--every-path` chooses what BigQuery's offline capture assumes; anywhere else it would
    be ignored silently, so it is a usage error saying what to do."""
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(tmp_path / "not_built.duckdb"))
    output = one_line_error(invoke("cost", "--every-path"))
    assert "--every-path goes with --nightly" in output
    output = one_line_error(invoke("cost", "--nightly", "--every-path"))
    assert "on DuckDB the audit runs the real nightly" in output and "drop --every-path" in output


def test_cost_json(real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    base = warehouse_args(real_warehouse, monkeypatch)
    result = invoke(*base, "cost", "--select", "sessions daily_kpis", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["success"] is True
    by_name = {line["name"]: line for line in document["costs"]}
    assert set(by_name) == {"sessions", "daily_kpis"}
    assert all(line["status"] == "ok" and line["max_mb"] == 1024 for line in by_name.values())
    # the view reads the marts; the incremental model's window (today) has no 2020 data
    assert by_name["daily_kpis"]["bytes"] > 0
    assert isinstance(by_name["sessions"]["bytes"], int)


def test_a_duckdb_build_does_not_measure_every_model_first(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB: no limit asked for, no cost check (it would run each model's query once more);
    --json gives the run summary. With --max-mb the check runs and can refuse."""
    base = warehouse_args(real_warehouse, monkeypatch)
    result = invoke(*base, "build", "--select", "daily_kpis", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["success"] is True and summary["costs"] == []
    assert [model["name"] for model in summary["models"]] == ["daily_kpis"]

    refused = invoke(*base, "build", "--select", "daily_kpis", "--max-mb", "0.0001")
    assert refused.exit_code == 1
    assert "over the cost limit: daily_kpis" in refused.output


def test_query_tables_are_printed_whole(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rich squeezes a wide table into the terminal (80 columns here) by cutting headers and
    dates to `…`; truffle prints it as wide as it needs instead."""
    base = warehouse_args(real_warehouse, monkeypatch)
    result = invoke(*base, "query", "get_session_trends", "-p", "grain=week")
    assert result.exit_code == 0, result.output
    assert "…" not in result.output
    header = next(line for line in result.output.splitlines() if "period_start_date" in line)
    for column in ("engaged_sessions_growth_pct", "previous_conversions", "users_growth_pct"):
        assert column in header
    assert "2020-10-26" in result.output  # the ISO week of the sample's first day, whole
