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

from orchestrate.accounting import row_accounting
from orchestrate.cli import app
from orchestrate.hostile_data import HOSTILE_CONFIG, write_hostile_export
from tests.orchestrate.conftest import Warehouse, make_warehouse

RUN_DATE = HOSTILE_CONFIG.end_date + dt.timedelta(days=1)


# an apostrophe in the export path: every path reaches SQL quoted, never pasted
EXPORT_FOLDER = "export's"
VARIABLES = {
    "ga4_run_date": RUN_DATE.isoformat(),
    "ga4_property_time_zone": HOSTILE_CONFIG.time_zone,
    "erasure_requests_relation": "main.privacy_requests",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, dict, Path]:
    root = tmp_path_factory.mktemp("hostile")
    export = root / EXPORT_FOLDER
    truth = write_hostile_export(export)
    (root / "wh").mkdir()
    with duckdb.connect(str(root / "wh" / "warehouse.duckdb")) as connection:
        connection.execute(
            "create table privacy_requests as select 'r1' as request_id, "
            "date '2026-02-01' as requested_date, cast(null as varchar) as user_id, "
            "cast(? as varchar) as user_pseudo_id",
            [truth["erased_user_pseudo_id"]],
        )
    warehouse = make_warehouse(root / "wh", export, VARIABLES)
    return warehouse, truth, export


def raw_rows_per_day(export: Path) -> dict[str, int]:
    """Independent of the models: Parquet rows and non-empty NDJSON lines, per shard day, of
    every file named as GA4 names its tables (extension in any case)."""
    counts: dict[str, int] = {}
    with duckdb.connect() as connection:
        for path in sorted(export.glob("events_*")):
            if path.suffix.lower() not in (".parquet", ".json", ".ndjson", ".jsonl"):
                continue
            day = path.stem.split("_")[-1]
            if path.suffix.lower() == ".parquet":
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
        "invalid_event_timestamp": truth["invalid_event_timestamp"],
        "future_event_date": truth["future_event_date"],
        "event_date_outside_shard": truth["event_date_outside_shard"],
    }
    texts = [
        row[0]
        for row in warehouse.query(
            "select raw_record from stg_ga4__events_quarantined "
            "where quarantine_reason = 'malformed_record' order by 1"
        )
    ]
    # each non-object line kept with its text, the two identical ones apart; the broken line
    # naming an erased device has its text cleared (the row stays, counted)
    assert len(texts) == truth["malformed_json_lines"] and texts.count(None) == 1
    objects = [text for text in texts if text and text.startswith("{")]
    assert sorted(set(texts) - {None, *objects}) == sorted(
        ['"a string"', "42", "[1, 2]", "null", "true"]
    )
    assert texts.count("42") == 2 and len(objects) == 1
    assert not any(truth["erased_user_pseudo_id"] in (t or "") for t in texts)
    # impossible amounts never reach the marts, whichever field holds them
    assert (
        warehouse.scalar(
            "select count(*) from conversions where not isfinite(local_amount) or local_amount < 0 "
            "or local_amount > 1e8"
        )
        == 0
    )
    # a row dated 2099 or 1970 is filed under its shard's day; the 2099 file under 2099-12-31
    assert (
        warehouse.scalar(
            "select count(*) from stg_ga4__events where event_date > current_date "
            "and quarantine_reason is distinct from 'future_event_date'"
        )
        == 0
    )
    assert (
        warehouse.scalar(
            "select count(*) from stg_ga4__events where event_date < date '2020-01-01'"
        )
        == 0
    )


def test_every_raw_row_is_accounted_for(hostile) -> None:
    """Per export day: raw rows (counted from the files) = kept + collapsed duplicates +
    quarantined + removed, each with its reason, as the run reports it."""
    warehouse, truth, export = hostile
    accounting = row_accounting(warehouse.run)
    raw = raw_rows_per_day(export)
    assert raw[f"{HOSTILE_CONFIG.end_date + dt.timedelta(days=1):%Y%m%d}"] == 0  # empty file
    reported = {day.replace("-", ""): counted for day, counted in accounting.items()}
    for day, rows in raw.items():
        if rows == 0:
            assert day not in reported
            continue
        counted = reported[day]
        parts = (
            counted["kept"]
            + counted["collapsed_duplicates"]
            + sum(counted["quarantined"].values())
            + sum(counted["removed"].values())
        )
        assert rows == counted["raw"] == parts, (day, counted)
    # the kept rows are the events mart's, the quarantined ones the quarantine's
    kept = dict(warehouse.query("select source_table_suffix, count(*) from events group by 1"))
    assert {day: c["kept"] for day, c in reported.items() if c["kept"]} == kept
    removed: dict[str, int] = {}
    for counted in reported.values():
        for reason, rows in counted["removed"].items():
            removed[reason] = removed.get(reason, 0) + rows
    assert removed["retention"] == truth["retention_old_day"]
    erased = truth["erased_user_pseudo_id"]
    erased_rows = warehouse.scalar(
        "select count(*) from read_parquet(?) where user_pseudo_id = ?",
        [str(export / "*.parquet"), erased],
    ) + sum(
        1
        for path in export.glob("events_*.json")
        for line in path.read_text().splitlines()
        if line.startswith("{")
        and line.endswith("}")
        and json.loads(line).get("user_pseudo_id") == erased
    )
    assert removed["erasure"] == erased_rows > 0
    assert (
        warehouse.scalar("select count(*) from stg_ga4__events where user_pseudo_id = ?", [erased])
        == 0
    )
    assert reported["20991231"]["quarantined"] == {"future_event_date": 3}


def test_export_files_are_named_exactly(hostile) -> None:
    """An upper-case extension is read; files that are not export files are not."""
    warehouse, truth, _ = hostile
    assert (
        warehouse.scalar(
            "select count(*) from stg_ga4__events where source_file = ?", [truth["upper_case_file"]]
        )
        > 0
    )
    assert (
        warehouse.scalar(
            "select count(*) from stg_ga4__events where source_file not like 'events_%'"
        )
        == 0
    )


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
    # a currency without a rate: USD is GA4's own USD amount, flagged (never a local amount)
    unknown = warehouse.query(
        "select count(*), count(revenue_usd), count(*) filter (where is_usd_from_google) "
        "from conversions where currency = 'XYZ'"
    )[0]
    assert unknown == (truth["unknown_currency_purchases"],) * 3
    assert (
        warehouse.scalar("select count(*) from conversions where not is_currency_known")
        == truth["unknown_currency_purchases"]
    )
    # item amounts no NUMERIC holds (NaN revenue, a 1e300 price): the purchase and its items
    # are kept, those amounts null in the items mart (money), the export's values in staging
    absurd = truth["absurd_item_amounts"]
    where = "event_name = 'purchase' and user_pseudo_id = ? and event_timestamp_micros = ?"
    key = [absurd["user_pseudo_id"], absurd["event_timestamp"]]
    assert absurd["items"] > 0
    assert warehouse.query(
        "select count(*), count(item_revenue), count(price), count(quantity) "
        f"from items where {where}",
        key,
    ) == [(absurd["items"], 0, 0, absurd["items"])]
    assert warehouse.query(
        "select bool_and(isnan(item.item_revenue)), min(item.price), count(*) "
        f"from (select unnest(items) as item from stg_ga4__events where {where})",
        key,
    ) == [(True, 1e300, absurd["items"])]
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
    variables = {**VARIABLES, "ga4_export_path": str(export)}
    variables.pop("ga4_run_date")
    result = CliRunner().invoke(
        app,
        [
            "--vars",
            json.dumps(variables),
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
    # the 2099 file is no sign of freshness: the newest day is the run date's eve
    assert document["freshness"]["newest_export_day"] == RUN_DATE.isoformat()
    assert document["unread_files"] == truth["unread_files"]
    for name in truth["unread_files"]:
        assert sum(f"not read: {name}" in line for line in result.output.splitlines()) == 1
    # the nightly's window: each of its days accounted for, raw = the parts
    accounting = document["accounting"]
    assert accounting and all(
        counted["raw"]
        == counted["kept"]
        + counted["collapsed_duplicates"]
        + sum(counted["quarantined"].values())
        + sum(counted["removed"].values())
        for counted in accounting.values()
    )
    day = truth["damaged_day"]
    assert accounting[day]["quarantined"]["invalid_revenue"] == truth["invalid_revenue"]
    # and each day matches the rows in its files, as on the full build
    raw = raw_rows_per_day(export)
    for day, counted in accounting.items():
        assert counted["raw"] == raw[day.replace("-", "")], day
