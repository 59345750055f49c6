"""`truffle cost --nightly`: every statement the next nightly compiles (models and data tests),
the partitioned tables each reads and the date range it reads of each, measured.

The nightly's models and tests are compiled as the nightly would compile them (its run date,
window or catch-up range, pinned variables). Each statement is parsed with sqlglot: for every
read of a partitioned table (an incremental model with a `meta.window_column`), the date bounds
its query puts on that column. A read outside the window ±1 day, or with no bound at all, is
flagged. Bytes: DuckDB's profiler running the statement, or a BigQuery dry run.

Not listed yet: the post-hooks and the MERGE / delete+insert statements dbt generates when it
runs (they exist only while a build runs).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from orchestrate.cost import CompiledNode, Thresholds, measure
from orchestrate.dbt import run_dbt
from orchestrate.settings import Settings

DIALECTS = {"duckdb": "duckdb", "bigquery": "bigquery"}


@dataclass
class TableRead:
    table: str
    first: dt.date | None
    last: dt.date | None
    flagged: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "table": self.table,
            "first_day": self.first.isoformat() if self.first else None,
            "last_day": self.last.isoformat() if self.last else None,
            "outside_window": self.flagged,
        }

    @property
    def range_text(self) -> str:
        if self.first is None and self.last is None:
            return "all partitions"
        return f"{self.first or '…'} to {self.last or '…'}"


@dataclass
class Statement:
    name: str
    kind: str
    reads: list[TableRead] = field(default_factory=list)
    bytes_read: int | None = None
    note: str = ""

    @property
    def flagged(self) -> bool:
        return any(read.flagged for read in self.reads)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "bytes": self.bytes_read,
            "reads": [read.as_dict() for read in self.reads],
            "outside_window": self.flagged,
            "note": self.note,
        }


def _relation_key(text: str) -> str:
    return ".".join(part.strip('`"').lower() for part in text.split("."))


def _table_key(table: exp.Table) -> str:
    parts = [table.catalog, table.db, table.name]
    return ".".join(part.lower() for part in parts if part)


def _date_value(node: exp.Expression) -> dt.date | None:
    """A date literal: cast('YYYY-MM-DD' as date), date 'YYYY-MM-DD', date('YYYY-MM-DD')."""
    literal = node.find(exp.Literal)
    if literal is None or not literal.is_string:
        return None
    try:
        return dt.date.fromisoformat(literal.this)
    except ValueError:
        return None


def _bounds(where: exp.Expression | None, column: str, alias: str) -> tuple:
    """The tightest literal bounds the top-level AND of a WHERE puts on `column`."""
    first: dt.date | None = None
    last: dt.date | None = None
    if where is None:
        return first, last
    if isinstance(where, exp.Where):
        where = where.this
    for condition in where.flatten() if isinstance(where, exp.And) else [where]:
        if isinstance(condition, exp.Paren):
            condition = condition.unnest()
        if isinstance(condition, exp.And):
            inner = _bounds(condition, column, alias)
            first = max(filter(None, (first, inner[0])), default=None)
            last = min(filter(None, (last, inner[1])), default=None)
            continue
        if not isinstance(condition, (exp.GTE, exp.GT, exp.LTE, exp.LT, exp.EQ, exp.Between)):
            continue
        subject = condition.this
        if not (
            isinstance(subject, exp.Column)
            and subject.name.lower() == column
            and (not subject.table or subject.table.lower() == alias)
        ):
            continue
        if isinstance(condition, exp.Between):
            low, high = _date_value(condition.args["low"]), _date_value(condition.args["high"])
        else:
            value = _date_value(condition.expression)
            low = value if isinstance(condition, (exp.GTE, exp.GT, exp.EQ)) else None
            high = value if isinstance(condition, (exp.LTE, exp.LT, exp.EQ)) else None
        if low:
            first = max(first, low) if first else low
        if high:
            last = min(last, high) if last else high
    return first, last


def table_reads(
    sql: str, dialect: str, partitioned: dict[str, str], window: tuple[dt.date, dt.date]
) -> list[TableRead]:
    """The reads of partitioned tables in one statement, with their date bounds."""
    allowed_first = window[0] - dt.timedelta(days=1)
    allowed_last = window[1] + dt.timedelta(days=1)
    reads = []
    for statement in sqlglot.parse(sql, read=dialect):
        if statement is None:
            continue
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            if not table.db and table.name.lower() in ctes:
                continue
            key = _table_key(table)
            column = next(
                (c for k, c in partitioned.items() if k.split(".")[-1] == key.split(".")[-1]),
                None,
            )
            if column is None:
                continue
            select = table.find_ancestor(exp.Select)
            alias = (table.alias or table.name).lower()
            first, last = _bounds(select.args.get("where") if select else None, column, alias)
            flagged = first is None or last is None or first < allowed_first or last > allowed_last
            reads.append(TableRead(table.name, first, last, flagged))
    return reads


def partitioned_tables(manifest: dict) -> dict[str, str]:
    """relation name -> window column, for every incremental model that declares one."""
    tables = {}
    for node in manifest["nodes"].values():
        config = node.get("config") or {}
        column = (config.get("meta") or {}).get("window_column")
        if node["resource_type"] == "model" and column and node.get("relation_name"):
            tables[_relation_key(node["relation_name"])] = column.lower()
    return tables


def audit_nightly(
    settings: Settings,
    variables: dict[str, object],
    window: tuple[dt.date, dt.date],
    *,
    measure_bytes: bool = True,
) -> list[Statement]:
    """Compile the nightly's models and tests with its variables and audit each statement."""
    from orchestrate.engines import engine_for, target_type

    target_path = settings.project_dir / "target" / "audit"
    run = run_dbt(["compile"], settings, target_path=target_path, extra_vars=variables, quiet=True)
    manifest = json.loads((run.target_path / "manifest.json").read_text())
    compiled = {result.unique_id for result in run.results}
    partitioned = partitioned_tables(manifest)
    dialect = DIALECTS.get(target_type(settings), "duckdb")
    engine = engine_for(settings) if measure_bytes else None
    statements = []
    for unique_id in sorted(compiled, key=lambda uid: (not uid.startswith("model."), uid)):
        node = manifest["nodes"].get(unique_id)
        if not node or node["resource_type"] not in ("model", "test"):
            continue
        if (node.get("config") or {}).get("materialized") in ("ephemeral", "view"):
            continue
        sql = node.get("compiled_code") or ""
        statement = Statement(node["name"], node["resource_type"])
        try:
            statement.reads = table_reads(sql, dialect, partitioned, window)
        except sqlglot.errors.SqlglotError as error:
            statement.note = f"not parsed: {str(error).splitlines()[0][:100]}"
        if engine is not None:
            line = measure(
                engine,
                CompiledNode(unique_id, node["name"], node["resource_type"], sql, {}),
                Thresholds(),
            )
            statement.bytes_read = line.bytes_read
            statement.note = statement.note or line.note
        statements.append(statement)
    return statements


def nightly_audit(
    settings: Settings, run_date: dt.date | None = None, *, catch_up: bool = True
) -> dict[str, object]:
    """The audit of the next nightly: its window, and every statement with its reads."""
    from orchestrate.nightly import lookback_days, plan
    from orchestrate.run_dates import pinned_vars

    run_date, first, range_vars = plan(settings, run_date, catch_up=catch_up)
    start = first or run_date - dt.timedelta(days=lookback_days(settings))
    variables = {**pinned_vars(settings, run_date), **range_vars}
    statements = audit_nightly(settings, variables, (start, run_date))
    return {
        "run_date": run_date.isoformat(),
        "window": {"start": start.isoformat(), "end": run_date.isoformat()},
        "statements": [statement.as_dict() for statement in statements],
        "outside_window": [s.name for s in statements if s.flagged],
        "bytes": sum(s.bytes_read or 0 for s in statements),
    }


def print_audit(audit: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from orchestrate.console import console
    from orchestrate.cost import MIB

    window = audit["window"]
    table = Table(title=f"next nightly: {window['start']} to {window['end']} (±1 day allowed)")
    table.add_column("statement", max_width=60, overflow="ellipsis", no_wrap=True)
    for column in ("kind", "partitioned table read", "days read", "MiB", "flag"):
        table.add_column(column, justify="right" if column == "MiB" else "left", no_wrap=True)
    for statement in audit["statements"]:
        reads = statement["reads"] or [None]
        for index, read in enumerate(reads):
            first = index == 0
            days = ""
            if read:
                days = (
                    "all partitions"
                    if read["first_day"] is None and read["last_day"] is None
                    else f"{read['first_day'] or '…'}..{read['last_day'] or '…'}"
                )
            size = statement["bytes"] / MIB if first and statement["bytes"] is not None else None
            table.add_row(
                escape(statement["name"]) if first else "",
                statement["kind"] if first else "",
                read["table"] if read else "",
                days,
                f"{size:,.2f}" if size is not None else "",
                "[yellow]outside the window[/]" if read and read["outside_window"] else "",
            )
    # wide enough for whole names and dates even when stdout is not a terminal
    Console(width=max(console.width, 170), highlight=False).print(table)
    flagged = audit["outside_window"]
    console.print(
        f"{len(audit['statements'])} statements, {audit['bytes'] / MIB:,.1f} MiB; "
        f"{len(flagged)} read partitioned tables outside the window ±1 day"
    )
