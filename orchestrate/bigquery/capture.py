"""Every statement a BigQuery build sends, captured offline.

`dbt compile` (render.py) shows each model's SELECT, but not what dbt-bigquery generates only
when it runs: the materializations' DDL and scripts (the temp table and the insert_overwrite
MERGE with its `partitions` list, the session models' keyed MERGE with its predicates), the
post-hooks (vanished-session / erasure / retention DELETEs, the erasure ledger INSERTs, the guard
queries before them), the data tests' and unit tests' queries as run. A capture runs the real
`dbt build` (seeds, models, hooks, data tests, unit tests) on the offline profile with one
thing replaced: the BigQuery client, the only part of dbt-bigquery that talks to Google.
The stand-in records every query it is sent, with the node that sent it, and answers from
the catalog the offline proof already holds (the seeds' and models' schemas):

* a table exists if the capture starts with it (a nightly starts from a built warehouse, a
  full build from an empty one) or a statement of the capture created it;
* a query's result has the columns GoogleSQL's analyzer resolves for it, and one row of
  plausible values (a count is 1, so the delete guards and erasure counts let the DML be
  generated; `ga4_allow_deletes` lets the guards pass), except that a data test finds no
  failing rows and a unit test's comparison returns no rows (the run goes on downstream);
  on an "ordinary" night (the audit's), the lookups our macros name answer as an ordinary
  night would (no new erasure request, nothing past retention, the users' state settled);
* API calls (datasets, table metadata, descriptions, copies, loads) are accepted and do
  nothing.

Nothing here works around a dbt-bigquery bug: it is the harness that makes a build runnable
without a warehouse. analyze_capture() then resolves every captured statement with the
analyzer, one statement of a script at a time, naming the node of each failure.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from orchestrate.audit import ORDINARY_HISTORY_DAYS, Night
from orchestrate.bigquery.catalog import BigQueryCatalog, TableSchema, relation_path, type_text
from orchestrate.bigquery.render import (
    OFFLINE_TARGET,
    RenderError,
    _environment,
    offline_profiles_dir,
    render_variables,
)
from orchestrate.dbt import run_dbt
from orchestrate.settings import Settings

Run = Literal["full", "nightly"]


def _users_state(run_date: dt.date, oldest: dt.date | None = None) -> list[dt.date]:
    """The users' state lookup: settled up to the start of the history, retention counted
    from the day before, and the first seen / converted / event days (`oldest`, default the
    start of the history)."""
    start = run_date - dt.timedelta(days=ORDINARY_HISTORY_DAYS)
    return [start, run_date - dt.timedelta(days=1), *[oldest or start] * 3]


# The ordinary night's (orchestrate.audit.NIGHTS; "every path", the proof's, answers every
# count with 1) answers to the lookups our macros name (truffle_lookup_name,
# macros/incremental/strategy.sql): a function of the run date giving the row's values.
_ORDINARY_NIGHT: dict[str, Any] = {
    "new erasure requests": lambda run_date: [0],
    "pending erasures": lambda run_date: [0],
    "retention partitions": lambda run_date: [0],
    "restated days": lambda run_date: [None],
    "users state": _users_state,
    "missing export days": lambda run_date: [None],
}
# The night on which every path runs answers every count with 1, and the users' state as
# the ordinary night's holding rows past every retention cutoff: the update that reads
# again the months of the day each category expired is sent and proven (the state's
# rebuild is the full build's statement).
_EVERY_PATH_NIGHT: dict[str, Any] = {
    "users state": lambda run_date: _users_state(run_date, oldest=dt.date(1900, 1, 1)),
    # the day before the run date's export table is gone: staging replaces the other days
    "missing export days": lambda run_date: [f"{run_date - dt.timedelta(days=1):%Y%m%d}"],
}
_LOOKUP_NAME = re.compile(r"/\* truffle lookup: ([a-z ()]+?) \*/")

# What each captured statement is, for the counts and the failure messages.
KINDS = (
    "model",  # CREATE TABLE / VIEW ... AS the model's SELECT
    "temp table",  # the incremental materialization's __dbt_tmp table
    "merge",  # insert_overwrite (partition list) or keyed MERGE
    "hook",  # a post-hook's DML (UPDATE / DELETE / the erasure ledger's INSERT) or no-op
    "lookup",  # a query a macro reads (guard counts, session reach, newest export day)
    "drop",  # DROP TABLE of a temp table
    "seed",
    "test",
    "unit test",
)


@dataclass(frozen=True)
class CapturedStatement:
    """One statement dbt sent during a captured build (a script is split into statements)."""

    run: Run
    unique_id: str
    kind: str
    sql: str

    @property
    def node(self) -> str:
        return self.unique_id or "(no node)"


@dataclass
class Capture:
    """What one captured build sent, in order, and how dbt's run ended."""

    run: Run
    statements: list[CapturedStatement] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counted = {kind: 0 for kind in KINDS}
        for statement in self.statements:
            counted[statement.kind] = counted.get(statement.kind, 0) + 1
        return {kind: number for kind, number in counted.items() if number}


# ------------------------------------------------------------------ scripts ----

_TOKENS = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|;", re.S)


def split_script(sql: str) -> list[str]:
    """The statements of a BigQuery script (split at `;` outside strings, quoted names and
    comments), each stripped; empty ones (comments only) dropped."""
    parts, start = [], 0
    for match in _TOKENS.finditer(sql):
        if match.group(0) == ";":
            parts.append(sql[start : match.start()])
            start = match.end()
    parts.append(sql[start:])
    return [part.strip() for part in parts if _strip_comments(part).strip()]


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.S)


_CREATED = re.compile(
    r"^\s*create\s+(?:or\s+replace\s+)?(?:temp\s+|temporary\s+)?(?:table|view)\s+"
    r"(?:if\s+not\s+exists\s+)?((?:`[^`]+`|[\w-]+)(?:\.(?:`[^`]+`|[\w-]+))*)",
    re.I,
)
# a row access policy created or dropped (macros/ga4/access.sql): a grant, no data read
_POLICY = re.compile(r"^\s*(?:create\s+(?:or\s+replace\s+)?|drop\s+)row\s+access\s+polic", re.I)
_DROPPED = re.compile(
    r"^\s*drop\s+(?:table|view)\s+(?:if\s+exists\s+)?((?:`[^`]+`|[\w-]+)(?:\.(?:`[^`]+`|[\w-]+))*)",
    re.I,
)


def _statement_kind(resource_type: str, sql: str) -> str:
    text = _strip_comments(sql).strip().lower()
    if _POLICY.match(text):  # a seed's or a model's post-hook
        return "policy"
    if resource_type == "test":
        return "test"
    if resource_type == "unit_test":
        return "unit test"
    if resource_type == "seed":
        return "seed"
    if created := _CREATED.match(text):
        return "temp table" if "__dbt_tmp" in created.group(1) else "model"
    if text.startswith("merge"):
        return "merge"
    hook_dml = text.startswith(("update", "delete", "insert"))
    if hook_dml or re.match(r"select 1 as nothing_\w+$", text):
        return "hook"
    if text.startswith("drop"):
        return "drop"
    return "lookup"


# ------------------------------------------------------------ the stand-in ----


def schema_fields(columns: Mapping[str, str]) -> list[Any]:
    """BigQuery SchemaFields for columns given as BigQuery type text (STRUCT -> RECORD,
    ARRAY -> REPEATED), as the API describes a table."""
    from orchestrate.bigquery.catalog import parse_type

    return [_field(name, parse_type(kind)) for name, kind in columns.items()]


def _field(name: str, kind: Any, mode: str = "NULLABLE") -> Any:
    from google.cloud.bigquery import SchemaField
    from zetasql.types import TypeKind

    if int(kind.type_kind) == int(TypeKind.TYPE_ARRAY):
        return _field(name, kind.array_type.element_type, "REPEATED")
    if int(kind.type_kind) == int(TypeKind.TYPE_STRUCT):
        fields = [_field(item.field_name, item.field_type) for item in kind.struct_type.field]
        return SchemaField(name, "RECORD", mode=mode, fields=fields)
    return SchemaField(name, type_text(kind), mode=mode)


def _plausible(kind: str, run_date: dt.date, *, passing_test: bool) -> Any:
    """One value of a column in a stand-in answer."""
    if kind == "INT64":
        # a count a lookup returns is not zero, so the DML it guards is sent and proven
        return 0 if passing_test else 1
    if kind in ("FLOAT64", "NUMERIC", "BIGNUMERIC"):
        # the one float a lookup returns is the days a window's session began before its
        # event (ga4_session_reach): 0, a night whose sessions began in the window
        return 0.0
    if kind == "BOOL":
        return False
    if kind == "DATE":
        return run_date
    if kind in ("TIMESTAMP", "DATETIME"):
        return dt.datetime.combine(run_date, dt.time(), tzinfo=dt.UTC)
    if kind == "STRING":
        # the one string a macro parses: the newest export day (events_YYYYMMDD)
        return run_date.strftime("%Y%m%d")
    return None


class _Rows:
    """A query job's result: `.schema` and its rows (dicts), computed when first read."""

    def __init__(self, answer: Any) -> None:
        self._answer = answer
        self._computed: tuple[list[Any], list[dict[str, Any]]] | None = None

    def _compute(self) -> tuple[list[Any], list[dict[str, Any]]]:
        if self._computed is None:
            self._computed = self._answer()
        return self._computed

    @property
    def schema(self) -> list[Any]:
        return self._compute()[0]

    @property
    def total_rows(self) -> int:
        return len(self._compute()[1])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._compute()[1])


class _Job:
    """A finished job: what dbt-bigquery reads of a QueryJob, CopyJob or LoadJob."""

    statement_type = "SCRIPT"  # dbt then asks nothing more (no destination table lookup)
    destination = None
    num_dml_affected_rows = 0
    total_bytes_processed = 0
    total_bytes_billed = 0
    slot_millis = 0
    location = "US"
    project = "offline-project"
    state = "DONE"
    error_result = None
    errors = None

    def __init__(self, rows: _Rows | None = None) -> None:
        self.job_id = str(uuid.uuid4())
        self._rows = rows

    def result(self, *args: Any, **kwargs: Any) -> Any:
        return self._rows if self._rows is not None else self

    def cancel(self) -> None:
        pass


def _path(reference: Any) -> tuple[str, ...]:
    """(project, dataset, table) of a TableReference, Table or `a.b.c` text, lower case; a
    partition decorator (`$20201102`) names its table."""
    if isinstance(reference, str):
        parts = relation_path(reference.replace(":", "."))
    else:
        parts = (reference.project, reference.dataset_id, reference.table_id)
    parts = (*parts[:-1], parts[-1].split("$", 1)[0])
    return tuple(part.lower() for part in parts)


def _base_table(path: tuple[str, ...]) -> tuple[str, ...]:
    """The model a temp relation (`x__dbt_tmp<timestamp>`) is built for."""
    return (*path[:-1], re.sub(r"__dbt_tmp\d*$", "", path[-1]))


def _created_schema(
    catalog: BigQueryCatalog, path: tuple[str, ...], columns: Sequence[tuple[str, str]]
) -> TableSchema | None:
    """The columns of a table a statement created, for the statements after it: those its
    query resolved to (a temp table has what the incremental SELECT produces, so a MERGE
    reading it is checked against that), else its model's. None for a model's own table
    (the catalog has its schema)."""
    if catalog.get(path) is not None:
        return None
    if columns:
        return TableSchema.from_type_texts(dict(columns))
    return catalog.get(_base_table(path))


class OfflineClient:
    """Stands in for google.cloud.bigquery.Client during a capture (see the module's doc)."""

    def __init__(
        self,
        capture: Capture,
        catalog: BigQueryCatalog,
        existing: Mapping[tuple[str, ...], str],
        run_date: dt.date,
        night: Night = "every path",
    ) -> None:
        self.capture = capture
        self.night = night
        self.catalog = catalog
        # the tables and views that exist (path -> TABLE / VIEW, as the API names them)
        self.existing = dict(existing)
        self.run_date = run_date
        self.created: dict[tuple[str, ...], TableSchema] = {}
        self.lock = threading.RLock()

    # -- queries: every statement dbt sends
    def query(self, query: str, job_config: Any = None, **kwargs: Any) -> _Job:
        from dbt_common.events.contextvars import get_node_info

        node = get_node_info() or {}
        unique_id = str(node.get("unique_id") or "")
        resource_type = unique_id.split(".", 1)[0]
        with self.lock:
            for sql in split_script(query):
                self.capture.statements.append(
                    CapturedStatement(
                        self.capture.run, unique_id, _statement_kind(resource_type, sql), sql
                    )
                )
                self._track(sql)
        return _Job(_Rows(lambda: self._answer(query, resource_type)))

    def _track(self, sql: str) -> None:
        """Tables the statement creates exist from now on (see _created_schema); dropped
        ones no longer do."""
        text = _strip_comments(sql).strip()
        if created := _CREATED.match(text):
            path = tuple(part.lower() for part in relation_path(created.group(1)))
            self.existing[path] = (
                "VIEW" if re.search(r"\bview\b", text[: created.end()], re.I) else "TABLE"
            )
            if self.catalog.get(path) is None:
                from orchestrate.bigquery.analyzer import AnalyzerError, analyze_sql

                try:
                    columns = analyze_sql(text, self.catalog)
                except AnalyzerError:
                    columns = []
                schema = _created_schema(self.catalog, path, columns)
                if schema is not None:
                    self.created[path] = schema
        elif dropped := _DROPPED.match(text):
            self.existing.pop(tuple(part.lower() for part in relation_path(dropped.group(1))), None)

    def _answer(self, query: str, resource_type: str) -> tuple[list[Any], list[dict[str, Any]]]:
        from orchestrate.bigquery.analyzer import AnalyzerError, analyze_sql

        statements = split_script(query)
        if not statements:
            return [], []
        with self.lock:
            try:
                columns = analyze_sql(statements[-1], self.catalog)
            except AnalyzerError:
                # the run answers nothing; analyze_capture reports the statement by its node
                return [], []
        fields = schema_fields(dict(columns))
        if resource_type == "unit_test":
            return fields, []  # the comparison of actual and expected rows: nothing differs
        answers = _ORDINARY_NIGHT if self.night == "ordinary" else _EVERY_PATH_NIGHT
        named = _LOOKUP_NAME.search(statements[-1])
        if named and named.group(1) in answers:
            values = answers[named.group(1)](self.run_date)
            return fields, [{name: value for (name, _), value in zip(columns, values, strict=True)}]
        row = {
            name: _plausible(kind, self.run_date, passing_test=resource_type == "test")
            for name, kind in columns
        }
        return fields, [row]

    # -- tables
    def _schema(self, path: tuple[str, ...]) -> TableSchema | None:
        return self.created.get(path) or self.catalog.get(_base_table(path))

    def _table(self, path: tuple[str, ...]) -> Any:
        from google.cloud.bigquery import Table, TableReference

        table = Table(TableReference.from_string(".".join(path)))
        table._properties["type"] = self.existing[path]  # read-only in the API: set by BigQuery
        schema = self._schema(path)
        if schema is not None:
            table.schema = schema_fields(schema.type_texts())
        return table

    def get_table(self, reference: Any, **kwargs: Any) -> Any:
        from google.api_core.exceptions import NotFound

        path = _path(reference)
        with self.lock:
            if path not in self.existing:
                raise NotFound(f"offline capture: {'.'.join(path)} does not exist")
            return self._table(path)

    def update_table(self, table: Any, fields: Sequence[str], **kwargs: Any) -> Any:
        return table  # descriptions, column docs, schema updates: metadata only

    def delete_table(self, reference: Any, **kwargs: Any) -> None:
        with self.lock:
            self.existing.pop(_path(reference), None)

    def copy_table(self, sources: Any, destination: Any, **kwargs: Any) -> _Job:
        with self.lock:
            self.existing[_path(destination)] = "TABLE"
        return _Job()

    def load_table_from_file(self, handle: Any, destination: Any, **kwargs: Any) -> _Job:
        with self.lock:
            self.existing[_path(destination)] = "TABLE"  # a seed: its schema is in the catalog
        return _Job()

    def list_tables(self, dataset: Any, **kwargs: Any) -> list[Any]:
        """The dataset's tables and views (dbt fills its relation cache from them)."""
        wanted = (dataset.project.lower(), dataset.dataset_id.lower())
        with self.lock:
            return [self._table(path) for path in self.existing if path[:2] == wanted]

    # -- datasets
    def list_datasets(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    def create_dataset(self, dataset: Any, **kwargs: Any) -> Any:
        return dataset

    def delete_dataset(self, *args: Any, **kwargs: Any) -> None:
        pass

    def get_dataset(self, reference: Any, **kwargs: Any) -> Any:
        from google.cloud.bigquery import Dataset

        return Dataset(reference)

    def update_dataset(self, dataset: Any, fields: Sequence[str], **kwargs: Any) -> Any:
        return dataset

    def close(self) -> None:
        pass


@contextmanager
def _offline_client(client: OfflineClient) -> Iterator[None]:
    """Replaces BigQueryConnectionManager.open, which builds a google.cloud.bigquery.Client
    from the profile's credentials: every connection of the capture gets the stand-in."""
    from dbt.adapters.bigquery.connections import BigQueryConnectionManager
    from dbt.adapters.contracts.connection import ConnectionState

    def open_offline(cls: Any, connection: Any) -> Any:
        connection.handle = client
        connection.state = ConnectionState.OPEN
        return connection

    saved = BigQueryConnectionManager.__dict__["open"]
    BigQueryConnectionManager.open = classmethod(open_offline)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        BigQueryConnectionManager.open = saved  # type: ignore[method-assign]


# ---------------------------------------------------------------- a capture ----

CAPTURE_VARIABLES: dict[str, object] = {
    # let the delete guards pass, so a nightly's DELETEs are generated and proven
    "ga4_allow_deletes": True,
}


def capture_build(
    project_dir: Path,
    target_path: Path,
    catalog: BigQueryCatalog,
    variables: Mapping[str, object],
    *,
    run: Run,
    relations: Mapping[str, str],
    select: Sequence[str] = (),
    project: str,
    dataset: str,
    quiet: bool = True,
    night: Night = "every path",
) -> Capture:
    """`dbt build` (a full refresh on an empty warehouse, or a nightly on a built one) on the
    offline profile, every statement recorded. `relations` are the project's models and
    seeds (relation -> `table` or `view`: the warehouse a nightly starts from); `catalog`
    holds their schemas; `night` what the lookups answer (see Night)."""
    merged = render_variables(variables, incremental=run == "nightly")
    for name in ("ga4_render_offline", "ga4_render_incremental"):
        merged.pop(name)  # a capture runs as a real build: is_incremental() asks the warehouse
    merged.update(CAPTURE_VARIABLES)
    run_date_text = merged.get("ga4_run_date")
    run_date = (
        dt.date.fromisoformat(str(run_date_text))
        if run_date_text
        else dt.datetime.now(dt.UTC).date()
    )
    existing = {
        tuple(part.lower() for part in relation_path(relation)): kind.upper()
        for relation, kind in relations.items()
        if run == "nightly"
    }
    capture = Capture(run)
    client = OfflineClient(capture, catalog, existing, run_date, night)
    settings = Settings(
        project_dir=Path(project_dir),
        profiles_dir=offline_profiles_dir(project_dir),
        target=OFFLINE_TARGET,
        vars=merged,
    )
    command = ["build", "--threads", "1"]
    if run == "full":
        command.append("--full-refresh")
    if select:
        command += ["--select", *select]
    with (
        _environment({"TRUFFLE_BQ_PROJECT": project, "TRUFFLE_BQ_DATASET": dataset}),
        _offline_client(client),
    ):
        result = run_dbt(command, settings, target_path=target_path, quiet=quiet)
    capture.failures = [
        f"{failure.unique_id} [{failure.status}]: {' '.join((failure.message or '').split())}"
        for failure in result.failures
    ]
    if not result.results and not result.success:
        raise RenderError(result.failure_report())
    return capture


# ----------------------------------------------------------------- analysis ----


@dataclass(frozen=True)
class CapturedAnalysis:
    statement: CapturedStatement
    error: str | None


@dataclass
class CaptureReport:
    """The analyzer's verdict on every captured statement of each run."""

    captures: list[Capture]
    results: list[CapturedAnalysis]

    @property
    def errors(self) -> list[str]:
        found = [
            f"{capture.run} build: {failure}"
            for capture in self.captures
            for failure in capture.failures
        ]
        found += [
            f"{r.statement.run} build: {r.statement.kind} of {r.statement.node}: {r.error}"
            for r in self.results
            if r.error
        ]
        return found

    def summary(self) -> str:
        parts = []
        for capture in self.captures:
            counts = ", ".join(f"{number} {kind}" for kind, number in capture.counts().items())
            parts.append(f"{capture.run} build {len(capture.statements)} statements ({counts})")
        return "; ".join(parts) + f"; {len(self.errors)} errors"


def analyze_capture(captures: Sequence[Capture], catalog: BigQueryCatalog) -> CaptureReport:
    """Resolve every captured statement with the analyzer, in the order sent; a table a
    statement creates (a temp table) is in the catalog for the statements after it."""
    from orchestrate.bigquery.analyzer import AnalyzerError, analyze_sql

    results = []
    for capture in captures:
        local = BigQueryCatalog(dict(catalog.tables))
        for statement in capture.statements:
            error = None
            try:
                columns = analyze_sql(statement.sql, local)
            except AnalyzerError as failure:
                error = str(failure)
                columns = []
            created = _CREATED.match(_strip_comments(statement.sql).strip())
            if created:
                path = tuple(p.lower() for p in relation_path(created.group(1)))
                schema = _created_schema(local, path, columns)
                if schema is not None and schema.columns:
                    local.add(path, schema)
            results.append(CapturedAnalysis(statement, error))
    return CaptureReport(list(captures), results)


def build_relations(manifest: Mapping[str, Any]) -> dict[str, str]:
    """The project's models and seeds: relation -> `view` or `table` (what a built
    warehouse holds)."""
    project = manifest["metadata"].get("project_name")
    return {
        node["relation_name"]: "view" if node["config"].get("materialized") == "view" else "table"
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed")
        and node.get("package_name") == project
        and node.get("relation_name")
    }


def prove_builds(
    project_dir: Path,
    target_path: Path,
    catalog: BigQueryCatalog,
    manifest: Mapping[str, Any],
    variables: Mapping[str, object],
    *,
    runs: Sequence[Run] = ("full", "nightly"),
    select: Sequence[str] = (),
    project: str,
    dataset: str,
    quiet: bool = True,
) -> CaptureReport:
    """Capture what a full build and a nightly send (one after the other into `target_path`:
    the same variables, so the second reuses the first's parse), then analyze every
    statement. `catalog` is the analyzed render's (seeds and models resolved), `manifest`
    the full-form render's; `select` narrows the builds (dbt node selection)."""
    relations = build_relations(manifest)
    captures = [
        capture_build(
            project_dir,
            Path(target_path),
            catalog,
            variables,
            run=run,
            relations=relations,
            select=select,
            project=project,
            dataset=dataset,
            quiet=quiet,
        )
        for run in runs
    ]
    return analyze_capture(captures, catalog)


def write_capture(report: CaptureReport, out_dir: Path) -> list[Path]:
    """Per run, every captured statement in the order sent: `<run>.sql` (each under a comment
    naming its kind and node) and `<run>.json` (machine-readable: the run, dbt's failures,
    and each statement's number, kind, node, SQL and analyzer error or null)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    errors = {id(result.statement): result.error for result in report.results}
    files = []
    for capture in report.captures:
        path = out_dir / f"{capture.run}.sql"
        path.write_text(
            "".join(
                f"-- [{number}] {s.kind} of {s.node}\n{s.sql.rstrip()};\n\n"
                for number, s in enumerate(capture.statements, 1)
            )
        )
        listing = {
            "run": capture.run,
            "failures": capture.failures,
            "statements": [
                {
                    "number": number,
                    "kind": s.kind,
                    "node": s.unique_id or None,
                    "sql": s.sql,
                    "error": errors.get(id(s)),
                }
                for number, s in enumerate(capture.statements, 1)
            ],
        }
        listing_path = path.with_suffix(".json")
        listing_path.write_text(json.dumps(listing, indent=1) + "\n")
        files += [path, listing_path]
    return files
