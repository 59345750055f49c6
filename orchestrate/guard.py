"""The query guard: only a single read-only query may reach the warehouse.

Every statement `truffle query` runs (a reusable analysis, or a user's `--sql FILE`) is parsed
with sqlglot in the engine's dialect and refused unless it is exactly one query (SELECT, with
its WITH, UNION, INTERSECT, EXCEPT) and touches nothing but tables: no DML, DDL, MERGE, CALL,
EXPORT, scripting, SET/PRAGMA/ATTACH/INSTALL, several statements, SELECT INTO, table functions
that read files or run SQL text, or file paths used as tables. On DuckDB the connection is
also read-only with external access disabled, so a statement that slipped past the parser
could still neither write nor read a file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

# sqlglot logs a warning when it falls back to a generic Command: we refuse those anyway.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

DIALECTS = {"duckdb": "duckdb", "bigquery": "bigquery"}

# Table functions and functions that read files, reach other systems or run SQL given as text.
BLOCKED_FUNCTIONS = frozenset(
    {
        "read_csv",
        "read_csv_auto",
        "read_parquet",
        "parquet_scan",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        "read_json",
        "read_json_auto",
        "read_json_objects",
        "read_json_objects_auto",
        "read_ndjson",
        "read_ndjson_auto",
        "read_ndjson_objects",
        "read_text",
        "read_blob",
        "glob",
        "sniff_csv",
        "read_xlsx",
        "st_read",
        "st_read_meta",
        "iceberg_scan",
        "iceberg_metadata",
        "delta_scan",
        "postgres_scan",
        "postgres_query",
        "postgres_execute",
        "sqlite_scan",
        "sqlite_attach",
        "mysql_query",
        "mysql_execute",
        "query",
        "query_table",
        "getenv",
        "external_query",
        "load_file",
        "duckdb_secrets",
        "duckdb_settings",
        "which_secret",
        "read_file",
        "read_files",
        "arrow_scan",
        "pandas_scan",
        "scan_arrow_ipc",
    }
)

# Statement kinds that are not a read-only query, wherever they appear in the tree.
BLOCKED_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name)
    for name in (
        "DDL",
        "DML",
        "Insert",
        "Update",
        "Delete",
        "Merge",
        "Create",
        "Drop",
        "Alter",
        "Command",
        "Copy",
        "Attach",
        "Detach",
        "Pragma",
        "Set",
        "Install",
        "Use",
        "Transaction",
        "Commit",
        "Rollback",
        "Declare",
        "Export",
        "LoadData",
        "TruncateTable",
        "Grant",
        "Revoke",
        "Analyze",
        "Summarize",
        "Describe",
        "Show",
        "Refresh",
        "Cache",
        "Uncache",
        "Kill",
        "Execute",
        "ExecuteSql",
        "Load",
        "IfBlock",
        "WhileBlock",
        "Block",
        "EndStatement",
    )
    if hasattr(exp, name)
)


class QueryRefused(Exception):
    """The statement is not a single read-only query (exit code 2, one line)."""


@dataclass(frozen=True)
class GuardedQuery:
    sql: str
    dialect: str


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def check_read_only(sql: str, engine: str) -> GuardedQuery:
    """Return the statement if it is one read-only query for `engine`, else raise QueryRefused."""
    dialect = DIALECTS.get(engine)
    if dialect is None:
        raise QueryRefused(f"unknown engine {engine!r}: expected duckdb or bigquery")
    if not sql or not sql.strip():
        raise QueryRefused("the query is empty")
    try:
        statements = [statement for statement in sqlglot.parse(sql, read=dialect) if statement]
    except (ParseError, TokenError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise QueryRefused(f"not valid {engine} SQL: {first}") from None
    if len(statements) != 1:
        raise QueryRefused(f"{len(statements)} statements found: run exactly one read-only query")
    root = statements[0]
    while isinstance(root, exp.Subquery):
        root = root.this
    if not isinstance(root, exp.Query):
        raise QueryRefused(
            f"only a read-only query may run, not {root.key.upper()} (no DML, DDL, scripting "
            "or commands)"
        )
    for node in root.walk():
        if isinstance(node, BLOCKED_NODES):
            raise QueryRefused(f"{node.key.upper()} is not allowed in a read-only query")
        if isinstance(node, exp.Select) and node.args.get("into"):
            raise QueryRefused("SELECT ... INTO writes a table: not allowed")
        if isinstance(node, exp.Func) and _function_name(node) in BLOCKED_FUNCTIONS:
            raise QueryRefused(
                f"{_function_name(node)}() reads files or runs other SQL: not allowed"
            )
        if isinstance(node, exp.Table):
            name = str(node.name)
            if (
                isinstance(node.this, exp.Literal)
                or any(c in name for c in "/\\:")
                or ("." in name and engine == "duckdb")
            ):
                raise QueryRefused(f"{name!r} looks like a file, not a table: not allowed")
            if isinstance(node.this, exp.Func) and _function_name(node.this) in BLOCKED_FUNCTIONS:
                raise QueryRefused(f"{_function_name(node.this)}() is not allowed")
    return GuardedQuery(sql=sql, dialect=dialect)
