"""Data-quality monitors: dbt tests on int_export_days_profiled with severities and
thresholds users tune; truffle nightly lists what warned."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrate.cli import app
from orchestrate.dbt import run_dbt
from tests.orchestrate.conftest import GENERATED_CONFIG, GENERATED_TIME_ZONE, Warehouse

MONITORS = {
    "truffle_monitor_freshness": {"ga4_run_date": "2026-03-01"},
    "truffle_monitor_volume": {"monitor_volume_max_ratio": 1.001},
    "consent_denied_share": {"monitor_max_consent_denied_share": 0.001},
    "sessionless_share": {"monitor_max_sessionless_share": -1},
    "duplicate_rate": {"monitor_max_duplicate_rate": 0.001},
}


def monitor_statuses(warehouse: Warehouse, variables: dict) -> dict[str, str]:
    run = run_dbt(
        ["test", "--select", "int_export_days_profiled"],
        warehouse.settings,
        target_path=warehouse.target_path.parent / "monitors",
        extra_vars=variables,
        quiet=True,
    )
    return {
        key: result.status for result in run.results for key in MONITORS if key in result.unique_id
    }


def test_monitors_pass_on_normal_data(generated_warehouse: Warehouse) -> None:
    statuses = monitor_statuses(generated_warehouse, {})
    assert set(statuses) == set(MONITORS)
    assert set(statuses.values()) == {"pass"}, statuses


@pytest.mark.parametrize("monitor", sorted(MONITORS))
def test_each_monitor_warns_past_its_threshold(
    generated_warehouse: Warehouse, monitor: str
) -> None:
    statuses = monitor_statuses(generated_warehouse, MONITORS[monitor])
    assert statuses[monitor] == "warn", statuses


def test_severity_error_fails_the_build(generated_warehouse: Warehouse) -> None:
    statuses = monitor_statuses(
        generated_warehouse,
        {"monitor_max_consent_denied_share": 0.001, "monitor_consent_severity": "error"},
    )
    assert statuses["consent_denied_share"] == "fail"


def test_nightly_summary_lists_what_warned(
    generated_warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(generated_warehouse.path, copy)
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(copy))
    variables = {
        "ga4_export_path": generated_warehouse.settings.vars["ga4_export_path"],
        "ga4_property_time_zone": GENERATED_TIME_ZONE,
        "monitor_max_duplicate_rate": 0.001,
    }
    summary = tmp_path / "summary.json"
    result = CliRunner().invoke(
        app,
        [
            "--vars",
            json.dumps(variables),
            "nightly",
            "--run-date",
            GENERATED_CONFIG.end_date.isoformat(),
            "--summary",
            str(summary),
        ],
    )
    assert result.exit_code == 0, result.output  # warnings do not fail the run
    document = json.loads(summary.read_text())
    assert any("duplicate_rate" in warning["node"] for warning in document["warnings"])
    assert document["tests"]["warned"] >= 1
