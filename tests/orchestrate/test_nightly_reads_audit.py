"""The audit of what a BigQuery nightly reads (issue 12): every statement the nightly sends
(captured offline, orchestrate.bigquery.capture), parsed for the partitioned tables it reads
and the days it reads of each (orchestrate.audit). No statement may read a partitioned table
outside the window ±1 day, except the reads listed in nightly_reads_allowlist.yml, each with
its owner, why, and the nights that send it: an ordinary night (no new erasure request, a
warehouse younger than its retention) and a night on which every path runs (the proof's
capture: a new erasure request, rows past every retention cutoff). The
list must shrink to nothing: a read not listed fails the test, and so does a listed read that
no statement sends any more (remove its entry)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from orchestrate.audit import NIGHTS, audit_statements, offenders, table_reads
from orchestrate.bigquery.capture import Capture, build_relations, capture_build
from orchestrate.bigquery.render import DEFAULT_DATASET, DEFAULT_PROJECT
from tests.orchestrate.bigquery_fixtures import RENDER_VARIABLES, RUN_DATE
from tests.orchestrate.conftest import REPO

if TYPE_CHECKING:
    from orchestrate.bigquery.analyzer import AnalysisReport
    from orchestrate.bigquery.capture import CaptureReport
    from tests.orchestrate.bigquery_fixtures import Rendered

pytest_plugins = ("tests.orchestrate.bigquery_fixtures",)

ALLOWLIST = Path(__file__).with_name("nightly_reads_allowlist.yml")


def _window() -> tuple[dt.date, dt.date]:
    variables = yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]
    end = dt.date.fromisoformat(RUN_DATE)
    return end - dt.timedelta(days=int(variables["ga4_lookback_days"])), end


@pytest.fixture(scope="module")
def ordinary_nightly(
    bigquery_render: Rendered,
    bigquery_analysis: AnalysisReport,
    tmp_path_factory: pytest.TempPathFactory,
) -> Capture:
    """The nightly an ordinary night sends (what `truffle cost --nightly` audits)."""
    return capture_build(
        REPO,
        tmp_path_factory.mktemp("ordinary_nightly"),
        bigquery_analysis.catalog,
        RENDER_VARIABLES,
        run="nightly",
        relations=build_relations(bigquery_render.manifest),
        project=DEFAULT_PROJECT,
        dataset=DEFAULT_DATASET,
        night="ordinary",
    )


def _short(node: str) -> str:
    return node.removeprefix("model.random_truffle.").removeprefix("test.random_truffle.")


def _outside_the_window(nightly: Capture, rendered: Rendered) -> dict[tuple[str, str], list[str]]:
    """(node, partitioned table) -> the statements of `nightly` reading it outside the window."""
    rows = [(s.unique_id, s.kind, s.sql, None) for s in nightly.statements]
    statements, _ = audit_statements(rows, rendered.manifest, "bigquery", _window())
    found: dict[tuple[str, str], list[str]] = {}
    for offender in offenders([statement.as_dict() for statement in statements]):
        via = f" via {offender['via']}" if offender["via"] else ""
        found.setdefault((_short(offender["node"]), offender["table"]), []).append(
            f"{offender['kind']} ({offender['verb']}){via} {offender['days']}"
        )
    return found


def _check_against_the_allowlist(found: dict[tuple[str, str], list[str]], night: str) -> None:
    entries = yaml.safe_load(ALLOWLIST.read_text())["allowed"]
    assert all(entry["owner"] and entry["why"] for entry in entries)
    assert all(set(entry["nights"]) <= set(NIGHTS) for entry in entries)
    allowed = {(entry["node"], entry["table"]) for entry in entries if night in entry["nights"]}
    new = sorted(set(found) - allowed)
    fixed = sorted(allowed - set(found))
    report = [f"  {node}: {table}: {'; '.join(found[(node, table)])}" for node, table in new]
    assert not new and not fixed, (
        f"{night} night: statements read a partitioned table outside the window ±1 day:\n"
        + "\n".join(report)
        + f"\nno longer read outside the window on this night (remove from {ALLOWLIST.name}):"
        f" {fixed}"
    )


def test_an_ordinary_nightly_reads_partitioned_tables_only_in_the_window_but_the_allowlist(
    ordinary_nightly: Capture, bigquery_render: Rendered
) -> None:
    found = _outside_the_window(ordinary_nightly, bigquery_render)
    _check_against_the_allowlist(found, "ordinary")


def test_a_nightly_on_which_every_path_runs_reads_outside_the_window_only_as_listed(
    bigquery_builds: CaptureReport, bigquery_render: Rendered
) -> None:
    (nightly,) = [capture for capture in bigquery_builds.captures if capture.run == "nightly"]
    found = _outside_the_window(nightly, bigquery_render)
    _check_against_the_allowlist(found, "every path")


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
