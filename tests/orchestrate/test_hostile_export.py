"""Hostile export data: the build succeeds, unusable rows are quarantined with a reason,
nothing disappears (raw rows = kept + quarantined + collapsed duplicates, per export day),
and the nightly summary reports the quarantine."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from orchestrate.cli import app
from orchestrate.hostile_data import HOSTILE_CONFIG, write_hostile_export
from tests.orchestrate.conftest import Warehouse, make_warehouse

RUN_DATE = HOSTILE_CONFIG.end_date + dt.timedelta(days=1)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, dict, Path]:
    root = tmp_path_factory.mktemp("hostile")
    truth = write_hostile_export(root / "export")
    warehouse = make_warehouse(
        root / "wh",
        root / "export",
        {"ga4_run_date": RUN_DATE.isoformat(), "ga4_property_time_zone": HOSTILE_CONFIG.time_zone},
    )
    return warehouse, truth, root / "export"


def raw_rows_per_day(export: Path) -> dict[str, int]:
    """Independent of the models: Parquet rows and non-empty NDJSON lines, per shard day."""
    counts: dict[str, int] = {}
    with duckdb.connect() as connection:
        for path in sorted(export.glob("events_*")):
            day = path.stem.split("_")[-1]
            if path.suffix == ".parquet":
                rows = connection.execute(
                    "select count(*) from read_parquet(?)", [str(path)]
                ).fetchall()[0][0]
            else:
                rows = sum(1 for line in path.read_text().splitlines() if line.strip())
            counts[day] = counts.get(day, 0) + rows
    return counts


def test_the_build_succeeds_and_quarantines_with_reasons(hostile) -> None:
    warehouse, truth, _ = hostile
    assert warehouse.run.success and not warehouse.run.failures
    reasons = dict(
        warehouse.query(
            "select quarantine_reason, count(*) from stg_ga4__events_quarantined group by 1"
        )
    )
    assert reasons == {
        "malformed_record": truth["malformed_json_lines"],
        "timestamp_outside_event_date": truth["timestamp_outside_event_date"],
        "invalid_revenue": truth["invalid_revenue"],
    }
    malformed = warehouse.scalar(
        "select raw_record from stg_ga4__events_quarantined "
        "where quarantine_reason = 'malformed_record'"
    )
    assert malformed.startswith("{") and not malformed.rstrip().endswith("}")


def test_nothing_disappears(hostile) -> None:
    warehouse, _, export = hostile
    kept = dict(
        warehouse.query(
            "select source_table_suffix, count(*) + sum(raw_row_count - 1) from events group by 1"
        )
    )
    quarantined = dict(
        warehouse.query(
            "select source_table_suffix, sum(raw_row_count) from stg_ga4__events_quarantined "
            "group by 1"
        )
    )
    raw = raw_rows_per_day(export)
    assert raw[f"{HOSTILE_CONFIG.end_date + dt.timedelta(days=1):%Y%m%d}"] == 0  # empty file
    for day, rows in raw.items():
        assert rows == kept.get(day, 0) + quarantined.get(day, 0), day


def test_damaged_rows_that_can_be_used_are_kept(hostile) -> None:
    warehouse, truth, _ = hostile
    day = truth["damaged_day"]
    assert (
        warehouse.scalar(
            "select count(*) from events where session_key is null and not is_consent_denied"
        )
        == truth["sessionless_events"]
    )
    # values in the unexpected slot are still read
    assert (
        warehouse.scalar(
            "select count(*) from events where page_title = '42' and event_date = ?", [day]
        )
        == truth["wrong_slot_events"]
    )
    unknown = warehouse.query(
        "select count(*), count(revenue_usd) from conversions where currency = 'XYZ'"
    )[0]
    assert unknown == (truth["unknown_currency_purchases"], 0)
    assert (
        warehouse.scalar("select count(*) from conversions where not is_currency_known")
        == truth["unknown_currency_purchases"]
    )
    # near-duplicates (another upload offset) collapse into their event
    assert (
        warehouse.scalar(
            "select count(*) from events where raw_row_count > 1 and event_date = ?", [day]
        )
        >= truth["near_duplicates"]
    )


def test_old_and_new_schema_days_side_by_side(hostile) -> None:
    warehouse, truth, _ = hostile
    newer = dict(
        warehouse.query(
            "select cast(event_date as varchar), count(batch_event_index) from events group by 1"
        )
    )
    assert newer[truth["old_schema_day"]] == 0
    assert newer[truth["damaged_day"]] > 0


def test_nightly_reports_the_quarantine(
    hostile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse, truth, export = hostile
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(warehouse.path))
    summary = tmp_path / "summary.json"
    result = CliRunner().invoke(
        app,
        [
            "--vars",
            json.dumps(
                {"ga4_export_path": str(export), "ga4_property_time_zone": HOSTILE_CONFIG.time_zone}
            ),
            "nightly",
            "--run-date",
            RUN_DATE.isoformat(),
            "--summary",
            str(summary),
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(summary.read_text())
    assert document["quarantine"]["timestamp_outside_event_date"] == 2
    assert document["quarantine"]["invalid_revenue"] == truth["invalid_revenue"]
    assert any("is_currency_known" in warning["node"] for warning in document["warnings"])
