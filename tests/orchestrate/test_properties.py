"""Several GA4 properties in one warehouse (variable ga4_properties): two generated exports,
one in UTC+14 and one in UTC-11, sharing device ids, stream ids and session ids, build into
one warehouse whose figures per property equal each property built alone, and a nightly that
finds one property's export stale refreshes the other and fails naming it."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from orchestrate.accounting import accounting_by_property, row_accounting
from orchestrate.cli import app
from orchestrate.demo_data import GeneratorConfig, generate_export
from orchestrate.engines import EVERY_PROPERTY_CATALOG
from tests.orchestrate.conftest import MART_TABLES, VIEWS, Warehouse, make_warehouse

END = dt.date(2026, 1, 31)
# (property id, time zone): UTC+14 and UTC-11, 25 hours apart
PROPERTIES = (("1400", "Pacific/Kiritimati"), ("1100", "Pacific/Pago_Pago"))
# the same visitors' sessions start 25 hours later in UTC-11 than at the same local time in
# UTC+14: their ga_session_id (the start, in Unix seconds) moved back by as much makes the
# second property's ids the first's
SHIFT_SECONDS = 25 * 3600
# the relations every property's reader may read (dbt_project.yml, as the CLI reads it)
SHARED = set(
    yaml.safe_load((Path(__file__).parents[2] / "dbt_project.yml").read_text())["vars"][
        "ga4_shared_relations"
    ]
)
runner = CliRunner()


def shift_session_ids(path: Path, seconds: int) -> None:
    """Rewrite a Parquet export file with every ga_session_id `seconds` earlier."""
    table = pq.read_table(path)
    rows = table.column("event_params").to_pylist()
    for params in rows:
        for param in params or []:
            value = param["value"]
            if param["key"] != "ga_session_id":
                continue
            if value.get("int_value") is not None:
                value["int_value"] -= seconds
            elif value.get("string_value") is not None:
                value["string_value"] = str(int(value["string_value"]) - seconds)
    column = pa.array(rows, type=table.schema.field("event_params").type)
    index = table.schema.get_field_index("event_params")
    pq.write_table(table.set_column(index, "event_params", column), path)


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each property's export: the same generator seed in each property's time zone."""
    root = tmp_path_factory.mktemp("properties")
    folders = {}
    for index, (property_id, zone) in enumerate(PROPERTIES):
        folder = root / property_id
        config = GeneratorConfig(
            end_date=END,
            days=4,
            users=150,
            seed=11,
            json_days=0,
            intraday_days=1,
            time_zone=zone,
        )
        generate_export(folder, config)
        if index:
            for path in folder.glob("events_*.parquet"):
                shift_session_ids(path, SHIFT_SECONDS * index)
        folders[property_id] = folder
    return folders


def declaration(exports: dict[str, Path], *property_ids: str) -> list[dict[str, str]]:
    zones = dict(PROPERTIES)
    return [
        {"property_id": pid, "export_path": str(exports[pid]), "time_zone": zones[pid]}
        for pid in property_ids
    ]


def build(root: Path, exports: dict[str, Path], *property_ids: str) -> Warehouse:
    return make_warehouse(
        root,
        exports[property_ids[0]],
        {
            "ga4_properties": declaration(exports, *property_ids),
            "ga4_run_date": END.isoformat(),
        },
    )


def per_property(
    path: Path, table: str, property_id: str, ignore: tuple[str, ...] = ()
) -> tuple[int, str]:
    """Row count and an order-independent checksum of every column of one property's rows
    (but those in `ignore`)."""
    with duckdb.connect(str(path), read_only=True) as connection:
        columns = connection.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'main' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
        expressions = ", ".join(
            f'round("{name}", 6)' if kind in ("DOUBLE", "FLOAT") else f'"{name}"'
            for name, kind in columns
            if name not in ignore
        )
        count, checksum = connection.execute(
            f"select count(*), sum(hash(({expressions}))) from {table} where property_id = ?",
            [property_id],
        ).fetchall()[0]
    return int(count), str(checksum)


@pytest.fixture(scope="module")
def warehouses(
    tmp_path_factory: pytest.TempPathFactory, exports: dict[str, Path]
) -> dict[str, Warehouse]:
    root = tmp_path_factory.mktemp("property_warehouses")
    built = {pid: build(root / pid, exports, pid) for pid, _ in PROPERTIES}
    built["both"] = build(root / "both", exports, *(pid for pid, _ in PROPERTIES))
    return built


def test_the_two_exports_share_device_session_and_stream_ids(exports: dict[str, Path]) -> None:
    pairs = {}
    for property_id, folder in exports.items():
        with duckdb.connect() as connection:
            pairs[property_id] = set(
                connection.execute(
                    "select distinct user_pseudo_id, stream_id, list_filter(event_params, "
                    "lambda p: p.key = 'ga_session_id')[1].value.int_value "
                    f"from read_parquet('{folder}/events_*.parquet', union_by_name = true) "
                    "where user_pseudo_id is not null"
                ).fetchall()
            )
    shared = pairs["1400"] & pairs["1100"]
    # the same device, stream and session id in both properties: one key without the property
    assert len(shared) > 50, len(shared)


def test_each_property_equals_its_own_build_and_the_totals_are_their_sums(
    warehouses: dict[str, Warehouse],
) -> None:
    both = warehouses["both"]
    # the users' state too, but for when its rows were written
    for table in MART_TABLES + VIEWS + ("int_users_aggregated", "int_export_days_profiled"):
        totals = 0
        ignore = ("written_at",) if table == "int_users_aggregated" else ()
        for property_id, _ in PROPERTIES:
            alone = per_property(warehouses[property_id].path, table, property_id, ignore)
            assert alone[0] > 0, (table, property_id)
            both_part = per_property(both.path, table, property_id, ignore)
            assert both_part == alone, (table, property_id)
            totals += alone[0]
        assert both.scalar(f"select count(*) from {table}") == totals, table
    # the shared ids stay apart: as many sessions and people as the two builds have
    for table, key in (("sessions", "session_key"), ("user_attributes", "unified_user_id")):
        distinct = both.scalar(f"select count(distinct (property_id, {key})) from {table}")
        assert distinct == sum(
            warehouses[pid].scalar(f"select count(*) from {table}") for pid, _ in PROPERTIES
        )
    revenue = [
        warehouses[pid].scalar("select sum(revenue_usd) from daily_kpis") for pid, _ in PROPERTIES
    ]
    assert both.scalar("select sum(revenue_usd) from daily_kpis") == sum(revenue)
    # the row accounting per property: each property's raw rows of each export day went where
    # its own build sent them; the run's totals are the properties' sums
    by_property = accounting_by_property(both.run)
    assert sorted(by_property) == sorted(pid for pid, _ in PROPERTIES)
    summed: dict[str, int] = {}
    for property_id, _ in PROPERTIES:
        assert by_property[property_id] == row_accounting(warehouses[property_id].run)
        assert accounting_by_property(warehouses[property_id].run) == {}
        for day, counted in by_property[property_id].items():
            summed[day] = summed.get(day, 0) + int(counted["raw"])  # type: ignore[call-overload]
    assert {day: counted["raw"] for day, counted in row_accounting(both.run).items()} == summed


def test_a_nightly_refreshes_a_fresh_property_and_fails_naming_the_stale_one(
    tmp_path: Path, exports: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # property 1400 has two days; 1100 only the first (its export stopped)
    first, second = END - dt.timedelta(days=3), END - dt.timedelta(days=2)
    folders = {pid: tmp_path / pid for pid, _ in PROPERTIES}
    for pid, folder in folders.items():
        folder.mkdir()
        for day in (first, second) if pid == "1400" else (first,):
            shutil.copy(exports[pid] / f"events_{day:%Y%m%d}.parquet", folder)
    warehouse = make_warehouse(
        tmp_path / "wh",
        folders["1400"],
        {"ga4_properties": declaration(folders, "1400", "1100"), "ga4_run_date": str(second)},
    )
    stale_before = per_property(warehouse.path, "events", "1100")
    # two more days of 1400 land; 1100's newest day is now 3 days before the run date
    for day in (END - dt.timedelta(days=1), END):
        shutil.copy(exports["1400"] / f"events_{day:%Y%m%d}.parquet", folders["1400"])
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(warehouse.path))
    summary_path = tmp_path / "summary.json"
    variables = json.dumps({"ga4_properties": declaration(folders, "1400", "1100")})
    nightly = ["nightly", "--run-date", END.isoformat(), "--summary", str(summary_path)]
    result = runner.invoke(app, ["--vars", variables, *nightly])
    assert result.exit_code == 1, result.output
    summary = json.loads(summary_path.read_text())
    freshness = summary["freshness"]
    assert freshness["status"] == "error"
    assert freshness["properties"]["1400"]["status"] == "pass"
    assert freshness["properties"]["1100"] == {
        "newest_export_day": str(first),
        "lag_days": 3,
        "max_lag_days": 2,
        "status": "error",
    }
    stale = [f for f in summary["failures"] if f["node"] == "source freshness"]
    assert len(stale) == 1 and stale[0]["message"].startswith("property 1100: ")
    assert "property 1100" in result.output
    # the freshness monitor holds each property to its own newest day (1400's is the run
    # date): one offending row, the stale property's
    monitors = [w for w in summary["warnings"] if "truffle_monitor_freshness" in w["node"]]
    assert len(monitors) == 1 and "Got 1 result" in monitors[0]["message"], summary["warnings"]
    # the fresh property got its new days, the stale one kept what it had
    days = dict(
        warehouse.query(
            "select event_date, count(*) from events where property_id = '1400' group by 1"
        )
    )
    assert set(days) == {first, second, END - dt.timedelta(days=1), END}
    assert per_property(warehouse.path, "events", "1100") == stale_before


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        (
            [{"property_id": "1", "export_path": "x"}, {"property_id": "1", "export_path": "y"}],
            "ga4_properties: property_id 1 is declared twice",
        ),
        (
            [{"property_id": "a b", "export_path": "x"}],
            "ga4_properties entry 1: property_id 'a b' is not a property id",
        ),
        (
            [{"property_id": "1", "export_path": "x", "currency": "usd"}],
            "property 1: currency 'usd' is not an ISO 4217 code",
        ),
        (
            [{"property_id": "1", "export_path": "x", "time_zone": "Mars/Base"}],
            "property 1: unknown time_zone 'Mars/Base'",
        ),
        ({"property_id": "1"}, "variable ga4_properties must be a list of properties"),
    ],
)
def test_a_wrong_declaration_is_one_line_and_builds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, declared: object, message: str
) -> None:
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    result = runner.invoke(app, ["--vars", json.dumps({"ga4_properties": declared}), "build"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "wh.duckdb").exists()


def test_property_option_refreshes_only_the_named_properties(
    tmp_path: Path,
    exports: dict[str, Path],
    warehouses: dict[str, Warehouse],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # both properties' first two days built; then both exports get their last two days
    days = [END - dt.timedelta(days=offset) for offset in (3, 2, 1, 0)]
    folders = {pid: tmp_path / pid for pid, _ in PROPERTIES}
    for pid, folder in folders.items():
        folder.mkdir()
        for day in days[:2]:
            shutil.copy(exports[pid] / f"events_{day:%Y%m%d}.parquet", folder)
    warehouse = make_warehouse(
        tmp_path / "wh",
        folders["1400"],
        {"ga4_properties": declaration(folders, "1400", "1100"), "ga4_run_date": str(days[1])},
    )
    for pid, folder in folders.items():
        for path in exports[pid].glob("events_*"):
            if any(f"{day:%Y%m%d}" in path.name for day in days[2:]):
                shutil.copy(path, folder)
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(warehouse.path))
    variables = json.dumps({"ga4_properties": declaration(folders, "1400", "1100")})

    def stored_days(property_id: str) -> set[dt.date]:
        sql = f"select distinct event_date from events where property_id = '{property_id}'"
        return {day for (day,) in warehouse.query(sql)}

    before = {table: per_property(warehouse.path, table, "1100") for table in MART_TABLES}
    result = runner.invoke(
        app, ["--vars", variables, "nightly", "--run-date", str(END), "--property", "1400"]
    )
    assert result.exit_code == 0, result.output
    assert stored_days("1400") == set(days)
    assert stored_days("1100") == set(days[:2])
    # not only its days: no row of the other property changed
    assert {table: per_property(warehouse.path, table, "1100") for table in MART_TABLES} == before

    # the other property caught up by a backfill of its own
    backfill = ["backfill", "--start", str(days[2]), "--end", str(END), "--property", "1100"]
    result = runner.invoke(app, ["--vars", variables, *backfill])
    assert result.exit_code == 0, result.output
    assert stored_days("1100") == set(days)
    # every figure of both properties now as the full build of the same exports
    for table in MART_TABLES + VIEWS:
        for property_id, _ in PROPERTIES:
            expected = per_property(warehouses["both"].path, table, property_id)
            assert per_property(warehouse.path, table, property_id) == expected, table

    result = runner.invoke(app, ["--vars", variables, "nightly", "--property", "9999"])
    assert result.exit_code == 2
    assert "--property '9999' is not a declared property (declared: 1400, 1100" in result.output


def restricted_query(
    warehouse: Warehouse,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sql: str,
    *options: str,
) -> tuple[int, str]:
    """`truffle query --sql` (exit code, output) on the two-property warehouse."""
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(warehouse.path))
    path = tmp_path / "query.sql"
    path.write_text(sql)
    variables = json.dumps({"ga4_properties": warehouse.settings.vars["ga4_properties"]})
    args = ["--vars", variables, "query", "--sql", str(path), "--format", "json", *options]
    result = runner.invoke(app, args)
    return result.exit_code, result.output


def relations_of(warehouse: Warehouse) -> dict[str, bool]:
    """Every relation of the warehouse: whether it has a property_id column."""
    rows = warehouse.query(
        "select table_name, bool_or(column_name = 'property_id') from information_schema.columns "
        "where table_schema = 'main' group by table_name"
    )
    return dict(rows)


def test_a_query_restricted_to_one_property_reads_none_of_the_other(
    warehouses: dict[str, Warehouse], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    both = warehouses["both"]
    alone = warehouses["1400"]

    def rows(sql: str) -> list[dict[str, object]]:
        code, output = restricted_query(both, monkeypatch, tmp_path, sql, "--property", "1400")
        assert code == 0, output
        return json.loads(output)

    # every relation with a property_id, by every name a query may give it: only 1400's rows
    with_property = [name for name, has in relations_of(both).items() if has]
    assert {"events", "sessions", "stg_ga4__events", "int_export_days_profiled"} <= set(
        with_property
    )
    for name in with_property:
        for shown in (
            name,
            f"main.{name}",
            f"warehouse.main.{name}",
            f'"warehouse"."main"."{name}"',
        ):
            counted = rows(
                f"select count(*) as n, count(distinct property_id) as p, min(property_id) as m "
                f"from {shown}"
            )[0]
            expected = both.scalar(f"select count(*) from {name} where property_id = '1400'")
            assert counted["n"] == expected, (shown, counted)
            assert counted["p"] <= 1 and counted["m"] in ("1400", None), (shown, counted)
    # joins and subqueries: the other property's keys are not there to match
    joined = rows(
        "select count(*) as n from events inner join warehouse.main.sessions as s "
        "on events.session_key = s.session_key"
    )[0]["n"]
    assert joined == alone.scalar(
        "select count(*) from events inner join sessions using (session_key)"
    )
    other = rows(
        "select count(*) as n from (select * from main.int_events_recorded) as e "
        "where e.property_id = '1100' or e.event_key in (select event_key from "
        "warehouse.main.stg_ga4__events where property_id <> '1400')"
    )
    assert other == [{"n": 0}]
    # the restricted figures are the property's own build's
    assert rows("select count(*) as n from user_attributes") == [
        {"n": alone.scalar("select count(*) from user_attributes")}
    ]

    # what holds every property's rows without a property_id is refused, not read
    withheld = [name for name, has in relations_of(both).items() if not has and name not in SHARED]
    assert {"erasure_requests", "int_erasures_applied"} <= set(withheld)
    for name in withheld:
        code, output = restricted_query(
            both,
            monkeypatch,
            tmp_path,
            f"select * from warehouse.main.{name}",
            "--property",
            "1400",
        )
        assert code == 2, output
        assert "holds every property's rows and has no property_id" in output
    # the reference seeds all properties share stay readable
    assert rows("select count(*) as n from currency_rates")[0]["n"] > 0
    # the file itself, the in-memory catalog, table functions: not relations of the warehouse
    for sql in (
        f"select count(*) from {EVERY_PROPERTY_CATALOG}.main.events",
        "with e as (select * from memory.main.events) select count(*) from e",
        f"select * from query_table('{EVERY_PROPERTY_CATALOG}.main.events')",
        f"select * from read_parquet('{both.path}')",
    ):
        code, output = restricted_query(both, monkeypatch, tmp_path, sql, "--property", "1400")
        assert code == 2, (sql, output)
        assert "refused" in output and "Traceback" not in output
    # unrestricted, the same query reads both properties
    code, output = restricted_query(
        both, monkeypatch, tmp_path, "select count(distinct property_id) as p from events"
    )
    assert json.loads(output) == [{"p": 2}]
    code, output = restricted_query(both, monkeypatch, tmp_path, "select 1", "--property", "77")
    assert code == 2
    assert "--property '77' is not a declared property" in output


def test_analyses_and_the_report_take_a_property(
    warehouses: dict[str, Warehouse], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    both = warehouses["both"]

    def analysis(
        warehouse: Warehouse, name: str, *options: str, stitched: bool = False
    ) -> list[dict[str, object]]:
        monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(warehouse.path))
        declared = warehouse.settings.vars["ga4_properties"]
        variables = json.dumps(
            {"ga4_properties": declared, "ga4_stitch_user_id_across_properties": stitched}
        )
        period = ["-p", f"start_date={END - dt.timedelta(days=3)}", "-p", f"end_date={END}"]
        args = ["--vars", variables, "query", name, *period, "--format", "json", *options]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    every = analysis(both, "get_session_trends")
    sums: dict[str, dict[str, int]] = {}
    for property_id, _ in PROPERTIES:
        restricted = analysis(both, "get_session_trends", "--property", property_id)
        # one property of the shared warehouse: that property's own warehouse, exactly
        assert restricted == analysis(warehouses[property_id], "get_session_trends")
        for row in restricted:
            day = sums.setdefault(str(row["period_start_date"]), {"sessions": 0, "users": 0})
            day["sessions"] += int(row["sessions"])
            day["users"] += int(row["users"])
        kpis = analysis(both, "get_report_kpis", "-p", "currency=USD", "--property", property_id)
        assert kpis == analysis(warehouses[property_id], "get_report_kpis", "-p", "currency=USD")
    # every property: the sums (a device id shared by the two properties is two users)
    assert {
        str(row["period_start_date"]): {"sessions": row["sessions"], "users": row["users"]}
        for row in every
    } == sums

    # opt-in: a user_id names one person in both properties (a device id never does): the
    # people each property's own build resolves, a login's user_id counted once
    identities: dict[str, set[tuple[str, str]]] = {}
    for property_id, _ in PROPERTIES:
        with duckdb.connect(str(warehouses[property_id].path), read_only=True) as connection:
            found = connection.execute(
                "select s.session_start_date, s.unified_user_id, "
                "s.user_id is not null or d.user_id is not null "
                "from sessions as s left join int_devices_stitched as d "
                "on s.property_id = d.property_id and s.user_pseudo_id = d.user_pseudo_id "
                "where s.session_start_date between ? and ? and s.unified_user_id is not null",
                [END - dt.timedelta(days=3), END],
            ).fetchall()
        for day, identity, login in found:
            identities.setdefault(str(day), set()).add(("@" if login else property_id, identity))
    stitched = analysis(both, "get_session_trends", stitched=True)
    assert {str(row["period_start_date"]): row["users"] for row in stitched} == {
        day: len(people) for day, people in identities.items()
    }
    assert [row["sessions"] for row in stitched] == [row["sessions"] for row in every]
    # the two generated properties share their users' logins: fewer people than the sums
    assert all(row["users"] < sums[str(row["period_start_date"])]["users"] for row in stitched)

    def users_card(rows: list[dict[str, object]]) -> float:
        return float(next(row["value"] for row in rows if row["metric"] == "users"))  # type: ignore[arg-type]

    kpis = analysis(both, "get_report_kpis", "-p", "currency=USD", stitched=True)
    unstitched = analysis(both, "get_report_kpis", "-p", "currency=USD")
    assert users_card(kpis) < users_card(unstitched)

    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(both.path))
    variables = json.dumps({"ga4_properties": both.settings.vars["ga4_properties"]})
    page = tmp_path / "report.html"
    args = ["--vars", variables, "report", "--property", "1100", "--output", str(page)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "<h1>Random Truffle report of property 1100, " in page.read_text()


# Two properties on BigQuery, one in another project, the first with readers (row access
# policies), the second without
BIGQUERY_PROPERTIES = {
    "ga4_properties": [
        {
            "property_id": "1400",
            "project": "other-project",
            "dataset": "analytics_1400",
            "readers": ["group:analysts-1400@example.com"],
        },
        {"property_id": "1100", "dataset": "analytics_1100", "time_zone": "Pacific/Pago_Pago"},
    ],
    "ga4_all_properties_readers": ["serviceAccount:dbt@example.iam.gserviceaccount.com"],
}


@pytest.fixture(scope="module")
def bigquery_proof(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """`truffle --target bigquery compile --offline` of BIGQUERY_PROPERTIES, once: what it
    printed and the folder it wrote (the render, the analysis, the captured builds)."""
    out = tmp_path_factory.mktemp("bigquery_two_properties")
    args = ["--vars", json.dumps(BIGQUERY_PROPERTIES), "--target", "bigquery", "compile"]
    result = runner.invoke(app, [*args, "--offline", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split()), out


def test_a_build_and_a_nightly_of_two_properties_are_proven_on_bigquery(
    bigquery_proof: tuple[str, Path],
) -> None:
    """Offline (no account): every model, analysis and test of two declared properties'
    BigQuery export datasets (one in another project) resolves in GoogleSQL's analyzer, and
    so does every statement a full build and a nightly send. The nightly's staging MERGE
    deletes each refreshed property's own days that have an export table, never another
    property's rows of the same partitions; a nightly of one property (`--property`) reads
    nothing outside its window."""
    summary, out = bigquery_proof
    assert "statements analyzed, 0 errors" in summary
    assert re.search(r"nightly build \d+ statements \([^)]*\d+ merge[^)]*\); 0 errors", summary)
    full = (out / "builds" / "full.sql").read_text()
    # staging reads each property's own export, and tags its rows with the property
    assert "`other-project`.`analytics_1400`.`events_*`" in full
    assert "`offline-project`.`analytics_1100`.`events_*`" in full
    # the nightly's staging MERGE: the window's partitions, within them each property's own
    # days with an export table (the capture's night: one day of the window has none)
    nightly = json.loads((out / "builds" / "nightly.json").read_text())["statements"]
    merge = next(
        s["sql"]
        for s in nightly
        if s["kind"] == "merge" and s["node"] == "model.random_truffle.stg_ga4__events"
    )
    delete = merge[merge.index("when not matched by source") : merge.index("then delete")]
    deleted = dict(
        re.findall(
            r"dbt_internal_dest\.property_id = '(\d+)' and date\(dbt_internal_dest\.event_date\)"
            r" in \(([^)]*\)(?:, [^)]*\))*)\)",
            delete,
        )
    )
    assert set(deleted) == {"1400", "1100"}, delete
    for property_id, days in deleted.items():
        kept = set(re.findall(r"\d{4}-\d{2}-\d{2}", days))
        lookups = [
            s["sql"]
            for s in nightly
            if s["kind"] == "lookup"
            and "missing export days" in s["sql"]
            and f"analytics_{property_id}.INFORMATION_SCHEMA" in s["sql"]
        ]
        assert len(lookups) == 1, property_id
        window = set(re.findall(r"'(\d{8})'", lookups[0].split("as day")[0]))
        replaced = {day.replace("-", "") for day in kept}
        assert replaced < window and len(window - replaced) == 1, (property_id, kept, window)
    # one property refreshed: its days only, and nothing read outside its window
    refreshed = {**BIGQUERY_PROPERTIES, "ga4_refresh_properties": ["1100"]}
    nightly_audit = ["cost", "--nightly", "--run-date", "2020-11-02", "--json"]
    result = runner.invoke(
        app, ["--vars", json.dumps(refreshed), "--target", "bigquery", *nightly_audit]
    )
    assert result.exit_code == 0, result.output
    audit = json.loads(result.stdout)
    assert audit["offenders"] == []
    # the window is property 1100's (its run date less the lookback), its partitions staging's
    assert audit["window"] == {"start": "2020-10-30", "end": "2020-11-02"}
    staged = next(
        s for s in audit["statements"] if s["name"] == "stg_ga4__events" and s["kind"] == "merge"
    )
    assert (staged["reads"][0]["first_day"], staged["reads"][0]["last_day"]) == (
        "2020-10-30",
        "2020-11-02",
    )
    # the stored tables cluster on the property first (one property: their own columns)
    nodes = json.loads((out / "dbt" / "full" / "manifest.json").read_text())["nodes"]
    clustered = {
        node["name"]: node["config"]["cluster_by"]
        for node in nodes.values()
        if node["resource_type"] == "model" and node["config"].get("cluster_by")
    }
    assert clustered["stg_ga4__events"] == ["property_id", "event_name", "user_pseudo_id"]
    assert all(columns[0] == "property_id" for columns in clustered.values()), clustered


def test_row_access_policies_are_generated_from_the_declaration_and_proven_on_bigquery(
    bigquery_proof: tuple[str, Path], tmp_path: Path
) -> None:
    """Offline (no account): once readers are declared, every stored table of the BigQuery
    build and nightly carries its row access policies (the TRUE filter for every property's
    readers; its property's filter where the table has a property_id, dropped for a
    property without readers; the TRUE filter alone on the ledgers that hold every
    property's rows without one; none on the shared reference data); each resolves in
    GoogleSQL's analyzer against the table's columns; no table that carries policies is
    re-created by a nightly (the tables rebuilt whole are replaced by a MERGE, which keeps
    its policies); and the nightly audit lists the policies and reads nothing outside the
    window."""
    summary, out = bigquery_proof
    assert "statements analyzed, 0 errors" in summary
    assert "policy); 0 errors" in summary
    policy = re.compile(
        r"create or replace row access policy (\w+) on `[^`]+`\.`[^`]+`\.`(\w+)`\s+"
        r"grant to \(([^)]*)\)\s+filter using \(([^)]*)\)"
    )
    dropped = re.compile(r"drop row access policy if exists (\w+) on `[^`]+`\.`[^`]+`\.`(\w+)`")
    # the tables with a property_id: both policies; the ledgers: the TRUE filter alone
    with_property = {
        "stg_ga4__events",
        "int_events_recorded",
        "int_sessions_aggregated",
        "int_sessions_converted",
        "int_conversions_attributed",
        "int_items_unnested",
        "int_device_logins_observed",
        "int_device_users_paired",
        "int_devices_stitched",
        "int_transactions_counted",
        "int_users_aggregated",
        "int_users_combined",
        "int_export_days_profiled",
    }
    ledgers = {
        "erasure_requests",
        "int_erased_identities",
        "int_erasures_applied",
        "int_retentions_applied",
    }
    every = ("'serviceAccount:dbt@example.iam.gserviceaccount.com'", "true")
    one = ("'group:analysts-1400@example.com'", "property_id = '1400'")
    for build in ("full", "nightly"):
        text = (out / "builds" / f"{build}.sql").read_text()
        policies: dict[str, dict[str, tuple[str, str]]] = {}
        for name, table, grantees, condition in policy.findall(text):
            policies.setdefault(table, {})[name] = (grantees, condition)
        assert set(policies) == with_property | ledgers, (build, sorted(policies))
        for table in with_property:
            assert policies[table] == {
                "truffle_every_property": every,
                "truffle_property_1400": one,
            }, (build, table)
        for table in ledgers:
            assert policies[table] == {"truffle_every_property": every}, (build, table)
        assert not set(policies) & SHARED
        # property 1100 has no readers: its policy is dropped wherever it could be
        assert set(dropped.findall(text)) == {
            ("truffle_property_1100", table) for table in with_property
        }, build
    # a nightly re-creates no table that carries policies: the tables rebuilt whole are
    # replaced by one MERGE each
    nightly = (out / "builds" / "nightly.sql").read_text()
    created = re.findall(r"create or replace table `[^`]+`\.`[^`]+`\.`(\w+)`", nightly)
    assert {name for name in created if "__dbt_tmp" not in name} <= SHARED, created
    for table in (
        "int_device_users_paired",
        "int_devices_stitched",
        "int_transactions_counted",
        "int_users_aggregated",
        "int_users_combined",
    ):
        assert re.search(rf"merge into `[^`]+`\.`[^`]+`\.`{table}` as DBT_INTERNAL_DEST", nightly)
    # the nightly audit lists the policies (they read nothing) and no read outside the window
    args = ["--vars", json.dumps(BIGQUERY_PROPERTIES), "--target", "bigquery"]
    result = runner.invoke(app, [*args, "cost", "--nightly", "--run-date", "2020-11-02", "--json"])
    assert result.exit_code == 0, result.output
    audit = json.loads(result.stdout)
    assert audit["counts"]["policy"] == 3 * len(with_property) + len(ledgers)
    assert audit["offenders"] == []

    # readers without anyone reading every row: dbt's own MERGEs would fail; one line, exit 2
    readers = {"ga4_properties": BIGQUERY_PROPERTIES["ga4_properties"]}
    refused = ["compile", "--offline", "--out", str(tmp_path / "refused")]
    result = runner.invoke(app, ["--vars", json.dumps(readers), "--target", "bigquery", *refused])
    assert result.exit_code == 2, result.output
    assert "declares readers but ga4_all_properties_readers is empty" in result.output
