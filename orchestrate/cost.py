"""Query cost checks: what each model and analysis would read, against warn / fail thresholds.

Thresholds (MiB): 100 to warn and 1024 to fail by default; the project can change them in
dbt_project.yml (`vars: truffle_cost_warn_mb / truffle_cost_max_mb`), the command line
overrides the project, and a model or analysis can set its own in `config: meta:
{cost_warn_mb, cost_max_mb}`. On DuckDB the figure is measured by DuckDB's profiler while
running the compiled query read-only; on BigQuery it is a dry-run job's bytes processed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestrate.engines import Engine, QueryFailed, QueryTimeout, WarehouseBusy

MIB = 1024 * 1024
DEFAULT_WARN_MB = 100.0
DEFAULT_MAX_MB = 1024.0


@dataclass(frozen=True)
class Thresholds:
    warn_mb: float = DEFAULT_WARN_MB
    max_mb: float = DEFAULT_MAX_MB

    def status(self, bytes_read: int | None) -> str:
        if bytes_read is None:
            return "unmeasured"
        if bytes_read >= self.max_mb * MIB:
            return "fail"
        if bytes_read >= self.warn_mb * MIB:
            return "warn"
        return "ok"

    def for_meta(self, meta: dict | None) -> Thresholds:
        meta = meta or {}
        return Thresholds(
            warn_mb=float(meta.get("cost_warn_mb", self.warn_mb)),
            max_mb=float(meta.get("cost_max_mb", self.max_mb)),
        )


def project_thresholds(
    project_dir: Path, warn_mb: float | None = None, max_mb: float | None = None
) -> Thresholds:
    """Defaults, then dbt_project.yml vars, then the command line."""
    document = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    variables = document.get("vars") or {}
    return Thresholds(
        warn_mb=float(
            warn_mb
            if warn_mb is not None
            else variables.get("truffle_cost_warn_mb") or DEFAULT_WARN_MB
        ),
        max_mb=float(
            max_mb if max_mb is not None else variables.get("truffle_cost_max_mb") or DEFAULT_MAX_MB
        ),
    )


@dataclass
class CostLine:
    name: str
    kind: str  # model or analysis
    bytes_read: int | None
    status: str  # ok, warn, fail, unmeasured
    thresholds: Thresholds
    note: str = ""

    @property
    def megabytes(self) -> float | None:
        return None if self.bytes_read is None else self.bytes_read / MIB

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "bytes": self.bytes_read,
            "status": self.status,
            "warn_mb": self.thresholds.warn_mb,
            "max_mb": self.thresholds.max_mb,
            "note": self.note,
        }


@dataclass(frozen=True)
class CompiledNode:
    unique_id: str
    name: str
    kind: str
    sql: str
    meta: dict


def compiled_nodes(target_path: Path, unique_ids: Iterable[str]) -> list[CompiledNode]:
    """Models and analyses among unique_ids, with their compiled SQL from manifest.json."""
    manifest = json.loads((target_path / "manifest.json").read_text())
    nodes = []
    for unique_id in unique_ids:
        node = manifest["nodes"].get(unique_id)
        if not node or node["resource_type"] not in ("model", "analysis"):
            continue
        if node.get("config", {}).get("materialized") == "ephemeral":
            continue
        sql = node.get("compiled_code")
        if sql is None:
            path = target_path / "compiled" / node["package_name"] / node["original_file_path"]
            sql = path.read_text() if path.is_file() else None
        if sql is None:
            continue
        nodes.append(
            CompiledNode(
                unique_id=unique_id,
                name=node["name"],
                kind=node["resource_type"],
                sql=sql,
                meta=node.get("config", {}).get("meta") or node.get("meta") or {},
            )
        )
    return nodes


def measure(
    engine: Engine,
    node: CompiledNode,
    thresholds: Thresholds,
    parameters: Callable[[CompiledNode], tuple[dict[str, object], list[str]]] | None = None,
    timeout_seconds: float = 300.0,
) -> CostLine:
    """Measure one compiled node; a query that cannot run yet is 'unmeasured', with why.

    Analyses and SQL files are measured as they would run (guarded: read-only, external access
    off, memory cap); only models, the project's own SQL that reads the export, are not."""
    limits = thresholds.for_meta(node.meta)
    values, order = parameters(node) if parameters else ({}, [])
    try:
        bytes_read: int | None = engine.measure_bytes(
            node.sql, values, order, timeout_seconds=timeout_seconds, guarded=node.kind != "model"
        )
        note = ""
    except WarehouseBusy:
        raise  # not the query's cost: the warehouse is held by another process (exit 2)
    except (QueryFailed, QueryTimeout) as error:
        bytes_read, note = None, str(error)[:160]
    return CostLine(node.name, node.kind, bytes_read, limits.status(bytes_read), limits, note)


def sort_lines(lines: list[CostLine]) -> list[CostLine]:
    return sorted(lines, key=lambda line: (-(line.bytes_read or -1), line.name))
