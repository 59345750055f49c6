"""Declared columns (dbt_project.yml: ga4_custom_event_params, ga4_user_properties): a custom
event parameter and a user property added as a user would (one declaration each, via --vars,
plus the contract lines of the marts' YAML) come out typed in staging, the events mart and
user_attributes, with the contracts enforced, on DuckDB over the synthetic export and in the
BigQuery offline proof. The generator sends `payment_type` (text, on add_payment_info and
purchase), `shipping` (a double, on purchase) and the user properties `loyalty_tier` (text)
and `first_open_time` (an int, apps); the expected values are read from the raw export files
with plain SQL, not from the models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from orchestrate.bigquery.analyzer import analyze_statements
from orchestrate.bigquery.render import load_manifest, render_bigquery
from orchestrate.cli import app
from orchestrate.settings import Settings
from tests.orchestrate.bigquery_fixtures import RENDER_VARIABLES
from tests.orchestrate.conftest import (
    GENERATED_CONFIG,
    GENERATED_TIME_ZONE,
    REPO,
    Warehouse,
    dbt_build,
)

DECLARED = {
    "ga4_custom_event_params": [
        {
            "key": "payment_type",
            "column": "payment_type",
            "type": "string",
            "events": ["add_payment_info", "purchase"],
        },
        {"key": "shipping", "column": "shipping_amount", "type": "float"},
    ],
    "ga4_user_properties": [
        {"key": "loyalty_tier", "column": "loyalty_tier", "type": "string"},
        {"key": "first_open_time", "column": "first_open_time_msec", "type": "int"},
    ],
    "ga4_item_params": [{"key": "size_group", "column": "size_group", "type": "string"}],
    "ga4_reporting_currencies": ["USD", "MXN", "COP", "EUR"],
}
EUR_USD_PER_UNIT = 1.08  # the line a user adds to seeds/currency_rates.csv
# The lines a user adds to models/marts/_marts__models.yml (the contracts list every column).
EVENTS_CONTRACT_LINES = {
    "payment_type": "string",
    "shipping_amount": "\"{{ 'double' if target.type == 'duckdb' else 'float64' }}\"",
    "loyalty_tier": "string",
    "first_open_time_msec": "\"{{ 'bigint' if target.type == 'duckdb' else 'int64' }}\"",
}
MONEY = "*money"  # the marts YAML's money type (README: a reporting currency)
ITEMS_CONTRACT_LINES = {"size_group": "string", "item_revenue_eur": MONEY}
CONVERSIONS_CONTRACT_LINES = {"revenue_eur": MONEY}
USER_ATTRIBUTES_CONTRACT_LINES = {
    "loyalty_tier": EVENTS_CONTRACT_LINES["loyalty_tier"],
    "first_open_time_msec": EVENTS_CONTRACT_LINES["first_open_time_msec"],
}


def copy_project(destination: Path) -> Path:
    shutil.copytree(
        REPO,
        destination,
        ignore=shutil.ignore_patterns(".*", "target", "logs", "warehouse", "data", "bench", "docs"),
    )
    return destination


def add_contract_lines(project: Path, model: str, lines: dict[str, str]) -> None:
    """Insert `- name: <column>` / `data_type: <type>` entries at the top of a model's columns."""
    path = project / "models" / "marts" / "_marts__models.yml"
    text = path.read_text()
    start = text.index(f"  - name: {model}\n")
    columns = text.index("    columns:\n", start) + len("    columns:\n")
    entries = "".join(
        f"      - name: {name}\n"
        f'        description: "Declared in dbt_project.yml (test)."\n'
        f"        data_type: {data_type}\n"
        for name, data_type in lines.items()
    )
    path.write_text(text[:columns] + entries + text[columns:])


@pytest.fixture(scope="module")
def declared_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("declared") / "project")
    add_contract_lines(project, "events", EVENTS_CONTRACT_LINES)
    add_contract_lines(project, "user_attributes", USER_ATTRIBUTES_CONTRACT_LINES)
    add_contract_lines(project, "items", ITEMS_CONTRACT_LINES)
    add_contract_lines(project, "conversions", CONVERSIONS_CONTRACT_LINES)
    with (project / "seeds" / "currency_rates.csv").open("a") as rates:
        rates.write(f"2020-01-01,EUR,{EUR_USD_PER_UNIT}\n")
    return project


@pytest.fixture(scope="module")
def declared_warehouse(
    tmp_path_factory: pytest.TempPathFactory,
    declared_project: Path,
    generated_export: tuple[Path, dict],
) -> Warehouse:
    export, _ = generated_export
    root = tmp_path_factory.mktemp("declared_warehouse")
    settings = Settings(
        project_dir=declared_project,
        vars={
            "ga4_export_path": str(export),
            "ga4_property_time_zone": GENERATED_TIME_ZONE,
            "ga4_run_date": GENERATED_CONFIG.end_date.isoformat(),
            **DECLARED,
        },
        duckdb_path=root / "warehouse.duckdb",
    )
    run = dbt_build(settings, root / "target", "--full-refresh")
    return Warehouse(root / "warehouse.duckdb", settings, root / "target", run)


def raw_export(export: Path) -> str:
    """The generated export's rows as one relation, read with plain DuckDB (not the models):
    the Parquet days and the NDJSON day, intraday shards and events_fresh_ left out."""
    parquet = [str(p) for p in sorted(export.glob("events_2*.parquet"))]
    ndjson = [str(p) for p in sorted(export.glob("events_2*.json"))]
    assert parquet and ndjson
    columns = "event_name, event_timestamp, user_pseudo_id, event_params, user_properties"
    return (
        f"(select {columns} from read_parquet({parquet}) "
        f"union all by name select {columns} from read_json({ndjson}, format = 'auto'))"
    )


def raw_values(export: Path, array: str, key: str, slot: str) -> list[tuple]:
    """(event_name, event_timestamp, user_pseudo_id, value) of every raw row carrying `key`
    in `array` (event_params or user_properties)."""
    with duckdb.connect() as connection:
        return connection.execute(
            f"""
            select distinct event_name, cast(event_timestamp as bigint), user_pseudo_id,
                entry.value.{slot}
            from (select *, unnest({array}) as entry from {raw_export(export)})
            where entry.key = ?
            """,
            [key],
        ).fetchall()


def column_types(warehouse: Warehouse, table: str) -> dict[str, str]:
    return dict(
        warehouse.query(
            "select column_name, data_type from information_schema.columns where table_name = ?",
            [table],
        )
    )


def test_declared_columns_are_typed_in_the_marts(declared_warehouse: Warehouse) -> None:
    for table in ("stg_ga4__events", "events"):
        types = column_types(declared_warehouse, table)
        assert types["payment_type"] == "VARCHAR", table
        assert types["shipping_amount"] == "DOUBLE", table
        assert types["loyalty_tier"] == "VARCHAR", table
        assert types["first_open_time_msec"] == "BIGINT", table
        assert types["user_properties_json"] == "VARCHAR", table
    assert column_types(declared_warehouse, "items")["size_group"] == "VARCHAR"
    attributes = column_types(declared_warehouse, "user_attributes")
    assert attributes["loyalty_tier"] == "VARCHAR"
    assert attributes["first_open_time_msec"] == "BIGINT"
    manifest = json.loads((declared_warehouse.target_path / "manifest.json").read_text())
    for name in ("events", "user_attributes", "items"):
        node = next(n for n in manifest["nodes"].values() if n["name"] == name)
        assert node["contract"]["enforced"] is True


def test_declared_event_params_equal_the_raw_export(
    declared_warehouse: Warehouse, generated_export: tuple[Path, dict]
) -> None:
    export, _ = generated_export
    declared_events = ("add_payment_info", "purchase")
    raw = {
        row
        for row in raw_values(export, "event_params", "payment_type", "string_value")
        if row[0] in declared_events
    }
    mart = set(
        declared_warehouse.query(
            "select event_name, event_timestamp_micros, user_pseudo_id, payment_type from events"
            " where payment_type is not null"
        )
    )
    assert raw and mart == raw
    # declared for two events only: null on every other event
    assert (
        declared_warehouse.scalar(
            "select count(*) from events where payment_type is not null"
            " and event_name not in ('add_payment_info', 'purchase')"
        )
        == 0
    )
    raw_shipping = {row for row in raw_values(export, "event_params", "shipping", "double_value")}
    mart_shipping = set(
        declared_warehouse.query(
            "select event_name, event_timestamp_micros, user_pseudo_id, shipping_amount"
            " from events where shipping_amount is not null"
        )
    )
    assert (
        raw_shipping
        and {(name, ts, device, float(value)) for name, ts, device, value in raw_shipping}
        == mart_shipping
    )


def test_a_declared_reporting_currency_converts_from_usd(declared_warehouse: Warehouse) -> None:
    """EUR added to ga4_reporting_currencies (and a rate to the seed): conversions and items
    gain revenue_eur / item_revenue_eur = the USD amount at the EUR rate."""
    for table, usd, eur in (
        ("conversions", "revenue_usd", "revenue_eur"),
        ("items", "item_revenue_usd", "item_revenue_eur"),
    ):
        assert column_types(declared_warehouse, table)[eur] == "DECIMAL(38,9)"  # money
        count, wrong = declared_warehouse.query(
            f"select count({eur}), count(*) filter (where abs({eur} * {EUR_USD_PER_UNIT} - {usd})"
            f" > 1e-6) from {table}"
        )[0]
        assert count > 0 and wrong == 0, table


def test_declared_item_params_equal_the_item_params_json(declared_warehouse: Warehouse) -> None:
    """The generator sends size_group on apparel items: the typed column is that value, on
    those items only."""
    counts = declared_warehouse.query(
        "select size_group, item_category, count(*) from items"
        " where size_group is not null or json_extract_string(item_params_json, '$.size_group')"
        " is not null group by all"
    )
    assert counts and {(group, category) for group, category, _ in counts} == {("adult", "Apparel")}


def test_declared_user_properties_equal_the_raw_export(
    declared_warehouse: Warehouse, generated_export: tuple[Path, dict]
) -> None:
    export, _ = generated_export
    raw_tiers = {
        (device, tier)
        for _, _, device, tier in raw_values(
            export, "user_properties", "loyalty_tier", "string_value"
        )
    }
    raw_open = {
        (device, int(value))
        for _, _, device, value in raw_values(
            export, "user_properties", "first_open_time", "int_value"
        )
    }
    assert raw_tiers and raw_open
    assert raw_tiers == set(
        declared_warehouse.query(
            "select distinct user_pseudo_id, loyalty_tier from events"
            " where loyalty_tier is not null"
        )
    )
    assert raw_open == set(
        declared_warehouse.query(
            "select distinct user_pseudo_id, first_open_time_msec from events"
            " where first_open_time_msec is not null"
        )
    )
    # the latest value per person: a person with one device has that device's values
    people = declared_warehouse.query(
        """
        select distinct events.user_pseudo_id, user_attributes.loyalty_tier,
            user_attributes.first_open_time_msec
        from user_attributes
        inner join events on user_attributes.unified_user_id = events.unified_user_id
        where user_attributes.device_count = 1
        """
    )
    tiers = {(device, tier) for device, tier, _ in people if tier is not None}
    opens = {(device, value) for device, _, value in people if value is not None}
    assert tiers and tiers <= raw_tiers
    assert opens and opens <= raw_open
    devices_with_tier = {device for device, _ in raw_tiers}
    assert all(tier is not None for device, tier, _ in people if device in devices_with_tier)


def compile_with(variables: dict, export: Path, out: Path) -> tuple[int, str]:
    """`truffle --vars ... compile` on the project as it is (DuckDB), against a warehouse of
    its own (none yet): the outcome does not depend on the developer's warehouse, whose
    compile-time lookups run on dbt's threads (on that warehouse, once: "connection is busy
    with another call", DuckDB refusing a second thread's call on a connection in use)."""
    result = CliRunner().invoke(
        app,
        [
            "--vars",
            json.dumps({"ga4_export_path": str(export), **variables}),
            "compile",
            "--out",
            str(out),
        ],
        env={"TRUFFLE_DUCKDB_PATH": str(out / "warehouse.duckdb")},
    )
    return result.exit_code, result.output


def test_a_declared_column_missing_from_the_contract_names_the_line_to_add(
    tmp_path: Path, generated_export: tuple[Path, dict]
) -> None:
    """Declared in the vars but not in the events contract: exit 2 with a line saying which
    YAML line to add, rather than dbt's generic contract mismatch. Only the event parameters
    are declared: with the user properties and item parameters too, user_attributes and items
    fail as well, and which model dbt compiles first depends on its threads."""
    event_params = {"ga4_custom_event_params": DECLARED["ga4_custom_event_params"]}
    code, output = compile_with(event_params, generated_export[0], tmp_path)
    assert code == 2
    assert (
        "The declared column payment_type (payment_type) is not in the contract of events: add"
        " `- name: payment_type` with `data_type: string`" in " ".join(output.split())
    )


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"key": "coupon", "column": "coupon", "type": "text"}, "type must be string, int,"),
        ({"key": "coupon", "column": "Coupon Code", "type": "string"}, "lowercase SQL name"),
        ({"key": "coupon", "type": "string"}, "needs a key and a column"),
        ({"key": "x", "column": "page_title", "type": "string"}, "a second time"),
        ({"key": "coupon", "column": "coupon", "type": "string", "events": "purchase"}, "a list"),
    ],
)
def test_a_bad_declaration_is_one_line(
    tmp_path: Path, generated_export: tuple[Path, dict], entry: dict, problem: str
) -> None:
    code, output = compile_with({"ga4_custom_event_params": [entry]}, generated_export[0], tmp_path)
    assert code == 2
    assert "Variable ga4_event_params / ga4_custom_event_params: the entry" in output
    assert problem in " ".join(output.split())
    assert "Traceback" not in output


def test_declared_columns_pass_the_bigquery_offline_proof(
    declared_project: Path, tmp_path: Path
) -> None:
    """`truffle compile --target bigquery --offline` with the declaration: every statement
    analyzes (the analyzer checks the contracts too), and the columns have BigQuery's types."""
    variables = {**RENDER_VARIABLES, **DECLARED}
    result = CliRunner().invoke(
        app,
        [
            "--project-dir",
            str(declared_project),
            "--vars",
            json.dumps(variables),
            "compile",
            "--target",
            "bigquery",
            "--offline",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    statements = render_bigquery(
        declared_project, tmp_path / "render", variables=variables, forms=("full",), quiet=True
    )
    report = analyze_statements(statements, load_manifest(tmp_path / "render"), declared_project)
    assert report.error_count == 0, report.failure_report()
    columns = {
        result.statement.name: dict(result.columns)
        for result in report.results
        if result.statement.kind == "model"
    }
    for model in ("stg_ga4__events", "events"):
        assert columns[model]["payment_type"] == "STRING"
        assert columns[model]["shipping_amount"] == "FLOAT64"
        assert columns[model]["loyalty_tier"] == "STRING"
        assert columns[model]["first_open_time_msec"] == "INT64"
    assert columns["user_attributes"]["loyalty_tier"] == "STRING"
    assert columns["user_attributes"]["first_open_time_msec"] == "INT64"
    assert columns["items"]["size_group"] == "STRING"
    assert columns["items"]["item_revenue_eur"] == "NUMERIC"
    assert columns["conversions"]["revenue_eur"] == "NUMERIC"
    # money is NUMERIC from the recorded events on; staging keeps the export's FLOAT64 (the
    # quarantine reads its NaN and infinities)
    assert columns["stg_ga4__events"]["ecommerce_purchase_revenue"] == "FLOAT64"
    assert columns["events"]["ecommerce_purchase_revenue"] == "NUMERIC"
    assert columns["items"]["item_revenue"] == "NUMERIC"
    assert columns["user_attributes"]["lifetime_revenue_usd"] == "NUMERIC"


@pytest.mark.parametrize(
    ("currencies", "problem"),
    [(["USD", "EUR"], "must keep USD, MXN and COP"), (["USD", "MXN", "COP", "EURO"], "ISO")],
)
def test_a_bad_reporting_currency_list_is_one_line(
    tmp_path: Path, generated_export: tuple[Path, dict], currencies: list[str], problem: str
) -> None:
    code, output = compile_with(
        {"ga4_reporting_currencies": currencies}, generated_export[0], tmp_path
    )
    assert code == 2
    assert problem in " ".join(output.split())
