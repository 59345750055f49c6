"""One timed benchmark step, run in its own process so its peak memory (max RSS) is its own.

    python -m bench.child SPEC.json

SPEC is {"kind": "raw" | "dbt" | "analysis", "out": result path, ...}. The step writes
{"seconds": wall time of the measured work, ...} to `out`. The parent reads the child's max
RSS from os.wait4 (no psutil). Imports (dbt, duckdb) happen before the clock starts: the
figure is the warehouse's work, not Python's start-up.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

# The limit: one hand-written DuckDB pass over the same export files the build reads. It
# extracts the session params with list_filter, builds the session key as the models do
# (md5 of device | stream | session id), and aggregates the events to one row per session.
RAW_SESSIONIZE_SQL = """
create or replace table raw_sessions as
with events as (
    select
        user_pseudo_id,
        stream_id,
        event_name,
        event_timestamp,
        list_filter(event_params, lambda p: p.key = 'ga_session_id')[1].value as sid,
        list_filter(event_params, lambda p: p.key = 'session_engaged')[1].value as engaged,
        list_filter(event_params, lambda p: p.key = 'engagement_time_msec')[1].value as msec
    from read_parquet({files}, union_by_name = true)
    where user_pseudo_id is not null
),
keyed as (
    select
        md5(
            user_pseudo_id || '|' || stream_id || '|'
            || coalesce(sid.string_value, cast(sid.int_value as varchar))
        ) as session_key,
        *
    from events
    where sid is not null
)
select
    session_key,
    min(user_pseudo_id) as user_pseudo_id,
    min(stream_id) as stream_id,
    make_timestamp(min(event_timestamp)) as session_start_at,
    make_timestamp(max(event_timestamp)) as session_end_at,
    count(*) as event_count,
    count(*) filter (where event_name in ('page_view', 'screen_view')) as page_view_count,
    coalesce(sum(coalesce(msec.int_value, try_cast(msec.string_value as bigint))), 0)
        as engagement_time_msec,
    coalesce(bool_or(coalesce(engaged.string_value, cast(engaged.int_value as varchar)) = '1'),
        false) as is_engaged_session
from keyed
group by session_key
"""


# A reference beside the limit: the export's rows stored as they are in one DuckDB table. Any
# warehouse that keeps every event (as the events mart must) pays at least this.
RAW_STORE_SQL = """
create or replace table raw_events as
select * from read_parquet({files}, union_by_name = true)
"""

RAW_QUERIES = {"sessionize": RAW_SESSIONIZE_SQL, "store": RAW_STORE_SQL}


def run_raw(spec: dict) -> dict:
    import duckdb

    files = "[" + ", ".join(f"'{path}'" for path in spec["files"]) + "]"
    database = Path(spec["database"])
    for stale in (database, database.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    connection = duckdb.connect(str(database))
    # The same session settings the profile gives dbt (profiles.yml, duckdb target).
    for name, value in (spec.get("settings") or {}).items():
        connection.execute(f"set {name} = '{value}'")
    started = time.perf_counter()
    query = spec.get("query", "sessionize")
    connection.execute(RAW_QUERIES[query].format(files=files))
    seconds = time.perf_counter() - started
    if query == "store":
        (events,) = connection.execute("select count(*) from raw_events").fetchall()[0]
        connection.close()
        return {"seconds": seconds, "events": int(events)}
    sessions, events = connection.execute(
        "select count(*), sum(event_count) from raw_sessions"
    ).fetchall()[0]
    connection.close()
    return {"seconds": seconds, "sessions": int(sessions), "events": int(events or 0)}


def bytes_read(sent: list) -> dict:
    """What a recorded build read (DuckDB's profiler, per statement): in all, per kind of
    statement and per node (the 15 that read most)."""
    from orchestrate.audit import statement_kind

    by_kind: dict[str, int] = {}
    by_node: dict[str, int] = {}
    for statement in sent:
        size = statement.bytes_read or 0
        kind = statement_kind(statement.unique_id.split(".", 1)[0], statement.sql)
        by_kind[kind] = by_kind.get(kind, 0) + size
        node = statement.unique_id.split(".", 2)[-1] or "(no node)"
        by_node[node] = by_node.get(node, 0) + size
    top = sorted(by_node.items(), key=lambda item: -item[1])[:15]
    return {
        "bytes_read": sum(by_kind.values()),
        "statements": len(sent),
        "bytes_by_kind": by_kind,
        "bytes_by_node": dict(top),
    }


def run_dbt_step(spec: dict) -> dict:
    import dbt.cli.main  # noqa: F401  (imported before the clock: dbt is slow to import)

    from orchestrate.dbt import run_dbt
    from orchestrate.settings import Settings

    settings = Settings(
        project_dir=Path(spec["project_dir"]),
        vars=spec["vars"],
        duckdb_path=Path(spec["warehouse"]),
    )
    measured: dict = {}
    started = time.perf_counter()
    if spec.get("record"):
        from orchestrate.recorder import recording

        with recording() as sent:
            run = run_dbt(spec["args"], settings, target_path=Path(spec["target_path"]), quiet=True)
        measured = bytes_read(sent)
    else:
        run = run_dbt(spec["args"], settings, target_path=Path(spec["target_path"]), quiet=True)
    seconds = time.perf_counter() - started
    return {
        **measured,
        "seconds": seconds,
        "success": run.success,
        "dbt_elapsed_seconds": run.elapsed_seconds,
        "failures": [f"{r.name}: {r.message}" for r in run.failures],
        "nodes": {
            r.unique_id.split(".", 2)[-1]: {
                "seconds": round(r.execution_time, 3),
                "rows": r.rows_affected,
            }
            for r in run.results
        },
    }


def run_analysis(spec: dict) -> dict:
    from orchestrate.analyses import load_analyses, resolve_parameters
    from orchestrate.engines import DuckDBEngine
    from orchestrate.queries import session_date_range

    project_dir = Path(spec["project_dir"])
    analysis = load_analyses(project_dir)[spec["name"]]
    sql = Path(spec["compiled"]).read_text()
    engine = DuckDBEngine(Path(spec["warehouse"]))
    values = resolve_parameters(analysis, {}, lambda: session_date_range(engine))
    for secret in analysis.secret_parameters:
        values[secret] = "benchmark-salt"
    started = time.perf_counter()
    result = engine.run(
        sql,
        values,
        analysis.bind_order,
        timeout_seconds=float(spec.get("timeout_seconds", 600)),
        max_rows=int(spec.get("max_rows", 10_000)),
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": len(result.rows),
        "truncated": result.truncated,
        "parameters": {k: str(v) for k, v in values.items() if k not in analysis.secret_parameters},
    }


KINDS = {"raw": run_raw, "dbt": run_dbt_step, "analysis": run_analysis}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    outcome = KINDS[spec["kind"]](spec)
    Path(spec["out"]).write_text(json.dumps(outcome, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
