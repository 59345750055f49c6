"""`truffle nightly` and `truffle backfill` on a warehouse built a day earlier: new days and
rewritten days inside the window are picked up, older days stay untouched unless backfilled."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from orchestrate.cli import app
from orchestrate.demo_data import GeneratorConfig, generate_export
from tests.orchestrate.conftest import Warehouse, make_warehouse

runner = CliRunner()
END = dt.date(2026, 1, 31)
CONFIG = GeneratorConfig(end_date=END, days=8, users=250, seed=21, json_days=0, intraday_days=1)


def day_name(day: dt.date) -> str:
    return f"events_{day:%Y%m%d}.parquet"


def rewrite_day(path: Path, keep_every: int) -> int:
    """Rewrite a daily table as GA4 does when it reprocesses a day: here, fewer events.
    Returns the number of distinct events in the new file (exact duplicates collapse)."""
    with duckdb.connect() as connection:
        connection.execute(
            "copy (select * from read_parquet(?) where event_timestamp % ? != 0) to ? "
            "(format parquet)",
            [str(path), keep_every, str(path) + ".new"],
        )
        distinct = connection.execute(
            "select count(*) from (select distinct * from read_parquet(?))", [str(path) + ".new"]
        ).fetchall()[0][0]
    Path(str(path) + ".new").replace(path)
    return distinct


def per_day(warehouse: Warehouse) -> dict[str, int]:
    return {
        str(day): count
        for day, count in warehouse.query(
            "select event_date, count(*) from events group by 1 order by 1"
        )
    }


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("nightly")
    full = root / "full_export"
    manifest = generate_export(full, CONFIG)
    export = root / "export"
    export.mkdir()
    for path in full.glob("events_*"):
        if f"{END:%Y%m%d}" not in path.name:  # the newest day has not landed yet
            shutil.copy(path, export)
    warehouse = make_warehouse(
        root / "wh",
        export,
        {
            "ga4_property_time_zone": CONFIG.time_zone,
            "ga4_run_date": (END - dt.timedelta(days=1)).isoformat(),
        },
    )
    return {
        "root": root,
        "full": full,
        "export": export,
        "warehouse": warehouse,
        "manifest": manifest,
    }


def invoke(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(warehouse.path))
    variables = json.dumps(
        {
            "ga4_export_path": warehouse.settings.vars["ga4_export_path"],
            "ga4_property_time_zone": CONFIG.time_zone,
        }
    )
    return runner.invoke(app, ["--vars", variables, *args])


def test_nightly_picks_up_new_and_rewritten_days_only(
    scenario: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    warehouse: Warehouse = scenario["warehouse"]
    export: Path = scenario["export"]
    before = per_day(warehouse)
    assert str(END) not in before
    # the new day lands, a day inside the window is rewritten, and one older day too
    for path in scenario["full"].glob(f"events_*{END:%Y%m%d}*"):
        shutil.copy(path, export)
    inside = END - dt.timedelta(days=2)
    older = END - dt.timedelta(days=6)
    inside_events = rewrite_day(export / day_name(inside), keep_every=7)
    older_events = rewrite_day(export / day_name(older), keep_every=5)
    assert inside_events < before[str(inside)] and older_events < before[str(older)]

    summary_path = tmp_path / "summary.json"
    result = invoke(
        warehouse,
        monkeypatch,
        "nightly",
        "--run-date",
        END.isoformat(),
        "--summary",
        str(summary_path),
    )
    assert result.exit_code == 0, result.output
    after = per_day(warehouse)
    assert after[str(END)] == scenario["manifest"]["unique_events_by_date"][str(END)]
    assert after[str(inside)] == inside_events
    for day, count in before.items():
        if day != str(inside):
            assert after[day] == count, day  # the rewritten older day is outside the window

    summary = json.loads(summary_path.read_text())
    assert summary["success"] is True
    assert summary["run_date"] == END.isoformat()
    assert summary["window"] == {"start": str(END - dt.timedelta(days=3)), "end": str(END)}
    assert summary["freshness"]["status"] == "pass"
    assert summary["freshness"]["newest_export_day"] == str(END)
    models = {model["name"]: model for model in summary["models"]}
    assert models["events"]["status"] == "success"
    # the events mart is a view: its rows are counted in the stored events behind it
    assert models["int_events_recorded"]["rows"] == sum(after.values())
    # DuckDB measures no model before building it unless a limit is asked for (--max-mb)
    assert models["stg_ga4__events"]["bytes"] is None and summary["costs"] == []
    assert summary["tests"]["failed"] == 0 and summary["tests"]["passed"] > 50
    assert {"started_at", "finished_at", "warnings", "failures"} <= set(summary)

    # backfill: only the older rewritten day changes
    result = invoke(
        warehouse,
        monkeypatch,
        "backfill",
        "--start",
        older.isoformat(),
        "--end",
        older.isoformat(),
    )
    assert result.exit_code == 0, result.output
    backfilled = per_day(warehouse)
    assert backfilled[str(older)] == older_events
    for day, count in after.items():
        if day != str(older):
            assert backfilled[day] == count, day


def test_nightly_fails_when_the_export_is_stale(
    scenario: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary_path = tmp_path / "stale.json"
    result = invoke(
        scenario["warehouse"],
        monkeypatch,
        "nightly",
        "--run-date",
        "2026-03-01",
        "--summary",
        str(summary_path),
    )
    assert result.exit_code == 1
    summary = json.loads(summary_path.read_text())
    assert summary["success"] is False
    assert summary["freshness"]["status"] == "error"
    assert summary["failures"][0]["node"] == "source freshness"


def test_backfill_arguments(scenario: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = scenario["warehouse"]
    assert (
        invoke(
            warehouse, monkeypatch, "backfill", "--start", "2026-01-30", "--end", "2026-01-20"
        ).exit_code
        == 2
    )
    assert (
        invoke(
            warehouse, monkeypatch, "backfill", "--start", "yesterday", "--end", "2026-01-20"
        ).exit_code
        == 2
    )
    assert invoke(warehouse, monkeypatch, "backfill", "--start", "2026-01-20").exit_code == 2


def resend_later(export: Path, first_day: dt.date, later_day: dt.date) -> str:
    """A purchase of `first_day` sent again on `later_day` (a confirmation page reloaded days
    later): the same transaction, a later event. Returns its transaction id."""
    first, later = export / day_name(first_day), export / day_name(later_day)
    shift = (later_day - first_day).days * 86_400_000_000
    with duckdb.connect() as connection:
        transaction, timestamp = connection.execute(
            "select ecommerce.transaction_id, event_timestamp from read_parquet(?) "
            "where event_name = 'purchase' and ecommerce.transaction_id like 'T%' "
            "order by event_timestamp limit 1",
            [str(first)],
        ).fetchone()
        connection.execute(
            "copy (select * from read_parquet(?) union all by name select * replace (? as "
            "event_date, event_timestamp + ? as event_timestamp) from read_parquet(?) where "
            "event_name = 'purchase' and event_timestamp = ?) to ? (format parquet)",
            [str(later), f"{later_day:%Y%m%d}", shift, str(first), timestamp, str(later) + ".new"],
        )
    Path(str(later) + ".new").replace(later)
    return transaction


@pytest.mark.parametrize("as_json", [False, True], ids=["printed", "json"])
def test_a_late_day_backfilled_moves_a_resent_transaction_to_its_first_send(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    """A transaction first sent on a day whose export arrived late, and sent again on a later
    day that was built first: a backfill of the late day finds the earlier send, and truffle
    builds the later day again, so the conversion moves to its first send (once, not twice:
    the later day's conversions, the sessions' revenue and the users' lifetime revenue lose
    it) and every mart and view equals a full build of the whole export. A second run of the
    same backfill restates nothing and changes nothing. The restatement's own run is reported
    (models, tests, the restated day's rows accounted for), printed or in --json."""
    config = GeneratorConfig(
        end_date=dt.date(2026, 3, 3), days=6, users=150, seed=7, json_days=0, intraday_days=0
    )
    late_day, resend_day = dt.date(2026, 2, 27), dt.date(2026, 3, 1)
    full = tmp_path / "full"
    generate_export(full, config)
    transaction = resend_later(full, late_day, resend_day)
    export = tmp_path / "export"
    shutil.copytree(full, export)
    (export / day_name(late_day)).unlink()
    variables = {"ga4_property_time_zone": config.time_zone, "ga4_run_date": "2026-03-03"}
    warehouse = make_warehouse(tmp_path / "warehouse", export, variables)
    counted = "select conversion_date from conversions where transaction_id = ?"
    assert warehouse.query(counted, [transaction]) == [(resend_day,)]

    shutil.copy(full / day_name(late_day), export)
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(warehouse.path))
    arguments = [
        "--vars",
        json.dumps({"ga4_export_path": str(export), **variables}),
        "backfill",
        "--start",
        late_day.isoformat(),
        "--end",
        late_day.isoformat(),
    ]
    result = runner.invoke(app, [*arguments, "--json"] if as_json else arguments)
    assert result.exit_code == 0, result.output
    raw_rows = warehouse.scalar(
        "select count(*) from read_parquet(?)", [str(export / day_name(resend_day))]
    )
    if as_json:
        summary = json.loads(result.stdout)
        assert summary["restated_days"] == [resend_day.isoformat()]
        (restated,) = summary["restatements"]
        assert (restated["start"], restated["end"]) == (resend_day.isoformat(),) * 2
        assert restated["models_built"] == restated["models"] > 0
        assert restated["tests"]["failed"] == 0 and restated["tests"]["passed"] > 0
        # the day built again has every raw row accounted for
        day = restated["accounting"][resend_day.isoformat()]
        assert day["raw"] == raw_rows > 0
        quarantined = sum(day["quarantined"].values())
        assert day["raw"] == day["kept"] + day["collapsed_duplicates"] + quarantined
    else:
        assert f"Restated {resend_day} .. {resend_day}" in result.output
        assert "0 failed" in result.output
        assert f"export rows accounted for (restated {resend_day} .. {resend_day})" in (
            " ".join(result.output.split())
        )
    assert warehouse.query(counted, [transaction]) == [(late_day,)]
    assert (
        warehouse.scalar(
            "select count(*) from int_transactions_counted where restated_from_date is not null"
        )
        == 0
    )
    reference = make_warehouse(tmp_path / "reference", full, variables)
    assert warehouse.checksums() == reference.checksums()

    again = runner.invoke(app, arguments)
    assert again.exit_code == 0, again.output
    assert "Restated" not in again.output
    assert warehouse.checksums() == reference.checksums()
