"""Tests of the synthetic GA4 export generator (orchestrate/demo_data.py).

The manifest is the generator's own account of what it wrote; every figure checked here is
recomputed independently with DuckDB over the written files.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import pathlib
import zoneinfo
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrate.demo_data import (
    APP_STREAM_ID,
    RATES_USD_PER_UNIT,
    WEB_STREAM_ID,
    GeneratorConfig,
    generate_export,
)
from orchestrate.export_schema import EXPORT_SCHEMA

CONFIG = GeneratorConfig(end_date=datetime.date(2026, 1, 31), days=3, users=60, seed=11)
SAMPLE_COLUMNS = (
    "event_date",
    "event_timestamp",
    "event_name",
    "event_params",
    "event_previous_timestamp",
    "event_value_in_usd",
    "event_bundle_sequence_id",
    "event_server_timestamp_offset",
    "user_id",
    "user_pseudo_id",
    "privacy_info",
    "user_properties",
    "user_first_touch_timestamp",
    "user_ltv",
    "device",
    "geo",
    "app_info",
    "traffic_source",
    "stream_id",
    "platform",
    "event_dimensions",
    "ecommerce",
    "items",
)
NEWER_COLUMNS = (
    "collected_traffic_source",
    "is_active_user",
    "batch_event_index",
    "batch_page_id",
    "batch_ordering_id",
    "session_traffic_source_last_click",
    "publisher",
)


def _digest(directory: pathlib.Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.iterdir())
    }


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("ga4_export")
    lines: list[str] = []
    manifest = generate_export(out, CONFIG, progress=lines.append)
    assert len(lines) == len(manifest["files"])
    return out, manifest


@pytest.fixture(scope="module")
def con(export: tuple[pathlib.Path, dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """DuckDB views over the written files.

    daily_rows: every daily row (Parquet and JSON), one normalised projection;
    events: the distinct logical events (exact duplicates removed), daily tables only;
    intraday_rows: the rows of the intraday shards, same projection.
    """
    out, _ = export
    db = duckdb.connect()
    daily_parquet = sorted(str(p) for p in out.glob("events_*.parquet") if "intraday" not in p.name)
    daily_json = sorted(str(p) for p in out.glob("events_*.json"))
    intraday = sorted(str(p) for p in out.glob("events_intraday_*.parquet"))
    assert daily_parquet and daily_json and intraday

    def param(key: str, field: str) -> str:
        return f"list_filter(event_params, lambda p: p.key = '{key}')[1].value.{field}"

    projection = f"""
        event_date,
        event_timestamp::BIGINT AS ts,
        event_name,
        user_pseudo_id,
        stream_id::VARCHAR AS stream_id,
        platform,
        user_id,
        privacy_info.analytics_storage AS analytics_storage,
        privacy_info.ads_storage AS ads_storage,
        coalesce({param("ga_session_id", "int_value")}::BIGINT,
                 try_cast({param("ga_session_id", "string_value")} AS BIGINT)) AS ga_session_id,
        {param("ga_session_id", "string_value")} IS NOT NULL AS session_id_is_string,
        coalesce({param("session_engaged", "string_value")},
                 {param("session_engaged", "int_value")}::VARCHAR) AS session_engaged,
        {param("session_engaged", "string_value")} AS engaged_str,
        {param("session_engaged", "int_value")}::BIGINT AS engaged_int,
        {param("currency", "string_value")} AS currency,
        ecommerce.transaction_id AS transaction_id,
        ecommerce.purchase_revenue::DOUBLE AS purchase_revenue,
        ecommerce.purchase_revenue_in_usd::DOUBLE AS purchase_revenue_in_usd,
        event_params::VARCHAR AS params_text,
        coalesce(batch_ordering_id::VARCHAR, '') || '/' || coalesce(batch_event_index::VARCHAR, '')
            AS batch_key
    """
    db.execute(
        f"""
        CREATE VIEW daily_rows AS
        SELECT 'parquet' AS fmt, {projection}
        FROM read_parquet({daily_parquet!r}, union_by_name = true)
        UNION ALL
        SELECT 'json' AS fmt, {projection}
        FROM read_json({daily_json!r}, format = 'newline_delimited')
        """
    )
    db.execute("CREATE VIEW events AS SELECT DISTINCT * EXCLUDE (fmt) FROM daily_rows")
    db.execute(
        f"CREATE VIEW parquet_daily AS SELECT * FROM read_parquet({daily_parquet!r}, "
        "union_by_name = true)"
    )
    db.execute(
        f"""
        CREATE VIEW intraday_rows AS
        SELECT {projection} FROM read_parquet({intraday!r}, union_by_name = true)
        """
    )
    db.execute(
        """
        CREATE VIEW sessions AS
        SELECT user_pseudo_id, stream_id, ga_session_id,
               bool_or(session_engaged = '1') AS engaged,
               count(DISTINCT event_date) AS dates,
               count(user_id) AS events_with_user_id,
               min(ts) AS first_ts
        FROM events
        WHERE user_pseudo_id IS NOT NULL
        GROUP BY ALL
        """
    )
    return db


def _one(db: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = db.execute(sql).fetchone()
    assert row is not None
    return row[0]


# ---------------------------------------------------------------------------------------------
# Determinism and layout
# ---------------------------------------------------------------------------------------------
def test_same_config_gives_identical_bytes(tmp_path: pathlib.Path) -> None:
    config = GeneratorConfig(end_date=datetime.date(2026, 1, 31), days=2, users=40, seed=3)
    first = generate_export(tmp_path / "a", config)
    second = generate_export(tmp_path / "b", config)
    assert first == second
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    other = generate_export(tmp_path / "c", dataclasses.replace(config, seed=4))
    assert other != first
    assert _digest(tmp_path / "c") != _digest(tmp_path / "a")


def test_rerun_in_same_directory_replaces_the_export(tmp_path: pathlib.Path) -> None:
    generate_export(
        tmp_path, GeneratorConfig(end_date=datetime.date(2026, 1, 31), days=3, users=50)
    )
    manifest = generate_export(
        tmp_path,
        GeneratorConfig(end_date=datetime.date(2026, 1, 31), days=1, users=20, intraday_days=1),
    )
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([f["name"] for f in manifest["files"]] + ["manifest.json"])


def test_file_names_and_formats(export: tuple[pathlib.Path, dict[str, Any]]) -> None:
    out, manifest = export
    expected = [
        ("events_20260129.json", "json", "daily"),
        ("events_20260130.parquet", "parquet", "daily"),
        ("events_intraday_20260130.parquet", "parquet", "intraday"),
        ("events_20260131.parquet", "parquet", "daily"),
        ("events_intraday_20260131.parquet", "parquet", "intraday"),
    ]
    assert [(f["name"], f["format"], f["kind"]) for f in manifest["files"]] == expected
    on_disk = sorted(p.name for p in out.iterdir())
    assert on_disk == sorted([name for name, _, _ in expected] + ["manifest.json"])
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["config"]["end_date"] == "2026-01-31"


def test_parquet_schema_is_the_full_export_schema(
    export: tuple[pathlib.Path, dict[str, Any]],
) -> None:
    out, _ = export
    for path in out.glob("*.parquet"):
        schema = pq.read_schema(path)
        assert schema.equals(EXPORT_SCHEMA), path.name
    # The column order of design/ga4_export_schema.md: 2020-21 columns, then the newer ones.
    assert EXPORT_SCHEMA.names == [*SAMPLE_COLUMNS, *NEWER_COLUMNS]
    assert EXPORT_SCHEMA.field("stream_id").type == pa.string()
    device = EXPORT_SCHEMA.field("device").type
    assert device.field("is_limited_ad_tracking").type == pa.string()
    assert {"browser", "browser_version", "web_info"} <= {f.name for f in device}
    item = EXPORT_SCHEMA.field("items").type.value_type
    assert item.field("item_params").type == EXPORT_SCHEMA.field("event_params").type
    last_click = EXPORT_SCHEMA.field("session_traffic_source_last_click").type
    assert [f.name for f in last_click] == [
        "manual_campaign",
        "google_ads_campaign",
        "cross_channel_campaign",
        "sa360_campaign",
        "cm360_campaign",
        "dv360_campaign",
    ]


def test_json_day_is_bigquery_ndjson(export: tuple[pathlib.Path, dict[str, Any]]) -> None:
    out, manifest = export
    (json_file,) = (f for f in manifest["files"] if f["format"] == "json")
    lines = (out / json_file["name"]).read_text(encoding="utf-8").splitlines()
    assert len(lines) == json_file["rows"]
    rows = [json.loads(line) for line in lines]
    assert all(list(row) == EXPORT_SCHEMA.names for row in rows)
    first = rows[0]
    assert isinstance(first["event_timestamp"], str) and first["event_timestamp"].isdigit()
    assert isinstance(first["event_bundle_sequence_id"], str)
    ints = [
        p["value"]["int_value"]
        for row in rows
        for p in row["event_params"]
        if p["value"]["int_value"] is not None
    ]
    assert ints and all(isinstance(v, str) for v in ints)
    doubles = [
        p["value"]["double_value"]
        for row in rows
        for p in row["event_params"]
        if p["value"]["double_value"] is not None
    ]
    assert doubles and all(isinstance(v, float) for v in doubles)
    assert all(isinstance(r["is_active_user"], bool) for r in rows if r["user_pseudo_id"])
    # Repeated fields are arrays (never null), FLOAT columns are numbers.
    assert all(isinstance(r["items"], list) and isinstance(r["event_params"], list) for r in rows)
    assert any(r["items"] for r in rows)
    values_in_usd = [r["event_value_in_usd"] for r in rows if r["event_value_in_usd"] is not None]
    assert values_in_usd and all(isinstance(v, float) for v in values_in_usd)


# ---------------------------------------------------------------------------------------------
# Manifest against independent DuckDB queries
# ---------------------------------------------------------------------------------------------
def test_row_counts(
    export: tuple[pathlib.Path, dict[str, Any]], con: duckdb.DuckDBPyConnection
) -> None:
    out, manifest = export
    daily_rows = _one(con, "SELECT count(*) FROM daily_rows")
    intraday_rows = _one(con, "SELECT count(*) FROM intraday_rows")
    assert daily_rows + intraday_rows == manifest["raw_rows"]
    assert sum(f["rows"] for f in manifest["files"]) == manifest["raw_rows"]
    for f in manifest["files"]:
        path = out / f["name"]
        if f["format"] == "parquet":
            assert pq.ParquetFile(path).metadata.num_rows == f["rows"]
    assert _one(con, "SELECT count(*) FROM events") == manifest["unique_events"]
    assert daily_rows - manifest["unique_events"] == manifest["duplicate_rows_injected"]
    assert intraday_rows == manifest["intraday_overlap_rows"]
    assert manifest["duplicate_rows_injected"] > 0
    by_date = dict(
        con.execute(
            "SELECT strftime(strptime(event_date, '%Y%m%d'), '%Y-%m-%d'), count(*) "
            "FROM events GROUP BY 1 ORDER BY 1"
        ).fetchall()
    )
    assert by_date == manifest["unique_events_by_date"]


def test_duplicates_are_exact_copies_within_one_table(
    export: tuple[pathlib.Path, dict[str, Any]], con: duckdb.DuckDBPyConnection
) -> None:
    out, manifest = export
    extra_rows = 0
    for f in manifest["files"]:
        if f["kind"] != "daily":
            continue
        path = str(out / f["name"])
        reader = (
            f"read_parquet('{path}')"
            if f["format"] == "parquet"
            else f"read_json('{path}', format = 'newline_delimited')"
        )
        distinct_rows = _one(con, f"SELECT count(*) FROM (SELECT DISTINCT * FROM {reader})")
        extra_rows += f["rows"] - distinct_rows
    assert extra_rows == manifest["duplicate_rows_injected"] > 0
    # Distinct logical events never share a fingerprint (name, time, device, params, batch).
    fingerprint = "event_date, ts, event_name, user_pseudo_id, params_text, batch_key"
    assert _one(con, f"SELECT count(DISTINCT ({fingerprint})) FROM events") == _one(
        con, "SELECT count(*) FROM events"
    )


def test_intraday_rows_repeat_daily_rows(con: duckdb.DuckDBPyConnection) -> None:
    unmatched = _one(
        con,
        """
        SELECT count(*) FROM intraday_rows i
        WHERE NOT EXISTS (
            SELECT 1 FROM events e
            WHERE e.event_date = i.event_date AND e.ts = i.ts AND e.event_name = i.event_name
              AND e.params_text = i.params_text
              AND e.user_pseudo_id IS NOT DISTINCT FROM i.user_pseudo_id)
        """,
    )
    assert unmatched == 0
    # Intraday shards hold the earliest part of their day.
    late_intraday = _one(
        con,
        """
        SELECT count(*) FROM intraday_rows i
        WHERE i.ts > (SELECT min(e.ts) FROM events e
                      WHERE e.event_date = i.event_date
                        AND e.ts > (SELECT max(ts) FROM intraday_rows j
                                    WHERE j.event_date = i.event_date))
        """,
    )
    assert late_intraday == 0


def test_intraday_user_scoped_columns_are_null(
    export: tuple[pathlib.Path, dict[str, Any]],
) -> None:
    out, manifest = export
    for path in out.glob("events_intraday_*.parquet"):
        table = pq.read_table(path, columns=["traffic_source", "user_ltv", "is_active_user"])
        for column in table.columns:
            assert column.null_count == table.num_rows
    newest = [f["name"] for f in manifest["files"] if f["kind"] == "daily"][-1]
    daily = pq.read_table(out / newest)
    consented = daily.filter(pa.compute.is_valid(daily["user_pseudo_id"]))
    for name in ("traffic_source", "user_ltv", "is_active_user"):
        assert consented[name].null_count == 0


def test_consent(
    export: tuple[pathlib.Path, dict[str, Any]], con: duckdb.DuckDBPyConnection
) -> None:
    _, manifest = export
    denied = _one(con, "SELECT count(*) FROM events WHERE analytics_storage = 'No'")
    assert denied == manifest["consent_denied_events"]
    assert 0.01 < denied / manifest["unique_events"] < 0.08
    bad = _one(
        con,
        """
        SELECT count(*) FROM events WHERE analytics_storage = 'No'
          AND (user_pseudo_id IS NOT NULL OR ga_session_id IS NOT NULL OR user_id IS NOT NULL)
        """,
    )
    assert bad == 0
    assert (
        _one(
            con,
            "SELECT count(*) FROM events "
            "WHERE analytics_storage = 'Yes' AND user_pseudo_id IS NULL",
        )
        == 0
    )
    values = {
        r[0] for r in con.execute("SELECT DISTINCT analytics_storage FROM daily_rows").fetchall()
    } | {r[0] for r in con.execute("SELECT DISTINCT ads_storage FROM daily_rows").fetchall()}
    assert values == {"Yes", "No"}
    # ads_storage is a property of the device: never both values for one user_pseudo_id.
    assert (
        _one(
            con,
            """
        SELECT count(*) FROM (
            SELECT user_pseudo_id FROM events WHERE user_pseudo_id IS NOT NULL
            GROUP BY 1 HAVING count(DISTINCT ads_storage) > 1)
        """,
        )
        == 0
    )


def test_sessions(
    export: tuple[pathlib.Path, dict[str, Any]], con: duckdb.DuckDBPyConnection
) -> None:
    _, manifest = export
    assert _one(con, "SELECT count(*) FROM sessions") == manifest["sessions"]
    assert _one(con, "SELECT count(*) FROM sessions WHERE engaged") == manifest["engaged_sessions"]
    assert (
        _one(con, "SELECT count(*) FROM sessions WHERE dates > 1")
        == manifest["sessions_crossing_midnight"]
    )
    shared = _one(
        con,
        """
        SELECT count(*) FROM (SELECT ga_session_id FROM sessions
                              GROUP BY 1 HAVING count(DISTINCT user_pseudo_id) > 1)
        """,
    )
    assert shared == manifest["shared_ga_session_ids"]
    assert _one(con, "SELECT count(DISTINCT user_pseudo_id) FROM events") == manifest["devices"]
    assert manifest["devices"] == CONFIG.users
    assert manifest["sessions_crossing_midnight"] > 0
    assert manifest["shared_ga_session_ids"] > 0
    assert 0 < manifest["engaged_sessions"] < manifest["sessions"]
    # Some ga_session_id values arrive as strings.
    assert _one(con, "SELECT count(*) FROM events WHERE session_id_is_string") > 0
    # Every consented event has a session id; the session id is its start in unix seconds.
    assert (
        _one(
            con,
            "SELECT count(*) FROM events "
            "WHERE user_pseudo_id IS NOT NULL AND ga_session_id IS NULL",
        )
        == 0
    )
    assert (
        _one(con, "SELECT count(*) FROM sessions WHERE first_ts // 1000000 <> ga_session_id") == 0
    )


def test_session_engaged_types(con: duckdb.DuckDBPyConnection) -> None:
    # Pitfall 5: string '1'/'0' on web, int 1 on apps.
    rows = con.execute(
        """
        SELECT platform = 'WEB' AS web, engaged_str, engaged_int, count(*)
        FROM events WHERE engaged_str IS NOT NULL OR engaged_int IS NOT NULL
        GROUP BY ALL ORDER BY ALL
        """
    ).fetchall()
    assert [r[:3] for r in rows] == [(False, None, 1), (True, "0", None), (True, "1", None)]


def test_event_date_is_local_date(export: tuple[pathlib.Path, dict[str, Any]]) -> None:
    out, _ = export
    tz = zoneinfo.ZoneInfo(CONFIG.time_zone)
    for path in out.glob("*.parquet"):
        table = pq.read_table(path, columns=["event_date", "event_timestamp"])
        for date, ts in zip(
            table["event_date"].to_pylist(), table["event_timestamp"].to_pylist(), strict=True
        ):
            local = datetime.datetime.fromtimestamp(ts / 1e6, tz).strftime("%Y%m%d")
            assert local == date, (path.name, ts)


def test_streams_and_platforms(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "SELECT platform, stream_id, count(*) FROM events GROUP BY ALL ORDER BY 1"
    ).fetchall()
    streams = {(platform, stream) for platform, stream, _ in rows}
    assert streams == {
        ("ANDROID", APP_STREAM_ID),
        ("IOS", APP_STREAM_ID),
        ("WEB", WEB_STREAM_ID),
    }
    web_share = sum(n for p, _, n in rows if p == "WEB") / sum(n for _, _, n in rows)
    assert 0.5 < web_share < 0.9


def test_user_stitching(
    export: tuple[pathlib.Path, dict[str, Any]], con: duckdb.DuckDBPyConnection
) -> None:
    _, manifest = export
    assert _one(con, "SELECT count(DISTINCT user_id) FROM events") == manifest["logged_in_users"]
    stitched = dict(
        con.execute(
            """
            SELECT user_pseudo_id, any_value(user_id) FILTER (WHERE user_id IS NOT NULL)
            FROM events WHERE user_pseudo_id IS NOT NULL
            GROUP BY 1
            HAVING count(user_id) > 0
               AND min(ts) FILTER (user_id IS NULL) < min(ts) FILTER (user_id IS NOT NULL)
            ORDER BY 1
            """
        ).fetchall()
    )
    assert stitched == manifest["stitched_devices"]
    assert stitched
    # A device keeps one user_id.
    assert (
        _one(
            con,
            """
        SELECT count(*) FROM (SELECT user_pseudo_id FROM events
                              GROUP BY 1 HAVING count(DISTINCT user_id) > 1)
        """,
        )
        == 0
    )
    # "A few user ids use two devices", never more.
    devices_per_user = con.execute(
        """
        SELECT n, count(*) FROM (SELECT user_id, count(DISTINCT user_pseudo_id) AS n
                                 FROM events WHERE user_id IS NOT NULL GROUP BY 1)
        GROUP BY 1 ORDER BY 1
        """
    ).fetchall()
    assert [n for n, _ in devices_per_user] == [1, 2]
    anonymous = _one(
        con,
        f"""
        SELECT count(*) FROM sessions
        WHERE events_with_user_id = 0
          AND user_pseudo_id IN (SELECT unnest({sorted(stitched)!r}::VARCHAR[]))
        """,
    )
    assert anonymous == manifest["anonymous_sessions_stitched"] > 0
    # user_id starts with the login event on devices that logged in during the period.
    mismatched = _one(
        con,
        """
        SELECT count(*) FROM (
            SELECT user_pseudo_id,
                   min(ts) FILTER (user_id IS NOT NULL) AS first_uid,
                   min(ts) FILTER (event_name = 'login') AS first_login
            FROM events WHERE user_pseudo_id IN (SELECT unnest(?::VARCHAR[]))
            GROUP BY 1)
        WHERE first_uid IS DISTINCT FROM first_login
        """.replace("?", repr(sorted(stitched))),
    )
    assert mismatched == 0
    # A few user ids are used on two devices.
    assert (
        _one(
            con,
            """
        SELECT count(*) FROM (SELECT user_id FROM events WHERE user_id IS NOT NULL
                              GROUP BY 1 HAVING count(DISTINCT user_pseudo_id) > 1)
        """,
        )
        > 0
    )


def test_purchases_and_revenue(
    export: tuple[pathlib.Path, dict[str, Any]], con: duckdb.DuckDBPyConnection
) -> None:
    _, manifest = export
    purchases = manifest["purchases"]
    assert (
        _one(con, "SELECT count(*) FROM events WHERE event_name = 'purchase'")
        == purchases["events"]
    )
    resent = _one(
        con,
        """
        SELECT count(*) - count(DISTINCT transaction_id) FROM events
        WHERE event_name = 'purchase' AND transaction_id <> '(not set)'
        """,
    )
    assert resent == purchases["resent"] > 0
    assert purchases["unique_transactions"] == purchases["events"] - purchases["resent"]
    assert purchases["not_set_transaction_events"] > 0
    revenue = con.execute(
        """
        WITH ranked AS (
            SELECT *, row_number() OVER (PARTITION BY transaction_id ORDER BY ts) AS n
            FROM events WHERE event_name = 'purchase')
        SELECT currency, round(sum(purchase_revenue), 2), round(sum(purchase_revenue_in_usd), 2)
        FROM ranked WHERE n = 1 OR transaction_id = '(not set)'
        GROUP BY 1 ORDER BY 1
        """
    ).fetchall()
    assert {c: r for c, r, _ in revenue} == pytest.approx(manifest["revenue_by_currency"])
    assert {c: u for c, _, u in revenue} == pytest.approx(
        manifest["revenue_in_usd_by_currency"], abs=0.011
    )
    assert set(manifest["revenue_by_currency"]) == {"USD", "MXN", "COP"}
    assert all(v > 0 for v in manifest["revenue_by_currency"].values())
    assert manifest["rates_usd_per_unit"] == RATES_USD_PER_UNIT
    # Resent purchases happen later in the same session, with a different timestamp.
    assert (
        _one(
            con,
            """
        SELECT count(*) FROM (
            SELECT transaction_id FROM events
            WHERE event_name = 'purchase' AND transaction_id <> '(not set)'
            GROUP BY 1
            HAVING count(*) > 1 AND (count(DISTINCT ts) < count(*)
                                     OR count(DISTINCT ga_session_id) > 1))
        """,
        )
        == 0
    )


def test_funnel_narrows_and_is_ordered(con: duckdb.DuckDBPyConnection) -> None:
    steps = ["session_start", "view_item", "add_to_cart", "begin_checkout", "purchase"]
    counts = [
        _one(
            con,
            f"SELECT count(DISTINCT (user_pseudo_id, stream_id, ga_session_id)) FROM events "
            f"WHERE event_name = '{step}' AND user_pseudo_id IS NOT NULL",
        )
        for step in steps
    ]
    assert counts == sorted(counts, reverse=True)
    assert counts[-1] > 0 and counts[0] > counts[-1]
    out_of_order = _one(
        con,
        """
        SELECT count(*) FROM (
            SELECT user_pseudo_id, ga_session_id,
                   min(ts) FILTER (event_name = 'add_to_cart') AS atc,
                   min(ts) FILTER (event_name = 'begin_checkout') AS bc,
                   min(ts) FILTER (event_name = 'purchase') AS pu
            FROM events WHERE user_pseudo_id IS NOT NULL GROUP BY ALL)
        WHERE bc < atc OR pu < bc
        """,
    )
    assert out_of_order == 0


def test_every_event_name_is_present(con: duckdb.DuckDBPyConnection) -> None:
    names = {r[0] for r in con.execute("SELECT DISTINCT event_name FROM events").fetchall()}
    assert names >= {
        "session_start",
        "first_visit",
        "first_open",
        "page_view",
        "screen_view",
        "user_engagement",
        "scroll",
        "view_item",
        "add_to_cart",
        "begin_checkout",
        "add_shipping_info",
        "add_payment_info",
        "purchase",
        "login",
    }


def test_last_click_only_in_newer_days(export: tuple[pathlib.Path, dict[str, Any]]) -> None:
    out, _ = export
    rows = [json.loads(line) for line in (out / "events_20260129.json").open(encoding="utf-8")]
    assert all(r["session_traffic_source_last_click"] is None for r in rows)
    newest = pq.read_table(out / "events_20260131.parquet")
    last_click = newest["session_traffic_source_last_click"]
    assert last_click.null_count < newest.num_rows
    cross = pa.compute.struct_field(last_click, "cross_channel_campaign")
    groups = set(pa.compute.struct_field(cross, "default_channel_group").to_pylist())
    assert "Paid Search" in groups or "Organic Search" in groups


def test_event_params_conventions(con: duckdb.DuckDBPyConnection) -> None:
    def count(where: str) -> int:
        return _one(
            con,
            f"""
            SELECT count(*) FROM (
                SELECT *,
                    list_transform(event_params, lambda p: p.key) AS keys,
                    list_filter(event_params, lambda p: p.key = 'debug_mode')[1].value AS debug
                FROM parquet_daily)
            WHERE {where}
            """,
        )

    consented = "privacy_info.analytics_storage = 'Yes'"
    assert count(f"{consented} AND NOT list_contains(keys, 'ga_session_number')") == 0
    assert count("platform = 'WEB' AND NOT list_contains(keys, 'page_location')") == 0
    assert count("platform <> 'WEB' AND NOT list_contains(keys, 'firebase_screen')") == 0
    assert (
        count("event_name = 'user_engagement' AND NOT list_contains(keys, 'engagement_time_msec')")
        == 0
    )
    # gclid without source/medium (auto-tagging) and utm-tagged sessions both exist.
    assert count("list_contains(keys, 'gclid') AND NOT list_contains(keys, 'source')") > 0
    assert count("list_contains(keys, 'source') AND list_contains(keys, 'medium')") > 0
    # collected_traffic_source exactly on the events that carry traffic params.
    has_traffic = "(list_contains(keys, 'source') OR list_contains(keys, 'gclid'))"
    assert count(f"{has_traffic} <> (collected_traffic_source IS NOT NULL)") == 0
    debug = count("debug.int_value = 1")
    assert 0 < debug < count("true") * 0.2
    # event_value_in_usd is not only on purchases (it is not revenue).
    assert count("event_value_in_usd IS NOT NULL AND event_name <> 'purchase'") > 0
    # Web rows have web_info and no app_info; app rows the other way round.
    assert count("platform = 'WEB' AND (device.web_info IS NULL OR app_info IS NOT NULL)") == 0
    assert count("platform <> 'WEB' AND (device.web_info IS NOT NULL OR app_info IS NULL)") == 0


def test_purchase_amounts_are_plausible(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        """
        SELECT list_filter(event_params, lambda p: p.key = 'currency')[1].value.string_value,
               list_filter(event_params, lambda p: p.key = 'value')[1].value.double_value,
               list_filter(event_params, lambda p: p.key = 'transaction_id')[1]
                   .value.string_value,
               ecommerce.purchase_revenue, ecommerce.purchase_revenue_in_usd,
               ecommerce.transaction_id, event_value_in_usd, geo.country,
               len(items), ecommerce.unique_items
        FROM parquet_daily WHERE event_name = 'purchase'
        """
    ).fetchall()
    assert rows
    country_currency = {"Mexico": "MXN", "Colombia": "COP"}
    ranges = {"USD": (10, 800), "MXN": (200, 15_000), "COP": (40_000, 3_000_000)}
    for cur, value, tid, revenue, usd, ecom_tid, value_usd, country, n_items, unique in rows:
        assert value == revenue and tid == ecom_tid
        low, high = ranges[cur]
        assert low <= revenue <= high, (cur, revenue)
        assert usd == pytest.approx(revenue * RATES_USD_PER_UNIT[cur], abs=0.01)
        assert value_usd == usd
        assert cur == country_currency.get(country, "USD")
        assert n_items == unique > 0


SAMPLE_PARQUET = (
    pathlib.Path(__file__).resolve().parents[1] / "fixtures/ga4_sample/events_20201101.parquet"
)


def _field_paths(dtype: pa.DataType, prefix: str = "") -> set[str]:
    paths: set[str] = set()
    if pa.types.is_list(dtype):
        return _field_paths(dtype.value_type, prefix + "[]")
    if pa.types.is_struct(dtype):
        for field in dtype:
            paths.add(f"{prefix}.{field.name}")
            paths |= _field_paths(field.type, f"{prefix}.{field.name}")
    return paths


@pytest.mark.skipif(not SAMPLE_PARQUET.exists(), reason="real GA4 sample fixture not present")
def test_every_field_of_the_real_sample_exists() -> None:
    sample = pq.read_schema(SAMPLE_PARQUET)
    ours = _field_paths(pa.struct(list(EXPORT_SCHEMA)))
    missing = _field_paths(pa.struct(list(sample))) - ours
    assert not missing
