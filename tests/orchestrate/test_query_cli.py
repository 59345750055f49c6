"""`truffle query`: every analysis through the CLI against real DuckDB warehouses, each figure
checked against an independent computation on the same data; bound parameters; limits."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from orchestrate.cli import app
from tests.orchestrate.conftest import Warehouse

runner = CliRunner()


def truffle(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(warehouse.path))
    variables = json.dumps({"ga4_export_path": warehouse.settings.vars["ga4_export_path"]})
    return runner.invoke(app, ["--vars", variables, "query", *args])


def rows_of(result) -> list[dict[str, str]]:
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_funnel_counts_ordered_steps_within_sessions(
    generated_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = ["session_start", "view_item", "add_to_cart", "begin_checkout", "purchase"]
    result = truffle(generated_warehouse, monkeypatch, "get_conversion_funnel", "-f", "csv")
    rows = rows_of(result)
    assert [row["event_name"] for row in rows] == steps
    # independent: walk each session's events in time order in Python
    events = generated_warehouse.query(
        "select session_key, event_name, event_timestamp_micros from events "
        "where session_key is not null order by session_key, event_timestamp_micros"
    )
    reached = [0] * len(steps)
    by_session: dict[str, list[tuple[str, int]]] = {}
    for key, name, micros in events:
        by_session.setdefault(key, []).append((name, micros))
    for session_events in by_session.values():
        last = None
        for step, step_name in enumerate(steps):
            times = [m for n, m in session_events if n == step_name and (last is None or m >= last)]
            if not times:
                break
            last = min(times)
            reached[step] += 1
    assert [int(row["sessions"]) for row in rows] == reached
    assert reached[0] == generated_warehouse.scalar("select count(*) from sessions")
    assert float(rows[1]["step_conversion_pct"]) == pytest.approx(
        round(100 * reached[1] / reached[0], 2)
    )
    assert int(rows[2]["drop_off_sessions"]) == reached[1] - reached[2]


def test_funnel_first_step_on_real_data(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = rows_of(truffle(real_warehouse, monkeypatch, "get_conversion_funnel", "-f", "csv"))
    expected = real_warehouse.scalar(
        "select count(distinct session_key) from events where event_name = 'session_start'"
    )
    assert int(rows[0]["sessions"]) == expected == 6276


def test_session_trends_growth_by_hand(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = rows_of(
        truffle(
            real_warehouse,
            monkeypatch,
            "get_session_trends",
            "-p",
            "start_date=2020-11-02",
            "-p",
            "end_date=2020-11-02",
            "-f",
            "csv",
        )
    )
    assert len(rows) == 1
    row = rows[0]
    # 2020-11-02 against the preceding day of equal length, 2020-11-01 (sessions by start day)
    assert (int(row["sessions"]), int(row["previous_sessions"])) == (3726, 2625)
    assert float(row["sessions_growth_pct"]) == round(100 * (3726 - 2625) / 2625, 2) == 41.94
    assert (int(row["conversions"]), int(row["previous_conversions"])) == (49, 14)
    assert float(row["conversions_growth_pct"]) == 250.0


def test_weekly_trends_match_the_sessions_mart(
    generated_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = rows_of(
        truffle(
            generated_warehouse,
            monkeypatch,
            "get_session_trends",
            "-p",
            "grain=week",
            "-p",
            "start_date=2026-01-26",
            "-p",
            "end_date=2026-01-31",
            "-f",
            "csv",
        )
    )
    # whole ISO week 2026-01-26 (Mon) .. 2026-02-01; the previous week has no data
    assert [row["period_start_date"] for row in rows] == ["2026-01-26"]
    sessions, users = generated_warehouse.query(
        "select count(*), count(distinct unified_user_id) from sessions "
        "where session_start_date between '2026-01-26' and '2026-02-01'"
    )[0]
    assert (int(rows[0]["sessions"]), int(rows[0]["users"])) == (sessions, users)
    assert rows[0]["sessions_growth_pct"] == ""  # no previous sessions: growth undefined


def test_audience_size_breakdown(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = rows_of(
        truffle(
            real_warehouse,
            monkeypatch,
            "get_audience_size",
            "-p",
            "breakdown=country",
            "-f",
            "csv",
        )
    )
    expected = dict(
        real_warehouse.query(
            "select coalesce(country, '(not set)'), count(*) from user_attributes group by 1"
        )
    )
    assert {row["breakdown_value"]: int(row["members"]) for row in rows} == expected
    assert sum(int(row["members"]) for row in rows) == 5499


def test_audience_users_are_hashed_consented_and_scored(
    generated_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    salt = "test-salt-1234"
    monkeypatch.setenv("TRUFFLE_ACTIVATION_SALT", salt)
    rows = rows_of(
        truffle(
            generated_warehouse,
            monkeypatch,
            "get_audience_users",
            "-p",
            "audience_id=buyers",
            "-f",
            "csv",
        )
    )
    users = generated_warehouse.query(
        "select u.unified_user_id, u.ads_consent_status, u.lifetime_engaged_sessions, "
        "u.lifetime_purchases, u.days_since_last_seen, u.is_logged_in_user "
        "from user_attributes as u inner join int_audience_members_evaluated as m "
        "on u.unified_user_id = m.unified_user_id where m.audience_id = 'buyers'"
    )
    assert any(status != "granted" for _, status, *_ in users), "need non-consented buyers"

    def digest(user: str) -> str:
        return hashlib.sha256((salt + user).encode()).hexdigest()

    expected = {
        digest(user): round(
            40 * min(engaged, 5) / 5
            + (30 if purchases else 0)
            + (20 if days <= 30 else 0)
            + (10 if logged_in else 0),
            1,
        )
        for user, status, engaged, purchases, days, logged_in in users
        if status == "granted"
    }
    got = {row["hashed_user_key"]: float(row["quality_score"]) for row in rows}
    assert got == expected
    assert all(row["hashed_user_key"] not in {u for u, *_ in users} for row in rows)


def test_audience_users_refuse_without_salt(
    generated_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRUFFLE_ACTIVATION_SALT", raising=False)
    result = truffle(generated_warehouse, monkeypatch, "get_audience_users")
    assert result.exit_code == 2
    assert "TRUFFLE_ACTIVATION_SALT" in result.output


def test_an_audience_rule_on_an_attribute_new_since_the_build_fails_loudly(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The members view reads only the attributes the rules used when it was built (the
    people's other columns are not read); a rule loaded since (`dbt seed` alone) on another
    attribute fails every read of the members with what to run, never matches no one."""
    copy = Warehouse(
        tmp_path / "copy.duckdb", real_warehouse.settings, tmp_path, real_warehouse.run
    )
    shutil.copyfile(real_warehouse.path, copy.path)
    query = tmp_path / "members.sql"
    query.write_text("select count(*) as members from int_audience_members_evaluated")
    before = rows_of(truffle(copy, monkeypatch, "--sql", str(query), "-f", "csv"))
    assert int(before[0]["members"]) == copy.scalar(
        "select count(*) from int_audience_members_evaluated"
    )
    with duckdb.connect(str(copy.path)) as connection:
        connection.execute(
            "insert into audiences values"
            " ('organic', 'Organic', 'first_touch_medium', '=', 'organic')"
        )
    result = truffle(copy, monkeypatch, "--sql", str(query), "-f", "csv")
    assert result.exit_code == 1
    assert "rule attribute first_touch_medium is new since this view was built" in result.output
    assert "dbt build -s int_audience_members_evaluated+" in result.output
    assert "Traceback" not in result.output


INJECTION = "x'); drop table events; --"


def test_injection_through_parameters_is_plain_data(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = real_warehouse.scalar("select count(*) from events")
    # an audience that is not in the audiences seed: refused before anything runs
    refused = truffle(
        real_warehouse, monkeypatch, "get_audience_size", "-p", f"audience_id={INJECTION}"
    )
    assert refused.exit_code == 2 and "is not one of all_users" in refused.output
    # a list parameter: the strings are just event names nobody sent
    rows = rows_of(
        truffle(
            real_warehouse,
            monkeypatch,
            "get_conversion_funnel",
            "-p",
            f"steps=session_start,{INJECTION}",
            "-f",
            "csv",
        )
    )
    assert [(row["event_name"], row["sessions"]) for row in rows] == [
        ("session_start", "6276"),
        (INJECTION.strip(), "0"),
    ]
    # typed parameters: not a date / not a choice -> a usage error before anything runs
    for name, args in [
        ("get_session_trends", ["-p", f"start_date={INJECTION}"]),
        ("get_session_trends", ["-p", f"grain={INJECTION}"]),
        ("get_audience_users", ["-p", f"min_quality_score={INJECTION}"]),
        ("get_audience_size", ["-p", f"breakdown={INJECTION}"]),
    ]:
        monkeypatch.setenv("TRUFFLE_ACTIVATION_SALT", "salt-salt-salt")
        result = truffle(real_warehouse, monkeypatch, name, *args)
        assert result.exit_code == 2, (name, result.output)
    assert real_warehouse.scalar("select count(*) from events") == before


def test_sql_file_is_guarded(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.sql"
    bad.write_text("select 1; drop table events")
    result = truffle(real_warehouse, monkeypatch, "--sql", str(bad))
    assert result.exit_code == 2
    assert "refused" in result.output
    good = tmp_path / "good.sql"
    good.write_text("select count(*) as n from sessions")
    assert rows_of(truffle(real_warehouse, monkeypatch, "--sql", str(good), "-f", "csv")) == [
        {"n": "6351"}
    ]


def test_row_limit_cuts_with_a_notice(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sql = tmp_path / "all.sql"
    sql.write_text("select event_key from events order by event_key")
    result = truffle(real_warehouse, monkeypatch, "--sql", str(sql), "-f", "csv", "--max-rows", "5")
    assert result.exit_code == 0
    assert len(result.stdout.strip().splitlines()) == 6  # header + 5
    assert "cut at 5 rows" in result.stderr


def test_timeout_cancels_the_query(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sql = tmp_path / "slow.sql"
    sql.write_text("select count(*) from events as a cross join events as b")
    started = dt.datetime.now()
    result = truffle(
        real_warehouse, monkeypatch, "--sql", str(sql), "--timeout", "0.5", "--allow-expensive"
    )
    assert result.exit_code == 1
    assert "cancelled" in result.output
    assert (dt.datetime.now() - started).total_seconds() < 20


def test_output_formats(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = tmp_path / "size.parquet"
    result = truffle(
        real_warehouse, monkeypatch, "get_audience_size", "-f", "parquet", "--output", str(target)
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(target)
    assert sum(table.column("members").to_pylist()) == 5499
    as_json = truffle(real_warehouse, monkeypatch, "get_audience_size", "-f", "json")
    assert sum(row["members"] for row in json.loads(as_json.stdout)) == 5499
    no_file = truffle(real_warehouse, monkeypatch, "get_audience_size", "-f", "parquet")
    assert no_file.exit_code == 2


def test_money_keeps_every_digit_in_csv_and_json(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the revenue scaled past a float's ~16 significant digits: the engine's decimal is exact
    sql = tmp_path / "money.sql"
    sql.write_text(
        "select sum(revenue_usd) * 1000000000 + cast('0.123456789' as decimal(38, 9)) "
        "as revenue_scaled from conversions"
    )
    revenue = real_warehouse.scalar("select sum(revenue_usd) from conversions")
    expected = Decimal(revenue) * 1_000_000_000 + Decimal("0.123456789")
    assert len(expected.as_tuple().digits) > 17
    as_csv = rows_of(truffle(real_warehouse, monkeypatch, "--sql", str(sql), "-f", "csv"))
    assert Decimal(as_csv[0]["revenue_scaled"]) == expected
    as_json = truffle(real_warehouse, monkeypatch, "--sql", str(sql), "-f", "json")
    assert as_json.exit_code == 0, as_json.output
    (row,) = json.loads(as_json.stdout, parse_float=Decimal)
    assert row["revenue_scaled"] == expected


def test_list_and_help_show_parameters(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = truffle(real_warehouse, monkeypatch, "--list")
    assert listed.exit_code == 0
    for name in (
        "get_audience_size",
        "get_session_trends",
        "get_audience_users",
        "get_conversion_funnel",
    ):
        assert name in listed.output
    one = truffle(real_warehouse, monkeypatch, "get_conversion_funnel", "--help")
    assert one.exit_code == 0
    assert "steps" in one.output and "string_list" in one.output


def test_usage_errors_exit_2(real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    assert truffle(real_warehouse, monkeypatch, "no_such_analysis").exit_code == 2
    assert truffle(real_warehouse, monkeypatch, "get_audience_size", "-p", "nope=1").exit_code == 2
    assert truffle(real_warehouse, monkeypatch, "get_audience_size", "-p", "novalue").exit_code == 2
    assert truffle(real_warehouse, monkeypatch, "get_audience_size", "-f", "xml").exit_code == 2
    assert truffle(real_warehouse, monkeypatch).exit_code == 2
