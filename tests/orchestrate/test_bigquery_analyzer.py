"""BigQuery, proven offline: every model (full-refresh and incremental form) and every analysis
is rendered by dbt-bigquery without credentials and resolved by Google's GoogleSQL analyzer
against the GA4 export schema, the seeds and the upstream models. Never skipped."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from orchestrate.bigquery.analyzer import (
    AnalyzerError,
    analyze_sql,
    analyze_statements,
    evaluate_predicate,
    table_suffix_filters,
)
from orchestrate.bigquery.catalog import (
    BigQueryCatalog,
    TableSchema,
    base_catalog,
    canonical_type_text,
    parse_type,
    type_text,
)
from orchestrate.bigquery.render import load_manifest, render_bigquery
from tests.orchestrate.bigquery_fixtures import RENDER_VARIABLES
from tests.orchestrate.conftest import REPO

if TYPE_CHECKING:
    from orchestrate.bigquery.analyzer import AnalysisReport
    from tests.orchestrate.bigquery_fixtures import Rendered

pytest_plugins = ("tests.orchestrate.bigquery_fixtures",)

ANALYSES = sorted(path.stem for path in (REPO / "analyses").glob("*.sql"))


def catalog_after(
    rendered: Rendered, report_columns: dict[str, list[tuple[str, str]]]
) -> BigQueryCatalog:
    """The export, the seeds and every model's analyzed output schema."""
    catalog = base_catalog(rendered.manifest, REPO)
    for statement in rendered.statements:
        if statement.kind == "model" and statement.form == "full" and statement.relation:
            catalog.add(
                statement.relation,
                TableSchema.from_type_texts(dict(report_columns[statement.name])),
            )
    return catalog


@pytest.fixture(scope="module")
def full_catalog(bigquery_render: Rendered, bigquery_analysis: AnalysisReport) -> BigQueryCatalog:
    columns = {
        result.statement.name: list(result.columns)
        for result in bigquery_analysis.results
        if result.statement.kind == "model" and result.statement.form == "full"
    }
    return catalog_after(bigquery_render, columns)


# ------------------------------------------------------------------- render ----


def test_every_model_and_analysis_is_rendered_in_each_form(bigquery_render: Rendered) -> None:
    manifest = bigquery_render.manifest
    models = {
        node["name"]: node["config"]["materialized"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }
    rendered = {(s.kind, s.name, s.form) for s in bigquery_render.statements}
    assert {("model", name, "full") for name in models} <= rendered
    incremental = {name for name, materialized in models.items() if materialized == "incremental"}
    assert {
        "stg_ga4__events",
        "int_sessions_aggregated",
        "int_events_recorded",
        "int_sessions_converted",
        "int_conversions_attributed",
    } <= incremental
    # the marts resolve identity at read: views over the stored tables
    assert {models[name] for name in ("events", "sessions", "conversions", "items")} == {"view"}
    assert {("model", name, "incremental") for name in incremental} <= rendered
    # analyses/*.sql, however many there are (none is fine): each one rendered once
    assert sorted(s.name for s in bigquery_render.statements if s.kind == "analysis") == ANALYSES
    assert all(s.sql.strip() for s in bigquery_render.statements)
    # BigQuery SQL, not DuckDB's
    staging = bigquery_render.get("stg_ga4__events")
    assert "unnest(event_params) as p" in staging.sql and "list_filter" not in staging.sql
    assert staging.depends_on == ("source.random_truffle.ga4.events",)


def test_the_incremental_form_differs_where_the_window_applies(bigquery_render: Rendered) -> None:
    full = bigquery_render.get("int_conversions_attributed", "full").sql
    incremental = bigquery_render.get("int_conversions_attributed", "incremental").sql
    # a nightly leaves out the transactions first sent before its window (pitfall 10), read
    # from the transactions map, not from the stored conversions' history
    counted = "from `offline-project`.`random_truffle`.`int_transactions_counted`"
    assert counted in incremental and counted not in full
    assert "`offline-project`.`random_truffle`.`int_conversions_attributed`" not in incremental
    assert "cast('2020-10-30' as date)" in incremental


# ------------------------------------------------------------------ analyzer ----


def test_every_statement_analyzes_with_zero_errors(bigquery_analysis: AnalysisReport) -> None:
    print(bigquery_analysis.summary())
    assert bigquery_analysis.error_count == 0, bigquery_analysis.failure_report()
    kinds = {(r.statement.kind, r.statement.form) for r in bigquery_analysis.results}
    assert ("model", "full") in kinds and ("model", "incremental") in kinds
    assert all(result.columns for result in bigquery_analysis.results)


def test_every_data_test_is_proven_in_both_forms(
    bigquery_render: Rendered, bigquery_analysis: AnalysisReport
) -> None:
    """The data tests a full build and a nightly send are rendered for BigQuery and analyzed
    (the boolean accepted_values test once compiled to BOOL IN (STRING): refused by BigQuery)."""
    tests = {
        unique_id
        for unique_id, node in bigquery_render.manifest["nodes"].items()
        if node["resource_type"] == "test"
    }
    assert len(tests) > 50
    for form in ("full", "incremental"):
        analyzed = {
            r.statement.unique_id
            for r in bigquery_analysis.results
            if r.statement.kind == "test" and r.statement.form == form and r.ok
        }
        assert analyzed == tests, form
    boolean = next(
        s
        for s in bigquery_render.statements
        if s.kind == "test" and "is_currency_known" in s.name and s.form == "full"
    )
    assert "not in (\n    True\n)" in boolean.sql and "'True'" not in boolean.sql


def test_a_broken_test_macro_fails_the_proof_naming_the_test(tmp_path: Path) -> None:
    """A deliberately broken test macro (the where-subquery every data test reads through)
    fails the offline proof, naming the tests."""
    project = tmp_path / "project"
    shutil.copytree(
        REPO,
        project,
        ignore=shutil.ignore_patterns(".*", "target", "logs", "warehouse", "data", "bench", "docs"),
    )
    macro = project / "macros" / "incremental" / "checks.sql"
    text = macro.read_text()
    where = "where {{ predicates | join(' and ') }}) dbt_subquery"
    assert where in text
    macro.write_text(text.replace(where, where.replace("}})", "}} and no_such_column)")))
    statements = render_bigquery(project, tmp_path / "render", variables=RENDER_VARIABLES)
    report = analyze_statements(statements, load_manifest(tmp_path / "render"), project)
    failing = {(r.statement.kind, r.statement.name) for r in report.failures}
    assert failing and {kind for kind, _ in failing} == {"test"}
    assert ("test", "unique_events_v1_event_key") in failing
    assert "no_such_column" in report.failure_report()


def test_contracts_hold_on_bigquery(bigquery_analysis: AnalysisReport) -> None:
    """The analyzer's output types equal the contracts (checked inside the analysis too)."""
    events = next(
        r
        for r in bigquery_analysis.results
        if r.statement.name == "events" and r.statement.form == "full"
    )
    columns = dict(events.columns)
    assert columns["event_date"] == "DATE"
    assert columns["event_at"] == "TIMESTAMP"
    assert columns["event_timestamp_micros"] == "INT64"
    assert columns["param_value"] == "FLOAT64"
    assert columns["is_consent_denied"] == "BOOL"


def test_the_older_export_vintage_analyzes_too(tmp_path: Path) -> None:
    """ga4_bigquery_has_newer_columns: false (exports from before the newer columns), against
    the export schema without them."""
    statements = render_bigquery(
        REPO,
        tmp_path,
        variables={"ga4_bigquery_has_newer_columns": False},
        forms=("full",),
    )
    report = analyze_statements(statements, load_manifest(tmp_path), REPO, newer_columns=False)
    assert report.error_count == 0, report.failure_report()
    staging = next(s for s in statements if s.name == "stg_ga4__events")
    assert "collected_traffic_source" not in staging.sql


def test_a_misspelled_nested_field_is_caught(
    bigquery_render: Rendered, full_catalog: BigQueryCatalog
) -> None:
    sql = bigquery_render.get("stg_ga4__events").sql
    assert "device.category" in sql
    with pytest.raises(AnalyzerError) as caught:
        analyze_sql(sql.replace("device.category", "device.categroy"), full_catalog)
    assert "categroy" in caught.value.message
    assert "device.categroy" in (caught.value.line or "")


def test_a_type_error_is_caught(bigquery_render: Rendered, full_catalog: BigQueryCatalog) -> None:
    sql = bigquery_render.get("cortex_ga4_sessions").sql
    assert "event_count as events" in sql
    with pytest.raises(AnalyzerError) as caught:
        analyze_sql(
            sql.replace("event_count as events", "upper(event_count) as events"), full_catalog
        )
    assert "UPPER" in caught.value.message.upper() and "signature" in caught.value.message


def test_an_unknown_table_and_a_contract_break_are_caught(
    bigquery_render: Rendered, full_catalog: BigQueryCatalog
) -> None:
    with pytest.raises(AnalyzerError, match="not found"):
        analyze_sql("select * from `offline-project`.`random_truffle`.`sesions`", full_catalog)
    models = [s for s in bigquery_render.statements if s.kind == "model" and s.form == "full"]
    broken = [
        replace(s, sql=s.sql.replace("event_count as events", "event_count / 2 as events"))
        if s.name == "cortex_ga4_sessions"
        else s
        for s in models
    ]
    assert broken != models
    report = analyze_statements(broken, bigquery_render.manifest, REPO)
    assert [r.statement.name for r in report.failures] == ["cortex_ga4_sessions"]
    assert report.failures[0].errors == ("column events is FLOAT64, the contract says INT64",)


def test_bigquery_type_text_round_trips() -> None:
    text = "ARRAY<STRUCT<key STRING, value STRUCT<string_value STRING, int_value INT64>>>"
    assert type_text(parse_type(text)) == text
    assert canonical_type_text("integer") == "INT64"
    assert canonical_type_text("boolean") == "BOOL"
    assert canonical_type_text("numeric(10, 2)") == "NUMERIC"


# ------------------------------------------------------------- cost controls ----


def test_incremental_export_reads_are_pruned_to_the_window(bigquery_render: Rendered) -> None:
    """Each model reading the export filters _TABLE_SUFFIX to the window's daily and intraday
    shards (run date 2020-11-02, 3 days back), evaluated by GoogleSQL's reference engine."""
    readers = [
        s
        for s in bigquery_render.statements
        if s.form == "incremental" and any(d.startswith("source.") for d in s.depends_on)
    ]
    assert [s.name for s in readers] == ["stg_ga4__events"]
    for statement in readers:
        (predicate,) = table_suffix_filters(statement.sql)
        read = {
            suffix
            for suffix in (
                "20201029",
                "20201030",
                "20201101",
                "20201102",
                "20201103",
                "intraday_20201029",
                "intraday_20201030",
                "intraday_20201102",
                "intraday_20201103",
                "fresh_20201101",
                "fresh_20201102",
            )
            if evaluate_predicate(predicate, {"_table_suffix": suffix})
        }
        assert read == {
            "20201030",
            "20201101",
            "20201102",
            "intraday_20201030",
            "intraday_20201102",
        }, f"{statement.name}: {predicate}"


def test_full_refresh_never_reads_events_fresh(bigquery_render: Rendered) -> None:
    (predicate,) = table_suffix_filters(bigquery_render.get("stg_ga4__events").sql)
    # a constant range BigQuery prunes shards by, not a regular expression alone
    assert predicate.lower().count("_table_suffix between") == 2, predicate
    for suffix, expected in [
        ("20201101", True),
        ("intraday_20201102", True),
        ("fresh_20201101", False),
        ("fresh_intraday_20201101", False),
    ]:
        assert evaluate_predicate(predicate, {"_table_suffix": suffix}) is expected, suffix


def test_bigquery_cost_configuration(bigquery_render: Rendered) -> None:
    nodes = {
        n["name"]: n
        for n in bigquery_render.manifest["nodes"].values()
        if n["resource_type"] == "model"
    }
    events = nodes["int_events_recorded"]["config"]
    assert events["require_partition_filter"] is True
    assert events["partition_by"] == {
        "field": "event_date",
        "data_type": "date",
        "granularity": "day",
    }
    assert events["cluster_by"] == ["event_name", "user_pseudo_id", "session_key"]
    assert events["incremental_strategy"] == "insert_overwrite"
    assert events["partitions"] == [
        "date('2020-11-02')",
        "date('2020-11-01')",
        "date('2020-10-31')",
        "date('2020-10-30')",
    ]
    # retention where the variable is set, on partitioned models only
    partitioned = {name for name, node in nodes.items() if node["config"].get("partition_by")}
    assert {
        "stg_ga4__events",
        "int_sessions_aggregated",
        "int_events_recorded",
        "int_sessions_converted",
        "int_conversions_attributed",
    } <= partitioned
    for name, node in nodes.items():
        expected = 400 if name in partitioned else None
        assert node["config"].get("partition_expiration_days") == expected, name
    # table labels per layer; job labels from the query comment
    assert events["labels"] == {"project": "random_truffle", "layer": "intermediate"}
    assert nodes["events"]["config"]["labels"]["layer"] == "marts"
    assert nodes["stg_ga4__events"]["config"]["labels"]["layer"] == "staging"
    project = yaml.safe_load((REPO / "dbt_project.yml").read_text())
    assert project["query-comment"]["job-label"] is True
    # the byte cap in the production profile
    profile = yaml.safe_load((REPO / "profiles.yml").read_text())
    assert "maximum_bytes_billed" in profile["random_truffle"]["outputs"]["bigquery"]


def test_partition_expiration_is_bigquery_only() -> None:
    macros = (REPO / "macros" / "bigquery" / "config.sql").read_text()
    assert "default__truffle_partition_expiration_days" in macros
    assert "{{ return(none) }}" in macros.split("default__truffle_partition_expiration_days")[1]
