"""Erasure requests: on the next build a user disappears from every model, with the devices
they were stitched to; a search of every table and view finds no trace of their ids."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from orchestrate.cli import app
from orchestrate.dbt import run_dbt
from tests.orchestrate.conftest import GENERATED_CONFIG, GENERATED_TIME_ZONE, Warehouse

# the tombstone list, the erasure ledger and the request table hold the ids by design: they
# keep them out
EXEMPT = {"int_erased_identities", "int_erasures_applied", "erasure_requests", "privacy_requests"}
# a log entry of dbt's debug log: "<time> [debug] [thread]: On <node>: <sql>"
LOG_ENTRY = re.compile(r"^\S*\d\d:\d\d:\d\d\.\d+ \[\w+ *\] \[[^]]*\]: ", re.M)
SENT = re.compile(r"^On (model\.[\w.]+): (?:/\*.*?\*/)?\s*(.*)$", re.S)


def traces(path: Path, needles: set[str]) -> dict[str, int]:
    """Rows per table or view that contain any of the ids in any text column."""
    found: dict[str, int] = {}
    with duckdb.connect(str(path), read_only=True) as connection:
        tables = [
            name
            for (name,) in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
            if name not in EXEMPT
        ]
        for table in tables:
            columns = [
                name
                for name, kind in connection.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_name = ?",
                    [table],
                ).fetchall()
                if kind == "VARCHAR"
            ]
            if not columns:
                continue
            condition = " or ".join(f"contains({column}, ?)" for column in columns for _ in needles)
            values = [needle for _ in columns for needle in needles]
            count = connection.execute(
                f"select count(*) from {table} where {condition}", values
            ).fetchall()[0][0]
            if count:
                found[table] = count
    return found


def sent_statements(log: Path) -> list[tuple[str, str]]:
    """(model, SQL) of every statement dbt sent for a model, from its debug log."""
    found = []
    for entry in LOG_ENTRY.split(log.read_text()):
        if sent := SENT.match(entry.strip()):
            found.append((sent.group(1).split(".")[2], sent.group(2).strip()))
    return found


def test_an_erased_user_leaves_no_trace(
    generated_warehouse: Warehouse,
    manifest: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(generated_warehouse.path, copy)
    # a logged-in user with anonymous history on a stitched device, and a lone device
    device, user = sorted(manifest["stitched_devices"].items())[0]
    with duckdb.connect(str(copy), read_only=True) as connection:
        lone_device = connection.execute(
            "select user_pseudo_id from user_attributes as u inner join sessions as s "
            "using (unified_user_id) where not u.is_logged_in_user order by 1 limit 1"
        ).fetchall()[0][0]
        devices_of_user = {
            row[0]
            for row in connection.execute(
                "select distinct user_pseudo_id from events where user_id = ?", [user]
            ).fetchall()
        }
    needles = {user, lone_device, device} | devices_of_user
    assert traces(copy, needles)  # present before the request

    with duckdb.connect(str(copy)) as connection:
        connection.execute(
            "create table privacy_requests as select * from (values "
            "('r1', date '2026-02-01', ?, null), ('r2', date '2026-02-01', null, ?)) "
            "as t(request_id, requested_date, user_id, user_pseudo_id)",
            [user, lone_device],
        )
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(copy))
    variables = {
        "ga4_export_path": generated_warehouse.settings.vars["ga4_export_path"],
        "ga4_property_time_zone": GENERATED_TIME_ZONE,
        "erasure_requests_relation": "main.privacy_requests",
    }
    result = CliRunner().invoke(
        app,
        [
            "--vars",
            json.dumps(variables),
            "nightly",
            "--run-date",
            GENERATED_CONFIG.end_date.isoformat(),
            "--summary",
            str(tmp_path / "s.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert traces(copy, needles) == {}
    with duckdb.connect(str(copy), read_only=True) as connection:
        erased = {
            row[0]
            for row in connection.execute(
                "select erased_identity from int_erased_identities"
            ).fetchall()
        }
        remaining = connection.execute("select count(*) from events").fetchall()[0][0]
    assert needles <= erased  # the user's devices were found and listed
    assert 0 < remaining < generated_warehouse.scalar("select count(*) from events")

    # the next nightly, without a new request: no erasure statement reads the history (not
    # even a count), no UPDATE is sent, and nothing of the erased ids comes back
    settings = dataclasses.replace(
        generated_warehouse.settings,
        duckdb_path=copy,
        vars={**variables, "ga4_run_date": str(GENERATED_CONFIG.end_date)},
    )
    run = run_dbt(["build"], settings, target_path=tmp_path / "next")
    assert run.success, run.failure_report()
    statements = sent_statements(tmp_path / "next" / "logs" / "dbt.log")
    assert any(sql.startswith("delete from") for _, sql in statements)  # the log is read
    history_wide = [
        (model, sql)
        for model, sql in statements
        if "erased_identity" in sql and "cast('1900-01-01' as date)" in sql
    ]
    assert history_wide == []
    assert not [model for model, sql in statements if sql.lower().startswith("update")]
    assert not [
        model
        for model, sql in statements
        if sql.startswith("insert into") and "int_erasures_applied" in sql
    ]
    assert traces(copy, needles) == {}
