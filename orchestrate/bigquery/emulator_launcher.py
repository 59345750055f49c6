"""Start the local-bigquery emulator with our runtime patches (run by its own Python 3.13).

    .venv-bq/bin/python orchestrate/bigquery/emulator_launcher.py --host 127.0.0.1 \
        --port 9050 --grpc-port 9060 --data-dir DIR --project PROJECT

This file is standalone (it imports only the emulator): the emulator's environment does not
have our package. The patches are applied in memory at start-up, never to site-packages:

1. A `CREATE TABLE ... AS SELECT` job reports its table as the job's destination table, as
   BigQuery does (dbt-bigquery reads `query_job.destination` after a CTAS); its results stay
   empty (a DDL statement returns no rows), not the rows of the new table.
2. Scripting `SET (a, b) = (SELECT AS STRUCT x, y ...)` assigns the struct's fields to the
   variables in order, as BigQuery does (dbt-bigquery's incremental scripts use that form).
3. A MERGE into a table with require_partition_filter is accepted when its ON or WHEN
   conditions filter the partition column (dbt's static insert_overwrite names the replaced
   partitions in `WHEN NOT MATCHED BY SOURCE AND <partition> IN (...)`); the emulator runs a
   MERGE as several internal statements that read the target without that filter.
4. `CREATE VIEW` over a table with require_partition_filter is accepted, as BigQuery accepts
   it: the requirement applies to the queries that read the view (the emulator applies it to
   the view's definition, which reads nothing when it is created).
"""

from __future__ import annotations

import contextvars
import sys
from typing import Any


def _patch_ctas_destination() -> None:
    from local_bigquery.jobs import query
    from local_bigquery.models import TableReference

    original = query._execute

    def execute(*args: Any, **kwargs: Any) -> Any:
        statistics, children, destination = original(*args, **kwargs)
        target = getattr(statistics, "ddlTargetTable", None)
        if (
            destination is None
            and not children
            and getattr(statistics, "statementType", None) == "CREATE_TABLE_AS_SELECT"
            and target is not None
        ):
            destination = TableReference(
                projectId=target.projectId, datasetId=target.datasetId, tableId=target.tableId
            )
        return statistics, children, destination

    query._execute = execute

    from local_bigquery.api import jobs

    original_results = jobs.results

    def results(job: Any, *args: Any, **kwargs: Any) -> Any:
        statistics = job.statistics.query if job.statistics else None
        config = job.configuration.query if job.configuration else None
        if (
            statistics is not None
            and config is not None
            and config.destinationTable is not None
            and statistics.statementType == "CREATE_TABLE_AS_SELECT"
        ):
            configuration = job.configuration.replace(query=config.without("destinationTable"))
            job = job.replace(configuration=configuration)
        return original_results(job, *args, **kwargs)

    jobs.results = results


def _patch_set_struct() -> None:
    import sqlglot
    from local_bigquery.sql import script
    from sqlglot import exp

    original = script.Interpreter.set

    def set_(self: Any, statement: Any) -> Any:
        tree = sqlglot.parse_one(statement.text, dialect=script.BigQueryDialect)
        items = []
        for item in tree.expressions:
            target, value = item.this.this, item.this.expression
            query = value.this if isinstance(value, exp.Subquery) else None
            if (
                isinstance(target, exp.Tuple)
                and isinstance(query, exp.Select)
                and str(query.args.get("kind") or "").upper() == "STRUCT"
            ):
                items.append((target.expressions, query))
            else:
                return original(self, statement)
        for targets, query in items:
            plain = query.copy()
            plain.set("kind", None)
            names = [f"_truffle_field_{index}" for index in range(len(plain.expressions))]
            plain.set(
                "expressions",
                [
                    exp.alias_(projection.unalias() if projection.alias else projection, name)
                    for projection, name in zip(plain.expressions, names, strict=True)
                ],
            )
            for variable, name in zip(targets, names, strict=False):
                field = exp.Subquery(this=exp.select(exp.column(name)).from_(plain.subquery()))
                self.assign(self.variable(variable.name), field)
        return None

    script.Interpreter.set = set_


_MERGE_FILTERED: contextvars.ContextVar[tuple[str, frozenset[str]] | None] = contextvars.ContextVar(
    "truffle_merge_filtered", default=None
)


def _patch_merge_partition_filter() -> None:
    from local_bigquery.catalog import metadata
    from local_bigquery.jobs import merge
    from local_bigquery.models import Table
    from local_bigquery.sql.rules import tables
    from sqlglot import exp

    original_run = merge.run
    original_check = tables._check

    def run(cur: Any, tree: Any, context: Any) -> Any:
        conditions = [tree.args.get("on")] + [
            when.args.get("condition") for when in tree.args["whens"].expressions
        ]
        columns = frozenset(
            column.name.casefold()
            for condition in conditions
            if condition is not None
            for column in condition.find_all(exp.Column)
        )
        token = _MERGE_FILTERED.set((tree.this.name.casefold(), columns))
        try:
            return original_run(cur, tree, context)
        finally:
            _MERGE_FILTERED.reset(token)

    def check(tree: Any, table: Any, is_target: bool) -> Any:
        merging = _MERGE_FILTERED.get()
        if merging is not None and not is_target and table.name.casefold() == merging[0]:
            stored = metadata.load(Table, table.catalog, table.db, table.name)
            partitioning = stored and stored.timePartitioning
            if partitioning and (partitioning.field or "").casefold() in merging[1]:
                is_target = True
        return original_check(tree, table, is_target)

    merge.run = run
    tables._check = check


def _patch_view_definition() -> None:
    from local_bigquery.errors import BigQueryError
    from local_bigquery.sql.rules import tables
    from sqlglot import exp

    original_check = tables._check

    def check(tree: Any, table: Any, is_target: bool) -> Any:
        try:
            return original_check(tree, table, is_target)
        except BigQueryError as error:
            creating_view = (
                isinstance(tree, exp.Create) and str(tree.args.get("kind") or "").upper() == "VIEW"
            )
            if creating_view and "partition elimination" in str(error):
                return None
            raise

    tables._check = check


def main(argv: list[str]) -> int:
    _patch_ctas_destination()
    _patch_set_struct()
    _patch_merge_partition_filter()
    _patch_view_definition()
    from local_bigquery.cli import main as serve

    serve(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
