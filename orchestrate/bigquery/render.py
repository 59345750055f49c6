"""Render the BigQuery SQL of every model and analysis without credentials or network.

dbt-bigquery compiles against the offline profile `profiles/offline_bigquery/profiles.yml`
(`method: oauth-secrets` with a dummy token: credentials are built, never used), with
`--no-populate-cache` (no dataset is listed), the variables `ga4_render_offline` and
`ga4_render_incremental` (our models' form), and relation lookups answered in-process (dbt's
own is_incremental() in any model: nothing exists in the full form, every table exists in the
incremental form). Each form is one `dbt compile` into its own folder under the target path;
the statements come from the manifest dbt writes there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from orchestrate.dbt import run_dbt
from orchestrate.settings import Settings

Kind = Literal["model", "analysis", "test"]
Form = Literal["full", "incremental"]

OFFLINE_PROFILES = Path("profiles") / "offline_bigquery"
OFFLINE_TARGET = "bigquery"
# Stand-ins for the names a real project would have; any valid BigQuery names do.
DEFAULT_PROJECT = "offline-project"
DEFAULT_DATASET = "random_truffle"
DEFAULT_EXPORT_PROJECT = "ga4-export-project"
DEFAULT_EXPORT_DATASET = "analytics_000000000"


class RenderError(Exception):
    """The BigQuery SQL could not be rendered (a compilation error in a node)."""


@contextmanager
def _offline_warehouse(incremental: bool) -> Iterator[None]:
    """There is no warehouse to ask offline. A relation lookup (dbt's is_incremental(),
    load_relation, ...) answers as a warehouse would before the first build (nothing exists:
    the full-refresh form) or after it (every relation is a table: the incremental form),
    and any other BigQuery table lookup fails at once instead of retrying for minutes."""
    from dbt.adapters.bigquery.connections import BigQueryConnectionManager
    from dbt.adapters.bigquery.impl import BigQueryAdapter
    from dbt.adapters.contracts.relation import RelationType

    def get_relation(self: Any, database: str, schema: str, identifier: str) -> Any:
        if not incremental:
            return None
        return self.Relation.create(
            database=database, schema=schema, identifier=identifier, type=RelationType.Table
        )

    def get_bq_table(self: Any, database: str, schema: str, identifier: str) -> Any:
        raise RenderError(
            f"the offline render tried to read table {database}.{schema}.{identifier} from BigQuery"
        )

    saved = (BigQueryAdapter.get_relation, BigQueryConnectionManager.get_bq_table)
    BigQueryAdapter.get_relation = get_relation  # type: ignore[method-assign]
    BigQueryConnectionManager.get_bq_table = get_bq_table  # type: ignore[method-assign]
    try:
        yield
    finally:
        BigQueryAdapter.get_relation, BigQueryConnectionManager.get_bq_table = saved  # type: ignore[method-assign]


@dataclass(frozen=True)
class RenderedStatement:
    """The BigQuery SQL of one model (in one form) or analysis, as dbt compiled it.

    `depends_on` holds the dbt unique ids of the nodes it reads (models, seeds, sources);
    `relation` is the `project`.`dataset`.`table` a model builds (None for an analysis).
    """

    name: str
    kind: Kind
    form: Form
    sql: str
    depends_on: tuple[str, ...]
    unique_id: str
    relation: str | None
    materialized: str | None


def offline_profiles_dir(project_dir: Path) -> Path:
    return Path(project_dir).resolve() / OFFLINE_PROFILES


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a block (the profile reads them)."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def compile_offline(
    project_dir: Path,
    target_path: Path,
    variables: Mapping[str, object],
    *,
    project: str = DEFAULT_PROJECT,
    dataset: str = DEFAULT_DATASET,
    quiet: bool = False,
) -> dict[str, Any]:
    """`dbt compile --no-populate-cache` on the offline BigQuery profile; returns the manifest."""
    settings = Settings(
        project_dir=Path(project_dir),
        profiles_dir=offline_profiles_dir(project_dir),
        target=OFFLINE_TARGET,
        vars=dict(variables),
    )
    with (
        _environment({"TRUFFLE_BQ_PROJECT": project, "TRUFFLE_BQ_DATASET": dataset}),
        _offline_warehouse(bool(variables.get("ga4_render_incremental"))),
    ):
        run = run_dbt(
            ["compile", "--no-populate-cache"], settings, target_path=target_path, quiet=quiet
        )
    if not run.success:
        raise RenderError(run.failure_report())
    return json.loads((Path(target_path) / "manifest.json").read_text())


def _node_statement(node: Mapping[str, Any], form: Form) -> RenderedStatement:
    config = node.get("config") or {}
    return RenderedStatement(
        name=node["name"],
        kind=node["resource_type"] if node["resource_type"] in ("model", "test") else "analysis",
        form=form,
        sql=node.get("compiled_code") or "",
        depends_on=tuple(node.get("depends_on", {}).get("nodes", [])),
        unique_id=node["unique_id"],
        relation=node.get("relation_name"),
        materialized=config.get("materialized") if node["resource_type"] == "model" else None,
    )


def dependency_order(nodes: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Unique ids of the given nodes, each after every node it depends on (stable by name)."""
    ordered: list[str] = []
    state: dict[str, str] = {}

    def visit(unique_id: str) -> None:
        if state.get(unique_id) == "done":
            return
        if state.get(unique_id) == "visiting":
            raise RenderError(f"dependency cycle through {unique_id}")
        state[unique_id] = "visiting"
        for upstream in sorted(nodes[unique_id].get("depends_on", {}).get("nodes", [])):
            if upstream in nodes:
                visit(upstream)
        state[unique_id] = "done"
        ordered.append(unique_id)

    for unique_id in sorted(nodes):
        visit(unique_id)
    return ordered


def manifest_statements(manifest: Mapping[str, Any], form: Form) -> list[RenderedStatement]:
    """The models (incremental ones only, for the incremental form), the data tests (each
    form: what a full build and what a nightly send) and, in the full form, the analyses of a
    compiled manifest, in dependency order."""
    wanted = {
        unique_id: node
        for unique_id, node in manifest["nodes"].items()
        if node.get("package_name") == manifest["metadata"].get("project_name")
        and (
            (
                node["resource_type"] == "model"
                and (form == "full" or node["config"].get("materialized") == "incremental")
            )
            or node["resource_type"] == "test"
            or (node["resource_type"] == "analysis" and form == "full")
        )
    }
    ordered = dependency_order(wanted)
    kinds = ("model", "test", "analysis")
    return [
        _node_statement(wanted[uid], form)
        for kind in kinds
        for uid in ordered
        if wanted[uid]["resource_type"] == kind
    ]


def render_variables(
    variables: Mapping[str, object] | None, *, incremental: bool
) -> dict[str, object]:
    merged: dict[str, object] = {
        "ga4_project": DEFAULT_EXPORT_PROJECT,
        "ga4_dataset": DEFAULT_EXPORT_DATASET,
    }
    merged.update(variables or {})
    merged["ga4_render_offline"] = True
    merged["ga4_render_incremental"] = incremental
    return merged


def render_bigquery(
    project_dir: Path,
    target_path: Path,
    *,
    variables: Mapping[str, object] | None = None,
    forms: tuple[Form, ...] = ("full", "incremental"),
    project: str = DEFAULT_PROJECT,
    dataset: str = DEFAULT_DATASET,
    quiet: bool = False,
) -> list[RenderedStatement]:
    """The BigQuery SQL of every model (each form in `forms`; the incremental form of
    incremental models only) and of every analysis (rendered with the full form), offline.

    `variables` are dbt variables (ga4_project, ga4_dataset, ga4_run_date, ...; the export
    defaults to `ga4-export-project.analytics_000000000`); `project` and `dataset` name where
    the models would be built; `quiet` silences dbt's log. Each form compiles into
    `target_path/<form>/` (its manifest.json is there too). Raises RenderError when a node does
    not compile.
    """
    statements: list[RenderedStatement] = []
    for form in forms:
        manifest = compile_offline(
            project_dir,
            Path(target_path) / form,
            render_variables(variables, incremental=form == "incremental"),
            project=project,
            dataset=dataset,
            quiet=quiet,
        )
        statements.extend(manifest_statements(manifest, form))
    return statements


def load_manifest(target_path: Path, form: Form = "full") -> dict[str, Any]:
    """The manifest a render_bigquery call wrote for one form."""
    return json.loads((Path(target_path) / form / "manifest.json").read_text())
