"""The audit of what a BigQuery nightly reads (issue 12): every statement the nightly sends
(captured offline, orchestrate.bigquery.capture), parsed for the partitioned tables it reads
and the days it reads of each (orchestrate.audit). No statement may read a partitioned table
outside the window ±1 day, except the reads listed in nightly_reads_allowlist.yml, each with
its owner and why. The list must shrink to nothing: a read not listed fails the test, and so
does a listed read that no statement sends any more (remove its entry)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from orchestrate.audit import audit_statements, offenders, table_reads
from tests.orchestrate.bigquery_fixtures import RUN_DATE
from tests.orchestrate.conftest import REPO

if TYPE_CHECKING:
    from orchestrate.bigquery.capture import CaptureReport
    from tests.orchestrate.bigquery_fixtures import Rendered

pytest_plugins = ("tests.orchestrate.bigquery_fixtures",)

ALLOWLIST = Path(__file__).with_name("nightly_reads_allowlist.yml")


def _window() -> tuple[dt.date, dt.date]:
    variables = yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]
    end = dt.date.fromisoformat(RUN_DATE)
    return end - dt.timedelta(days=int(variables["ga4_lookback_days"])), end


def _nightly_offenders(builds: CaptureReport, rendered: Rendered) -> list[dict[str, str]]:
    (nightly,) = [capture for capture in builds.captures if capture.run == "nightly"]
    rows = [(s.unique_id, s.kind, s.sql, None) for s in nightly.statements]
    statements, _ = audit_statements(rows, rendered.manifest, "bigquery", _window())
    return offenders([statement.as_dict() for statement in statements])


def _short(node: str) -> str:
    return node.removeprefix("model.random_truffle.").removeprefix("test.random_truffle.")


def test_a_nightly_reads_partitioned_tables_only_in_the_window_but_the_allowlist(
    bigquery_builds: CaptureReport, bigquery_render: Rendered
) -> None:
    found: dict[tuple[str, str], list[str]] = {}
    for offender in _nightly_offenders(bigquery_builds, bigquery_render):
        via = f" via {offender['via']}" if offender["via"] else ""
        found.setdefault((_short(offender["node"]), offender["table"]), []).append(
            f"{offender['kind']} ({offender['verb']}){via} {offender['days']}"
        )
    entries = yaml.safe_load(ALLOWLIST.read_text())["allowed"]
    allowed = {(entry["node"], entry["table"]) for entry in entries}
    assert all(entry["owner"] and entry["why"] for entry in entries)
    new = sorted(set(found) - allowed)
    fixed = sorted(allowed - set(found))
    report = [f"  {node}: {table}: {'; '.join(found[(node, table)])}" for node, table in new]
    assert not new and not fixed, (
        "nightly statements read a partitioned table outside the window ±1 day:\n"
        + "\n".join(report)
        + f"\nno longer read outside the window (remove from {ALLOWLIST.name}): {fixed}"
    )


def test_the_merge_partition_list_and_hooks_are_read_for_their_bounds() -> None:
    """The statement shapes a nightly sends: the insert_overwrite MERGE bounded by its
    partition list, a delete+insert keyed on the date, an every-partition hook."""
    window = (dt.date(2020, 10, 30), dt.date(2020, 11, 2))
    events = {"events": "event_date"}
    merge = (
        "merge into `p`.`d`.`events` as DBT_INTERNAL_DEST using (select * from "
        "`p`.`d`.`events__dbt_tmp1`) as DBT_INTERNAL_SOURCE on FALSE when not matched by "
        "source and date(dbt_internal_dest.event_date) in (date('2020-11-02'), "
        "date('2020-10-30')) then delete when not matched then insert row"
    )
    (read,) = table_reads(merge, "bigquery", events, window)
    assert (read.first, read.last, read.flagged) == (*window, False)
    wider = merge.replace("date('2020-10-30')", "date('2020-10-01')")
    assert table_reads(wider, "bigquery", events, window)[0].flagged
    keyed = (
        'delete from "w"."main"."events" where (event_date) in (select (event_date) from '
        '"events__dbt_tmp2"); insert into "w"."main"."events" select * from "events__dbt_tmp2"'
    )
    (read,) = table_reads(keyed, "duckdb", events, window)
    assert not read.flagged
    hook = "update `p`.`d`.`events` set x = 1 where event_date >= date '1900-01-01'"
    (read,) = table_reads(hook, "bigquery", events, window)
    assert read.flagged and read.first == dt.date(1900, 1, 1) and read.last is None
