"""The catalog the GoogleSQL analyzer resolves names in: BigQuery types, the GA4 export
schema, the seeds and the models' output schemas.

Tables are addressed as BigQuery addresses them, `project`.`dataset`.`table` (nested
catalogs), and also under the single dotted name (`project.dataset.table` in one pair of
backticks). The export wildcard `events_*` is a table of that name whose `_TABLE_SUFFIX` is a
pseudo-column (resolvable, but not part of `select *`), as on BigQuery.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zetasql.types import TypeKind
from zetasql.wasi._pb2.zetasql.proto.simple_catalog_pb2 import SimpleCatalogProto
from zetasql.wasi._pb2.zetasql.public.simple_table_pb2 import SimpleTableProto
from zetasql.wasi._pb2.zetasql.public.type_pb2 import TypeProto

from orchestrate.export_schema import bigquery_type_text, export_columns

# The analyzer's messages are built as raw protobuf (the package's dataclass layer converts
# every message field by field in Python, ~1 s per statement with a catalog this size).
Type = TypeProto

# ------------------------------------------------------------------------------ types ----

SIMPLE_TYPES: dict[str, TypeKind] = {
    "STRING": TypeKind.TYPE_STRING,
    "INT64": TypeKind.TYPE_INT64,
    "INTEGER": TypeKind.TYPE_INT64,
    "INT": TypeKind.TYPE_INT64,
    "BIGINT": TypeKind.TYPE_INT64,
    "SMALLINT": TypeKind.TYPE_INT64,
    "TINYINT": TypeKind.TYPE_INT64,
    "BYTEINT": TypeKind.TYPE_INT64,
    "FLOAT64": TypeKind.TYPE_DOUBLE,
    "FLOAT": TypeKind.TYPE_DOUBLE,
    "BOOL": TypeKind.TYPE_BOOL,
    "BOOLEAN": TypeKind.TYPE_BOOL,
    "DATE": TypeKind.TYPE_DATE,
    "DATETIME": TypeKind.TYPE_DATETIME,
    "TIME": TypeKind.TYPE_TIME,
    "TIMESTAMP": TypeKind.TYPE_TIMESTAMP,
    "NUMERIC": TypeKind.TYPE_NUMERIC,
    "DECIMAL": TypeKind.TYPE_NUMERIC,
    "BIGNUMERIC": TypeKind.TYPE_BIGNUMERIC,
    "BIGDECIMAL": TypeKind.TYPE_BIGNUMERIC,
    "BYTES": TypeKind.TYPE_BYTES,
    "JSON": TypeKind.TYPE_JSON,
    "GEOGRAPHY": TypeKind.TYPE_GEOGRAPHY,
    "INTERVAL": TypeKind.TYPE_INTERVAL,
}
TYPE_NAMES: dict[int, str] = {
    int(TypeKind.TYPE_STRING): "STRING",
    int(TypeKind.TYPE_INT64): "INT64",
    int(TypeKind.TYPE_DOUBLE): "FLOAT64",
    int(TypeKind.TYPE_BOOL): "BOOL",
    int(TypeKind.TYPE_DATE): "DATE",
    int(TypeKind.TYPE_DATETIME): "DATETIME",
    int(TypeKind.TYPE_TIME): "TIME",
    int(TypeKind.TYPE_TIMESTAMP): "TIMESTAMP",
    int(TypeKind.TYPE_NUMERIC): "NUMERIC",
    int(TypeKind.TYPE_BIGNUMERIC): "BIGNUMERIC",
    int(TypeKind.TYPE_BYTES): "BYTES",
    int(TypeKind.TYPE_JSON): "JSON",
    int(TypeKind.TYPE_GEOGRAPHY): "GEOGRAPHY",
    int(TypeKind.TYPE_INTERVAL): "INTERVAL",
}
_TOKEN = re.compile(r"\s*(?:(<|>|,|\(|\))|`([^`]+)`|([A-Za-z_][A-Za-z0-9_]*)|([0-9]+))")


class TypeTextError(ValueError):
    """A BigQuery type text the parser does not understand."""


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise TypeTextError(f"cannot read type {text!r} at {text[position:]!r}")
        tokens.append(next(group for group in match.groups() if group is not None))
        position = match.end()
    return tokens


def parse_type(text: str) -> Type:
    """A ZetaSQL type from BigQuery type text: `INT64`, `ARRAY<STRUCT<key STRING, ...>>`,
    `STRING(10)`, `NUMERIC(10, 2)`; names are case-insensitive."""
    tokens = _tokens(text)
    parsed, position = _parse(tokens, 0, text)
    if position != len(tokens):
        raise TypeTextError(f"unexpected {tokens[position]!r} in type {text!r}")
    return parsed


def _expect(tokens: list[str], position: int, wanted: str, text: str) -> int:
    if position >= len(tokens) or tokens[position] != wanted:
        raise TypeTextError(f"expected {wanted!r} in type {text!r}")
    return position + 1


def _parse(tokens: list[str], position: int, text: str) -> tuple[Type, int]:
    if position >= len(tokens):
        raise TypeTextError(f"type {text!r} ends too early")
    name = tokens[position].upper()
    position += 1
    if name == "ARRAY":
        position = _expect(tokens, position, "<", text)
        element, position = _parse(tokens, position, text)
        position = _expect(tokens, position, ">", text)
        array = TypeProto(type_kind=TypeKind.TYPE_ARRAY)
        array.array_type.element_type.CopyFrom(element)
        return array, position
    if name == "STRUCT":
        position = _expect(tokens, position, "<", text)
        struct = TypeProto(type_kind=TypeKind.TYPE_STRUCT)
        while True:
            field_name = tokens[position]
            field_type, position = _parse(tokens, position + 1, text)
            struct.struct_type.field.add(field_name=field_name).field_type.CopyFrom(field_type)
            if tokens[position] == ",":
                position += 1
                continue
            position = _expect(tokens, position, ">", text)
            return struct, position
    if name not in SIMPLE_TYPES:
        raise TypeTextError(f"unknown type {tokens[position - 1]!r} in {text!r}")
    if position < len(tokens) and tokens[position] == "(":
        # parameterised types: STRING(10), NUMERIC(10, 2); the parameters do not change the kind
        while tokens[position] != ")":
            position += 1
        position += 1
    return TypeProto(type_kind=SIMPLE_TYPES[name]), position


def type_text(value: Type) -> str:
    """BigQuery type text of a ZetaSQL TypeProto (canonical names, upper case)."""
    kind = int(value.type_kind)
    if kind == int(TypeKind.TYPE_ARRAY):
        return f"ARRAY<{type_text(value.array_type.element_type)}>"
    if kind == int(TypeKind.TYPE_STRUCT):
        fields = ", ".join(
            f"{item.field_name} {type_text(item.field_type)}" for item in value.struct_type.field
        )
        return f"STRUCT<{fields}>"
    return TYPE_NAMES.get(kind, TypeKind(kind).name.removeprefix("TYPE_"))


def canonical_type_text(text: str) -> str:
    """Type text in canonical form (`integer` -> `INT64`, `boolean` -> `BOOL`)."""
    return type_text(parse_type(text))


# ------------------------------------------------------------------- GA4 export ----

TABLE_SUFFIX = "_TABLE_SUFFIX"


def ga4_export_columns(*, newer_columns: bool = True) -> dict[str, str]:
    """The export's columns as BigQuery type text (declared once, as the generator writes
    them: orchestrate.export_schema); without the newer columns it is the 2020-21 vintage."""
    return {
        column.name: bigquery_type_text(column.type)
        for column in export_columns(newer_columns=newer_columns)
    }


# ------------------------------------------------------------------------ catalog ----


@dataclass
class TableSchema:
    """A table's columns (name -> ZetaSQL type) and pseudo-columns."""

    columns: dict[str, Type]
    pseudo_columns: dict[str, Type] = field(default_factory=dict)

    @classmethod
    def from_type_texts(
        cls, columns: Mapping[str, str], pseudo_columns: Mapping[str, str] | None = None
    ) -> TableSchema:
        return cls(
            {name: parse_type(text) for name, text in columns.items()},
            {name: parse_type(text) for name, text in (pseudo_columns or {}).items()},
        )

    def type_texts(self) -> dict[str, str]:
        return {name: type_text(kind) for name, kind in self.columns.items()}


_RELATION = re.compile(r"`([^`]*)`|([^.`]+)")


def relation_path(relation: str) -> tuple[str, ...]:
    """`project`.`dataset`.`table` (or project.dataset.table) -> its parts."""
    parts = tuple(quoted or bare for quoted, bare in _RELATION.findall(relation.strip()))
    if not parts:
        raise ValueError(f"not a relation name: {relation!r}")
    return parts


@dataclass
class BigQueryCatalog:
    """Tables by path; `build()` makes the ZetaSQL catalog (nested project/dataset catalogs)."""

    tables: dict[tuple[str, ...], TableSchema] = field(default_factory=dict)
    # the last build() (its options object and result): every statement of an analysis
    # resolves against the same catalog until a table is added
    _built: tuple[Any, SimpleCatalogProto] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    # the analyzer's registration of the last build (analyzer._registered_catalog)
    _registration: Any = field(default=None, init=False, repr=False, compare=False)

    def add(self, relation: str | Sequence[str], schema: TableSchema) -> None:
        path = relation_path(relation) if isinstance(relation, str) else tuple(relation)
        self.tables[tuple(part.lower() for part in path)] = schema
        self._built = None

    def get(self, relation: str | Sequence[str]) -> TableSchema | None:
        path = relation_path(relation) if isinstance(relation, str) else tuple(relation)
        return self.tables.get(tuple(part.lower() for part in path))

    def build(self, builtin_options: Any = None) -> SimpleCatalogProto:
        """The SimpleCatalogProto; `builtin_options` a ZetaSQLBuiltinFunctionOptionsProto."""
        if self._built is not None and self._built[0] is builtin_options:
            return self._built[1]
        root = SimpleCatalogProto(name="bigquery")
        if builtin_options is not None:
            root.builtin_function_options.CopyFrom(builtin_options)
        children: dict[tuple[str, ...], SimpleCatalogProto] = {(): root}
        for path, schema in self.tables.items():
            for depth in range(1, len(path)):
                if path[:depth] not in children:
                    children[path[:depth]] = children[path[: depth - 1]].catalog.add(
                        name=path[depth - 1]
                    )
            _fill_table(children[path[:-1]].table.add(), path[-1], schema)
            if len(path) > 1:
                _fill_table(root.table.add(), ".".join(path), schema)
        self._built = (builtin_options, root)
        return root


def _fill_table(table: SimpleTableProto, name: str, schema: TableSchema) -> None:
    table.name = name
    for column, kind in schema.columns.items():
        table.column.add(name=column, is_writable_column=True).type.CopyFrom(kind)
    for column, kind in schema.pseudo_columns.items():
        table.column.add(name=column, is_pseudo_column=True).type.CopyFrom(kind)


# A dataset's INFORMATION_SCHEMA.TABLES view (the columns a query reads to list the export's
# daily tables: the newest export day), as BigQuery documents it.
INFORMATION_SCHEMA_TABLES_COLUMNS: dict[str, str] = {
    "table_catalog": "STRING",
    "table_schema": "STRING",
    "table_name": "STRING",
    "table_type": "STRING",
    "is_insertable_into": "STRING",
    "is_typed": "STRING",
    "creation_time": "TIMESTAMP",
    "base_table_catalog": "STRING",
    "base_table_schema": "STRING",
    "base_table_name": "STRING",
    "snapshot_time_ms": "TIMESTAMP",
    "ddl": "STRING",
    "default_collation_name": "STRING",
}


# A dataset's INFORMATION_SCHEMA.PARTITIONS view (the columns the delete guard reads for a
# table's newest day and row count, instead of reading the table), as BigQuery documents it.
INFORMATION_SCHEMA_PARTITIONS_COLUMNS: dict[str, str] = {
    "table_catalog": "STRING",
    "table_schema": "STRING",
    "table_name": "STRING",
    "partition_id": "STRING",
    "total_rows": "INT64",
    "total_logical_bytes": "INT64",
    "total_billable_bytes": "INT64",
    "last_modified_time": "TIMESTAMP",
    "storage_tier": "STRING",
}


def ga4_export_schema(*, newer_columns: bool = True) -> TableSchema:
    """The `events_*` wildcard table: the export columns plus the `_TABLE_SUFFIX` pseudo-column."""
    return TableSchema.from_type_texts(
        ga4_export_columns(newer_columns=newer_columns), {TABLE_SUFFIX: "STRING"}
    )


# -------------------------------------------------------------------- dbt nodes ----


def declared_columns(node: Mapping[str, Any]) -> dict[str, str]:
    """A model's YAML columns that declare a data_type: name -> canonical type text."""
    return {
        name: canonical_type_text(column["data_type"])
        for name, column in (node.get("columns") or {}).items()
        if column.get("data_type")
    }


def contract_enforced(node: Mapping[str, Any]) -> bool:
    return bool(((node.get("config") or {}).get("contract") or {}).get("enforced"))


def seed_schema(project_dir: Path, node: Mapping[str, Any]) -> TableSchema:
    """A seed's schema as dbt-bigquery loads it: the configured column_types, and for the
    other columns the type dbt infers from the CSV (agate, mapped by the BigQuery adapter)."""
    from dbt.adapters.bigquery import BigQueryAdapter
    from dbt_common.clients import agate_helper

    path = Path(node.get("root_path") or project_dir) / node["original_file_path"]
    configured = {
        name.lower(): text
        for name, text in ((node.get("config") or {}).get("column_types") or {}).items()
    }
    with path.open(newline="") as handle:
        header = next(csv.reader(handle))
    table = agate_helper.from_csv(str(path), text_columns=list(configured))
    columns: dict[str, str] = {}
    for index, name in enumerate(header):
        inferred = BigQueryAdapter.convert_agate_type(table, index)
        columns[name] = configured.get(name.lower()) or inferred or "STRING"
    return TableSchema.from_type_texts(columns)


def source_relations(manifest: Mapping[str, Any]) -> dict[str, str]:
    """unique id -> relation name of the project's sources."""
    return {
        unique_id: source["relation_name"]
        for unique_id, source in manifest.get("sources", {}).items()
        if source.get("relation_name")
    }


def base_catalog(
    manifest: Mapping[str, Any],
    project_dir: Path,
    *,
    newer_columns: bool = True,
    exports: Sequence[tuple[str | None, str]] = (),
) -> BigQueryCatalog:
    """The export (every source of the project is the GA4 export's `events_*`, and its
    dataset's INFORMATION_SCHEMA.TABLES; `exports`: the (project, dataset) of each declared
    GA4 property's export, project None for the target's), the seeds, and the models'
    datasets' INFORMATION_SCHEMA.PARTITIONS."""
    catalog = BigQueryCatalog()
    target_project = next(
        (node["database"] for node in manifest["nodes"].values() if node.get("database")), ""
    )
    paths = [relation_path(relation) for relation in source_relations(manifest).values()]
    paths += [(project or target_project, dataset, "events_*") for project, dataset in exports]
    for path in paths:
        catalog.add(path, ga4_export_schema(newer_columns=newer_columns))
        dataset = path[:-1]
        catalog.add(
            (*dataset, "INFORMATION_SCHEMA", "TABLES"),
            TableSchema.from_type_texts(INFORMATION_SCHEMA_TABLES_COLUMNS),
        )
    for node in manifest["nodes"].values():
        if node["resource_type"] == "seed" and node.get("relation_name"):
            catalog.add(node["relation_name"], seed_schema(project_dir, node))
        if node["resource_type"] == "model" and node.get("relation_name"):
            catalog.add(
                (*relation_path(node["relation_name"])[:-1], "INFORMATION_SCHEMA", "PARTITIONS"),
                TableSchema.from_type_texts(INFORMATION_SCHEMA_PARTITIONS_COLUMNS),
            )
    return catalog


def schema_from_columns(columns: Iterable[tuple[str, Type]]) -> TableSchema:
    return TableSchema(dict(columns))
