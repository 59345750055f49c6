"""`truffle cost` and the cost gate of build and query, measured by DuckDB's profiler on a
warehouse large enough (several 122,880-row row groups) for date filters to skip data."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from orchestrate.cli import app
from orchestrate.cost import MIB, Thresholds, project_thresholds
from orchestrate.demo_data import GeneratorConfig, generate_export
from tests.orchestrate.conftest import Warehouse, make_warehouse

runner = CliRunner()
END = dt.date(2026, 1, 31)


@pytest.fixture(scope="module")
def large_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    root = tmp_path_factory.mktemp("large")
    config = GeneratorConfig(
        end_date=END, days=4, users=12000, seed=3, json_days=0, intraday_days=0
    )
    generate_export(root / "export", config)
    return make_warehouse(
        root / "wh",
        root / "export",
        {"ga4_run_date": END.isoformat(), "ga4_property_time_zone": config.time_zone},
    )


def invoke(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(warehouse.path))
    variables = json.dumps(
        {
            "ga4_export_path": warehouse.settings.vars["ga4_export_path"],
            "ga4_run_date": END.isoformat(),
        }
    )
    return runner.invoke(app, ["--vars", variables, *args])


def mib_of(output: str, name: str) -> float:
    match = re.search(rf"{re.escape(name)}\S*\s*│\s*\S+\s*│\s*([\d,.]+)", output)
    assert match, output
    return float(match.group(1).replace(",", ""))


def test_full_history_reads_more_than_one_day(
    large_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert large_warehouse.scalar("select count(*) from events") > 3 * 122_880 * 0.6
    full = tmp_path / "full_history.sql"
    full.write_text("select sum(length(page_location)) as n from events")
    one_day = tmp_path / "one_day.sql"
    one_day.write_text(
        "select sum(length(page_location)) as n from events where event_date = '2026-01-28'"
    )
    result = invoke(large_warehouse, monkeypatch, "cost", "--sql", str(full), "--sql", str(one_day))
    assert result.exit_code == 0, result.output
    full_mib, day_mib = mib_of(result.output, "full_history"), mib_of(result.output, "one_day")
    assert full_mib > day_mib > 0


def test_fail_threshold_stops_a_query(
    large_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sql = tmp_path / "q.sql"
    sql.write_text("select sum(length(page_location)) as n from events")
    refused = invoke(large_warehouse, monkeypatch, "query", "--sql", str(sql), "--max-mb", "0.01")
    assert refused.exit_code == 1
    assert "over the 0.01 MiB limit" in refused.output
    allowed = invoke(
        large_warehouse,
        monkeypatch,
        "query",
        "--sql",
        str(sql),
        "--max-mb",
        "0.01",
        "--allow-expensive",
        "-f",
        "csv",
    )
    assert allowed.exit_code == 0, allowed.output
    listed = invoke(large_warehouse, monkeypatch, "cost", "--sql", str(sql), "--max-mb", "0.01")
    assert listed.exit_code == 1
    assert "fail" in listed.output


def test_cost_lists_models_and_analyses(
    large_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = invoke(large_warehouse, monkeypatch, "cost", "--warn-mb", "0.5")
    assert result.exit_code == 0, result.output
    for name in ("stg_ga4__events", "user_attributes", "get_session_trends"):
        assert name in result.output
    assert "warn" in result.output  # something reads more than 0.5 MiB


def test_build_refuses_over_the_limit_unless_allowed(
    large_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = large_warehouse.checksums()
    refused = invoke(large_warehouse, monkeypatch, "build", "--max-mb", "0.01")
    assert refused.exit_code == 1
    assert "over the cost limit" in refused.output
    assert large_warehouse.checksums() == before  # nothing ran
    allowed = invoke(large_warehouse, monkeypatch, "build", "--max-mb", "0.01", "--allow-expensive")
    assert allowed.exit_code == 0, allowed.output


def test_thresholds_from_project_and_model_meta(tmp_path: Path) -> None:
    (tmp_path / "dbt_project.yml").write_text(
        yaml.safe_dump({"vars": {"truffle_cost_warn_mb": 5, "truffle_cost_max_mb": 50}})
    )
    project = project_thresholds(tmp_path)
    assert project == Thresholds(5, 50)
    assert project_thresholds(tmp_path, max_mb=70) == Thresholds(5, 70)
    model = project.for_meta({"cost_max_mb": 500})
    assert model == Thresholds(5, 500)
    assert model.status(int(60 * MIB)) == "warn"
    assert project.status(int(60 * MIB)) == "fail"
    assert project.status(int(1 * MIB)) == "ok"
    assert project.status(None) == "unmeasured"
