"""The warehouse built from two real days of Google's public GA4 sample export must reproduce
the reference figures in shared/ga4_sample/README.md, computed independently of our models."""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.orchestrate.conftest import JSON_SAMPLE, REAL_SAMPLE, Warehouse, make_warehouse


def test_sessions_count_each_cross_midnight_session_once(real_warehouse: Warehouse) -> None:
    assert real_warehouse.scalar("select count(*) from sessions") == 6351
    # the five sessions whose events land on both days are one row each
    crossing = real_warehouse.scalar(
        "select count(*) from sessions where session_end_date > session_start_date"
    )
    assert crossing == 5


def test_engaged_sessions(real_warehouse: Warehouse) -> None:
    assert real_warehouse.scalar("select count(*) from sessions where is_engaged_session") == 5391


def test_events_and_devices(real_warehouse: Warehouse) -> None:
    assert real_warehouse.scalar("select count(*) from events") == 79660
    assert real_warehouse.scalar("select count(distinct user_pseudo_id) from events") == 5499
    assert real_warehouse.scalar("select count(*) from user_attributes") == 5499


def test_purchase_revenue_in_usd(real_warehouse: Warehouse) -> None:
    rows = real_warehouse.query(
        "select count(*), round(sum(revenue_usd), 2), list(distinct currency) "
        "from conversions where conversion_type = 'purchase'"
    )
    assert rows == [(63, 5562.00, ["USD"])]
    assert real_warehouse.scalar("select round(sum(revenue_usd), 2) from sessions") == 5562.00


def test_per_day_figures(real_warehouse: Warehouse) -> None:
    per_day = real_warehouse.query(
        "select event_date, count(*), count(distinct user_pseudo_id) from events "
        "group by event_date order by event_date"
    )
    assert [(str(day), events, users) for day, events, users in per_day] == [
        ("2020-11-01", 31272, 2365),
        ("2020-11-02", 48388, 3262),
    ]
    purchases = real_warehouse.query(
        "select conversion_date, count(*), round(sum(revenue_usd), 2) from conversions "
        "group by conversion_date order by conversion_date"
    )
    assert [(str(day), n, usd) for day, n, usd in purchases] == [
        ("2020-11-01", 14, 773.00),
        ("2020-11-02", 49, 4789.00),
    ]


def test_daily_kpis_agree_with_marts(real_warehouse: Warehouse) -> None:
    totals = real_warehouse.query(
        "select sum(sessions), sum(engaged_sessions), sum(events), sum(conversions), "
        "round(sum(revenue_usd), 2) from daily_kpis"
    )
    assert totals == [(6351, 5391, 79660, 63, 5562.00)]


def test_debug_traffic_is_flagged_not_dropped(real_warehouse: Warehouse) -> None:
    with duckdb.connect() as connection:
        expected = connection.execute(
            "select count(*) from read_parquet(?) where list_filter(event_params, "
            "lambda p: p.key = 'debug_mode')[1].value.int_value = 1",
            [[str(path) for path in sorted(REAL_SAMPLE.glob("*.parquet"))]],
        ).fetchall()[0][0]
    assert expected > 0
    assert real_warehouse.scalar("select count(*) from events where is_debug_event") == expected


def test_every_param_is_kept_as_json(real_warehouse: Warehouse) -> None:
    # the sample has no duplicate rows (see raw_row_count below), so every exported param of
    # every row must be a key of its event's JSON object
    with duckdb.connect() as connection:
        exported = connection.execute(
            "select sum(len(event_params)), "
            "count(*) filter (where list_contains(list_transform(event_params, lambda p: p.key), "
            "'page_location')) from read_parquet(?)",
            [[str(path) for path in sorted(REAL_SAMPLE.glob("*.parquet"))]],
        ).fetchall()[0]
    kept = real_warehouse.query(
        "select sum(len(json_keys(event_params_json))), "
        "count(*) filter (where json_extract_string(event_params_json, '$.page_location') "
        "= page_location), "
        "count(*) filter (where json_extract_string(event_params_json, '$.ga_session_id') "
        "is distinct from ga_session_id) "
        "from events"
    )[0]
    assert exported[0] > 79660 and exported[1] > 0
    assert kept == (exported[0], exported[1], 0)


def test_every_raw_row_is_accounted_for(real_warehouse: Warehouse) -> None:
    assert real_warehouse.scalar("select sum(raw_row_count) from stg_ga4__events") == 79660


def test_the_sample_lacks_the_newer_columns_and_still_builds(real_warehouse: Warehouse) -> None:
    newer = real_warehouse.query(
        "select count(collected_source), count(last_click_source), count(batch_event_index), "
        "count(is_active_user) from events"
    )
    assert newer == [(0, 0, 0, 0)]
    # is_active_user falls back to "had an engaged session"
    assert (
        real_warehouse.scalar(
            "select count(*) from sessions where is_active_user != is_engaged_session"
        )
        == 0
    )


def test_dbt_ran_data_and_unit_tests(real_warehouse: Warehouse) -> None:
    kinds = {result.resource_type for result in real_warehouse.run.results}
    assert {"model", "seed", "test", "unit_test"} <= kinds
    assert not real_warehouse.run.failures


@pytest.fixture(scope="module")
def json_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return make_warehouse(
        tmp_path_factory.mktemp("json"), JSON_SAMPLE, {"ga4_run_date": "2020-12-27"}
    )


def test_bigquery_json_export_reads_int64_as_strings(json_warehouse: Warehouse) -> None:
    rows = json.loads((JSON_SAMPLE / "events_20201227.json").read_text())
    timestamps = sorted(int(row["event_timestamp"]) for row in rows)
    sessions = {
        (row["user_pseudo_id"], param["value"]["int_value"])
        for row in rows
        for param in row["event_params"]
        if param["key"] == "ga_session_id"
    }
    assert json_warehouse.scalar("select count(*) from events") == len(rows) == 20
    # INT64 fields arrive as JSON strings: typed, not lost
    typed = json_warehouse.query(
        "select min(event_timestamp_micros), max(event_timestamp_micros), "
        "count(distinct session_key) from events"
    )[0]
    assert typed == (timestamps[0], timestamps[-1], len(sessions))
