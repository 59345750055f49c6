"""The query guard: a statement runs only if everything in it is known to be read-only.

Every statement `truffle query` or `truffle cost --sql` runs (a reusable analysis, or a user's
`--sql FILE`) must be exactly one query (SELECT, with its WITH, UNION, INTERSECT, EXCEPT), and
every function, table function and relation it names must be on the engine's allow-list:

* functions: `orchestrate/guard_allowlist/<engine>.txt` classifies each function `allow` or
  `refuse` (data, reviewed when the engine is upgraded: a test lists DuckDB's functions and
  fails on any that is not classified). Anything not allowed is refused, naming it.
* relations: a CTE of the statement, or a relation of the warehouse (the engine lists them).
  A file path, another database, a system view or INFORMATION_SCHEMA is not one of them.

DuckDB statements are parsed by DuckDB's own parser (`json_serialize_sql`, on an in-memory
connection with external access off: it only parses), so the guard sees exactly the tree the
engine would run, not another parser's reading of it. BigQuery statements are parsed with
sqlglot; time travel, INFORMATION_SCHEMA, table functions and namespaced functions (ML., AI.,
KEYS., ...) are refused.

The guard is the first line only: on DuckDB every guarded statement also runs on a read-only
connection with external access off, its configuration locked and a memory cap (engines.py).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

# sqlglot logs a warning when it falls back to a generic Command: we refuse those anyway.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

DIALECTS = {"duckdb": "duckdb", "bigquery": "bigquery"}
ALLOWLIST_DIR = Path(__file__).resolve().parent / "guard_allowlist"
MAX_STATEMENT_CHARS = 1_000_000
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_$]*$")
# function types called inside an expression, and in FROM (duckdb_functions().function_type)
EXPRESSION_TYPES = frozenset({"scalar", "aggregate", "window", "macro", "syntax"})
TABLE_TYPES = frozenset({"table", "table_macro"})

Relations = frozenset[tuple[str, ...]]


class QueryRefused(Exception):
    """The statement is not a single read-only query (exit code 2, one line)."""


@dataclass(frozen=True)
class GuardedQuery:
    sql: str
    dialect: str


@dataclass(frozen=True)
class Allowlist:
    """One engine's classified functions: (name, type) -> allow / refuse."""

    verdicts: dict[tuple[str, str], str]

    def allowed(self, name: str, types: frozenset[str]) -> bool:
        return any(self.verdicts.get((name, kind)) == "allow" for kind in types)

    @property
    def classified(self) -> set[tuple[str, str]]:
        return set(self.verdicts)


@functools.cache
def load_allowlist(engine: str) -> Allowlist:
    """The allow-list file of an engine: `verdict<TAB>type<TAB>name` lines, # comments."""
    verdicts: dict[tuple[str, str], str] = {}
    for number, line in enumerate((ALLOWLIST_DIR / f"{engine}.txt").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        verdict, kind, name = line.split("\t", 2)
        if verdict not in ("allow", "refuse"):
            raise ValueError(f"{engine}.txt line {number}: verdict must be allow or refuse")
        verdicts[(name.lower(), kind)] = verdict
    return Allowlist(verdicts)


def relation_names(rows: Iterable[Sequence[str | None]]) -> Relations:
    """The names a query may use for each (catalog, schema, name) relation: the name alone,
    schema.name and catalog.schema.name, lowercased (as tuples: a quoted "a.b" is one name)."""
    names: set[tuple[str, ...]] = set()
    for row in rows:
        parts = tuple(str(part).lower() for part in row if part)
        for start in range(len(parts)):
            names.add(parts[start:])
    return frozenset(names)


def _shown(text: str, limit: int = 60) -> str:
    """A user's name inside a message: quoted, one line, not too long."""
    flat = " ".join(str(text).split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "…")


def _dotted(parts: Sequence[str]) -> str:
    return ".".join(parts)


def check_read_only(
    sql: str,
    engine: str,
    relations: Relations | Callable[[], Relations] | None = None,
    withheld: Callable[[], Relations] | None = None,
) -> GuardedQuery:
    """Return the statement if it is one read-only query for `engine` reading only
    `relations` (see relation_names; None: only CTEs of the statement), else raise
    QueryRefused naming what is not allowed. `relations` may be a function, called only once
    everything else in the statement has passed (the engine is not asked about a statement
    the guard refuses anyway). `withheld` (called after `relations`): relations of the
    warehouse a query restricted to one GA4 property may not read, refused saying so."""
    dialect = DIALECTS.get(engine)
    if dialect is None:
        raise QueryRefused(f"unknown engine {_shown(engine)}: expected duckdb or bigquery")
    if not sql or not sql.strip():
        raise QueryRefused("the query is empty")
    if len(sql) > MAX_STATEMENT_CHARS:
        raise QueryRefused(f"the query is longer than {MAX_STATEMENT_CHARS:,} characters")
    tables = _duckdb_tables(sql) if engine == "duckdb" else _bigquery_tables(sql)
    if tables:
        known = (relations() if callable(relations) else relations) or frozenset()
        for parts in tables:
            if parts not in known and withheld is not None and parts in withheld():
                raise QueryRefused(
                    f"{_shown(_dotted(parts))} holds every property's rows and has no "
                    "property_id: it cannot be read by a query restricted to one property"
                )
            if parts not in known:
                raise QueryRefused(
                    f"{_shown(_dotted(parts))} is not a relation of the warehouse (nor a CTE of "
                    "the query)"
                )
    return GuardedQuery(sql=sql, dialect=dialect)


# ------------------------------------------------------------------------------ DuckDB ----

# Parse-tree node kinds a read-only query is made of (DuckDB's serialized parse tree).
DUCKDB_EXPRESSION_CLASSES = frozenset(
    {
        "BETWEEN",
        "CASE",
        "CAST",
        "COLLATE",
        "COLUMN_REF",
        "COMPARISON",
        "CONJUNCTION",
        "CONSTANT",
        "FUNCTION",
        "LAMBDA",
        "LAMBDA_REF",
        "OPERATOR",
        "PARAMETER",
        "POSITIONAL_REFERENCE",
        "STAR",
        "SUBQUERY",
        "TYPE",
        "WINDOW",
    }
)
DUCKDB_NODE_TYPES = frozenset(
    {
        # query nodes
        "SELECT_NODE",
        "SET_OPERATION_NODE",
        "RECURSIVE_CTE_NODE",
        "CTE_NODE",
        # table references
        "BASE_TABLE",
        "EMPTY",
        "EXPRESSION_LIST",
        "JOIN",
        "PIVOT",
        "SUBQUERY",
        "TABLE_FUNCTION",
        # result modifiers and orderings
        "DISTINCT_MODIFIER",
        "LIMIT_MODIFIER",
        "LIMIT_PERCENT_MODIFIER",
        "ORDER_MODIFIER",
        "ASCENDING",
        "DESCENDING",
        "ORDER_DEFAULT",
        "INVALID",
    }
)


def duckdb_parse_tree(sql: str) -> dict[str, Any]:
    """DuckDB's own parse of the statement (nothing is bound or run), as JSON."""
    try:
        with duckdb.connect(":memory:", config={"enable_external_access": False}) as connection:
            statements = connection.extract_statements(sql)
            if len(statements) != 1:
                raise QueryRefused(
                    f"{len(statements)} statements found: run exactly one read-only query"
                )
            kind = statements[0].type.name
            if kind == "MULTI":  # DuckDB runs a PIVOT with no IN list as several statements
                raise QueryRefused(
                    "DuckDB runs this as several statements, not one query (a PIVOT must list "
                    "its values: PIVOT ... ON column IN ('a', 'b') ...)"
                )
            if kind != "SELECT":
                raise QueryRefused(
                    f"only a read-only query (SELECT) may run, not {kind} (no DML, DDL, SET, "
                    "PRAGMA, ATTACH, COPY, CALL, EXPORT or other commands)"
                )
            row = connection.execute("select json_serialize_sql($1::varchar)", [sql]).fetchone()
        tree = json.loads(row[0]) if row else {}
    except duckdb.ParserException as error:
        first = " ".join(str(error).splitlines()[0].split())[:200]
        raise QueryRefused(f"not valid DuckDB SQL: {first}") from None
    except (duckdb.Error, ValueError, RecursionError) as error:
        raise QueryRefused(f"not valid DuckDB SQL ({type(error).__name__})") from None
    if tree.get("error"):
        message = " ".join(str(tree.get("error_message", "")).split())[:200]
        if "Only SELECT statements" in message:
            raise QueryRefused(
                "only a read-only query (SELECT) may run: no DML, DDL, SET, PRAGMA, ATTACH, "
                "COPY, CALL, EXPORT or other commands"
            )
        raise QueryRefused(f"not valid DuckDB SQL: {message}")
    return tree


def _duckdb_tables(sql: str) -> list[tuple[str, ...]]:
    """Check everything but the relations; return the relations the statement reads."""
    tree = duckdb_parse_tree(sql)
    statements = tree.get("statements") or []
    if len(statements) != 1:
        raise QueryRefused(f"{len(statements)} statements found: run exactly one read-only query")
    tables: list[tuple[str, ...]] = []
    try:
        _walk_duckdb(statements[0].get("node"), frozenset(), tables, load_allowlist("duckdb"))
    except RecursionError:
        raise QueryRefused("the query is nested too deeply") from None
    return tables


def _walk_duckdb(
    node: Any, ctes: frozenset[str], tables: list[tuple[str, ...]], allow: Allowlist
) -> None:
    if isinstance(node, list):
        for item in node:
            _walk_duckdb(item, ctes, tables, allow)
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("type"), dict) and "is_null" in node:
        return  # a constant value (a sample's size): a leaf, no query in it
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict) and cte_map.get("map"):
        visible = set(ctes)
        for entry in cte_map["map"]:
            visible.add(str(entry.get("key", "")).lower())  # a CTE sees itself and earlier ones
            _walk_duckdb(entry.get("value"), frozenset(visible), tables, allow)
        ctes = frozenset(visible)
    skip: set[str] = {"cte_map"}
    if "class" in node:
        kind = str(node["class"])
        if kind not in DUCKDB_EXPRESSION_CLASSES:
            raise QueryRefused(f"{kind.lower()} expressions are not allowed in a guarded query")
        if kind in ("FUNCTION", "WINDOW"):
            _check_duckdb_function(node, EXPRESSION_TYPES, allow)
    elif "type" in node:
        kind = str(node["type"])
        if kind not in DUCKDB_NODE_TYPES:
            raise QueryRefused(f"{kind.lower()} is not allowed in a guarded query")
        if kind == "BASE_TABLE":
            _check_duckdb_table(node, ctes, tables)
        elif kind == "TABLE_FUNCTION":
            function = node.get("function") or {}
            _check_duckdb_function(function, TABLE_TYPES, allow, table=True)
            _walk_duckdb(function.get("arguments"), ctes, tables, allow)
            skip.add("function")
    for key, value in node.items():
        if key not in skip and isinstance(value, dict | list):
            _walk_duckdb(value, ctes, tables, allow)


def _check_duckdb_function(
    node: dict[str, Any], types: frozenset[str], allow: Allowlist, *, table: bool = False
) -> None:
    name = str(node.get("function_name", ""))
    qualified = [str(node.get(key) or "") for key in ("catalog", "schema")]
    what = "table function" if table else "function"
    if any(qualified):
        full = _dotted([part for part in qualified if part] + [name])
        raise QueryRefused(f"{what} {_shown(full)} is not on the allow-list (qualified name)")
    if node.get("class") not in (None, "FUNCTION") and table:
        raise QueryRefused(f"{what} {_shown(name)} is not on the allow-list")
    if not allow.allowed(name.lower(), types):
        raise QueryRefused(
            f"{what} {_shown(name)}() is not on the allow-list of read-only functions"
        )


def _check_duckdb_table(
    node: dict[str, Any], ctes: frozenset[str], tables: list[tuple[str, ...]]
) -> None:
    parts = tuple(
        str(node.get(key) or "").lower() for key in ("catalog_name", "schema_name", "table_name")
    )
    parts = tuple(part for part in parts if part)
    if node.get("at_clause"):
        raise QueryRefused(f"AT (time travel) on {_shown(_dotted(parts))} is not allowed")
    if len(parts) == 1 and parts[0] in ctes:
        return
    _check_name(parts)
    tables.append(parts)


def _check_name(parts: tuple[str, ...]) -> None:
    """A warehouse relation is named by identifiers: a path, a URL or a file name is not."""
    for part in parts:
        if not IDENTIFIER.match(part):
            raise QueryRefused(
                f"{_shown(_dotted(parts))} is not a relation of the warehouse (a file or URL "
                "is never read)"
            )


# ---------------------------------------------------------------------------- BigQuery ----

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
        "Pragma",
        "Set",
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
        "Describe",
        "Show",
        "Execute",
        "ExecuteSql",
        "IfBlock",
        "WhileBlock",
        "Block",
        "EndStatement",
    )
    if hasattr(exp, name)
)


def bigquery_function_name(node: exp.Func) -> str:
    """The allow-list name of a sqlglot function node: the called name of an unknown
    function, else sqlglot's own kind of expression (e.g. `count`, `datetrunc`)."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.key.lower()


def _bigquery_parts(table: exp.Table) -> tuple[str, ...]:
    parts: list[str] = []
    for part in table.parts:
        parts.extend(str(part.name).lower().split("."))
    return tuple(part for part in parts if part)


def _bigquery_tables(sql: str) -> list[tuple[str, ...]]:
    """Check everything but the relations; return the relations the statement reads."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="bigquery") if s is not None]
    except (ParseError, TokenError, RecursionError, ValueError) as error:
        first = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise QueryRefused(f"not valid BigQuery SQL: {first}") from None
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
    allow = load_allowlist("bigquery")
    ctes = {str(cte.alias_or_name).lower() for cte in root.find_all(exp.CTE)}
    tables: list[tuple[str, ...]] = []
    for node in _bigquery_nodes(root):
        if isinstance(node, BLOCKED_NODES):
            raise QueryRefused(f"{node.key.upper()} is not allowed in a read-only query")
        if isinstance(node, exp.Select) and node.args.get("into"):
            raise QueryRefused("SELECT ... INTO writes a table: not allowed")
        if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
            namespace = node.this.sql(dialect="bigquery")
            raise QueryRefused(
                f"function {_shown(namespace + '.' + bigquery_function_name(node.expression))}"
                "() is not on the allow-list (namespaced functions: ML., AI., KEYS., ...)"
            )
        if isinstance(node, exp.Table):
            _check_bigquery_table(node, ctes, tables)
        elif isinstance(node, exp.Func) and not allow.allowed(
            bigquery_function_name(node), EXPRESSION_TYPES
        ):
            raise QueryRefused(
                f"function {_shown(bigquery_function_name(node))}() is not on the allow-list "
                "of read-only functions"
            )
    return tables


def _bigquery_nodes(root: exp.Expression) -> Iterator[exp.Expression]:
    yield from root.walk()


def _check_bigquery_table(node: exp.Table, ctes: set[str], tables: list[tuple[str, ...]]) -> None:
    if isinstance(node.this, exp.Func) or not isinstance(node.this, exp.Identifier):
        function = node.this.sql(dialect="bigquery")[:60] if node.this else "?"
        raise QueryRefused(f"table function {_shown(function)} is not allowed")
    parts = _bigquery_parts(node)
    if node.args.get("version") is not None:
        raise QueryRefused(f"FOR SYSTEM_TIME AS OF (time travel) on {_shown(_dotted(parts))}")
    if "information_schema" in parts:
        raise QueryRefused(f"INFORMATION_SCHEMA ({_shown(_dotted(parts))}) is not allowed")
    if len(parts) == 1 and parts[0] in ctes:
        return
    tables.append(parts)
