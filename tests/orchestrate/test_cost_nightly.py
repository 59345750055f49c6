"""`truffle cost --nightly`: the next nightly's models and data tests, the partitioned tables
each reads and the days it reads of each, measured; reads outside the window ±1 day flagged."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from orchestrate.audit import table_reads
from orchestrate.cli import app
from tests.orchestrate.conftest import GENERATED_CONFIG, GENERATED_TIME_ZONE, Warehouse

END = GENERATED_CONFIG.end_date
DAY = dt.timedelta(days=1)


def test_bounds_are_read_per_table_and_alias() -> None:
    partitioned = {"wh.main.events": "event_date", "wh.main.sessions": "session_start_date"}
    window = (dt.date(2026, 1, 28), dt.date(2026, 1, 31))
    sql = (
        "with e as (select * from wh.main.events as ev where ev.event_date >= "
        "cast('2026-01-27' as date) and event_date <= cast('2026-02-01' as date)) "
        "select * from e join wh.main.sessions s on e.session_key = s.session_key "
        "where s.session_start_date between cast('2025-01-01' as date) and "
        "cast('2026-01-31' as date)"
    )
    reads = {read.table: read for read in table_reads(sql, "duckdb", partitioned, window)}
    assert (reads["events"].first, reads["events"].last) == (dt.date(2026, 1, 27), END + DAY)
    assert not reads["events"].flagged
    assert reads["sessions"].first == dt.date(2025, 1, 1) and reads["sessions"].flagged
    unbounded = table_reads("select * from wh.main.events", "duckdb", partitioned, window)
    assert unbounded[0].first is None and unbounded[0].flagged


def test_the_next_nightly_is_listed_with_what_each_statement_reads(
    generated_warehouse: Warehouse, tmp_path: Path
) -> None:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(generated_warehouse.path, copy)
    variables = json.dumps(
        {
            "ga4_export_path": generated_warehouse.settings.vars["ga4_export_path"],
            "ga4_property_time_zone": GENERATED_TIME_ZONE,
        }
    )
    result = CliRunner().invoke(
        app,
        ["--vars", variables, "cost", "--nightly", "--run-date", END.isoformat(), "--json"],
        env={"TRUFFLE_DUCKDB_PATH": str(copy)},
    )
    assert result.exit_code == 0, result.output
    audit = json.loads(result.output[result.output.index("{") :])
    assert audit["window"] == {"start": str(END - 3 * DAY), "end": str(END)}
    statements = {s["name"]: s for s in audit["statements"]}
    # the stored events read staging's window only, and are measured (the events mart is a
    # view: creating it reads nothing)
    assert "events" not in statements
    events = statements["int_events_recorded"]
    assert [r["table"] for r in events["reads"]] == ["stg_ga4__events"]
    assert events["reads"][0]["first_day"] == str(END - 3 * DAY)
    assert not events["outside_window"] and events["bytes"] > 0
    # data tests of the marts read the window, one day either side
    unique = statements["unique_events_v1_event_key"]["reads"][0]
    assert (unique["first_day"], unique["last_day"]) == (str(END - 4 * DAY), str(END + DAY))
    tests = [s for s in audit["statements"] if s["kind"] == "test"]
    assert len(tests) > 50
    # the users' state is updated from the sessions and conversions the nightly re-processed
    # (the window, or a day before for a session crossing midnight), never their history
    users = {r["table"]: r for r in statements["int_users_aggregated"]["reads"]}
    assert {"sessions", "conversions"} <= set(users)
    for table in ("sessions", "conversions"):
        assert str(END - 4 * DAY) <= users[table]["first_day"] <= str(END - 3 * DAY), users
        assert users[table]["last_day"] == str(END), users
    assert "int_users_aggregated" not in audit["outside_window"]
    assert audit["bytes"] == sum(s["bytes"] or 0 for s in audit["statements"])
