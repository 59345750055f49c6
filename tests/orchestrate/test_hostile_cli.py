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
