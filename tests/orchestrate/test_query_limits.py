"""`truffle query` and `truffle cost --sql` hold their limits on a real DuckDB warehouse: the
guard's corpus is refused before anything runs (not even the cost measurement), the time
limit interrupts the engine, the memory cap holds, messages are one line whatever the input,
the profile and target are honoured, and analyses run without the warehouse's write lock."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from orchestrate.cli import app
from tests.orchestrate.conftest import REPO, Warehouse
from tests.orchestrate.test_guard import DANGEROUS_DUCKDB

runner = CliRunner()
TRUFFLE = Path(sys.executable).with_name("truffle")
SECRET = "canary-4f1d2c-do-not-print"


def invoke(warehouse: Warehouse, *args: str, env: dict[str, str] | None = None):
    variables = json.dumps({"ga4_export_path": warehouse.settings.vars["ga4_export_path"]})
    return runner.invoke(
        app,
        ["--vars", variables, *args],
        env={"TRUFFLE_DUCKDB_PATH": str(warehouse.path), **(env or {})},
    )


def run_truffle(
    warehouse_path: Path, export: str, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The real command in its own process (exit timing, stderr as a user sees it)."""
    environment = {**os.environ, "TRUFFLE_DUCKDB_PATH": str(warehouse_path)}
    return subprocess.run(
        [str(TRUFFLE), "--vars", json.dumps({"ga4_export_path": export}), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO,
        timeout=timeout,
    )


def fingerprint(warehouse: Warehouse) -> tuple:
    return (
        warehouse.query("select table_name, table_type from information_schema.tables order by 1"),
        warehouse.scalar("select count(*) from events"),
        warehouse.path.stat().st_size,
    )


def one_line_error(output: str) -> bool:
    lines = [line for line in output.splitlines() if line.strip()]
    return len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in output


# --- the corpus: refused, and never executed, for query and for cost ------------------------


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("canary")
    path = folder / "secret.csv"
    path.write_text(f"secret\n{SECRET}\n")
    duckdb.connect(str(folder / "other.duckdb")).execute(
        f"create table t as select '{SECRET}' as s"
    ).close()
    return path


def attacks_on(canary: Path, log_folder: Path) -> list[str]:
    """The guard corpus plus statements aimed at a real file and a real folder."""
    other = canary.with_name("other.duckdb")
    return [
        *DANGEROUS_DUCKDB,
        f"select * from read_single_csv_file('{canary}')",
        f"select * from read_text('{canary}')",
        f"select * from read_csv('{canary}', columns = {{'secret': 'INT'}})",
        f"select * from '{canary}'",
        f'select * from "{canary}"',
        f"select * from read_duckdb('{other}', table_name := 't')",
        f"select * from query('select * from read_text(''{canary}'')')",
        f"select cast(content as int) from read_text('{canary}')",
        f"select * from enable_logging(storage := 'file', storage_path := '{log_folder}')",
        f"select * from events, enable_logging(storage := 'file', storage_path := '{log_folder}')",
    ]


def test_every_attack_is_refused_before_anything_runs(
    real_warehouse: Warehouse, canary: Path, tmp_path: Path
) -> None:
    log_folder = tmp_path / "logs"
    before = fingerprint(real_warehouse)
    statements = attacks_on(canary, log_folder)
    assert len(statements) >= 150
    for number, statement in enumerate(statements):
        path = tmp_path / f"attack_{number}.sql"
        path.write_text(statement)
        for command in (["query", "--sql", str(path)], ["cost", "--sql", str(path)]):
            result = invoke(real_warehouse, *command)
            assert result.exit_code == 2, (statement, command[0], result.output)
            assert "refused" in result.output, (statement, result.output)
            assert SECRET not in result.output
            assert one_line_error(result.output), (statement, result.output)
    assert not log_folder.exists()
    assert fingerprint(real_warehouse) == before


def test_ordinary_queries_still_run_and_are_measured(
    real_warehouse: Warehouse, tmp_path: Path
) -> None:
    path = tmp_path / "ok.sql"
    path.write_text(
        "with s as (select country, count(*) as n from sessions group by 1) "
        "select sum(n) as n from s where country is not null or country is null"
    )
    result = invoke(real_warehouse, "query", "--sql", str(path), "-f", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["n", "6351"]
    measured = invoke(real_warehouse, "cost", "--sql", str(path))
    assert measured.exit_code == 0, measured.output
    assert "ok.sql" in measured.stdout


# --- time and memory ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "select repeat('x', 1000000000) as x",
        "select sum(hash(x)) from range(10000000000) as r(x)",
        "select count(*) from events as a cross join events as b cross join events as c",
    ],
)
def test_the_timeout_interrupts_the_engine_and_the_process_returns(
    real_warehouse: Warehouse, tmp_path: Path, statement: str
) -> None:
    path = tmp_path / "slow.sql"
    path.write_text(statement)
    export = str(real_warehouse.settings.vars["ga4_export_path"])
    started = time.monotonic()
    fast = run_truffle(real_warehouse.path, export, "query", "--sql", str(path), "--help")
    startup = time.monotonic() - started
    assert fast.returncode == 0
    for command in ("query", "cost"):
        started = time.monotonic()
        result = run_truffle(
            real_warehouse.path,
            export,
            command,
            "--sql",
            str(path),
            "--timeout",
            "1",
            *(["--allow-expensive"] if command == "query" else []),
        )
        elapsed = time.monotonic() - started
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert one_line_error(result.stderr), result.stderr
        assert "1 s" in result.stderr
        # the process startup, the 1 s limit, then at most about a second to return
        assert elapsed < startup + 1 + 2.0, (command, elapsed, startup)


def test_a_memory_hungry_query_stops_at_the_cap(real_warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "hungry.sql"
    path.write_text("select list(x) from range(400000000) as r(x)")
    for command in ("query", "cost"):
        result = invoke(
            real_warehouse,
            command,
            "--sql",
            str(path),
            "--memory-limit",
            "200MB",
            "--timeout",
            "60",
            *(["--allow-expensive"] if command == "query" else []),
        )
        assert result.exit_code == 1, result.output
        assert "more memory than its cap" in result.output
        assert one_line_error(result.output), result.output
    bad = invoke(real_warehouse, "query", "--sql", str(path), "--memory-limit", "lots")
    assert bad.exit_code == 2 and one_line_error(bad.output)


def test_cost_uses_the_query_timeout_option(real_warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "slow.sql"
    path.write_text("select count(*) from events as a cross join events as b")
    started = time.monotonic()
    result = invoke(real_warehouse, "cost", "--sql", str(path), "--timeout", "0.5")
    assert result.exit_code == 1, result.output
    assert "0.5 s" in result.output
    assert time.monotonic() - started < 10


# --- messages ------------------------------------------------------------------------------------


def test_markup_in_a_parameter_is_one_line_not_a_traceback(real_warehouse: Warehouse) -> None:
    result = invoke(real_warehouse, "query", "get_audience_size", "-p", "breakdown=[/]")
    assert result.exit_code == 2, result.output
    assert one_line_error(result.output), result.output
    assert "[/]" in result.output


def test_engine_errors_do_not_quote_data(real_warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "convert.sql"
    path.write_text("select cast(event_name as int) from events")
    result = invoke(real_warehouse, "query", "--sql", str(path), "--allow-expensive")
    assert result.exit_code == 1, result.output
    assert one_line_error(result.output)
    names = {row[0] for row in real_warehouse.query("select distinct event_name from events")}
    assert not any(f"'{name}'" in result.output for name in names), result.output
    assert "'…'" in result.output


def test_data_with_markup_is_printed_as_written(real_warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "markup.sql"
    path.write_text("select '[bold red]x[/] [/]' as v from sessions limit 1")
    result = invoke(real_warehouse, "query", "--sql", str(path))
    assert result.exit_code == 0, result.output
    assert "[bold red]x[/] [/]" in result.stdout


# --- profile and target ------------------------------------------------------------------------


def test_an_unknown_target_or_a_broken_profile_is_exit_2(
    real_warehouse: Warehouse, tmp_path: Path
) -> None:
    result = invoke(real_warehouse, "--target", "nope", "query", "get_audience_size")
    assert result.exit_code == 2 and one_line_error(result.output), result.output
    assert "no target 'nope'" in result.output
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "profiles.yml").write_text("random_truffle: [unclosed\n")
    for command in (["query", "get_audience_size"], ["cost", "--sql", str(broken)]):
        result = invoke(real_warehouse, "--profiles-dir", str(broken), *command)
        assert result.exit_code == 2 and one_line_error(result.output), result.output
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "profiles.yml").write_text(
        "random_truffle:\n  outputs:\n    duckdb:\n      type: postgres\n"
    )
    result = invoke(real_warehouse, "--profiles-dir", str(wrong), "query", "get_audience_size")
    assert result.exit_code == 2 and "postgres" in result.output, result.output


# --- no write lock: several at once, and during a build ---------------------------------------


def test_four_analyses_at_once(real_warehouse: Warehouse, tmp_path: Path) -> None:
    export = str(real_warehouse.settings.vars["ga4_export_path"])
    environment = {**os.environ, "TRUFFLE_DUCKDB_PATH": str(real_warehouse.path)}
    names = [
        "get_audience_size",
        "get_session_trends",
        "get_conversion_funnel",
        "get_audience_size",
    ]
    base = [str(TRUFFLE), "--vars", json.dumps({"ga4_export_path": export})]
    for name in names:  # a cold cache: all four compile at once too (each on its own)
        for cached in (REPO / "target" / "query_cache").glob(f"{name}-*.sql"):
            cached.unlink(missing_ok=True)
    processes = [
        subprocess.Popen(
            [*base, "query", name, "-f", "csv"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
            cwd=REPO,
        )
        for name in names
    ]
    outcomes = [process.communicate(timeout=600) for process in processes]
    for process, (stdout, stderr) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, stderr
        assert len(stdout.splitlines()) > 1


def test_an_analysis_waits_for_a_build_then_runs(real_warehouse: Warehouse, tmp_path: Path) -> None:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(real_warehouse.path, copy)
    export = str(real_warehouse.settings.vars["ga4_export_path"])
    writer = duckdb.connect(str(copy))  # what a build holds: the file's write lock
    writer.execute("create table being_built as select 1 as x")
    released = threading.Event()

    def release() -> None:
        time.sleep(4)
        writer.close()
        released.set()

    threading.Thread(target=release, daemon=True).start()
    result = run_truffle(copy, export, "query", "get_audience_size", "-f", "csv", "--timeout", "60")
    assert released.is_set()
    assert result.returncode == 0, result.stderr
    assert "waiting for the warehouse" in result.stderr
    assert "breakdown_value" in result.stdout


def test_a_query_never_takes_the_write_lock(real_warehouse: Warehouse, tmp_path: Path) -> None:
    """While a query runs (a slow one, in another process), the file can still be opened
    read-only by others: the query holds a read-only connection, nothing more."""
    export = str(real_warehouse.settings.vars["ga4_export_path"])
    path = tmp_path / "slow.sql"
    path.write_text("select count(*) from events as a cross join events as b")
    environment = {**os.environ, "TRUFFLE_DUCKDB_PATH": str(real_warehouse.path)}
    process = subprocess.Popen(
        [
            str(TRUFFLE),
            "--vars",
            json.dumps({"ga4_export_path": export}),
            "query",
            "--sql",
            str(path),
            "--timeout",
            "6",
            "--allow-expensive",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=REPO,
    )
    time.sleep(3)
    assert real_warehouse.scalar("select count(*) from sessions") == 6351
    process.communicate(timeout=60)


# --- property tests: whatever the input, an answer or one line, exit 0/1/2 --------------------

MARKUP = st.sampled_from(
    ["[/]", "[bold]", "[/bold]", "[red]x[/red]", "[link=http://x]y[/link]", "\\[", "[", "]"]
)
CONTROL = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=31), max_size=5)
HUGE = st.sampled_from(["9" * 400, "-" + "9" * 400, "1e400", "x" * 6000, "2020-01-01" * 200])
VALUES = st.one_of(MARKUP, CONTROL, HUGE, st.text(max_size=40)).map(lambda s: s.replace("\0", ""))
PARAMETERS = [
    ("get_audience_size", "audience_id"),
    ("get_audience_size", "breakdown"),
    ("get_session_trends", "start_date"),
    ("get_session_trends", "end_date"),
    ("get_session_trends", "grain"),
    ("get_conversion_funnel", "steps"),
    ("get_conversion_funnel", "start_date"),
    ("get_audience_users", "audience_id"),
    ("get_audience_users", "min_quality_score"),
    ("get_audience_size", "no_such_parameter"),
]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    target=st.sampled_from(PARAMETERS),
    value=st.lists(VALUES, min_size=1, max_size=3).map("".join),
)
def test_any_parameter_value_is_an_answer_or_one_line(
    real_warehouse: Warehouse, target: tuple[str, str], value: str
) -> None:
    name, key = target
    result = invoke(
        real_warehouse,
        "query",
        name,
        "-p",
        f"{key}={value}",
        "-f",
        "csv",
        "--timeout",
        "10",
        env={"TRUFFLE_ACTIVATION_SALT": "salt-salt-salt"},
    )
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    if result.exit_code:
        assert one_line_error(result.stderr), result.stderr


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.one_of(VALUES, st.sampled_from(["select", "from events", "'", ";"])), max_size=6)
)
def test_any_sql_file_is_an_answer_or_one_line(
    real_warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory, parts: list[str]
) -> None:
    path = tmp_path_factory.mktemp("sql") / "q.sql"
    path.write_text(" ".join(parts))
    for command in (["query", "--sql", str(path), "-f", "csv"], ["cost", "--sql", str(path)]):
        result = invoke(real_warehouse, *command, "--timeout", "5")
        assert result.exit_code in (0, 1, 2), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        if result.exit_code:
            assert one_line_error(result.stderr), result.stderr


def test_a_binary_sql_file_is_a_usage_error(real_warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "binary.sql"
    path.write_bytes(b"\xff\xfe\x00select")
    result = invoke(real_warehouse, "query", "--sql", str(path))
    assert result.exit_code == 2 and one_line_error(result.output), result.output


# --- BigQuery: the same guard over the profile's dataset, jobs capped and labelled ------------


def test_bigquery_jobs_are_capped_and_labelled() -> None:
    from orchestrate.engines import BigQueryEngine
    from orchestrate.guard import QueryRefused, check_read_only

    engine = BigQueryEngine(
        project="acme", dataset="warehouse", maximum_bytes_billed=1234, project_dir=REPO
    )
    config = engine._config({"day": "2020-11-01"})
    assert config.maximum_bytes_billed == 1234
    assert config.labels == {"tool": "truffle"}
    relations = engine.relations()
    # versioned marts are built under their alias
    for table in ("sessions", "events", "user_attributes", "conversions", "daily_kpis"):
        check_read_only(f"select * from `acme.warehouse.{table}`", "bigquery", relations)
    with pytest.raises(QueryRefused, match="not a relation of the warehouse"):
        check_read_only("select * from `acme.other.sessions`", "bigquery", relations)


def test_the_guarded_connection_reads_no_file_even_past_the_guard(
    real_warehouse: Warehouse, canary: Path, tmp_path: Path
) -> None:
    """Defence in depth: the engine alone (no guard) on the connection query and cost use."""
    from orchestrate.engines import DuckDBEngine, QueryFailed

    engine = DuckDBEngine(real_warehouse.path)
    log_folder = tmp_path / "logs"
    for statement in (
        f"select * from read_csv('{canary}', columns = {{'secret': 'INT'}})",
        f"select * from read_text('{canary}')",
        f"select * from enable_logging(storage := 'file', storage_path := '{log_folder}')",
        "set enable_external_access = true",
    ):
        for attempt in (
            lambda sql=statement: engine.run(sql, {}, [], timeout_seconds=10, max_rows=10),
            lambda sql=statement: engine.measure_bytes(sql, {}, [], timeout_seconds=10),
        ):
            with pytest.raises(QueryFailed) as failure:
                attempt()
            assert SECRET not in str(failure.value)
    assert not log_folder.exists()


def test_an_analysis_during_a_real_build(real_warehouse: Warehouse, tmp_path: Path) -> None:
    """`truffle build` writes a copy of the warehouse; an analysis started while dbt builds
    answers (waiting for the write lock, saying so, if dbt still holds it) and the build is
    not disturbed."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(real_warehouse.path, copy)
    variables = {
        "ga4_export_path": str(real_warehouse.settings.vars["ga4_export_path"]),
        "ga4_property_time_zone": "America/Los_Angeles",
        "ga4_run_date": "2020-11-02",
    }
    environment = {**os.environ, "TRUFFLE_DUCKDB_PATH": str(copy)}
    base = [str(TRUFFLE), "--vars", json.dumps(variables)]
    build = subprocess.Popen(
        [*base, "build", "--select", "sessions_v1+"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        cwd=REPO,
    )
    assert build.stdout is not None
    lines = []
    for line in build.stdout:  # a node done: dbt-duckdb holds the file until the build ends
        lines.append(line)
        if " OK " in line or " PASS " in line:
            break
    query = subprocess.run(
        [*base, "query", "get_audience_size", "-f", "csv", "--timeout", "300"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO,
        timeout=600,
    )
    lines += build.stdout.readlines()
    assert build.wait(timeout=600) == 0, "".join(lines)
    assert query.returncode == 0, query.stderr
    assert "breakdown_value" in query.stdout
    # whether it had to wait depends on timing (the waiting itself is tested above)
    assert query.stderr in ("",) or "waiting for the warehouse" in query.stderr, query.stderr


def test_the_guard_refuses_before_the_engine_is_asked(tmp_path: Path) -> None:
    """No warehouse at all: a refused statement is still refused (exit 2, the guard's
    message), an ordinary one is told there is no warehouse yet (exit 2, one line)."""
    missing = tmp_path / "missing.duckdb"
    for statement, code in (
        ("select * from read_text('/etc/passwd')", 2),
        ("select * from '/etc/passwd'", 2),
        ("select current_setting('threads')", 2),
        ("select count(*) from events", 2),
    ):
        path = tmp_path / "q.sql"
        path.write_text(statement)
        for command in ("query", "cost"):
            result = runner.invoke(
                app, [command, "--sql", str(path)], env={"TRUFFLE_DUCKDB_PATH": str(missing)}
            )
            assert result.exit_code == code, (statement, result.output)
            assert one_line_error(result.output), result.output
    assert not missing.exists()
