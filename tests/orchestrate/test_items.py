"""The items mart: one row per item of each kept event. On the real GA4 sample its figures
equal the ones computed independently from the raw export with plain SQL (DuckDB over the
Parquet files); on the synthetic export they equal the generator's ground truth exactly."""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb
import pytest
from typer.testing import CliRunner

from orchestrate.cli import app
from tests.orchestrate.conftest import REAL_SAMPLE, Warehouse

# Purchases of the two sample days (2020-11-01/02), read from the raw export below:
# 63 purchase events carry 181 items, 300 units, 5,568.00 USD of item revenue, 115 distinct items.
REAL_PURCHASED = {"rows": 181, "quantity": 300, "revenue": 5568.0, "distinct_items": 115}
RAW_PURCHASED_ITEMS = f"""
    with purchases as (
        -- a row sent twice is one event (the fingerprint's main fields and the items)
        select distinct event_timestamp, user_pseudo_id, event_name, event_bundle_sequence_id, items
        from read_parquet('{REAL_SAMPLE}/*.parquet')
        where event_name = 'purchase'
    ),
    item_rows as (select unnest(items) as item from purchases)
    select
        count(*),
        sum(item.quantity),
        sum(item.item_revenue),
        count(distinct item.item_id)
    from item_rows
"""
MART_PURCHASED_ITEMS = """
    select count(*), sum(quantity), sum(item_revenue), count(distinct item_id)
    from items where event_name = 'purchase'
"""


def test_real_sample_items_equal_the_raw_export(real_warehouse: Warehouse) -> None:
    with duckdb.connect() as connection:
        raw = connection.execute(RAW_PURCHASED_ITEMS).fetchone()
        raw_rows = connection.execute(
            f"select sum(len(items)) from read_parquet('{REAL_SAMPLE}/*.parquet')"
        ).fetchone()[0]
    assert raw == tuple(REAL_PURCHASED.values())
    assert real_warehouse.query(MART_PURCHASED_ITEMS)[0] == raw
    # every item of every event (the sample has no duplicate rows), each keyed to its event
    assert real_warehouse.scalar("select count(*) from items") == raw_rows == 50978
    assert real_warehouse.scalar("select sum(item_count) from events") == raw_rows
    orphans = real_warehouse.scalar(
        "select count(*) from items left join events using (event_key)"
        " where events.event_key is null"
    )
    assert orphans == 0
    # the sample pays in USD: revenue in USD is the amount, at rate 1, never GA4's fallback
    assert real_warehouse.query(
        "select sum(item_revenue_usd), bool_or(is_usd_from_google) from items"
        " where event_name = 'purchase'"
    ) == [(5568.0, False)]


def test_generated_items_are_exact(generated_warehouse: Warehouse, manifest: dict) -> None:
    truth = manifest["purchased_items"]
    rows, quantity, _, distinct = generated_warehouse.query(MART_PURCHASED_ITEMS)[0]
    assert (rows, quantity, distinct) == (
        truth["rows"],
        truth["quantity"],
        truth["distinct_item_ids"],
    )
    by_currency = dict(
        generated_warehouse.query(
            "select currency, sum(item_revenue) from items"
            " where event_name = 'purchase' group by currency"
        )
    )
    # money is exact: the generator's amounts have cents, so do their sums, to the last digit
    assert by_currency == {
        currency: Decimal(f"{amount:.2f}")
        for currency, amount in truth["item_revenue_by_currency"].items()
    }
    # duplicates and the daily/intraday overlap collapse with their event: one row per item
    assert generated_warehouse.scalar("select count(*) from items") == generated_warehouse.scalar(
        "select sum(item_count) from events"
    )
    assert (
        generated_warehouse.scalar(
            "select count(*) - count(distinct (event_key, item_index)) from items"
        )
        == 0
    )
    # local amounts convert at the dated rate (the generator's rates), never summed raw
    rates = manifest["rates_usd_per_unit"]
    usd = dict(
        generated_warehouse.query(
            "select currency, sum(item_revenue_usd) from items"
            " where event_name = 'purchase' group by currency"
        )
    )
    for currency, amount in truth["item_revenue_by_currency"].items():
        assert float(usd[currency]) == pytest.approx(amount * rates[currency], rel=1e-9)
    # the item params (size_group, gift_wrap) are kept as JSON
    assert (
        generated_warehouse.scalar(
            "select count(*) from items where json_extract_string(item_params_json, '$.size_group')"
            " = 'adult'"
        )
        > 0
    )


def test_product_performance_analysis(
    generated_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """truffle query get_product_performance: per item, views, add-to-carts and purchases equal
    counts over the items mart, and the rate is purchases / views."""
    last_day = generated_warehouse.scalar("select max(event_date) from items")
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(generated_warehouse.path))
    result = CliRunner().invoke(
        app,
        [
            "--vars",
            json.dumps({"ga4_export_path": generated_warehouse.settings.vars["ga4_export_path"]}),
            "query",
            "get_product_performance",
            "-p",
            f"end_date={last_day}",
            "-p",
            "start_date=2000-01-01",
            "-f",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    expected = {
        product: (views, carts, purchases)
        for product, views, carts, purchases in generated_warehouse.query(
            """
            select item_id,
                count(*) filter (where event_name = 'view_item'),
                count(*) filter (where event_name = 'add_to_cart'),
                count(*) filter (where event_name = 'purchase')
            from items group by item_id
            """
        )
    }
    assert {
        row["product"]: (row["item_views"], row["add_to_carts"], row["purchases"]) for row in rows
    } == expected
    for row in rows:
        if row["item_views"]:
            assert row["view_to_purchase_rate"] == pytest.approx(
                row["purchases"] / row["item_views"]
            )
    revenue = generated_warehouse.scalar(
        "select sum(item_revenue_usd) from items where event_name = 'purchase'"
    )
    assert sum(row["revenue"] for row in rows) == pytest.approx(float(revenue))
