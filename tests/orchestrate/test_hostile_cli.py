"""Property-based tests: no input to `truffle query` (parameter values, --sql files) makes it
run a non-read-only statement, crash with a traceback, or hang past its time limit."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from orchestrate.analyses import ParameterError, load_analyses, resolve_parameters
from orchestrate.cli import app
from orchestrate.console import CliError
from orchestrate.cost import Thresholds
from orchestrate.engines import DuckDBEngine, QueryFailed, QueryTimeout
from orchestrate.guard import QueryRefused
from orchestrate.queries import compile_analysis, run_checked
from tests.orchestrate.conftest import REPO, Warehouse

runner = CliRunner()
FRAGMENTS = [
    "select",
    "insert into events values (1)",
    "delete from events",
    "drop table events",
    "update sessions set revenue_usd = 0",
    "create table x as",
    "copy events to '/tmp/x.csv'",
    "attach '/tmp/x.db'",
    "pragma",
    "set",
    "call",
    "begin",
    "commit",
    ";",
    "--",
    "/*",
    "*/",
    "'",
    '"',
    "read_csv('/etc/passwd')",
    "from",
    "events",
    "sessions",
    "where",
    "1=1",
    "union all",
    "(",
    ")",
    "*",
    "count(*)",
    "install httpfs",
    "load",
    "export",
    "merge",
    "query('drop table events')",
    "$1",
    "@x",
    "limit 1",
    "\n",
]


def fingerprint(warehouse: Warehouse) -> tuple:
    tables = warehouse.query(
        "select table_name, table_type from information_schema.tables order by 1"
    )
    return (
        tables,
        warehouse.scalar("select count(*) from events"),
        warehouse.scalar("select sum(revenue_usd) from sessions"),
    )


@pytest.fixture(scope="module")
def compiled(real_warehouse: Warehouse) -> dict[str, str]:
    """Each analysis compiled once for this warehouse (compiling is dbt's job, not the input's)."""
    import os

    os.environ["TRUFFLE_DUCKDB_PATH"] = str(real_warehouse.path)
    try:
        return {
            name: compile_analysis(real_warehouse.settings, analysis)
            for name, analysis in load_analyses(REPO).items()
        }
    finally:
        os.environ.pop("TRUFFLE_DUCKDB_PATH", None)


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=st.sampled_from(
        ["get_audience_size", "get_session_trends", "get_conversion_funnel", "get_audience_users"]
    ),
    key=st.sampled_from(
        [
            "audience_id",
            "breakdown",
            "start_date",
            "end_date",
            "grain",
            "steps",
            "min_quality_score",
        ]
    ),
    value=st.text(max_size=80) | st.sampled_from(FRAGMENTS),
)
def test_any_parameter_value_is_data_or_a_usage_error(
    real_warehouse: Warehouse, compiled: dict[str, str], name: str, key: str, value: str
) -> None:
    before = fingerprint(real_warehouse)
    analysis = load_analyses(REPO)[name]
    engine = DuckDBEngine(real_warehouse.path)
    try:
        values = resolve_parameters(
            analysis,
            {key: value},
            lambda: (
                real_warehouse.scalar("select min(session_start_date) from sessions"),
                real_warehouse.scalar("select max(session_start_date) from sessions"),
            ),
        )
    except ParameterError:
        return  # refused before anything ran: fine
    for secret in analysis.secret_parameters:
        values[secret] = "salt-salt-salt"
    started = time.monotonic()
    try:
        outcome = run_checked(
            engine,
            name,
            compiled[name],
            values,
            analysis.bind_order,
            thresholds=Thresholds(),
            meta={},
            allow_expensive=False,
            timeout_seconds=5,
            max_rows=100,
        )
        assert len(outcome.result.rows) <= 100
    except (QueryFailed, QueryTimeout, CliError):
        pass  # a clean, one-line failure
    assert time.monotonic() - started < 30
    assert fingerprint(real_warehouse) == before


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=12), min_size=1, max_size=12))
def test_any_sql_file_runs_read_only_or_is_refused(
    real_warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory, parts: list[str]
) -> None:
    sql = " ".join(parts)
    before = fingerprint(real_warehouse)
    engine = DuckDBEngine(real_warehouse.path)
    started = time.monotonic()
    with contextlib.suppress(QueryRefused, QueryFailed, QueryTimeout, CliError):
        run_checked(
            engine,
            "hostile.sql",
            sql,
            {},
            [],
            thresholds=Thresholds(),
            meta={},
            allow_expensive=False,
            timeout_seconds=3,
            max_rows=50,
        )
    assert time.monotonic() - started < 30
    assert fingerprint(real_warehouse) == before
    assert not Path("/tmp/x.csv").exists()


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=200))
def test_the_cli_never_shows_a_traceback(
    real_warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    folder = tmp_path_factory.mktemp("sql")
    path = folder / "q.sql"
    path.write_text(text)
    import os

    os.environ["TRUFFLE_DUCKDB_PATH"] = str(real_warehouse.path)
    try:
        result = runner.invoke(
            app,
            [
                "--vars",
                json.dumps({"ga4_export_path": str(REPO / "tests/fixtures/ga4_sample")}),
                "query",
                "--sql",
                str(path),
                "--timeout",
                "3",
                "-f",
                "csv",
            ],
        )
    finally:
        os.environ.pop("TRUFFLE_DUCKDB_PATH", None)
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# Each refused before anything runs: exit 2, one line, no traceback (issue 18).
BAD_ARGUMENTS = {
    "unknown audience": ["query", "get_audience_size", "-p", "audience_id=no_such_audience"],
    "end before start": [
        "query",
        "get_session_trends",
        "-p",
        "start_date=2026-02-01",
        "-p",
        "end_date=2026-01-01",
    ],
    "one-step funnel": ["query", "get_conversion_funnel", "-p", "steps=purchase"],
    "negative lookback": ["--vars", "{ga4_lookback_days: -5}", "nightly"],
    "lookback not a number": ["--vars", "{ga4_lookback_days: soon}", "build"],
    "share above one": ["--vars", "{ga4_delete_guard_max_share: 2}", "build"],
    "start date not a date": ["--vars", "{ga4_start_date: yesterday}", "build"],
    "unknown time zone": ["--vars", "{ga4_property_time_zone: Mars/Base}", "nightly"],
    "unknown command": ["nosuch"],
    "unknown option": ["build", "--bogus"],
    "missing option": ["backfill", "--end", "2026-01-01"],
    "bad date option": ["build", "--run-date", "xx"],
    "option without its value": ["query", "-p"],
    "value out of range": ["demo", "--days", "0"],
    "vars not a mapping": ["--vars", "[1]", "build"],
    "not an integer": ["report", "--last", "abc"],
    "backfill end before start": ["backfill", "--start", "2026-01-02", "--end", "2026-01-01"],
}


@pytest.mark.parametrize("arguments", BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS.keys())
def test_each_bad_argument_is_one_line_and_exit_2(
    arguments: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(tmp_path / "never_built.duckdb"))
    monkeypatch.setenv("TRUFFLE_EXPORT_PATH", str(REPO / "tests/fixtures/ga4_sample"))
    result = runner.invoke(app, arguments)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output and "╭" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "never_built.duckdb").exists()  # nothing ran


def test_a_busy_warehouse_is_the_same_exit_code_for_build_and_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process writing the warehouse: `build` (after TRUFFLE_LOCK_WAIT_SECONDS) and
    `query --sql` (after --timeout) both end with one line and exit code 2."""
    import subprocess
    import sys

    import duckdb

    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    hold = (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
        "print('held', flush=True); time.sleep(60)"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", hold, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "held"
        monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(path))
        monkeypatch.setenv("TRUFFLE_LOCK_WAIT_SECONDS", "0.5")
        sql = tmp_path / "q.sql"
        sql.write_text("select 1")
        export = json.dumps({"ga4_export_path": str(REPO / "tests/fixtures/ga4_sample")})
        for arguments in (
            ["--vars", export, "build"],
            ["--vars", export, "query", "--sql", str(sql), "--timeout", "0.5"],
        ):
            result = runner.invoke(app, arguments)
            errors = [line for line in result.output.splitlines() if line.startswith("error:")]
            assert result.exit_code == 2, result.output
            assert len(errors) == 1 and "Traceback" not in result.output, result.output
    finally:
        writer.kill()
        writer.wait()


def _damage_in_the_middle(path: Path) -> None:
    data = bytearray((REPO / "tests/fixtures/ga4_sample/events_20201101.parquet").read_bytes())
    middle = len(data) // 3
    data[middle : middle + 5000] = b"\x07" * 5000
    data[-2000:-8] = b"\x05" * 1992
    path.write_bytes(bytes(data))


BAD_FILES = {
    "zero bytes": lambda path: path.write_bytes(b""),
    "truncated": lambda path: path.write_bytes(
        (REPO / "tests/fixtures/ga4_sample/events_20201101.parquet").read_bytes()[:20_000]
    ),
    "damaged inside": _damage_in_the_middle,
}


@pytest.mark.parametrize("damage", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_export_file_ends_the_run_with_one_line(damage, tmp_path: Path) -> None:
    """The real process (not CliRunner): stderr is exactly one line naming the file, exit 2,
    and nothing after it (no `nanobind: leaked ...` reports from the interpreter's teardown)."""
    import os
    import shutil
    import subprocess
    import sys

    export = tmp_path / "export"
    shutil.copytree(REPO / "tests/fixtures/ga4_sample", export)
    bad = export / "events_20201103.parquet"
    damage(bad)
    variables = {
        "ga4_export_path": str(export),
        "ga4_run_date": "2020-11-03",
        "ga4_property_time_zone": "America/Los_Angeles",
    }
    result = subprocess.run(
        [sys.executable, "-m", "orchestrate.cli", "--vars", json.dumps(variables), "build"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "TRUFFLE_DUCKDB_PATH": str(tmp_path / "wh.duckdb")},
        timeout=300,
    )
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert str(bad) in lines[0]
