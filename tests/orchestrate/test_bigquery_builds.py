"""BigQuery, every statement a build sends proven offline: `dbt build` runs for a full refresh
and for a nightly (run date 2020-11-02) with the BigQuery client replaced by a recorder
(orchestrate.bigquery.capture), and GoogleSQL's analyzer resolves each statement recorded:
the materializations (temp tables, the insert_overwrite MERGE with its partition list, the
session models' keyed MERGE), the hooks' DML, the data tests and the unit tests. Deliberate
breaks in a hook and in the partition list fail it, naming the model. Never skipped."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from orchestrate.bigquery.capture import prove_builds
from orchestrate.bigquery.render import DEFAULT_DATASET, DEFAULT_PROJECT
from tests.orchestrate.bigquery_fixtures import RENDER_VARIABLES
from tests.orchestrate.conftest import REPO

if TYPE_CHECKING:
    from orchestrate.bigquery.analyzer import AnalysisReport
    from orchestrate.bigquery.capture import Capture, CaptureReport
    from tests.orchestrate.bigquery_fixtures import Rendered

pytest_plugins = ("tests.orchestrate.bigquery_fixtures",)


def _models(rendered: Rendered, materialized: str | None = None) -> set[str]:
    return {
        unique_id
        for unique_id, node in rendered.manifest["nodes"].items()
        if node["resource_type"] == "model"
        and (materialized is None or node["config"]["materialized"] == materialized)
    }


def _run(report: CaptureReport, run: str) -> Capture:
    return next(capture for capture in report.captures if capture.run == run)


def _verb(sql: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.S).split()[0].lower()


def test_every_statement_of_a_build_and_a_nightly_is_proven(
    bigquery_builds: CaptureReport, bigquery_render: Rendered
) -> None:
    print(bigquery_builds.summary())
    assert bigquery_builds.errors == []
    assert all(result.error is None for result in bigquery_builds.results)
    models = _models(bigquery_render)
    incremental = _models(bigquery_render, "incremental")
    tests = {
        uid for uid, n in bigquery_render.manifest["nodes"].items() if n["resource_type"] == "test"
    }
    unit_tests = set(bigquery_render.manifest.get("unit_tests", {}))
    assert {
        f"model.random_truffle.{name}"
        for name in (
            "stg_ga4__events",
            "int_events_recorded",
            "int_sessions_converted",
            "int_sessions_aggregated",
        )
    } <= incremental
    assert unit_tests
    for run in ("full", "nightly"):
        capture = _run(bigquery_builds, run)
        sent = {(s.kind, s.unique_id) for s in capture.statements}
        # every data test and unit test ran, and each model was built
        assert {uid for kind, uid in sent if kind == "test"} == tests, run
        assert {uid for kind, uid in sent if kind == "unit test"} == unit_tests, run
        built = {uid for kind, uid in sent if kind in ("model", "merge")}
        assert built == models, run
    full, nightly = _run(bigquery_builds, "full"), _run(bigquery_builds, "nightly")
    assert not any(s.kind == "merge" for s in full.statements)
    # a nightly merges every incremental model, creates only the others
    assert {s.unique_id for s in nightly.statements if s.kind == "merge"} == incremental
    assert {s.unique_id for s in nightly.statements if s.kind == "model"} == models - incremental
    # the insert_overwrite MERGE replaces the window's partitions, listed
    (events_merge,) = [
        s.sql
        for s in nightly.statements
        if s.kind == "merge" and s.unique_id == "model.random_truffle.int_events_recorded"
    ]
    assert re.search(
        r"date\(dbt_internal_dest\.event_date\) in \(\s*date\('2020-11-02'\), "
        r"date\('2020-11-01'\), date\('2020-10-31'\), date\('2020-10-30'\)\s*\)",
        events_merge,
    ), events_merge
    # every hook of a nightly sends its DML (the guards' counts answered, deletes allowed, an
    # erasure request not applied yet): the vanished-session, erasure and retention DELETEs,
    # the raw-text UPDATE and the ledger's INSERTs; identity is resolved at read: no re-stitch
    hooks = [
        (s.unique_id.split(".")[2], _verb(s.sql)) for s in nightly.statements if s.kind == "hook"
    ]
    assert {verb for _, verb in hooks} == {"update", "delete", "insert", "select"}
    # but the sessions' retention and its ledger row: int_sessions_converted's hooks send them,
    # after the conversions read their sessions (ga4_apply_retention's read_by)
    assert [model for model, verb in hooks if verb == "select"] == ["int_sessions_aggregated"] * 2
    # the raw-text erasure; and the conversions clear the transactions map's marks of the days
    # the window built again (a restatement: ga4_restate_transactions)
    assert [model for model, verb in hooks if verb == "update"] == [
        "int_erased_identities",
        "int_conversions_attributed",
    ]
    assert hooks.count(("int_events_recorded", "delete")) == 2  # erasure, retention
    # vanished, erasure, retention; and int_sessions_aggregated's retention, after the
    # conversions read their sessions' attribution (ga4_apply_retention's read_by)
    assert hooks.count(("int_sessions_converted", "delete")) == 4
    assert hooks.count(("int_sessions_aggregated", "delete")) == 2  # vanished, erasure
    assert hooks.count(("int_erased_identities", "delete")) == 2  # staging, device logins
    for model in (
        "int_events_recorded",
        "int_conversions_attributed",
        "int_items_unnested",
    ):
        assert hooks.count((model, "insert")) == 2, model  # the erasure and retention ledgers
    assert hooks.count(("int_sessions_aggregated", "insert")) == 1  # the erasure ledger
    assert hooks.count(("int_sessions_converted", "insert")) == 3  # and both retentions
    assert hooks.count(("int_erased_identities", "insert")) == 2  # staging, device logins
    assert {s.kind for s in nightly.statements} >= {"temp table", "drop", "lookup", "seed"}


def _project_copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(
        REPO,
        project,
        ignore=shutil.ignore_patterns(".*", "target", "logs", "warehouse", "data", "bench", "docs"),
    )
    return project


def _break(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def _nightly_of_events(
    project: Path, tmp_path: Path, rendered: Rendered, analysis: AnalysisReport
) -> CaptureReport:
    return prove_builds(
        project,
        tmp_path / "builds",
        analysis.catalog,
        rendered.manifest,
        RENDER_VARIABLES,
        runs=("nightly",),
        select=("int_events_recorded,resource_type:model",),
        project=DEFAULT_PROJECT,
        dataset=DEFAULT_DATASET,
    )


def test_a_broken_hook_fails_the_proof_naming_the_model(
    tmp_path: Path, bigquery_render: Rendered, bigquery_analysis: AnalysisReport
) -> None:
    """The erasure ledger's INSERT (a post-hook, never in a compiled model) with a misspelled
    column."""
    project = _project_copy(tmp_path)
    _break(
        project / "macros" / "ga4" / "erasure.sql",
        "        erased.erased_identity,\n        current_timestamp",
        "        erased.erased_identityx,\n        current_timestamp",
    )
    report = _nightly_of_events(project, tmp_path, bigquery_render, bigquery_analysis)
    failing = [r for r in report.results if r.error]
    assert [(r.statement.kind, r.statement.unique_id) for r in failing] == [
        ("hook", "model.random_truffle.int_events_recorded")
    ]
    assert "erased_identityx" in report.errors[0]
    assert "hook of model.random_truffle.int_events_recorded" in report.errors[0]


def test_a_broken_partition_list_fails_the_proof_naming_the_model(
    tmp_path: Path, bigquery_render: Rendered, bigquery_analysis: AnalysisReport
) -> None:
    """ga4_bigquery_partitions emitting unquoted dates (`date(2020-11-02)`: integer
    arithmetic) breaks only the MERGE dbt generates when it runs."""
    project = _project_copy(tmp_path)
    macro = project / "macros" / "incremental" / "strategy.sql"
    lines = macro.read_text().splitlines(keepends=True)
    (number,) = [
        i for i, line in enumerate(lines) if "partitions.append" in line and "window.end - " in line
    ]
    broken = lines[number].replace('"date(\'"', '"date("').replace('"\')"', '")"')
    assert broken != lines[number]
    lines[number] = broken
    macro.write_text("".join(lines))
    report = _nightly_of_events(project, tmp_path, bigquery_render, bigquery_analysis)
    failing = [r for r in report.results if r.error]
    assert [(r.statement.kind, r.statement.unique_id) for r in failing] == [
        ("merge", "model.random_truffle.int_events_recorded")
    ]
    assert "date(2020-11-02)" in failing[0].statement.sql
    assert (
        "DATE" in report.errors[0]
        and "merge of model.random_truffle.int_events_recorded" in (report.errors[0])
    )


def test_partition_dates_are_literal_and_the_runs_own_without_a_run_date(
    tmp_path: Path, bigquery_render: Rendered, bigquery_analysis: AnalysisReport
) -> None:
    """Plain `dbt build` (no ga4_run_date): the MERGE replaces the window ending today in the
    property's time zone, named by literal dates, and computed when the run executes: a
    partition list captured at parse time (here a deliberately wrong one in the model's
    config, as a stale partial parse would leave) never decides which days are replaced."""
    project = _project_copy(tmp_path)
    _break(
        project / "models" / "intermediate" / "int_events_recorded.sql",
        "partitions=ga4_bigquery_partitions(),",
        "partitions=[\"date('1999-01-01')\"],",
    )
    # UTC+14: "today" there is tomorrow in UTC for ten hours of each day
    time_zone = "Pacific/Kiritimati"
    variables = {k: v for k, v in RENDER_VARIABLES.items() if k != "ga4_run_date"}
    variables["ga4_property_time_zone"] = time_zone
    report = prove_builds(
        project,
        tmp_path / "builds",
        bigquery_analysis.catalog,
        bigquery_render.manifest,
        variables,
        runs=("nightly",),
        select=("int_events_recorded,resource_type:model",),
        project=DEFAULT_PROJECT,
        dataset=DEFAULT_DATASET,
    )
    assert report.errors == []
    (merge,) = [
        s.sql
        for s in _run(report, "nightly").statements
        if s.kind == "merge" and s.unique_id == "model.random_truffle.int_events_recorded"
    ]
    today = dt.datetime.now(ZoneInfo(time_zone)).date()
    window = [today - dt.timedelta(days=offset) for offset in range(4)]
    replaced = re.search(r"event_date\)\s+in\s+\(([^)]*\)[^;]*?)\)\s+then delete", merge, re.S)
    assert replaced is not None, merge
    assert re.findall(r"date\('(\d{4}-\d{2}-\d{2})'\)", replaced.group(1)) == [
        day.isoformat() for day in window
    ]
    assert "1999" not in merge and "current_date" not in merge
