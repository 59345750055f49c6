"""`truffle cost --nightly`: every statement the next nightly sends (models, the write of each
incremental model, post-hooks, data tests), the partitioned tables each reads and the days it
reads of each, measured; reads outside the window ±1 day flagged."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrate.audit import Relation, markdown, print_audit, table_reads
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


def test_a_filter_on_a_mart_view_bounds_the_stored_table_under_it() -> None:
    """The mart views pass the stored table's partition column through (identity joined at
    read): a window filter on the view bounds the stored table's read; the device map under
    it is read whole; a read of the view without a filter is flagged."""
    relations = {
        "stored": Relation("stored", "", "event_date", "incremental"),
        "device_map": Relation("device_map", "", None, "table: one row per device"),
        "events": Relation(
            "events",
            "",
            "event_date",
            "view",
            "select s.*, m.user_id as mapped from wh.main.stored as s "
            "left join wh.main.device_map as m on s.device = m.device",
        ),
    }
    window = (dt.date(2026, 1, 28), dt.date(2026, 1, 31))
    bounded = table_reads(
        "select count(*) from wh.main.events where event_date >= cast('2026-01-27' as date) "
        "and event_date <= cast('2026-02-01' as date)",
        "duckdb",
        relations,
        window,
    )
    reads = {read.table: read for read in bounded}
    assert (reads["stored"].first, reads["stored"].last) == (dt.date(2026, 1, 27), END + DAY)
    assert not reads["stored"].flagged and reads["stored"].via == "events"
    assert not reads["device_map"].partitioned and not reads["device_map"].flagged
    (whole,) = [
        r
        for r in table_reads("select * from wh.main.events", "duckdb", relations, window)
        if r.table == "stored"
    ]
    assert whole.first is None and whole.flagged


def test_the_next_nightly_is_listed_statement_by_statement_and_measured(
    generated_warehouse: Warehouse, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The nightly's real build runs on a scratch copy, every statement recorded: the
    delete+insert of each incremental model, the post-hooks, the data tests; each with the
    partitioned tables it reads, its days and its bytes (DuckDB's profiler)."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(generated_warehouse.path, copy)
    before = copy.stat().st_mtime_ns
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
    assert copy.stat().st_mtime_ns == before  # the warehouse itself is not touched
    audit = json.loads(result.output[result.output.index("{") :])
    assert audit["window"] == {"start": str(END - 3 * DAY), "end": str(END)}
    assert audit["engine"] == "duckdb" and audit["build_failures"] == []
    statements = audit["statements"]
    manifest = json.loads(Path(audit["files"]["manifest"]).read_text())
    incremental = {
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    }
    # the write of every incremental model is listed (dbt-duckdb's delete+insert)
    merges = {s["node"]: s for s in statements if s["kind"] == "merge"}
    assert set(merges) == incremental
    # keyed on the partition date, the stored events' write reads only the window, and is
    # measured (the events mart is a view over them: creating it reads nothing)
    events = merges["model.random_truffle.int_events_recorded"]
    assert [r["table"] for r in events["reads"]] == ["int_events_recorded"]
    assert (events["reads"][0]["first_day"], events["reads"][0]["last_day"]) == (
        str(END - 3 * DAY),
        str(END),
    )
    assert not events["outside_window"] and events["bytes"] > 0
    # keyed on session_key, the sessions intermediate's write reads every partition: flagged
    sessions = merges["model.random_truffle.int_sessions_aggregated"]
    assert sessions["outside_window"] and sessions["reads"][0]["first_day"] is None
    # post-hooks are listed with what they read: the vanished-session DELETE reads the window
    # (of the events recorded: staging without the quarantined rows and erased identities)
    hooks = [s for s in statements if s["kind"] == "hook"]
    assert {s["node"] for s in hooks} >= {"model.random_truffle.int_events_recorded"}
    vanished = [
        s
        for s in hooks
        if s["node"] == "model.random_truffle.int_sessions_aggregated" and s["verb"] == "delete"
    ]
    assert vanished and {r["table"] for r in vanished[0]["reads"]} == {
        "int_sessions_aggregated",
        "stg_ga4__events",
        "int_erased_identities",
    }
    assert not vanished[0]["outside_window"] and vanished[0]["bytes"] > 0
    # every hook that reads a partitioned table outside the window is among the offenders
    flagged_hooks = {(s["node"], s["verb"]) for s in hooks if s["outside_window"]}
    offenders = {(o["node"], o["verb"]) for o in audit["offenders"] if o["kind"] == "hook"}
    assert flagged_hooks == offenders
    # data tests of the marts read the window, one day either side
    unique = next(s for s in statements if s["name"] == "unique_events_v1_event_key" and s["reads"])
    assert (unique["reads"][0]["first_day"], unique["reads"][0]["last_day"]) == (
        str(END - 4 * DAY),
        str(END + DAY),
    )
    assert len([s for s in statements if s["kind"] == "test"]) > 50
    # lookups several nodes send alike are sent once per build (truffle_lookup_once): the
    # window's session lag by the first of the four session-keyed models, the audience
    # rules' attributes by the first of the two audience views
    lags = [s["node"] for s in statements if s["kind"] == "lookup" and "max(floor(" in s["sql"]]
    assert lags == ["model.random_truffle.int_sessions_aggregated"]
    attributes = [
        s["node"]
        for s in statements
        if s["kind"] == "lookup" and s["sql"].startswith("select distinct attribute from")
    ]
    assert attributes == ["model.random_truffle.int_audience_members_evaluated"]
    # the session reach: once for the conversions and the converted sessions (the first of
    # them sends it), again by the users' state, after the converted sessions' retention
    # DELETE on the stored sessions
    reach_lookup = "select min(session_start_date), max(session_end_date)"
    reaches = [s["node"] for s in statements if s["kind"] == "lookup" and reach_lookup in s["sql"]]
    assert reaches == [
        "model.random_truffle.int_sessions_aggregated",
        "model.random_truffle.int_conversions_attributed",
        "model.random_truffle.int_users_aggregated",
    ]
    # seeds and small tables are read whole, listed with what they are
    whole = {entry["table"]: entry["why"] for entry in audit["read_whole"]}
    assert whole["event_retention_categories"].startswith("seed: ")
    assert audit["bytes"] == sum(s["bytes"] or 0 for s in statements) > 0
    # every statement is in the file the audit writes, in the order sent
    sent = Path(audit["files"]["statements"]).read_text()
    assert sent.count("-- [") == len(statements) + audit["left_out"]["statements"]
    # the same audit as a table (the command without --json) and as the README's markdown
    capsys.readouterr()
    print_audit(audit)
    printed = capsys.readouterr().out
    assert f"{len(statements)} statements (" in printed
    assert f"{len(audit['offenders'])} reads of a partitioned table outside" in printed
    rows = {line.split(" | ")[0]: line for line in markdown(audit).splitlines()}
    assert "1 merge" in rows["| `int_events_recorded`"]
    assert "**flagged**" in rows["| `int_sessions_aggregated`"]

    # the users' state is updated from the sessions and conversions the nightly re-processed
    # (the window, or a day before for a session crossing midnight), never their history
    users = [
        read
        for s in statements
        if s["name"] == "int_users_aggregated"
        for read in s["reads"]
        if read["via"] in ("sessions", "conversions") and read["partitioned"]
    ]
    # through the mart views, whose window filter bounds the stored tables under them
    assert {(read["via"], read["table"]) for read in users} == {
        ("sessions", "int_sessions_converted"),
        ("conversions", "int_conversions_attributed"),
    }
    for read in users:
        assert str(END - 4 * DAY) <= read["first_day"] <= str(END - 3 * DAY), users
        assert read["last_day"] == str(END), users
