"""No command a user types silently destroys the warehouse, and every incremental path equals a
full build.

- Data years old (the real 2020 sample days, plus a day derived from them two years earlier):
  a full build, a nightly and a backfill, each with and without a pinned run date, keep every
  row a pinned full build keeps; retention counts from the newest export day and reports what
  it removes.
- A run date in the future is refused in one line; a retention step that would delete recent
  rows refuses, deletes nothing, and runs with --allow-deletes.
- A warehouse built to day K and brought up to date by a nightly per day, by one backfill of
  exactly the new days, or by one catch-up nightly equals a full build, with sessions whose
  events lie days apart and purchases after midnight in the data.
"""

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
from tests.orchestrate.conftest import (
    MART_TABLES,
    REAL_SAMPLE,
    VIEWS,
    Warehouse,
    make_warehouse,
    table_checksum,
)

runner = CliRunner()
REAL_ZONE = "America/Los_Angeles"


def counts(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return {
            table: connection.execute(f"select count(*) from {table}").fetchall()[0][0]
            for table in MART_TABLES
        }


def invoke(warehouse_path: Path, export: Path, zone: str, *args: str, **extra: object):
    variables = json.dumps(
        {"ga4_export_path": str(export), "ga4_property_time_zone": zone, **extra}
    )
    return runner.invoke(
        app, ["--vars", variables, *args], env={"TRUFFLE_DUCKDB_PATH": str(warehouse_path)}
    )


def json_summary(output: str) -> dict:
    return json.loads(output[output.index("{") :])


# ------------------------------------------------------------------ data years old ----


@pytest.fixture(scope="module")
def old_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two real sample days, and 2020-11-01 again as 2018-11-01 (other devices): a
    history two years deep whose newest day is six years before today."""
    export = tmp_path_factory.mktemp("old_export")
    for path in REAL_SAMPLE.glob("events_*.parquet"):
        shutil.copy(path, export)
    shift = 731 * 86_400 * 1_000_000  # 2018-11-01 -> 2020-11-01 is 731 days
    with duckdb.connect() as connection:
        connection.execute(
            "copy (select * replace ("
            "'20181101' as event_date, event_timestamp - $shift as event_timestamp, "
            "'old-' || user_pseudo_id as user_pseudo_id)"
            " from read_parquet($source)) to $target (format parquet)",
            {
                "shift": shift,
                "source": str(REAL_SAMPLE / "events_20201101.parquet"),
                "target": str(export / "events_20181101.parquet"),
            },
        )
    return export


def test_old_data_loses_nothing_on_any_path(
    old_export: Path, real_warehouse: Warehouse, tmp_path: Path
) -> None:
    path = tmp_path / "old.duckdb"
    # a full build as the README shows it: no run date
    result = invoke(path, old_export, REAL_ZONE, "build", "--full-refresh", "--json")
    assert result.exit_code == 0, result.output
    summary = json_summary(result.output)
    built = counts(path)
    # the 2020 days are whole: every session, user and conversion of the pinned real build
    real = counts(real_warehouse.path)
    assert built["sessions"] == real["sessions"] == 6351
    with duckdb.connect(str(path), read_only=True) as connection:
        recent_events, recent_conversions = connection.execute(
            "select (select count(*) from events where event_date >= '2020-11-01'), "
            "(select count(*) from conversions where conversion_date >= '2020-11-01')"
        ).fetchall()[0]
        old_days = connection.execute(
            "select distinct retention_category from events where event_date < '2020-01-01'"
        ).fetchall()
        # every session of 2018 was built from all its events recorded (those of categories
        # expired already included), then expired
        old_sessions = connection.execute(
            "select count(distinct session_key) from stg_ga4__events"
            " where event_date < '2020-01-01' and quarantine_reason is null"
        ).fetchall()[0][0]
    assert recent_events == real["events"]
    assert recent_conversions == real["conversions"] == 63
    # retention counted from 2020-11-02: 2018's sessions (user activity, 2 years) and
    # interaction events (1 year) are past it, its transactions and content are not
    assert {row[0] for row in old_days} == {"transaction", "content"}
    removed = {(d["table"], d["step"]): d for d in summary["deletions"]}
    assert old_sessions > 2000
    assert removed["int_sessions_aggregated", "retention"]["rows"] == old_sessions
    assert removed["int_sessions_aggregated", "retention"]["last_day"] == "2018-11-01"

    # a nightly without a run date: the export is stale, so it fails, and deletes nothing
    result = invoke(path, old_export, REAL_ZONE, "nightly", "--json")
    assert result.exit_code == 1
    stale = json_summary(result.output)
    assert stale["failures"][0]["node"] == "source freshness"
    assert stale["catch_up"] is False  # nothing new landed since 2020: nothing to catch up
    assert counts(path) == built
    # a one-day backfill without a run date, then with one; a pinned nightly
    for args, extra in (
        (("backfill", "--start", "2020-11-02", "--end", "2020-11-02"), {}),
        (
            ("backfill", "--start", "2020-11-01", "--end", "2020-11-01"),
            {"ga4_run_date": "2020-11-02"},
        ),
        (("nightly", "--run-date", "2020-11-02"), {}),
    ):
        result = invoke(path, old_export, REAL_ZONE, *args, **extra)
        assert result.exit_code == 0, result.output
        assert counts(path) == built, args


def test_a_future_run_date_is_refused(real_warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "copy.duckdb"
    shutil.copy(real_warehouse.path, path)
    before = counts(path)
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)).isoformat()
    for args, extra in (
        (("nightly", "--run-date", "2029-01-15"), {}),
        (("build", "--run-date", tomorrow), {}),
        (("build",), {"ga4_run_date": "2029-01-15"}),
        (("backfill", "--start", "2020-11-02", "--end", tomorrow), {}),
    ):
        result = invoke(path, REAL_SAMPLE, REAL_ZONE, *args, **extra)
        assert result.exit_code == 2, (args, result.output)
        assert "future" in result.output or "after the run date" in result.output
        assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert counts(path) == before


def test_retention_that_would_delete_recent_rows_refuses(
    real_warehouse: Warehouse, tmp_path: Path
) -> None:
    path = tmp_path / "copy.duckdb"
    shutil.copy(real_warehouse.path, path)
    before = counts(path)
    # retention counted from a date mistyped 13 months late: every interaction event outside
    # the window (2020-11-02 alone) would go, all of them from the newest 30 days
    result = invoke(
        path, REAL_SAMPLE, REAL_ZONE, "build", "--run-date", "2020-11-02",
        ga4_retention_as_of="2021-12-01", ga4_lookback_days=0,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "retention refused on int_events_recorded" in result.output
    assert "--allow-deletes" in result.output
    assert counts(path) == before  # the model's transaction was rolled back
    doomed = real_warehouse.scalar(
        "select count(*) from events "
        "where retention_category = 'interaction' and event_date < '2020-11-02'"
    )
    assert doomed > 0
    result = invoke(
        path, REAL_SAMPLE, REAL_ZONE, "build", "--run-date", "2020-11-02", "--allow-deletes",
        "--json", ga4_retention_as_of="2021-12-01", ga4_lookback_days=0,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    removed = {(d["table"], d["step"]): d for d in json_summary(result.output)["deletions"]}
    assert removed["int_events_recorded", "retention"]["rows"] == doomed
    # the window's own interaction events never entered: none is left
    interaction = real_warehouse.scalar(
        "select count(*) from events where retention_category = 'interaction'"
    )
    assert counts(path)["events"] == before["events"] - interaction


# ------------------------------------------------- incremental paths equal a full build ----

END = dt.date(2026, 1, 31)
CONFIG = GeneratorConfig(end_date=END, days=9, users=300, seed=5, json_days=0, intraday_days=0)
K = END - dt.timedelta(days=5)  # the warehouse is built to this day first


def add_spanning_sessions(export: Path) -> int:
    """GA4 sessions whose events lie days apart (an app sending a batch days later): copies of
    the last events of sessions that began the day before K arrive 3 and 5 days later, each
    copy of a purchase as a new transaction. Returns how many sessions were stretched."""
    start = K - dt.timedelta(days=1)
    source = export / f"events_{start:%Y%m%d}.parquet"
    day = 86_400_000_000
    with duckdb.connect() as connection:
        connection.execute(
            "create table stretched as "
            "select * from read_parquet($source) "
            "where user_pseudo_id in (select user_pseudo_id from read_parquet($source) "
            "  where event_name = 'purchase' order by user_pseudo_id limit 3) "
            "qualify row_number() over (partition by user_pseudo_id "
            "  order by (event_name = 'purchase') desc, event_timestamp desc) <= 2",
            {"source": str(source)},
        )
        stretched = connection.execute(
            "select count(distinct user_pseudo_id) from stretched"
        ).fetchall()[0][0]
        for days in (3, 5):
            later = start + dt.timedelta(days=days)
            target = export / f"events_{later:%Y%m%d}.parquet"
            connection.execute(
                "copy (select * from read_parquet($target) union all by name "
                "select * replace (strftime($later, '%Y%m%d') as event_date, "
                "event_timestamp + $shift as event_timestamp, "
                "struct_update(ecommerce, transaction_id := ecommerce.transaction_id || $tag) "
                "as ecommerce) from stretched) to $new (format parquet)",
                {
                    "target": str(target),
                    "later": later,
                    "shift": days * day,
                    "tag": f"-late{days}",
                    "new": str(target) + ".new",
                },
            )
            Path(str(target) + ".new").replace(target)
    return stretched


@pytest.fixture(scope="module")
def catch_up_data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("catch_up")
    full = root / "full_export"
    generate_export(full, CONFIG)
    stretched = add_spanning_sessions(full)
    reference = make_warehouse(
        root / "reference",
        full,
        {"ga4_property_time_zone": CONFIG.time_zone, "ga4_run_date": END.isoformat()},
    )
    return {"root": root, "full": full, "reference": reference, "stretched": stretched}


def export_to(folder: Path, full: Path, last: dt.date) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in full.glob("events_*.parquet"):
        if path.name[-16:-8] <= f"{last:%Y%m%d}" and not (folder / path.name).exists():
            shutil.copy(path, folder)
    return folder


def checksums(path: Path) -> dict[str, tuple[int, str]]:
    return {table: table_checksum(path, table) for table in MART_TABLES + VIEWS}


def test_the_data_has_what_the_paths_must_get_right(catch_up_data: dict) -> None:
    reference: Warehouse = catch_up_data["reference"]
    assert catch_up_data["stretched"] >= 2
    spans = reference.query(
        "select session_start_date, session_end_date from sessions "
        "where session_end_date >= session_start_date + 5"
    )
    assert len(spans) >= catch_up_data["stretched"]
    after_midnight = reference.scalar(
        "select count(*) from conversions join sessions using (session_key) "
        "where conversion_type = 'purchase' and conversion_date > session_start_date"
    )
    assert after_midnight >= 3


@pytest.mark.parametrize("path_kind", ["nightly_per_day", "one_backfill", "one_catch_up"])
def test_built_to_day_k_and_caught_up_equals_a_full_build(
    catch_up_data: dict, path_kind: str, tmp_path: Path
) -> None:
    full: Path = catch_up_data["full"]
    zone = CONFIG.time_zone
    export = export_to(tmp_path / "export", full, K)
    warehouse = make_warehouse(
        tmp_path / "wh", export, {"ga4_property_time_zone": zone, "ga4_run_date": K.isoformat()}
    )
    new_days = [K + dt.timedelta(days=n) for n in range(1, (END - K).days + 1)]
    if path_kind == "nightly_per_day":
        for day in new_days:
            export_to(export, full, day)
            result = invoke(warehouse.path, export, zone, "nightly", "--run-date", day.isoformat())
            assert result.exit_code == 0, result.output
    elif path_kind == "one_backfill":
        export_to(export, full, END)
        result = invoke(
            warehouse.path, export, zone, "backfill", "--start", str(new_days[0]),
            "--end", str(END), ga4_run_date=END.isoformat(),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    else:
        export_to(export, full, END)
        result = invoke(warehouse.path, export, zone, "nightly", "--run-date", str(END), "--json")
        assert result.exit_code == 0, result.output
        summary = json_summary(result.output)
        assert summary["catch_up"] is True
        assert summary["window"]["start"] == str(K - dt.timedelta(days=2))
    assert checksums(warehouse.path) == checksums(catch_up_data["reference"].path)
