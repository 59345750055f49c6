"""DuckDB's window models (staging, the recorded events, items, device logins, conversions)
replace their window with the strategy `truffle_window` (macros/incremental/strategy.sql):
the window's export days are deleted and the model's select is inserted in the same
transaction, with no temporary table of the window's rows in between. A window day whose
export is gone keeps its stored rows; a day whose export now yields no row of a model is
emptied."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from pathlib import Path

import dbt.include.duckdb
import duckdb

from orchestrate.demo_data import GeneratorConfig, generate_export
from orchestrate.recorder import recording
from tests.orchestrate.conftest import REPO, make_warehouse

END = dt.date(2026, 2, 10)
CONFIG = GeneratorConfig(end_date=END, days=6, users=200, seed=5, json_days=0, intraday_days=0)
WINDOW_MODELS = (
    "stg_ga4__events",
    "int_events_recorded",
    "int_items_unnested",
    "int_device_logins_observed",
    "int_conversions_attributed",
)
COPY = REPO / "macros" / "incremental" / "duckdb_incremental.sql"


def test_the_materialization_is_dbt_duckdbs_but_for_the_marked_lines() -> None:
    installed = Path(dbt.include.duckdb.__file__).parent / "macros/materializations/incremental.sql"
    text = COPY.read_text()
    header_end = text.index("-#}\n") + len("-#}\n")
    version = importlib.metadata.version("dbt-duckdb")
    assert f"dbt-duckdb {version}'s incremental materialization" in text[:header_end], (
        f"dbt-duckdb is {version}: take its incremental materialization again ({COPY})"
    )
    kept = [line for line in text[header_end:].splitlines() if "{# truffle #}" not in line]
    assert kept == installed.read_text().splitlines()


def per_day(path: Path, table: str, column: str) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as connection:
        rows = connection.execute(
            f"select {column}, count(*) from {table} group by 1 order by 1"
        ).fetchall()
    return {str(day): count for day, count in rows}


def test_a_window_day_whose_export_is_gone_keeps_its_rows_and_no_window_is_stored_twice(
    tmp_path: Path,
) -> None:
    export = tmp_path / "export"
    generate_export(export, CONFIG)
    variables = {"ga4_property_time_zone": CONFIG.time_zone, "ga4_run_date": END.isoformat()}
    warehouse = make_warehouse(tmp_path / "warehouse", export, variables)
    dated = {model: "event_date" for model in WINDOW_MODELS}
    dated["int_conversions_attributed"] = "conversion_date"
    before = {model: per_day(warehouse.path, model, column) for model, column in dated.items()}
    gone, emptied = END - dt.timedelta(days=1), END
    assert all(str(gone) in days and str(emptied) in days for days in before.values())

    # the export of a window day is gone (expired, deleted); the newest day is rewritten
    # without its conversions
    (export / f"events_{gone:%Y%m%d}.parquet").unlink()
    newest = export / f"events_{emptied:%Y%m%d}.parquet"
    with duckdb.connect() as connection:
        connection.execute(
            "copy (select * from read_parquet(?) "
            "where event_name not in ('purchase', 'sign_up', 'generate_lead')) to ? "
            "(format parquet)",
            [str(newest), str(newest) + ".new"],
        )
        kept_events = connection.execute(
            "select count(distinct (event_name, event_timestamp, user_pseudo_id)) "
            "from read_parquet(?)",
            [str(newest) + ".new"],
        ).fetchone()[0]
    Path(str(newest) + ".new").replace(newest)

    with recording() as sent:
        warehouse.build("--threads", "1")
    after = {model: per_day(warehouse.path, model, column) for model, column in dated.items()}

    for model in WINDOW_MODELS:
        assert after[model][str(gone)] == before[model][str(gone)], model
        for day in before[model]:
            if day not in (str(gone), str(emptied)):
                assert after[model][day] == before[model][day], (model, day)
    assert str(emptied) not in after["int_conversions_attributed"]
    assert 0 < after["int_events_recorded"][str(emptied)] <= kept_events
    assert after["int_events_recorded"][str(emptied)] < before["int_events_recorded"][str(emptied)]

    # the window's rows went from the model's select to the table once: a temporary view,
    # never a temporary table
    window_statements = [
        " ".join(statement.sql.lower().split())
        for statement in sent
        if statement.unique_id.rsplit(".", 1)[-1] in WINDOW_MODELS
    ]
    assert not [sql for sql in window_statements if "create temporary table" in sql]
    views = [sql for sql in window_statements if "create or replace temporary view" in sql]
    assert len(views) == len(WINDOW_MODELS)
