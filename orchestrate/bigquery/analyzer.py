"""Google's GoogleSQL analyzer (ZetaSQL, compiled to WebAssembly: PyPI `zetasql`) on every
rendered BigQuery statement.

Each statement is resolved against a catalog (catalog.py): names, nested fields, function
signatures and types are checked as BigQuery's front end checks them, with no network. Models
are analyzed in dependency order; each one's output schema (its contract when enforced) is
added to the catalog for the models that read it. On top of the analyzer's own errors:

* a model with an enforced contract must produce exactly the contract's columns and types;
* the incremental form of a model must produce the same columns and types as its full form
  (the marts run with `on_schema_change: fail`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrate.bigquery.catalog import (
    BigQueryCatalog,
    TableSchema,
    base_catalog,
    contract_enforced,
    declared_columns,
    parse_type,
    type_text,
)
from orchestrate.bigquery.render import RenderedStatement

# analyses/_analyses.yml parameter types -> BigQuery query parameter types (as truffle binds them)
PARAMETER_TYPES = {
    "string": "STRING",
    "date": "DATE",
    "int": "INT64",
    "float": "FLOAT64",
    "string_list": "ARRAY<STRING>",
}


class AnalyzerError(Exception):
    """The analyzer rejected a statement. `message` is the analyzer's, `line` the SQL line."""

    def __init__(self, message: str, line: str | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(message if line is None else f"{message} | {line.strip()}")


# --------------------------------------------------------------------- service ----


def cache_dir() -> Path:
    """Where the compiled analyzer is kept ($TRUFFLE_CACHE_DIR, else the user cache folder)."""
    configured = os.environ.get("TRUFFLE_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "random-truffle"


@contextlib.contextmanager
def _cached_module_compilation(directory: Path) -> Iterator[None]:
    """Compiling the 28 MB analyzer to machine code takes ~40 s; keep the compiled module on
    disk (wasmtime's own serialisation, checked against the engine when loaded) so only the
    first start of a machine pays it."""
    import wasmtime
    from zetasql.core import wasm_client

    original = wasm_client.Module

    class CachedModule:
        @staticmethod
        def from_file(engine: wasmtime.Engine, path: str) -> wasmtime.Module:
            stat = Path(path).stat()
            key = hashlib.sha256(
                f"{path}:{stat.st_size}:{stat.st_mtime_ns}:{wasmtime.__file__}".encode()
            ).hexdigest()[:16]
            cached = directory / f"zetasql-{key}.cwasm"
            if cached.is_file():
                with contextlib.suppress(Exception):
                    return wasmtime.Module.deserialize_file(engine, str(cached))
            module = original.from_file(engine, path)
            with contextlib.suppress(OSError):
                directory.mkdir(parents=True, exist_ok=True)
                partial = cached.with_suffix(f".{os.getpid()}.tmp")
                partial.write_bytes(module.serialize())
                partial.replace(cached)
            return module

    wasm_client.Module = CachedModule  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        wasm_client.Module = original  # type: ignore[misc]


def zetasql_service() -> Any:
    """The process-wide ZetaSQL local service (WebAssembly), started once."""
    from zetasql.core.local_service import ZetaSqlLocalService

    if not hasattr(ZetaSqlLocalService, "_instance"):
        with _cached_module_compilation(cache_dir()):
            ZetaSqlLocalService.get_instance()
    return ZetaSqlLocalService.get_instance()


@functools.cache
def bigquery_language_options() -> Any:
    """GoogleSQL as BigQuery speaks it: every released language feature, external product
    mode (INT64/FLOAT64/NUMERIC, no INT32/UINT or PROTO types)."""
    from zetasql.types import LanguageOptions, ProductMode

    zetasql_service()
    options = LanguageOptions.maximum_features()
    options.product_mode = ProductMode.PRODUCT_EXTERNAL
    return options


@functools.cache
def _base_options() -> Any:
    """AnalyzerOptionsProto for BigQuery: its language, UTC, one-line errors with location."""
    from zetasql.types import ErrorMessageMode
    from zetasql.wasi._pb2.zetasql.proto.options_pb2 import AnalyzerOptionsProto

    options = AnalyzerOptionsProto(
        error_message_mode=ErrorMessageMode.ERROR_MESSAGE_ONE_LINE, default_timezone="UTC"
    )
    options.language_options.CopyFrom(bigquery_language_options().to_proto())
    return options


@functools.cache
def _builtin_options() -> Any:
    from zetasql.wasi._pb2.zetasql.proto.options_pb2 import ZetaSQLBuiltinFunctionOptionsProto

    options = ZetaSQLBuiltinFunctionOptionsProto()
    options.language_options.CopyFrom(bigquery_language_options().to_proto())
    return options


# -------------------------------------------------------------------- analysis ----

_LOCATION = re.compile(r"\[at (\d+):(\d+)\]")


def _offending_line(sql: str, message: str) -> str | None:
    match = _LOCATION.search(message)
    if not match:
        return None
    lines = sql.splitlines()
    number = int(match.group(1))
    return lines[number - 1] if 0 < number <= len(lines) else None


@dataclass
class _Registration:
    """A catalog build the analyzer holds (RegisterCatalog): statements name it by id instead
    of sending the catalog and its built-in functions each time (3x faster per statement).
    `release` unregisters it, once: when a newer build replaces it or its catalog goes."""

    proto: Any
    registered_id: int
    release: weakref.finalize


def _unregister(registered_id: int) -> None:
    from zetasql.wasi._pb2.zetasql.local_service import local_service_pb2

    request = local_service_pb2.UnregisterRequest(registered_id=registered_id)
    with contextlib.suppress(Exception):
        zetasql_service().wasm_client._call_grpc_method(
            "ZetaSqlLocalService_UnregisterCatalog", request.SerializeToString()
        )


def _registered_catalog(catalog: BigQueryCatalog) -> int:
    """The id of the catalog's current build in the analyzer, registered on first use and again
    after a table is added (the previous registration released)."""
    from zetasql.wasi._pb2.zetasql.local_service import local_service_pb2

    proto = catalog.build(_builtin_options())
    held: _Registration | None = catalog._registration
    if held is not None and held.proto is proto:
        return held.registered_id
    if held is not None:
        held.release()
    request = local_service_pb2.RegisterCatalogRequest()
    request.simple_catalog.CopyFrom(proto)
    response = local_service_pb2.RegisterResponse.FromString(
        zetasql_service().wasm_client._call_grpc_method(
            "ZetaSqlLocalService_RegisterCatalog", request.SerializeToString()
        )
    )
    release = weakref.finalize(catalog, _unregister, response.registered_id)
    release.atexit = False  # the analyzer goes with the process
    catalog._registration = _Registration(proto, response.registered_id, release)
    return response.registered_id


def analyze_sql(
    sql: str,
    catalog: BigQueryCatalog,
    *,
    parameters: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """Resolve one statement; returns its output columns [(name, BigQuery type text)].

    `parameters` declares named query parameters (@name) with BigQuery type text. Raises
    AnalyzerError with the analyzer's message (and the offending SQL line).
    """
    from zetasql.core.exceptions import ZetaSQLError
    from zetasql.wasi._pb2.zetasql.local_service import local_service_pb2

    request = local_service_pb2.AnalyzeRequest(sql_statement=sql)
    request.options.CopyFrom(_base_options())
    for name, kind in (parameters or {}).items():
        request.options.query_parameters.add(name=name).type.CopyFrom(parse_type(kind))
    request.registered_catalog_id = _registered_catalog(catalog)
    try:
        response = zetasql_service().wasm_client._call_grpc_method(
            "ZetaSqlLocalService_Analyze", request.SerializeToString()
        )
    except ZetaSQLError as error:
        message = getattr(error, "message", None) or str(error)
        raise AnalyzerError(" ".join(message.split()), _offending_line(sql, message)) from None
    return _output_columns(response)


# AnalyzeResponse.resolved_statement (1) -> AnyResolvedStatementProto.resolved_query_stmt_node
# (38) -> ResolvedQueryStmtProto.output_column_list (2) -> ResolvedOutputColumnProto; for a
# CREATE TABLE ... AS SELECT: resolved_create_statement_node (39) ->
# resolved_create_table_stmt_base_node (106) -> resolved_create_table_as_select_stmt_node (40)
# -> output_column_list (2)
_OUTPUT_COLUMNS_PATHS = ((1, 38, 2), (1, 39, 106, 40, 2))


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position += 1
        if not byte & 0x80:
            return value, position
        shift += 7


def _fields(data: bytes, number: int) -> list[bytes]:
    """The length-delimited values of one field number of a serialized message (protobuf
    wire format), without decoding the rest."""
    found, position = [], 0
    while position < len(data):
        key, position = _varint(data, position)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, position = _varint(data, position)
        elif wire == 1:
            position += 8
        elif wire == 5:
            position += 4
        elif wire == 2:
            length, position = _varint(data, position)
            if field == number:
                found.append(data[position : position + length])
            position += length
        else:
            raise AnalyzerError(f"unexpected protobuf wire type {wire} in the analyzer's answer")
    return found


def _output_columns(response: bytes) -> list[tuple[str, str]]:
    """The output columns of an analyzed query. Only they are decoded: the whole resolved
    tree of a large model nests deeper than protobuf's parser allows (100 levels)."""
    from zetasql.wasi._pb2.zetasql.resolved_ast.resolved_ast_pb2 import (
        ResolvedOutputColumnProto,
    )

    messages: list[bytes] = []
    for path in _OUTPUT_COLUMNS_PATHS:
        found = [response]
        for number in path:
            found = [value for message in found for value in _fields(message, number)]
        messages += found
    columns = [ResolvedOutputColumnProto.FromString(message) for message in messages]
    return [(column.name, type_text(column.column.type)) for column in columns]


@dataclass(frozen=True)
class StatementAnalysis:
    """The analyzer's verdict on one rendered statement."""

    statement: RenderedStatement
    errors: tuple[str, ...]
    columns: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def label(self) -> str:
        return f"{self.statement.kind} {self.statement.name} ({self.statement.form})"


@dataclass
class AnalysisReport:
    """Every statement's analysis, in the order analyzed."""

    results: list[StatementAnalysis] = field(default_factory=list)
    # the export, the seeds and every model's schema, as the analysis resolved them
    catalog: BigQueryCatalog = field(default_factory=BigQueryCatalog)

    @property
    def failures(self) -> list[StatementAnalysis]:
        return [result for result in self.results if not result.ok]

    @property
    def error_count(self) -> int:
        return sum(len(result.errors) for result in self.results)

    def summary(self) -> str:
        return f"{len(self.results)} statements analyzed, {self.error_count} errors"

    def failure_report(self) -> str:
        lines = [self.summary() + ":"]
        for result in self.failures:
            lines.extend(f"  - {result.label}: {error}" for error in result.errors)
        return "\n".join(lines)


def _schema_differences(
    actual: Sequence[tuple[str, str]], expected: Mapping[str, str], what: str
) -> list[str]:
    produced = {name.lower(): kind for name, kind in actual}
    wanted = {name.lower(): kind for name, kind in expected.items()}
    problems = [f"{what} column {name} is not produced" for name in wanted if name not in produced]
    problems += [f"column {name} is not in the {what}" for name in produced if name not in wanted]
    problems += [
        f"column {name} is {produced[name]}, the {what} says {wanted[name]}"
        for name in wanted
        if name in produced and produced[name] != wanted[name]
    ]
    return problems


def query_parameters(node: Mapping[str, Any]) -> dict[str, str]:
    """An analysis's declared parameters (analyses/_analyses.yml) as BigQuery types."""
    meta = (node.get("config") or {}).get("meta") or node.get("meta") or {}
    declared = {
        item["name"]: PARAMETER_TYPES.get(str(item.get("type", "string")), "STRING")
        for item in meta.get("parameters", [])
    }
    declared.update({name: "STRING" for name in meta.get("secret_parameters", [])})
    return declared


def analyze_statements(
    statements: Sequence[RenderedStatement],
    manifest: Mapping[str, Any],
    project_dir: Path,
    *,
    newer_columns: bool = True,
    exports: Sequence[tuple[str | None, str]] = (),
) -> AnalysisReport:
    """Analyze rendered statements against the export (and the declared properties'
    `exports`, see base_catalog), the seeds and the models: full-form models first in
    dependency order (each one's schema joins the catalog), then incremental forms, then
    analyses, then data tests. The manifest is the full-form render's (for YAML columns,
    seeds, sources and analysis parameters)."""
    catalog = base_catalog(manifest, project_dir, newer_columns=newer_columns, exports=exports)
    nodes = manifest["nodes"]
    report = AnalysisReport(catalog=catalog)
    full_schemas: dict[str, list[tuple[str, str]]] = {}

    def rank(item: RenderedStatement) -> int:
        if item.kind == "model":
            return 0 if item.form == "full" else 1
        return 2 if item.kind == "analysis" else 3

    for statement in sorted(statements, key=rank):
        node = nodes.get(statement.unique_id, {})
        errors: list[str] = []
        columns: list[tuple[str, str]] = []
        try:
            resolved = analyze_sql(
                statement.sql,
                catalog,
                parameters=query_parameters(node) if statement.kind == "analysis" else None,
            )
            columns = list(resolved)
        except AnalyzerError as error:
            errors.append(str(error))
        declared = declared_columns(node) if statement.kind == "model" else {}
        if columns and statement.kind == "model":
            if contract_enforced(node):
                errors += _schema_differences(columns, declared, "contract")
            if statement.form == "incremental" and statement.unique_id in full_schemas:
                full = dict(full_schemas[statement.unique_id])
                errors += _schema_differences(columns, full, "full-refresh form")
        if statement.kind == "model" and statement.form == "full" and statement.relation:
            if contract_enforced(node) or not columns:
                schema = TableSchema.from_type_texts(declared)
            else:
                schema = TableSchema.from_type_texts(dict(columns))
            if schema.columns:
                catalog.add(statement.relation, schema)
            full_schemas[statement.unique_id] = columns
        report.results.append(StatementAnalysis(statement, tuple(errors), tuple(columns)))
    return report


# ------------------------------------------------------------------ evaluation ----


def evaluate_predicate(expression: str, columns: Mapping[str, str]) -> bool:
    """Evaluate a boolean GoogleSQL expression with the reference implementation, the given
    names bound to STRING values (e.g. a `_TABLE_SUFFIX` filter for one table suffix)."""
    from zetasql.api import PreparedExpression, Value
    from zetasql.types import AnalyzerOptions, SimpleCatalog, ZetaSQLBuiltinFunctionOptions

    language = bigquery_language_options()
    catalog = SimpleCatalog(
        name="evaluation",
        builtin_function_options=ZetaSQLBuiltinFunctionOptions(language_options=language),
    )
    zetasql_service()
    prepared = PreparedExpression(expression, AnalyzerOptions(language_options=language), catalog)
    try:
        value = prepared.execute(
            columns={name: Value.string(text) for name, text in columns.items()}
        )
        return bool(value.get_bool())
    finally:
        prepared.close()


def table_suffix_filters(sql: str, table: str = "events_*") -> list[str]:
    """The WHERE clause of each select that reads a wildcard table (`...`.`events_*`), up to
    the end of that select (the parenthesis that closes it, or the end of the text)."""
    filters = []
    for match in re.finditer(re.escape(f"{table}`") + r"\s*where\b", sql, re.IGNORECASE):
        depth, position = 0, match.end()
        while position < len(sql):
            char = sql[position]
            depth += char == "("
            depth -= char == ")"
            if depth < 0:
                break
            position += 1
        filters.append(sql[match.end() : position].strip())
    return filters
