"""`truffle cost --nightly`: every statement the next nightly sends (models, the MERGE /
delete+insert of each incremental model, post-hooks, data tests, the lookups macros send),
the tables each reads and, for a partitioned table, the days it reads; measured.

Which tables are partitioned comes from the manifest: every model with a `meta.window_column`
or a `partition_by` field (whatever materializes them). Each statement is parsed with sqlglot;
for each read of a partitioned table, the date bounds its statement puts on that column (a
SELECT's WHERE, a DELETE's or UPDATE's WHERE, a MERGE's ON and WHEN conditions, an IN list of
dates). A read outside the window ±1 day, or with no bound at all, is flagged. A delete+insert
keyed on the partition date (`date in (select date from <temp table>)`) reads the days just
written. Other project tables read are listed as read whole.

Where the statements come from:
* DuckDB: the nightly's real `dbt build` runs on a scratch copy of the warehouse
  (target/audit/nightly.duckdb) with every statement recorded and measured by DuckDB's
  profiler (orchestrate.recorder); the warehouse itself is not touched.
* BigQuery: the offline capture (orchestrate.bigquery.capture) of a nightly `dbt build`
  rendered for the run date; with a BigQuery account (the profile's credentials), each
  statement's dry-run bytes; without one, statements and ranges only, and the output says so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import sqlglot
from sqlglot import exp

from orchestrate.settings import Settings

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_NO_ROWS = re.compile(r"\bwhere\s+false\b[^;]*\blimit\s+0\s*;?\s*$", re.I)
DIALECTS = {"duckdb": "duckdb", "bigquery": "bigquery"}
# What BigQuery's offline capture assumes of the warehouse a nightly starts from (its lookups'
# answers: orchestrate.bigquery.capture). DuckDB's audit runs the real nightly instead.
Night = Literal["ordinary", "every path"]
# the ordinary night's warehouse: this many days of history, younger than the shortest retention
ORDINARY_HISTORY_DAYS = 300
NIGHTS: dict[str, str] = {
    "ordinary": f"an ordinary night: {ORDINARY_HISTORY_DAYS} days of history (younger than the "
    "shortest retention), no new erasure request",
    "every path": "every path: a new erasure request, rows past every retention cutoff (the "
    "users' state reads the expired days' months again) (every count a lookup returns is 1)",
}
# what a statement is, as listed (the BigQuery capture's kinds; DuckDB's delete+insert counts
# as the incremental model's write, "merge"; "policy": a row access policy, which reads no data)
WRITE_KINDS = ("model", "temp table", "merge", "hook", "test", "unit test", "seed", "policy")


@dataclass
class TableRead:
    table: str
    first: dt.date | None
    last: dt.date | None
    flagged: bool
    partitioned: bool = True
    why: str = ""  # for a table read whole: what it is
    via: str = ""  # read through this view

    def as_dict(self) -> dict[str, object]:
        return {
            "table": self.table,
            "partitioned": self.partitioned,
            "first_day": self.first.isoformat() if self.first else None,
            "last_day": self.last.isoformat() if self.last else None,
            "outside_window": self.flagged,
            "why": self.why,
            "via": self.via,
        }


@dataclass
class Statement:
    name: str
    kind: str
    node: str = ""
    reads: list[TableRead] = field(default_factory=list)
    bytes_read: int | None = None
    note: str = ""
    sql: str = ""

    @property
    def flagged(self) -> bool:
        return any(read.flagged for read in self.reads)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "node": self.node,
            "kind": self.kind,
            "verb": _verb(self.sql),
            "bytes": self.bytes_read,
            "reads": [read.as_dict() for read in self.reads],
            "outside_window": self.flagged,
            "note": self.note,
            "sql": " ".join(_COMMENTS.sub(" ", self.sql).split())[:200],
        }


@dataclass(frozen=True)
class Relation:
    """A project table or view, as the manifest declares it."""

    name: str
    unique_id: str
    window_column: str | None  # set for a partitioned table
    why: str
    view_sql: str = ""  # a view: its compiled query (what reading it reads)
    # a view: the window columns of the tables under it its own window column passes through
    # (meta.window_source_column, a column or a list: cortex_ga4_sessions.session_date is
    # session_start_date; daily_kpis.kpi_date is event_date, session_start_date, conversion_date)
    source_columns: tuple[str, ...] = ()


def _relation_key(text: str) -> str:
    return ".".join(part.strip('`"').lower() for part in text.split("."))


def project_relations(manifest: dict) -> dict[str, Relation]:
    """identifier -> Relation for every model and seed; partitioned (window column) for a
    model with a `meta.window_column` or a `partition_by` field."""
    relations = {}
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] not in ("model", "seed", "snapshot"):
            continue
        if not node.get("relation_name"):
            continue
        config = node.get("config") or {}
        meta = config.get("meta") or {}
        partition = config.get("partition_by") or {}
        column = meta.get("window_column") or (
            partition.get("field") if isinstance(partition, dict) else None
        )
        description = " ".join((node.get("description") or "").split())
        why = (
            node["resource_type"]
            if node["resource_type"] == "seed"
            else config.get("materialized", "model")
        )
        if description:
            why += ": " + description.split(". ")[0][:140]
        if meta.get("read_whole_why") and not partition:
            # a small table with a window column (its tests read the window) but no
            # partitions: it is read whole, and says why that is bounded
            why += " (read whole: " + str(meta["read_whole_why"]) + ")"
            column = None
        identifier = _relation_key(node["relation_name"]).split(".")[-1]
        view_sql = (node.get("compiled_code") or "") if config.get("materialized") == "view" else ""
        source = meta.get("window_source_column") or column
        sources = [source] if isinstance(source, str) else list(source or [])
        relations[identifier] = Relation(
            node["name"],
            unique_id,
            column.lower() if column else None,
            why,
            view_sql,
            tuple(name.lower() for name in sources),
        )
    return relations


def _date_value(node: exp.Expression | None) -> dt.date | None:
    """A date literal: cast('YYYY-MM-DD' as date), date 'YYYY-MM-DD', date('YYYY-MM-DD'),
    and date_sub / date_add of one by whole days."""
    if node is None:
        return None
    if isinstance(node, (exp.DateSub, exp.DateAdd, exp.Sub, exp.Add)):
        base = _date_value(node.this)
        amount = node.expression
        unit = str(node.args.get("unit") or "day").lower()
        if isinstance(amount, exp.Interval):
            unit = str(amount.args.get("unit") or unit).lower()
            amount = amount.this
        if base is None or not isinstance(amount, exp.Literal) or "day" not in unit:
            return None
        days = int(float(amount.this))
        sign = -1 if isinstance(node, (exp.DateSub, exp.Sub)) else 1
        return base + dt.timedelta(days=sign * days)
    literal = node if isinstance(node, exp.Literal) else node.find(exp.Literal)
    if literal is None or not literal.is_string:
        return None
    try:
        return dt.date.fromisoformat(literal.this)
    except ValueError:
        return None


WRITTEN = "written"  # bound: the days a temp table of the same statement group just wrote


def _is_column(node: exp.Expression, column: str, alias: str) -> bool:
    """`node` is the column (in parentheses, a 1-tuple, or cast / date() of it)."""
    if isinstance(node, exp.Paren):
        node = node.unnest()
    if isinstance(node, exp.Tuple) and len(node.expressions) == 1:
        node = node.expressions[0]
    while isinstance(node, (exp.Cast, exp.Date, exp.TsOrDsToDate)) or (
        isinstance(node, exp.Anonymous) and str(node.this).lower() == "date"
    ):
        node = node.expressions[0] if isinstance(node, exp.Anonymous) else node.this
    return (
        isinstance(node, exp.Column)
        and node.name.lower() == column
        and (not node.table or node.table.lower() == alias)
    )


def _reads_temp_only(query: exp.Expression) -> bool:
    tables = list(query.find_all(exp.Table))
    return bool(tables) and all("__dbt_tmp" in table.name.lower() for table in tables)


def _bounds(where: exp.Expression | None, column: str, alias: str) -> tuple:
    """The tightest bounds the top-level AND of a condition puts on `column`: (first, last,
    written), `written` when it is `column in (select ... from <temp table>)`."""
    first: dt.date | None = None
    last: dt.date | None = None
    written = False
    if where is None:
        return first, last, written
    if isinstance(where, exp.Where):
        where = where.this
    for condition in where.flatten() if isinstance(where, exp.And) else [where]:
        if isinstance(condition, exp.Paren):
            condition = condition.unnest()
        if isinstance(condition, exp.And):
            inner = _bounds(condition, column, alias)
            first = max(filter(None, (first, inner[0])), default=None)
            last = min(filter(None, (last, inner[1])), default=None)
            written = written or inner[2]
            continue
        if isinstance(condition, exp.In) and _is_column(condition.this, column, alias):
            query = condition.args.get("query")
            if query is not None:
                written = written or _reads_temp_only(query)
                continue
            days = [_date_value(value) for value in condition.expressions]
            if days and all(days):
                low, high = min(days), max(days)  # type: ignore[type-var]
                first = max(first, low) if first else low
                last = min(last, high) if last else high
            continue
        if not isinstance(condition, (exp.GTE, exp.GT, exp.LTE, exp.LT, exp.EQ, exp.Between)):
            continue
        if not _is_column(condition.this, column, alias):
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
    return first, last, written


def _conditions(table: exp.Table) -> list[exp.Expression | None] | None:
    """The conditions that bound a table's read (None: the statement writes the table: the
    target of CREATE or INSERT)."""
    node: exp.Expression = table
    if isinstance(table.parent, exp.Schema):
        node = table.parent
    if isinstance(node.parent, (exp.Create, exp.Insert)) and node.parent.this is node:
        return None
    create = table.find_ancestor(exp.Create)
    # creating a view reads nothing: what reads the view reads its tables; but an incremental
    # model's rows as a temporary view (DuckDB's truffle_window and truffle_state) are read by
    # the insert that follows, and its tables are listed here, with its query
    if (
        create is not None
        and str(create.args.get("kind") or "").upper() == "VIEW"
        and not create.find(exp.TemporaryProperty)
    ):
        return None
    scope = table.find_ancestor(exp.Select, exp.Delete, exp.Update, exp.Merge)
    if isinstance(scope, exp.Merge):
        if scope.this is not table:
            return [None]
        whens = scope.args.get("whens")
        items = whens.expressions if isinstance(whens, exp.Whens) else (whens or [])
        return [scope.args.get("on"), *(when.args.get("condition") for when in items)]
    if isinstance(scope, (exp.Select, exp.Delete, exp.Update)):
        return [scope.args.get("where")]
    return [None]


def table_reads(
    sql: str,
    dialect: str,
    partitioned: dict[str, str] | dict[str, Relation],
    window: tuple[dt.date, dt.date],
    depth: int = 0,
) -> list[TableRead]:
    """The reads of project tables in one statement: for a partitioned one, its date bounds
    (flagged outside the window ±1 day or unbounded); any other, read whole. `partitioned`
    maps relation names to window columns, or identifiers to Relations (project_relations).
    A view is read through: its query's reads are listed, `via` the view; a filter on the
    view's declared window column bounds the tables under it partitioned on that column (or on
    the column it declares its window column passes through)."""
    relations = {
        key.split(".")[-1]: value if isinstance(value, Relation) else Relation(key, "", value, "")
        for key, value in partitioned.items()
    }
    reads = []
    for statement in sqlglot.parse(sql, read=dialect):
        if statement is None or isinstance(statement, (exp.Alter, exp.Drop, exp.Command)):
            continue  # renames, drops, comments: no data read
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            name = table.name.lower()
            if not table.db and name in ctes:
                continue
            relation = relations.get(name)
            if relation is None:
                continue
            conditions = _conditions(table)
            if conditions is None:
                continue  # the statement writes it
            alias = (table.alias or table.name).lower()
            if relation.view_sql and depth < 4:
                # a view that declares a window column passes its table's partition column
                # through (the mart views over the stored facts): a filter on the view
                # bounds the reads of the tables under it that are partitioned on that column
                outer = (
                    _read_bounds(conditions, relation.window_column, alias, window)
                    if relation.window_column
                    else (None, None)
                )
                inner_reads = table_reads(relation.view_sql, dialect, relations, window, depth + 1)
                for read in inner_reads:
                    under = relations.get(read.table.lower())
                    passed = relation.source_columns or (relation.window_column,)
                    if read.partitioned and under and under.window_column in passed:
                        first = max(filter(None, (read.first, outer[0])), default=None)
                        last = min(filter(None, (read.last, outer[1])), default=None)
                        read = replace(
                            read, first=first, last=last, flagged=_outside(first, last, window)
                        )
                    reads.append(replace(read, via=read.via or table.name))
                continue
            if relation.window_column is None:
                reads.append(TableRead(table.name, None, None, False, False, relation.why))
                continue
            first, last = _read_bounds(conditions, relation.window_column, alias, window)
            reads.append(TableRead(table.name, first, last, _outside(first, last, window)))
    return reads


def _read_bounds(
    conditions: list[exp.Expression | None],
    column: str,
    alias: str,
    window: tuple[dt.date, dt.date],
) -> tuple[dt.date | None, dt.date | None]:
    """The days a read is bounded to by its conditions on `column` (a write keyed on the
    statement's own temp table: the window)."""
    first = last = None
    written = False
    for condition in conditions:
        low, high, into = _bounds(condition, column, alias)
        first = max(filter(None, (first, low)), default=None)
        last = min(filter(None, (last, high)), default=None)
        written = written or into
    if written and first is None and last is None:
        first, last = window
    return first, last


def _outside(first: dt.date | None, last: dt.date | None, window: tuple[dt.date, dt.date]) -> bool:
    """Unbounded, or reaching outside the window ±1 day."""
    day = dt.timedelta(days=1)
    return first is None or last is None or first < window[0] - day or last > window[1] + day


_SESSION = ("begin", "commit", "rollback", "set", "pragma", "use", "attach", "load", "install")


def statement_kind(resource_type: str, sql: str) -> str:
    """What a recorded DuckDB statement is, in the BigQuery capture's words (merge: the
    incremental materialization's write; hook: other DML a model sends)."""
    text = " ".join(_COMMENTS.sub(" ", sql).split()).lower()
    if text.startswith(("describe", "comment on")) or "from (describe " in text:
        return "catalog"  # column and comment lookups: no data read
    first = text.split(" ", 1)[0]
    if first in _SESSION:
        return "session"
    if resource_type in ("test", "unit_test", "seed"):
        return {"unit_test": "unit test"}.get(resource_type, resource_type)
    if first in ("create", "alter") and "__dbt_tmp" in text.split(" as ", 1)[0]:
        return "temp table"
    if first == "create" and resource_type == "model":
        return "model"
    if first in ("insert", "delete", "merge") and "__dbt_tmp" in text:
        return "merge"
    if first in ("update", "delete", "insert", "merge") or text.startswith("select 1 as nothing_"):
        return "hook"
    if first == "drop":
        return "drop"
    return "lookup"


def _node_name(unique_id: str, manifest: dict) -> str:
    node = manifest["nodes"].get(unique_id) or manifest.get("unit_tests", {}).get(unique_id)
    if node:
        return str(node["name"])
    return unique_id.split(".")[-1] if unique_id else "(no node)"


def audit_statements(
    sent: list[tuple[str, str, str, int | None]],
    manifest: dict,
    dialect: str,
    window: tuple[dt.date, dt.date],
) -> tuple[list[Statement], dict[str, object]]:
    """(unique_id, kind, sql, bytes) of every statement sent -> the listed statements (those
    that build, write, test or read a project table) and what was left out (session settings,
    catalog lookups: count and bytes)."""
    relations = project_relations(manifest)
    listed: list[Statement] = []
    left_out = {"statements": 0, "bytes": 0}
    for unique_id, kind, sql, bytes_read in sent:
        if _NO_ROWS.search(_COMMENTS.sub(" ", sql)):
            kind = "catalog"  # the columns of a query (`where false ... limit 0`): reads nothing
        node = manifest["nodes"].get(unique_id) or {}
        if (
            kind in ("temp table", "merge")
            and (node.get("config") or {}).get("materialized") != "incremental"
        ):
            kind = "model"  # a table or view built under a temporary name, then renamed
        statement = Statement(
            _node_name(unique_id, manifest), kind, unique_id, bytes_read=bytes_read, sql=sql
        )
        try:
            if kind not in ("catalog", "policy"):
                statement.reads = table_reads(sql, dialect, relations, window)
        except (sqlglot.errors.SqlglotError, ValueError, RecursionError) as error:
            statement.note = f"not parsed: {str(error).splitlines()[0][:100]}"
        if kind in WRITE_KINDS or statement.reads or statement.note:
            listed.append(statement)
        else:
            left_out["statements"] += 1
            left_out["bytes"] += bytes_read or 0
    return listed, left_out


# ----------------------------------------------------------- the nightly ----


def write_statements(path: Path, sent: list[tuple[str, str, str, int | None]]) -> Path:
    """Every statement sent, in order, each under a comment naming its node (and bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(
            f"-- [{number}] {kind} of {unique_id or '(no node)'}"
            + (f" ({size:,} bytes)" if size is not None else "")
            + f"\n{sql.strip().rstrip(';')};\n\n"
            for number, (unique_id, kind, sql, size) in enumerate(sent, 1)
        )
    )
    return path


def duckdb_nightly(
    settings: Settings, variables: dict[str, object], window: tuple[dt.date, dt.date]
) -> dict[str, object]:
    """The nightly's `dbt build` on a scratch copy of the warehouse, every statement recorded
    and measured by DuckDB's profiler."""
    from orchestrate.build import require_warehouse
    from orchestrate.dbt import run_dbt
    from orchestrate.recorder import recording

    require_warehouse(settings)
    # one folder per warehouse file: audits of different warehouses do not meet
    key = hashlib.sha1(str(settings.warehouse_path).encode()).hexdigest()[:10]
    scratch = settings.project_dir / "target" / "audit" / f"duckdb-{key}"
    scratch.mkdir(parents=True, exist_ok=True)
    copy = scratch / "nightly.duckdb"
    for stale in (copy, copy.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(settings.warehouse_path, copy)
    wal = settings.warehouse_path.with_suffix(".duckdb.wal")
    if wal.is_file():
        shutil.copyfile(wal, copy.with_suffix(".duckdb.wal"))
    scratch_settings = replace(settings, duckdb_path=copy)
    try:
        with recording() as sent:
            run = run_dbt(
                ["build", "--threads", "1"],  # one statement at a time (orchestrate.recorder)
                scratch_settings,
                target_path=scratch / "dbt",
                extra_vars=variables,
                quiet=True,
            )
    finally:
        for stale in (copy, copy.with_suffix(".duckdb.wal")):
            stale.unlink(missing_ok=True)
    manifest = json.loads((run.target_path / "manifest.json").read_text())
    rows = [
        (s.unique_id, statement_kind(s.unique_id.split(".", 1)[0], s.sql), s.sql, s.bytes_read)
        for s in sent
    ]
    statements, left_out = audit_statements(rows, manifest, "duckdb", window)
    return {
        "engine": "duckdb",
        "files": {
            "statements": str(write_statements(scratch / "nightly.sql", rows)),
            "manifest": str(run.target_path / "manifest.json"),
        },
        "measured": "bytes read from the warehouse file per statement (DuckDB's profiler, "
        "buffer pool emptied before each), on a scratch copy",
        "build_failures": [f"{r.unique_id}: {r.message}" for r in run.failures],
        "statements": statements,
        "left_out": left_out,
    }


def bigquery_nightly(
    settings: Settings,
    variables: dict[str, object],
    window: tuple[dt.date, dt.date],
    night: Night = "ordinary",
) -> dict[str, object]:
    """The nightly's statements from the offline capture (rendered, analyzed, then a captured
    `dbt build` of a built warehouse, its lookups answered as `night` says); dry-run bytes
    when a BigQuery account is usable."""
    import os

    from orchestrate.bigquery.analyzer import analyze_statements
    from orchestrate.bigquery.capture import build_relations, capture_build
    from orchestrate.bigquery.render import (
        DEFAULT_DATASET,
        DEFAULT_PROJECT,
        RenderError,
        load_manifest,
        render_bigquery,
    )
    from orchestrate.console import CliError
    from orchestrate.extras import require_bigquery
    from orchestrate.properties import bigquery_exports

    require_bigquery("the BigQuery nightly audit", "dbt.adapters.bigquery", "zetasql")
    client, no_account = _bigquery_client(settings)
    project = os.environ.get("TRUFFLE_BQ_PROJECT") if client else None
    project = project or DEFAULT_PROJECT
    dataset = (os.environ.get("TRUFFLE_BQ_DATASET") if client else None) or DEFAULT_DATASET
    render_vars = {k: v for k, v in variables.items() if k != "ga4_export_path"}
    out = settings.project_dir / "target" / "audit" / "bigquery"
    try:
        rendered = render_bigquery(
            settings.project_dir,
            out,
            variables=render_vars,
            project=project,
            dataset=dataset,
            quiet=True,
        )
        manifest = load_manifest(out)
        report = analyze_statements(
            rendered, manifest, settings.project_dir, exports=bigquery_exports(settings)
        )
        if report.error_count:
            raise CliError(report.failure_report(), exit_code=1)
        capture = capture_build(
            settings.project_dir,
            out / "builds",
            report.catalog,
            render_vars,
            run="nightly",
            relations=build_relations(manifest),
            project=project,
            dataset=dataset,
            night=night,
        )
    except RenderError as error:
        raise CliError(f"the BigQuery capture failed: {error}", exit_code=1) from None
    rows = [(s.unique_id, s.kind, s.sql, None) for s in capture.statements]
    statements, left_out = audit_statements(rows, manifest, "bigquery", window)
    if client is not None:
        from orchestrate.bigquery.dry_run import DryRunError, dry_run_bytes

        for statement in statements:
            try:
                statement.bytes_read = dry_run_bytes(statement.sql, client=client)
            except DryRunError as error:
                statement.note = f"dry run: {error}"[:200]
    write_statements(
        out / "nightly.sql", [(s.node, s.kind, s.sql, s.bytes_read) for s in statements]
    )
    return {
        "engine": "bigquery",
        "night": NIGHTS[night],
        "measured": "dry-run bytes per statement"
        if client is not None
        else f"no BigQuery account ({no_account}): statements and ranges only, no bytes",
        "build_failures": capture.failures,
        "statements": statements,
        "left_out": left_out,
    }


def _bigquery_client(settings: Settings) -> tuple[Any, str]:
    """A client as the profile connects (None and why when no account is usable)."""
    from orchestrate.engines import engine_for

    try:
        engine = engine_for(settings)
        return engine.client, ""  # type: ignore[attr-defined]
    except Exception as error:  # (any failure to connect: audit offline)
        reason = " ".join(str(error).split(";")[0].split())
        return None, reason[:160] or type(error).__name__


def nightly_audit(
    settings: Settings,
    run_date: dt.date | None = None,
    *,
    catch_up: bool = True,
    night: Night = "ordinary",
) -> dict[str, object]:
    """The audit of the next nightly: its window, and every statement with its reads.
    `night`: what BigQuery's offline capture assumes of the warehouse (DuckDB runs the real
    nightly on a copy of the warehouse)."""
    from orchestrate.engines import target_type

    if target_type(settings) == "bigquery":
        from orchestrate.nightly import lookback_days
        from orchestrate.run_dates import resolve_run_date

        run_date = resolve_run_date(settings, run_date)
        start = run_date - dt.timedelta(days=lookback_days(settings))
        variables: dict[str, object] = {**settings.vars, "ga4_run_date": run_date.isoformat()}
        result = bigquery_nightly(settings, variables, (start, run_date), night)
    elif night != "ordinary":
        from orchestrate.console import CliError

        raise CliError(
            "--every-path is for BigQuery's offline capture; on DuckDB the audit runs the real "
            "nightly on a copy of the warehouse: drop --every-path."
        )
    else:
        from orchestrate.nightly import lookback_days, plan
        from orchestrate.run_dates import pinned_vars

        run_date, first, range_vars = plan(settings, run_date, catch_up=catch_up)
        start = first or run_date - dt.timedelta(days=lookback_days(settings))
        variables = {**pinned_vars(settings, run_date), **range_vars}
        result = duckdb_nightly(settings, variables, (start, run_date))
    statements: list[Statement] = result.pop("statements")  # type: ignore[assignment]
    counts: dict[str, int] = {}
    for statement in statements:
        counts[statement.kind] = counts.get(statement.kind, 0) + 1
    whole = sorted({(r.table, r.why) for s in statements for r in s.reads if not r.partitioned})
    return {
        "run_date": run_date.isoformat(),
        "window": {"start": start.isoformat(), "end": run_date.isoformat()},
        **result,
        "counts": counts,
        "statements": [statement.as_dict() for statement in statements],
        "outside_window": sorted({s.name for s in statements if s.flagged}),
        "offenders": offenders([statement.as_dict() for statement in statements]),
        "read_whole": [{"table": table, "why": why} for table, why in whole],
        "bytes": sum(s.bytes_read or 0 for s in statements),
    }


def _verb(sql: str) -> str:
    words = _COMMENTS.sub(" ", sql).split()
    return words[0].lower() if words else ""


def offenders(statements: list[dict]) -> list[dict[str, str]]:
    """Each read of a partitioned table outside the window ±1 day, once per node, kind,
    statement verb, table (and view it is read through) and days read."""
    found = set()
    for statement in statements:
        for read in statement["reads"]:
            if read["outside_window"]:
                days = f"{read['first_day'] or '…'}..{read['last_day'] or '…'}"
                found.add(
                    (
                        statement["node"] or statement["name"],
                        statement["kind"],
                        statement["verb"],
                        read["table"].lower(),
                        read["via"].lower(),
                        days,
                    )
                )
    keys = ("node", "kind", "verb", "table", "via", "days")
    return [dict(zip(keys, entry, strict=True)) for entry in sorted(found)]


def _days(read: dict) -> str:
    if not read["partitioned"]:
        return "whole table"
    if read["first_day"] is None and read["last_day"] is None:
        return "all partitions"
    if read["first_day"] is None:
        return f"up to {read['last_day']}"
    if read["last_day"] is None:
        return f"from {read['first_day']}"
    return f"{read['first_day']}..{read['last_day']}"


def print_audit(audit: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from orchestrate.console import console
    from orchestrate.cost import MIB

    window = audit["window"]
    night = f"; {audit['night']}" if audit.get("night") else ""
    table = Table(
        title=f"next nightly: {window['start']} to {window['end']} (±1 day allowed){night}"
    )
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("statement", max_width=50, overflow="ellipsis", no_wrap=True)
    for column in ("kind", "table read", "days read", "MiB", "flag"):
        table.add_column(column, justify="right" if column == "MiB" else "left", no_wrap=True)
    for number, statement in enumerate(audit["statements"], 1):
        reads = statement["reads"] or [None]
        for index, read in enumerate(reads):
            first = index == 0
            size = statement["bytes"] / MIB if first and statement["bytes"] is not None else None
            table.add_row(
                str(number) if first else "",
                escape(statement["name"]) if first else "",
                statement["kind"] if first else "",
                (read["table"] + (f" (via {read['via']})" if read["via"] else "")) if read else "",
                _days(read) if read else "",
                f"{size:,.2f}" if size is not None else "",
                "[yellow]outside the window[/]" if read and read["outside_window"] else "",
            )
    # wide enough for whole names and dates even when stdout is not a terminal
    wide = Console(width=max(console.width, 170), highlight=False)
    wide.print(table)
    counts = ", ".join(f"{number} {kind}" for kind, number in audit["counts"].items())
    left_out = audit["left_out"]
    console.print(
        f"{len(audit['statements'])} statements ({counts}), {audit['bytes'] / MIB:,.1f} MiB "
        f"({audit['measured']}); not listed: {left_out['statements']} session settings and "
        f"catalog lookups ({left_out['bytes'] / MIB:,.1f} MiB)"
    )
    if audit["read_whole"]:
        console.print("Tables read whole (not partitioned):")
        for entry in audit["read_whole"]:
            console.print(f"  {escape(entry['table'])}: {escape(entry['why'])}")
    console.print(
        f"{len(audit['offenders'])} reads of a partitioned table outside the window ±1 day"
        + (":" if audit["offenders"] else "")
    )
    for offender in audit["offenders"]:
        via = f" (through the view {offender['via']})" if offender["via"] else ""
        console.print(
            f"  {escape(offender['kind'])} ({offender['verb']}) of {escape(offender['node'])}: "
            f"{escape(offender['table'])}{escape(via)} {offender['days']}"
        )
    for failure in audit["build_failures"]:
        console.print(f"[yellow]build failure[/]: {escape(failure)}")


def markdown(audit: dict) -> str:
    """The audit as the README's table: one row per model (its statements: build, write,
    hooks, lookups) and one per kind of test, with the partitioned tables read and the days
    (for the tests, only the reads outside the window ±1 day)."""
    from orchestrate.cost import MIB

    groups: dict[str, list[dict]] = {}
    for statement in audit["statements"]:
        kind = statement["kind"]
        key = {"test": "data tests", "unit test": "unit tests", "seed": "seeds"}.get(kind)
        groups.setdefault(key or f"`{statement['name']}`", []).append(statement)
    lines = [
        "| node | statements | partitioned tables read: days (flagged outside window ±1 day) "
        "| MiB |",
        "|---|---|---|---:|",
    ]
    for name, statements in groups.items():
        kinds: dict[str, int] = {}
        reads: dict[str, set[str]] = {}
        for statement in statements:
            label = statement["kind"] + (
                f" {statement['verb']}" if statement["kind"] in ("hook", "lookup") else ""
            )
            kinds[label] = kinds.get(label, 0) + 1
            for read in statement["reads"]:
                # tests: only what they read outside the window (the rest is the window ±1)
                if read["partitioned"] and (read["outside_window"] or not name.endswith("tests")):
                    days = _days(read)
                    flag = " **flagged**" if read["outside_window"] else ""
                    via = f" (via `{read['via']}`)" if read["via"] else ""
                    reads.setdefault(f"`{read['table']}`{via}", set()).add(days + flag)
        measured = [s["bytes"] for s in statements if s["bytes"] is not None]
        size = f"{sum(measured) / MIB:,.1f}" if measured else "n/a"
        lines.append(
            f"| {name} | "
            + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            + " | "
            + "; ".join(f"{t}: {', '.join(sorted(d))}" for t, d in sorted(reads.items()))
            + f" | {size} |"
        )
    return "\n".join(lines)
