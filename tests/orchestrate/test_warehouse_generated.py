"""The warehouse built from the project's synthetic export: every pitfall the generator
plants (duplicates, daily/intraday overlap, resent purchases, consent-denied events, MXN and
COP, logged-in users with anonymous history, shared ga_session_ids, cross-midnight sessions)
is checked against the generator's ground truth, which it computes from what it wrote."""

from __future__ import annotations

import csv
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestrate.demo_data import GeneratorConfig, generate_export
from tests.orchestrate.conftest import (
    GENERATED_CONFIG,
    GENERATED_TIME_ZONE,
    REPO,
    Warehouse,
    make_warehouse,
    month_boundary_export,
    table_checksum,
)

NINE = Decimal("1e-9")  # money's scale: DECIMAL(38, 9) on DuckDB, NUMERIC on BigQuery


def test_duplicates_and_intraday_overlap_count_once(
    generated_warehouse: Warehouse, manifest: dict
) -> None:
    assert generated_warehouse.scalar("select count(*) from events") == manifest["unique_events"]
    per_day = dict(
        generated_warehouse.query(
            "select cast(event_date as varchar), count(*) from events group by 1"
        )
    )
    assert per_day == manifest["unique_events_by_date"]
    # nothing vanishes: every raw row is one event or a counted duplicate of it
    assert (
        generated_warehouse.scalar("select sum(raw_row_count) from events") == manifest["raw_rows"]
    )
    collapsed = generated_warehouse.scalar("select sum(raw_row_count - 1) from events")
    assert collapsed == manifest["duplicate_rows_injected"] + manifest["intraday_overlap_rows"]


def test_daily_rows_win_over_intraday_rows(generated_warehouse: Warehouse) -> None:
    # every intraday event also has its daily row here, so none may come from an intraday shard
    assert generated_warehouse.scalar("select count(*) from events where is_from_intraday") == 0


def test_events_fresh_tables_are_never_read(generated_warehouse: Warehouse) -> None:
    files = generated_warehouse.query("select distinct source_file from events order by 1")
    assert files and all(not name.startswith("events_fresh_") for (name,) in files)


def test_sessions_are_keyed_per_device(generated_warehouse: Warehouse, manifest: dict) -> None:
    assert manifest["shared_ga_session_ids"] > 0
    sessions, distinct_ids = generated_warehouse.query(
        "select count(*), count(distinct ga_session_id) from sessions"
    )[0]
    assert sessions == manifest["sessions"]
    assert distinct_ids < sessions  # ga_session_id alone would merge different devices


def test_engagement_in_either_value_slot(generated_warehouse: Warehouse, manifest: dict) -> None:
    engaged = generated_warehouse.scalar("select count(*) from sessions where is_engaged_session")
    assert engaged == manifest["engaged_sessions"]
    engaged_apps = generated_warehouse.scalar(
        "select count(*) from sessions where is_engaged_session and platform in ('ANDROID', 'IOS')"
    )
    assert engaged_apps > 0  # apps send session_engaged as int 1


def test_sessions_crossing_midnight_are_one_row(
    generated_warehouse: Warehouse, manifest: dict
) -> None:
    assert manifest["sessions_crossing_midnight"] > 0
    crossing = generated_warehouse.scalar(
        "select count(*) from sessions where session_end_date > session_start_date"
    )
    assert crossing == manifest["sessions_crossing_midnight"]


def test_consent_denied_events_are_kept_but_form_no_session(
    generated_warehouse: Warehouse, manifest: dict
) -> None:
    denied, with_session = generated_warehouse.query(
        "select count(*), count(session_key) from events where is_consent_denied"
    )[0]
    assert denied == manifest["consent_denied_events"] > 0
    assert with_session == 0
    share = generated_warehouse.scalar(
        "select sum(consent_denied_events) / sum(events) from daily_kpis"
    )
    assert share == pytest.approx(denied / manifest["unique_events"])


def test_resent_purchases_count_once(generated_warehouse: Warehouse, manifest: dict) -> None:
    purchases = manifest["purchases"]
    assert purchases["resent"] > 0 and purchases["not_set_transaction_events"] > 0
    count = generated_warehouse.scalar(
        "select count(*) from conversions where conversion_type = 'purchase'"
    )
    assert count == purchases["unique_transactions"]
    local = dict(
        generated_warehouse.query(
            "select currency, sum(local_amount) from conversions "
            "where conversion_type = 'purchase' group by currency"
        )
    )
    # money is exact: the generator's amounts have cents, so do their sums, to the last digit
    assert local == {
        currency: Decimal(f"{amount:.2f}")
        for currency, amount in manifest["revenue_by_currency"].items()
    }


def _seed_rate(currency: str, day: dt.date) -> float:
    """USD per unit on a day, read straight from the seed file (independent of the models)."""
    with (REPO / "seeds" / "currency_rates.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["currency_code"] == currency]
    rows.sort(key=lambda row: row["rate_date"])
    rate = float(rows[0]["usd_per_unit"])
    for row in rows:
        if dt.date.fromisoformat(row["rate_date"]) <= day:
            rate = float(row["usd_per_unit"])
    return rate


def test_mxn_and_cop_are_converted_never_summed_raw(
    generated_warehouse: Warehouse, manifest: dict
) -> None:
    rows = generated_warehouse.query(
        "select conversion_date, currency, local_amount, revenue_usd, revenue_mxn, revenue_cop "
        "from conversions where conversion_type = 'purchase'"
    )
    assert {currency for _, currency, *_ in rows} == {"USD", "MXN", "COP"}
    for day, currency, local, usd, mxn, cop in rows:
        expected_usd = float(local) * _seed_rate(currency, day)
        assert float(usd) == pytest.approx(expected_usd)
        assert float(mxn) == pytest.approx(expected_usd / _seed_rate("MXN", day))
        assert float(cop) == pytest.approx(expected_usd / _seed_rate("COP", day))
    # each amount is exact money (9 decimals): the daily rollup adds up to the rows' sum exactly
    assert all(isinstance(row[3], Decimal) and row[3] == row[3].quantize(NINE) for row in rows)
    total_usd = sum(row[3] for row in rows)
    raw_sum = sum(manifest["revenue_by_currency"].values())
    assert generated_warehouse.scalar("select sum(revenue_usd) from daily_kpis") == total_usd
    assert float(total_usd) != pytest.approx(raw_sum)  # a raw cross-currency sum would be this


def test_anonymous_sessions_are_stitched_to_the_later_login(
    generated_warehouse: Warehouse, manifest: dict
) -> None:
    stitched = manifest["stitched_devices"]
    assert stitched and manifest["anonymous_sessions_stitched"] > 0
    rows = generated_warehouse.query(
        "select user_pseudo_id, unified_user_id from sessions where user_id is null"
    )
    anonymous_stitched = [(device, unified) for device, unified in rows if device in stitched]
    assert len(anonymous_stitched) == manifest["anonymous_sessions_stitched"]
    assert all(unified == stitched[device] for device, unified in anonymous_stitched)
    # and the person is one user: all their devices' sessions roll up to one user_attributes row
    users = generated_warehouse.scalar(
        "select count(*) from user_attributes where unified_user_id in (select unnest(?))",
        [sorted(set(stitched.values()))],
    )
    assert users == len(set(stitched.values()))


def test_second_build_is_incremental_and_changes_nothing(generated_warehouse: Warehouse) -> None:
    before = generated_warehouse.checksums()
    run = generated_warehouse.build()  # incremental: the last 3 days before the run date
    assert not run.failures
    assert generated_warehouse.checksums() == before


def test_incremental_run_reads_only_the_window_files(generated_warehouse: Warehouse) -> None:
    """Like _TABLE_SUFFIX pruning on BigQuery: an incremental run opens only the window's files
    (the run date and the 3 days before it, daily and intraday), never the whole history."""
    from orchestrate.dbt import run_dbt

    run = run_dbt(
        ["compile", "--select", "stg_ga4__events"],
        generated_warehouse.settings,
        target_path=generated_warehouse.target_path.parent / "compile_window",
        extra_vars={"ga4_render_incremental": True},
    )
    assert run.success
    compiled = (
        run.target_path / "compiled/random_truffle/models/staging/ga4/stg_ga4__events.sql"
    ).read_text()
    days = sorted(set(re.findall(r"events_(?:intraday_)?(\d{8})\.", compiled)))
    end = GENERATED_CONFIG.end_date
    assert days == [f"{end - dt.timedelta(days=offset):%Y%m%d}" for offset in (3, 2, 1, 0)]
    assert "events_intraday_" in compiled


def test_window_today_is_the_property_date(generated_warehouse: Warehouse) -> None:
    """Without a run date, the window ends on today's date in the property time zone."""
    from zoneinfo import ZoneInfo

    from orchestrate.dbt import run_dbt

    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):  # UTC+14 and UTC-11
        run = run_dbt(
            ["compile", "--select", "int_events_recorded"],
            generated_warehouse.settings,
            target_path=generated_warehouse.target_path.parent / "compile_tz",
            extra_vars={
                "ga4_run_date": None,
                "ga4_property_time_zone": zone,
                "ga4_render_incremental": True,
            },
        )
        assert run.success
        compiled = "compiled/random_truffle/models/intermediate/int_events_recorded.sql"
        sql = (run.target_path / compiled).read_text()
        today = dt.datetime.now(ZoneInfo(zone)).date()
        start = today - dt.timedelta(days=3)
        assert f"event_date <= cast('{today}' as date)" in sql
        assert f"event_date >= cast('{start}' as date)" in sql


def test_an_intraday_only_day_is_read(tmp_path: Path) -> None:
    """Before the daily table lands, the day's events come from its intraday shard."""
    config = GeneratorConfig(
        end_date=dt.date(2026, 3, 10), days=3, users=60, seed=5, json_days=0, intraday_days=1
    )
    export = tmp_path / "export"
    manifest = generate_export(export, config)
    (export / "events_20260310.parquet").unlink()
    intraday_rows = next(f["rows"] for f in manifest["files"] if f["kind"] == "intraday")
    warehouse = make_warehouse(
        tmp_path / "wh", export, {"ga4_property_time_zone": GENERATED_TIME_ZONE}
    )
    last_day = warehouse.query(
        "select count(*), count(*) filter (where is_from_intraday), sum(raw_row_count) "
        "from events where event_date = '2026-03-10'"
    )[0]
    assert last_day[0] > 0 and last_day[0] == last_day[1]
    assert last_day[2] == intraday_rows


def test_incremental_catch_up_equals_a_full_build(
    generated_export: tuple[Path, dict], generated_warehouse: Warehouse, tmp_path: Path
) -> None:
    """A warehouse built before the last two export days landed, then refreshed
    incrementally, must equal a clean full build: new days are added, sessions crossing into
    them complete, and devices that first log in on the new days have their older anonymous
    rows (outside the window) re-stitched to the user (pitfall 13)."""
    import shutil

    full_export, manifest = generated_export
    end = GENERATED_CONFIG.end_date
    late_days = {f"{end - dt.timedelta(days=offset):%Y%m%d}" for offset in (0, 1)}
    export = tmp_path / "export"
    export.mkdir()
    late_files = []
    for path in full_export.glob("events_*"):
        if path.name.startswith("events_fresh_"):
            continue
        day = re.search(r"(\d{8})", path.name).group(1)
        (late_files if day in late_days else [shutil.copy(path, export)]).append(path)
    variables = {
        "ga4_property_time_zone": GENERATED_TIME_ZONE,
        "ga4_run_date": f"{end - dt.timedelta(days=2):%Y-%m-%d}",
    }
    warehouse = make_warehouse(tmp_path / "wh", export, variables)

    # devices whose first login is on the late days: anonymous before, in older partitions
    late_logins = warehouse.query(
        "select count(*) from sessions where user_id is null and unified_user_id = user_pseudo_id"
        " and user_pseudo_id in (select unnest(?))",
        [sorted(manifest["stitched_devices"])],
    )[0][0]
    assert late_logins > 0, "the generated data should have logins on the last two days"

    for path in late_files:
        shutil.copy(path, export)
    warehouse.build(extra_vars={"ga4_run_date": end.isoformat()})
    assert warehouse.checksums() == generated_warehouse.checksums()


def test_a_purchase_resent_after_the_window_counts_once_where_first_sent(
    generated_export: tuple[Path, dict], tmp_path: Path
) -> None:
    """Pitfall 10 across nights: a purchase first sent four days before the last export day
    is resent (a reload) the day before it. A nightly whose window starts after the first
    send learns that it was counted from the transactions map (never from the stored
    conversions' history) and leaves the resend out: its warehouse equals a full build,
    where the transaction counts once, on the day of its first send."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    full_export, _ = generated_export
    end = GENERATED_CONFIG.end_date
    first_day, resend_day = end - dt.timedelta(days=4), end - dt.timedelta(days=1)
    export = tmp_path / "export"
    shutil.copytree(full_export, export)
    for stale in export.glob("events_fresh_*"):
        stale.unlink()
    first = pq.read_table(export / f"events_{first_day:%Y%m%d}.parquet")
    sent = next(
        row
        for row in first.to_pylist()
        if row["event_name"] == "purchase"
        and (row["ecommerce"] or {}).get("transaction_id") not in (None, "", "(not set)")
    )
    transaction_id = sent["ecommerce"]["transaction_id"]
    # a reload three days later opens a session of its own
    resent_at = sent["event_timestamp"] + 3 * 86_400_000_000
    params = [
        dict(p, value=dict(p["value"], int_value=resent_at // 1_000_000))
        if p["key"] == "ga_session_id"
        else p
        for p in sent["event_params"]
    ]
    resend = dict(
        sent, event_date=f"{resend_day:%Y%m%d}", event_timestamp=resent_at, event_params=params
    )
    resend_file = export / f"events_{resend_day:%Y%m%d}.parquet"
    daily = pq.read_table(resend_file)
    pq.write_table(
        pa.concat_tables([daily, pa.Table.from_pylist([resend], schema=daily.schema)]),
        resend_file,
    )
    variables = {"ga4_property_time_zone": GENERATED_TIME_ZONE}
    full = make_warehouse(tmp_path / "full", export, {**variables, "ga4_run_date": f"{end}"})
    counted = full.query(
        "select conversion_date from conversions where transaction_id = ?", [transaction_id]
    )
    assert counted == [(first_day,)]

    # the same export, the last two days landing after a first build: a nightly's window
    # (lookback 3) starts the day after the first send
    late = tmp_path / "late"
    late.mkdir()
    for path in export.glob("events_*"):
        if any(f"{day:%Y%m%d}" in path.name for day in (end, resend_day)):
            shutil.move(path, late / path.name)
    nightly = make_warehouse(
        tmp_path / "nightly",
        export,
        {**variables, "ga4_run_date": f"{end - dt.timedelta(days=2)}"},
    )
    for path in late.iterdir():
        shutil.move(path, export / path.name)
    run = nightly.build(extra_vars={"ga4_run_date": f"{end}"})
    assert run.success
    assert nightly.query(
        "select first_sent_date from int_transactions_counted where transaction_id = ?",
        [transaction_id],
    ) == [(first_day,)]
    assert nightly.checksums() == full.checksums()


def users_state_warehouses(
    root: Path,
    end: dt.date,
    export_days: int,
    span_days: int,
    lookback_days: int,
    days_before_end: int,
) -> tuple[Warehouse, Warehouse]:
    """Two builds of a generated export over a month boundary (ending `end`) with this
    session span and lookback: a full build as of its last day (the reference), and one as
    of `days_before_end` days before it (to be brought to the last day by the test's
    nightlies or backfills)."""
    export, config = month_boundary_export(root, end, export_days)
    variables = {
        "ga4_property_time_zone": config.time_zone,
        "ga4_session_max_span_days": span_days,
        "ga4_lookback_days": lookback_days,
    }
    full = make_warehouse(root / "full", export, {**variables, "ga4_run_date": end.isoformat()})
    behind = end - dt.timedelta(days=days_before_end)
    earlier = make_warehouse(
        root / "earlier", export, {**variables, "ga4_run_date": behind.isoformat()}
    )
    return full, earlier


def state_compiled(warehouse: Warehouse) -> str:
    """The users' state's SQL as the warehouse's last run compiled it."""
    path = warehouse.target_path / "compiled" / "random_truffle" / "models" / "intermediate"
    return (path / "int_users_aggregated.sql").read_text()


def test_nightlies_folding_the_users_state_equal_a_full_build(tmp_path: Path) -> None:
    """The users' state keeps the days of the settled line's month as day rows and folds a
    month's days into one row per device / login pair on the night the line leaves it (once:
    the other nights fold nothing, and read no settled row). An export Feb 26 - Mar 3 with a
    one-day span and a one-day lookback: a build as of Mar 1 (line Feb 27) holds settled
    days but no month row; the nightly of Mar 2 (line Feb 28) folds nothing; the nightly of
    Mar 3 (line Mar 1) folds February. Each must give the marts and user_attributes of a
    full build."""
    end = dt.date(2026, 3, 3)
    full, nightly = users_state_warehouses(tmp_path, end, 6, 1, 1, 2)
    lines = (
        "select max(settled_before), count(*) filter (where bucket_date is null),"
        " count(*) filter (where bucket_date < (select max(settled_before)"
        " from int_users_aggregated)), count(*) filter (where bucket_date < ?)"
        " from int_users_aggregated"
    )
    march = [dt.date(2026, 3, 1)]
    line, months, settled_days, february_days = nightly.query(lines, march)[0]
    assert (line, months) == (dt.date(2026, 2, 27), 0)
    assert settled_days > 0, "the settled days of the line's month should stay day rows"
    assert nightly.build(extra_vars={"ga4_run_date": "2026-03-02"}).success
    assert "folding_days" not in state_compiled(nightly), "a night in the month folds nothing"
    assert nightly.query(lines, march)[0][:2] == (dt.date(2026, 2, 28), 0)
    assert nightly.build(extra_vars={"ga4_run_date": end.isoformat()}).success
    assert "folding_days" in state_compiled(nightly), "leaving February folds it"
    line, months, _, february_days = nightly.query(lines, march)[0]
    assert (line, february_days) == (dt.date(2026, 3, 1), 0)
    assert months > 0, "February's days should be folded into one row per pair"
    assert nightly.checksums() == full.checksums()


def test_a_users_state_keeping_key_text_is_rebuilt_not_combined_with_numbers(
    generated_export: tuple[Path, dict], tmp_path: Path
) -> None:
    """The users' state keeps the session keys that break ties in its orders as numbers; a
    state stored by an earlier version kept their text under the same column names. Combining
    the two would compare text with numbers, so the first run after upgrading rebuilds the
    state (as a full build would), and the next run updates it again."""
    end = GENERATED_CONFIG.end_date
    variables = {"ga4_property_time_zone": GENERATED_TIME_ZONE, "ga4_run_date": end.isoformat()}
    built = make_warehouse(tmp_path / "built", generated_export[0], variables)
    before = {**built.checksums(), "people": table_checksum(built.path, "int_users_combined")}
    compiled = built.target_path / "compiled" / "random_truffle" / "models" / "intermediate"
    with duckdb.connect(str(built.path)) as connection:
        number_columns = [
            name
            for (name,) in connection.execute(
                "select column_name from information_schema.columns"
                " where table_name = 'int_users_aggregated' and data_type = 'BIGINT'"
                " and ends_with(column_name, '__order_2')"
            ).fetchall()
        ]
        assert "sessions_first__order_2" in number_columns
        for name in number_columns:
            connection.execute(f"alter table int_users_aggregated alter {name} type varchar")
    assert built.build(extra_vars={"ga4_run_date": end.isoformat()}).success
    assert "truffle_state deletes" not in (compiled / "int_users_aggregated.sql").read_text()
    assert (
        built.scalar(
            "select data_type from information_schema.columns where table_name ="
            " 'int_users_aggregated' and column_name = 'sessions_first__order_2'"
        )
        == "BIGINT"
    )
    after = {**built.checksums(), "people": table_checksum(built.path, "int_users_combined")}
    assert after == before
    assert built.build(extra_vars={"ga4_run_date": end.isoformat()}).success
    assert "truffle_state deletes" in (compiled / "int_users_aggregated.sql").read_text()


def test_a_backfill_to_the_run_date_leaves_the_users_state_folded_for_the_next_nightly(
    tmp_path: Path,
) -> None:
    """A backfill reaching the run date folds the users' state up to the line the nightly of
    that run date uses (its window minus the session span), not the backfill's own start
    minus the span: otherwise the first nightly after loading history by backfills folds
    what the backfill left. An export Feb 26 - Mar 4 with a three-day span and no lookback:
    a build as of Feb 28 settles nothing (its line lies before the export's first day); a
    backfill of Mar 3 - 4 as of Mar 4 must leave the line at Mar 1 with February folded (its
    own start minus the span, Feb 28, would have left February in day rows for the next
    nightly to fold), and the marts and user_attributes of a full build; the next nightly
    folds nothing."""
    end = dt.date(2026, 3, 4)
    full, backfilled = users_state_warehouses(tmp_path, end, 7, 3, 0, 4)
    assert (
        backfilled.scalar("select count(*) from int_users_aggregated where bucket_date is null")
        == 0
    )
    backfill_vars = {
        "ga4_run_date": end.isoformat(),
        "ga4_backfill_start_date": f"{end - dt.timedelta(days=1):%Y-%m-%d}",
        "ga4_backfill_end_date": end.isoformat(),
    }
    assert backfilled.build(extra_vars=backfill_vars).success
    line = dt.date(2026, 3, 1)
    settled = backfilled.query(
        "select max(settled_before), count(*) filter (where bucket_date < ?),"
        " count(*) filter (where bucket_date is null) from int_users_aggregated",
        [line],
    )[0]
    assert settled[:2] == (line, 0), "the state should be folded up to the nightly's line"
    assert settled[2] > 0, "the backfill should have folded February"
    assert backfilled.checksums() == full.checksums()
    assert backfilled.build(extra_vars={"ga4_run_date": end.isoformat()}).success
    assert "folding_days" not in state_compiled(backfilled)
    assert backfilled.checksums() == full.checksums()
