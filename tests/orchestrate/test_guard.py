"""The query guard: an allow-list. A statement passes only if it is one query whose every
function, table function and relation is known to be read-only, in both dialects.

The attack corpus below is written by hand (not derived from the allow-list), so a wrong
verdict in the allow-list file fails here."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orchestrate.analyses import load_analyses
from orchestrate.guard import (
    ALLOWLIST_DIR,
    QueryRefused,
    check_read_only,
    load_allowlist,
    relation_names,
)
from tests.orchestrate.conftest import REPO

TABLES = (
    "events",
    "sessions",
    "conversions",
    "user_attributes",
    "int_audience_members_evaluated",
    "daily_kpis",
)
DUCKDB_RELATIONS = relation_names(("warehouse", "main", table) for table in TABLES)
BIGQUERY_RELATIONS = relation_names(("p", "d", table) for table in TABLES)

# Statements the guard must refuse on DuckDB (kind, files, SQL given as text, side effects,
# settings, catalog, and the same wrapped in comments, nesting, case and encodings).
DANGEROUS_DUCKDB = [
    # DML / DDL
    "insert into events select * from events",
    "update sessions set revenue_usd = 0",
    "delete from conversions",
    "drop table events",
    "create table stolen as select * from user_attributes",
    "create or replace view v as select 1",
    "create temp table t as select 1",
    "create macro m() as 1",
    "create sequence s",
    "create secret s (type s3, key_id 'x', secret 'y')",
    "alter table sessions add column x int",
    "truncate events",
    "merge into sessions as t using sessions as s on t.session_key = s.session_key "
    "when matched then delete",
    "with x as (delete from events returning *) select * from x",
    "insert into events by name select * from events",
    # multiple statements and comment tricks
    "select 1; drop table events",
    "select 1; select 2",
    "select 1 /* ; */; delete from events",
    "select 1 -- harmless\n; drop table events",
    "/* comment */ drop table events",
    "select * from events;\n\ndelete from events;",
    "select 1;;select 2",
    "-- only a comment",
    "/* only a comment */",
    # commands, settings and the file system
    "copy events to '/tmp/stolen.csv'",
    "copy (select * from user_attributes) to '/tmp/x.parquet' (format parquet)",
    "copy events from '/etc/passwd'",
    "attach '/tmp/other.duckdb' as other",
    "attach ':memory:' as m",
    "detach warehouse",
    "install httpfs",
    "load httpfs",
    "force install httpfs from community",
    "pragma database_list",
    "pragma show_tables",
    "set enable_external_access = true",
    "set lock_configuration = false",
    "reset lock_configuration",
    "set memory_limit = '100GB'",
    "set variable x = 1",
    "reset variable x",
    "use memory",
    "checkpoint",
    "force checkpoint",
    "export database '/tmp/dump'",
    "import database '/tmp/dump'",
    "call pragma_version()",
    "call enable_logging()",
    "call checkpoint()",
    "begin transaction",
    "commit",
    "rollback",
    "vacuum",
    "analyze",
    "explain select 1",
    "explain analyze select * from events",
    "describe events",
    "summarize events",
    "show tables",
    "show databases",
    "prepare p as select 1",
    "execute p",
    "deallocate p",
    "pivot events on event_name using count(*)",
    "update extensions",
    # table functions that read files
    "select * from read_csv('/etc/passwd')",
    "select * from read_csv_auto('/etc/passwd')",
    "select * from read_single_csv_file('/etc/passwd')",
    "select * from read_single_json_file('/proc/self/environ')",
    "select * from read_single_parquet_file('/tmp/x.parquet')",
    "select * from read_parquet('/tmp/x.parquet')",
    "select * from parquet_scan('/tmp/x.parquet')",
    "select * from read_json('/tmp/x.json')",
    "select * from read_json_auto('/tmp/x.json')",
    "select * from read_json_objects('/tmp/x.json')",
    "select * from read_ndjson('/tmp/x.json')",
    "select * from read_ndjson_objects('/tmp/x.json')",
    "select * from read_text('/etc/passwd')",
    "select * from read_blob('/etc/passwd')",
    "select * from read_duckdb('/tmp/other.duckdb', table_name := 't')",
    "select * from parquet_metadata('/tmp/x.parquet')",
    "select * from parquet_schema('/tmp/x.parquet')",
    "select * from parquet_file_metadata('/tmp/x.parquet')",
    "select * from parquet_kv_metadata('/tmp/x.parquet')",
    "select * from parquet_full_metadata('/tmp/x.parquet')",
    "select * from parquet_bloom_probe('/tmp/x.parquet', 'c', 1)",
    "select * from sniff_csv('/etc/passwd')",
    "select * from glob('/etc/*')",
    "select * from '/etc/passwd'",
    "select * from 'data.csv'",
    'select * from "/etc/passwd"',
    "select * from 'https://example.com/x.parquet'",
    "select * from 's3://bucket/x.parquet'",
    "from '/etc/passwd'",
    "select * from events, '/etc/passwd'",
    "select * from events join 'x.csv' using (event_key)",
    "with x as (select * from read_parquet('s3://bucket/x.parquet')) select * from x",
    "select * from events where session_key in (select * from read_csv('/etc/passwd'))",
    "select (select count(*) from read_text('/etc/passwd'))",
    "select * from (select * from (select * from read_blob('/etc/passwd')))",
    "select * from events union all select * from read_csv('/etc/passwd')",
    "select * from events, lateral read_text(event_name)",
    # table functions that run SQL or change the engine
    "select * from query('drop table events')",
    "select * from query('select * from read_text(''/etc/passwd'')')",
    "select * from query_table('events')",
    "select * from json_execute_serialized_sql('{}')",
    "select * from enable_logging(storage := 'file', storage_path := '/tmp/truffle-log')",
    "select * from disable_logging()",
    "select * from truncate_duckdb_logs()",
    "select * from checkpoint()",
    "select * from force_checkpoint()",
    "select * from enable_profiling()",
    "select * from duckdb_logs",
    "select * from duckdb_logs()",
    "select * from duckdb_secrets()",
    "select * from duckdb_settings()",
    "select * from duckdb_extensions()",
    "select * from duckdb_tables()",
    "select * from duckdb_temporary_files()",
    "select * from which_secret('s3://x', 's3')",
    "select * from pragma_table_info('events')",
    "select * from pragma_database_size()",
    "select * from pragma_storage_info('events')",
    "select * from test_all_types()",
    "select * from repeat_row(1, num_rows := 1000000000)",
    "select * from summary((select 1))",
    "select * from duckdb_logs_parsed('QueryLog')",
    "select * from register_external_resource('x')",
    "select * from arrow_scan(1, 2, 3)",
    "select * from seq_scan()",
    # scalar functions that read settings, variables or session state, or change it
    "select current_setting('memory_limit')",
    "select getvariable('x')",
    "select setseed(0.5)",
    "select nextval('s')",
    "select json_serialize_sql('select 1')",
    "select json_deserialize_sql('{}')",
    "select current_database()",
    "select current_schemas(true)",
    "select version()",
    "select sleep_ms(100000)",
    "select write_log('x')",
    "select pg_sleep(100)",
    "select getenv('HOME')",
    "select count(*) from events where event_name = current_setting('threads')",
    "select * from events order by getvariable('x')",
    "select list_transform([1], x -> current_setting('threads'))",
    "select 'x'.current_setting()",
    # catalogs and schemas other than the warehouse
    "select * from system.main.duckdb_settings",
    "select * from information_schema.tables",
    "select * from pg_catalog.pg_settings",
    "select * from temp.main.t",
    "select * from other.main.events",
    "select * from memory.main.events",
    "select * from main.duckdb_secrets",
    "select * from duckdb_settings",
    'select * from "main.events"',
    "select * from events at (version => 1)",
    # a CTE name does not cover a file outside its scope, nor before it is defined
    'select * from (with "f.csv" as (select 1) select * from "f.csv"), "f.csv"',
    'with a as (select * from "x.csv"), "x.csv" as (select 1) select * from a',
    # qualified function names
    "select main.lower('x')",
    "select system.main.current_setting('threads')",
    # case, quoting, whitespace and encodings
    "SELECT * FROM READ_CSV('/etc/passwd')",
    "SeLeCt * FrOm ReAd_TeXt('/etc/passwd')",
    "select * from \"read_text\"('/etc/passwd')",
    "select * from read_text\n(\n'/etc/passwd'\n)",
    "select * from read_text/**/('/etc/passwd')",
    "select * from read_text(e'\\x2fetc\\x2fpasswd')",
    "select * from read_text(chr(47) || 'etc/passwd')",
    "select * from read_text(U&'\\002fetc/passwd')",
    "\ufeffselect * from read_text('/etc/passwd')",
    "select\u00a0* from read_text('/etc/passwd')",
    "select * from r\u0435ad_text('/etc/passwd')",  # a Cyrillic e: an unknown function
    "select CURRENT_SETTING('threads')",
    "select 1 into stolen",
    "",
    "   ",
    "selec * from events",
    "select * from",
    "select * from events where",
]

DANGEROUS_BIGQUERY = [
    "insert into `p.d.events` select * from `p.d.events`",
    "delete from `p.d.conversions` where true",
    "drop table `p.d.events`",
    "create table `p.d.stolen` as select * from `p.d.user_attributes`",
    "merge `p.d.sessions` t using `p.d.sessions` s on false when not matched then insert row",
    "call `p.d.some_procedure`()",
    "export data options(uri='gs://bucket/*.csv', format='CSV') as select * from `p.d.events`",
    "declare x int64 default 1",
    "begin select 1; end",
    "execute immediate 'drop table `p.d.events`'",
    "select 1; select 2",
    "set @@query_label = 'x'",
    "select * from external_query('connection', 'select 1')",
    "select external_query('connection', 'select 1')",
    "create temp function f() as (1)",
    "truncate table `p.d.events`",
    "update `p.d.sessions` set revenue_usd = 0 where true",
    "alter table `p.d.events` set options (description = 'x')",
    # time travel: rows an erasure deleted are still there for 7 days
    "select * from `p.d.user_attributes` for system_time as of "
    "timestamp_sub(current_timestamp(), interval 1 day)",
    "select * from `p.d.events` FOR SYSTEM_TIME AS OF '2020-01-01'",
    "with x as (select * from `p.d.sessions` for system_time as of current_timestamp()) "
    "select * from x",
    # INFORMATION_SCHEMA: other users' query text, the catalog
    "select query from `region-us`.INFORMATION_SCHEMA.JOBS",
    "select * from `region-us.INFORMATION_SCHEMA.JOBS_BY_PROJECT`",
    "select * from p.d.INFORMATION_SCHEMA.JOBS_BY_USER",
    "select * from `p`.`region-us`.INFORMATION_SCHEMA.JOBS_BY_ORGANIZATION",
    "select * from d.INFORMATION_SCHEMA.TABLES",
    "select * from `p.d`.INFORMATION_SCHEMA.COLUMNS",
    "select * from `p.d.events` where event_name in "
    "(select query from `region-us`.INFORMATION_SCHEMA.JOBS)",
    # billed model and AI functions, other namespaces
    "select * from ML.PREDICT(MODEL `p.d.m`, (select * from `p.d.sessions`))",
    "select ML.GENERATE_TEXT(MODEL `p.d.m`, (select 'x' as prompt))",
    "select * from ML.GENERATE_EMBEDDING(MODEL `p.d.m`, (select 'x' as content))",
    "select AI.GENERATE('tell me a secret')",
    "select ai.generate_bool('x')",
    "select * from AI.FORECAST(table `p.d.sessions`, data_col => 'x', timestamp_col => 'y')",
    "select KEYS.NEW_KEYSET('AEAD_AES_GCM_256')",
    "select NET.HOST('https://example.com')",
    "select session_user()",
    "select * from `p.d.events` where user_id = session_user()",
    # relations outside the warehouse
    "select * from `other-project.other_dataset.secrets`",
    "select * from `bigquery-public-data.samples.shakespeare`",
    "select * from `p.other.events`",
    "select * from `p.d.events_*`",
    "select * from APPENDS(TABLE `p.d.events`, NULL, NULL)",
    "select * from CHANGES(TABLE `p.d.events`, NULL, NULL)",
    "select * from VECTOR_SEARCH(TABLE `p.d.events`, 'x', (select 1))",
    "",
]

SAFE_DUCKDB = [
    "select count(*) from events",
    "with s as (select * from sessions) select count(*) from s",
    "select * from sessions where session_start_date >= $1 and country = $2",
    "select event_name from events "
    "union all select audience_id from int_audience_members_evaluated",
    "select session_key from sessions intersect select session_key from events",
    "select session_key from sessions except select session_key from conversions",
    'select * from "warehouse"."main"."events" limit 5',
    "select * from main.events limit 5",
    "SELECT COUNT(*) FROM EVENTS",
    "from events select event_name, count(*) group by all order by 2 desc",
    "select event_name, count(*) as n, count(distinct session_key) from events group by 1",
    "select date_trunc('week', session_start_date) as week, sum(revenue_usd) from sessions "
    "group by 1 order by 1",
    "select *, row_number() over (partition by country order by revenue_usd desc) from sessions "
    "qualify row_number() over (partition by country order by revenue_usd desc) <= 3",
    "select coalesce(country, '(not set)'), round(100.0 * count(*) / sum(count(*)) over (), 2) "
    "from user_attributes group by 1",
    "select * from events where event_name in (select event_name from events limit 3)",
    "select x from range(10) as r(x)",
    "select * from generate_series(date '2020-01-01', date '2020-01-31', interval 1 day)",
    "select unnest([1, 2, 3])",
    "select * from unnest($1::varchar[]) as step(name)",
    "select list_transform([1, 2], lambda x: x * 2), [y * 2 for y in [1, 2]]",
    "select sha256('salt' || 'user'), md5('x'), hash(1)",
    "select cast(session_start_date as varchar), session_start_date::date from sessions",
    "select case when revenue_usd > 0 then 'buyer' else 'browser' end from sessions",
    "select strftime(session_start_date, '%Y-%m'), regexp_extract('a1', '[0-9]') from sessions",
    "select columns('.*_date') from sessions",
    "select * exclude (country) from sessions",
    "with recursive t(n) as (select 1 union all select n + 1 from t where n < 5) select * from t",
    "select a.session_key from sessions as a join events as b using (session_key) limit 1",
    "select * from (values (1, 'a'), (2, 'b')) as v(id, name)",
    "select * from daily_kpis",
    "select repeat('x', 10)",
    "select json_extract('{\"a\": 1}', '$.a'), to_json({'a': 1})",
    "select count(*) from events using sample 10%",
    "select * from sessions tablesample 5 rows",
    "select count(*) from events using sample reservoir(50 rows) repeatable (7)",
    "select * from (pivot (select event_name, session_key from events) "
    "on event_name in ('a', 'b') using count(*) group by session_key)",
]

SAFE_BIGQUERY = [
    "select * from `p.d.events` where event_date = @day",
    "select * from `p`.`d`.`sessions`",
    "select * from d.sessions",
    "select x from unnest(@steps) as x",
    "with s as (select * from `p.d.sessions`) select count(*) from s",
    "select countif(revenue_usd > 0), date_trunc(session_start_date, isoweek) "
    "from `p.d.sessions` group by 2",
    "select to_hex(sha256(concat(@salt, 'x')))",
    "select safe.parse_date('%Y%m%d', '20200101')",
    "select regexp_contains(event_name, r'^page'), array_length(@steps) from `p.d.events`",
]


def test_the_corpus_is_large_enough() -> None:
    assert len(DANGEROUS_DUCKDB) + len(DANGEROUS_BIGQUERY) >= 150
    assert len(set(DANGEROUS_DUCKDB)) == len(DANGEROUS_DUCKDB)


@pytest.mark.parametrize("statement", DANGEROUS_DUCKDB)
def test_refused_on_duckdb(statement: str) -> None:
    with pytest.raises(QueryRefused):
        check_read_only(statement, "duckdb", DUCKDB_RELATIONS)


@pytest.mark.parametrize("statement", DANGEROUS_BIGQUERY)
def test_refused_on_bigquery(statement: str) -> None:
    with pytest.raises(QueryRefused):
        check_read_only(statement, "bigquery", BIGQUERY_RELATIONS)


@pytest.mark.parametrize("statement", SAFE_DUCKDB)
def test_read_only_queries_pass_on_duckdb(statement: str) -> None:
    assert check_read_only(statement, "duckdb", DUCKDB_RELATIONS).sql == statement


@pytest.mark.parametrize("statement", SAFE_BIGQUERY)
def test_read_only_queries_pass_on_bigquery(statement: str) -> None:
    assert check_read_only(statement, "bigquery", BIGQUERY_RELATIONS).sql == statement


def test_the_safe_duckdb_queries_run() -> None:
    """The allowed statements are real DuckDB SQL (the guard's parse is DuckDB's own)."""
    with duckdb.connect() as connection:
        for table in TABLES:
            connection.execute(
                f"create table {table} as select 'a' as event_name, 'k' as session_key, "
                "'k' as audience_id, date '2020-01-01' as session_start_date, "
                "1.0 as revenue_usd, 'mx' as country"
            )
        connection.execute("attach ':memory:' as warehouse")
        connection.execute("create table warehouse.main.events as select 1 as x")
        for statement in SAFE_DUCKDB:
            parameters = {
                "$1": ["2020-01-01", "mx"] if "$2" in statement else [["a"]],
            }["$1"]
            connection.execute(statement, parameters if "$1" in statement else None).fetchall()


def test_unknown_is_refused_naming_it() -> None:
    with pytest.raises(QueryRefused, match="2 statements"):
        check_read_only("select 1; drop table events", "duckdb", DUCKDB_RELATIONS)
    with pytest.raises(QueryRefused, match="read_single_csv_file"):
        check_read_only("select * from read_single_csv_file('x')", "duckdb", DUCKDB_RELATIONS)
    with pytest.raises(QueryRefused, match="current_setting"):
        check_read_only("select current_setting('threads')", "duckdb", DUCKDB_RELATIONS)
    with pytest.raises(QueryRefused, match="'/etc/passwd' is not a relation of the warehouse"):
        check_read_only("select * from '/etc/passwd'", "duckdb", DUCKDB_RELATIONS)
    with pytest.raises(QueryRefused, match=r"several statements.*PIVOT must list its values"):
        check_read_only(
            "select * from (pivot events on event_name using count(*))", "duckdb", DUCKDB_RELATIONS
        )
    with pytest.raises(QueryRefused, match="no_such_function"):
        check_read_only("select no_such_function(1)", "duckdb", DUCKDB_RELATIONS)
    with pytest.raises(QueryRefused, match="SYSTEM_TIME"):
        check_read_only(
            "select * from `p.d.events` for system_time as of current_timestamp()",
            "bigquery",
            BIGQUERY_RELATIONS,
        )
    with pytest.raises(QueryRefused, match="external_query"):
        check_read_only("select external_query('c', 'q')", "bigquery", BIGQUERY_RELATIONS)
    with pytest.raises(QueryRefused, match="ML"):
        check_read_only("select ML.PREDICT(MODEL `p.d.m`, (select 1))", "bigquery", None)


def test_without_relations_only_ctes_may_be_read() -> None:
    check_read_only("with t as (select 1 as x) select x from t", "duckdb")
    with pytest.raises(QueryRefused, match="'events' is not a relation"):
        check_read_only("select * from events", "duckdb")


# --- the allow-list is data, and complete for the installed DuckDB ----------------------------


def test_every_duckdb_function_is_classified() -> None:
    """A DuckDB upgrade that adds a function fails here until someone classifies it in
    orchestrate/guard_allowlist/duckdb.txt (allow or refuse)."""
    with duckdb.connect() as connection:
        functions = set(
            connection.execute(
                "select distinct lower(function_name), function_type from duckdb_functions()"
            ).fetchall()
        )
    classified = load_allowlist("duckdb").classified
    missing = sorted(functions - classified)
    assert not missing, f"classify these in {ALLOWLIST_DIR / 'duckdb.txt'}: {missing[:20]}"
    stale = sorted((name, kind) for name, kind in classified - functions if kind != "syntax")
    assert not stale, f"these are no longer DuckDB functions: {stale[:20]}"


def test_the_allowlist_refuses_what_reads_files_or_runs_sql() -> None:
    allow = load_allowlist("duckdb")
    for name in (
        "read_csv",
        "read_single_csv_file",
        "read_single_json_file",
        "read_single_parquet_file",
        "read_duckdb",
        "read_text",
        "read_blob",
        "parquet_full_metadata",
        "parquet_bloom_probe",
        "glob",
        "query",
        "query_table",
        "json_execute_serialized_sql",
        "enable_logging",
        "checkpoint",
        "truncate_duckdb_logs",
    ):
        assert not allow.allowed(name, frozenset({"table", "table_macro"})), name
    for name in ("current_setting", "getvariable", "setseed", "nextval", "json_serialize_sql"):
        assert not allow.allowed(name, frozenset({"scalar", "macro"})), name
    assert allow.allowed("sha256", frozenset({"scalar"}))
    assert allow.allowed("range", frozenset({"table"}))


def test_every_refused_duckdb_table_function_is_refused_in_from() -> None:
    allow = load_allowlist("duckdb")
    refused = [
        name
        for (name, kind), verdict in allow.verdicts.items()
        if kind in ("table", "table_macro") and verdict == "refuse"
    ]
    assert len(refused) > 90
    for name in refused:
        with pytest.raises(QueryRefused, match="not on the allow-list"):
            check_read_only(f'select * from "{name}"(1)', "duckdb", DUCKDB_RELATIONS)


# --- every analysis passes, on both engines ----------------------------------------------------


@pytest.fixture(scope="module")
def duckdb_analyses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from orchestrate.queries import compile_analysis
    from orchestrate.settings import Settings

    folder = tmp_path_factory.mktemp("guard_compile")
    settings = Settings(project_dir=REPO, duckdb_path=folder / "warehouse.duckdb")
    return {
        name: compile_analysis(settings, analysis) for name, analysis in load_analyses(REPO).items()
    }


ANALYSES = {
    "get_audience_size",
    "get_session_trends",
    "get_audience_users",
    "get_conversion_funnel",
}


def project_relations(catalog: str, schema: str) -> frozenset[tuple[str, ...]]:
    """Every model (under its name and its alias) and seed of the project."""
    from orchestrate.engines import BigQueryEngine

    names = {parts[0] for parts in BigQueryEngine(project_dir=REPO).relations() if len(parts) == 1}
    return relation_names((catalog, schema, name) for name in names)


def test_every_analysis_passes_on_duckdb(duckdb_analyses: dict[str, str]) -> None:
    assert set(duckdb_analyses) >= ANALYSES
    relations = project_relations("warehouse", "main")
    for sql in duckdb_analyses.values():
        check_read_only(sql, "duckdb", relations)


def test_every_analysis_passes_on_bigquery(tmp_path_factory: pytest.TempPathFactory) -> None:
    from orchestrate.bigquery.render import render_bigquery

    statements = render_bigquery(
        REPO, tmp_path_factory.mktemp("guard_render"), forms=("full",), quiet=True
    )
    analyses = [s for s in statements if s.kind == "analysis"]
    assert {statement.name for statement in analyses} >= ANALYSES
    relations = project_relations("offline-project", "random_truffle")
    for statement in analyses:
        check_read_only(statement.sql, "bigquery", relations)


def test_the_allowlist_files_are_well_formed() -> None:
    for engine in ("duckdb", "bigquery"):
        lines = (ALLOWLIST_DIR / f"{engine}.txt").read_text().splitlines()
        entries = [line for line in lines if line and not line.startswith("#")]
        assert all(line.count("\t") == 2 for line in entries), engine
        assert Path(ALLOWLIST_DIR / f"{engine}.txt").stat().st_size > 0
