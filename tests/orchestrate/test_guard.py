"""The query guard refuses anything but a single read-only query, in both dialects."""

from __future__ import annotations

import pytest

from orchestrate.guard import QueryRefused, check_read_only

DANGEROUS_DUCKDB = [
    # DML / DDL
    "insert into events select * from events",
    "update sessions set revenue_usd = 0",
    "delete from conversions",
    "drop table events",
    "create table stolen as select * from user_attributes",
    "create or replace view v as select 1",
    "alter table sessions add column x int",
    "truncate events",
    "merge into sessions as t using sessions as s on t.session_key = s.session_key "
    "when matched then delete",
    # multiple statements and comment tricks
    "select 1; drop table events",
    "select 1; select 2",
    "select 1 /* ; */; delete from events",
    "select 1 -- harmless\n; drop table events",
    "/* comment */ drop table events",
    "select * from events;\n\ndelete from events;",
    # commands, settings and the file system
    "copy events to '/tmp/stolen.csv'",
    "copy (select * from user_attributes) to '/tmp/x.parquet' (format parquet)",
    "attach '/tmp/other.duckdb' as other",
    "detach warehouse",
    "install httpfs",
    "load httpfs",
    "pragma database_list",
    "set enable_external_access = true",
    "reset lock_configuration",
    "checkpoint",
    "export database '/tmp/dump'",
    "import database '/tmp/dump'",
    "call pragma_version()",
    "begin transaction",
    "vacuum",
    # table functions that read files or run SQL text
    "select * from read_csv('/etc/passwd')",
    "select * from read_csv_auto('/etc/passwd')",
    "select * from read_parquet('/tmp/x.parquet')",
    "select * from read_json('/tmp/x.json')",
    "select * from read_text('/etc/passwd')",
    "select * from read_blob('/etc/passwd')",
    "select * from glob('/etc/*')",
    "select * from '/etc/passwd'",
    "select * from 'data.csv'",
    "select * from query('drop table events')",
    "select * from query_table('events')",
    "select getenv('HOME')",
    "select * from events where session_key in (select * from read_csv('/etc/passwd'))",
    "with x as (select * from read_parquet('s3://bucket/x.parquet')) select * from x",
    "select 1 into stolen",
    "",
    "   ",
    "selec * from events",
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
    "create temp function f() as (1)",
    "truncate table `p.d.events`",
    "update `p.d.sessions` set revenue_usd = 0 where true",
    "alter table `p.d.events` set options (description = 'x')",
]

SAFE = [
    ("select count(*) from events", "duckdb"),
    ("with s as (select * from sessions) select count(*) from s", "duckdb"),
    ("select * from sessions where session_start_date >= $1 and country = $2", "duckdb"),
    ("select a from t union all select b from u", "duckdb"),
    ('select * from "warehouse"."main"."events" limit 5', "duckdb"),
    ("select * from `p.d.events` where event_date = @day", "bigquery"),
    ("select x from unnest(@steps) as x", "bigquery"),
]


def test_the_corpus_is_large_enough() -> None:
    assert len(DANGEROUS_DUCKDB) + len(DANGEROUS_BIGQUERY) >= 40


@pytest.mark.parametrize("statement", DANGEROUS_DUCKDB)
def test_refused_on_duckdb(statement: str) -> None:
    with pytest.raises(QueryRefused):
        check_read_only(statement, "duckdb")


@pytest.mark.parametrize("statement", DANGEROUS_BIGQUERY)
def test_refused_on_bigquery(statement: str) -> None:
    with pytest.raises(QueryRefused):
        check_read_only(statement, "bigquery")


@pytest.mark.parametrize(("statement", "engine"), SAFE)
def test_read_only_queries_pass(statement: str, engine: str) -> None:
    assert check_read_only(statement, engine).sql == statement


def test_the_message_says_what_is_wrong() -> None:
    with pytest.raises(QueryRefused, match="2 statements"):
        check_read_only("select 1; drop table events", "duckdb")
    with pytest.raises(QueryRefused, match="read_csv"):
        check_read_only("select * from read_csv('/etc/passwd')", "duckdb")
