"""The event fingerprint (pitfall 2) on a real export day: a copy of an event whose params
come in another order is the same event; a copy whose params differ is another event. The
copies sit in an intraday shard of the same day, so the daily rows must win."""

from __future__ import annotations

import duckdb
import pytest

from tests.orchestrate.conftest import REAL_SAMPLE, Warehouse, make_warehouse

DAY_FILE = REAL_SAMPLE / "events_20201101.parquet"
DAY_EVENTS = 31272  # the sample's rows on 2020-11-01 (shared/ga4_sample/README.md)
COPIES = 50
# the copies: the first rows of the day (by time, then device) that carry ga_session_number
# among at least two params, so reversing them changes their order and renaming that key
# changes the params
FIRST_ROWS = (
    "select * from read_parquet(?) where len(event_params) >= 2 "
    "and list_contains(list_transform(event_params, lambda p: p.key), 'ga_session_number') "
    "order by event_timestamp, user_pseudo_id, event_name limit ?"
)


@pytest.fixture(scope="module")
def fingerprinted(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    root = tmp_path_factory.mktemp("fingerprint")
    export = root / "export"
    export.mkdir()
    (export / DAY_FILE.name).write_bytes(DAY_FILE.read_bytes())
    with duckdb.connect() as connection:
        # the same params in reverse order, then the same params with one key renamed
        connection.execute(
            f"copy (select * replace (list_reverse(event_params) as event_params) "
            f"from ({FIRST_ROWS}) union all by name "
            f"select * replace (list_transform(event_params, lambda p: case "
            f"when p.key = 'ga_session_number' then struct_update(p, key := 'probe') else p "
            f"end) as event_params) from ({FIRST_ROWS})) "
            f"to '{export / 'events_intraday_20201101.parquet'}' (format parquet)",
            [str(DAY_FILE), COPIES, str(DAY_FILE), COPIES],
        )
    return make_warehouse(
        root / "wh",
        export,
        {"ga4_property_time_zone": "America/Los_Angeles", "ga4_run_date": "2020-11-02"},
    )


def test_params_in_another_order_are_the_same_event(fingerprinted: Warehouse) -> None:
    assert fingerprinted.run.success and not fingerprinted.run.failures
    # every raw row is counted; the reordered copies collapse, the renamed ones do not
    assert fingerprinted.scalar("select sum(raw_row_count) from stg_ga4__events") == (
        DAY_EVENTS + 2 * COPIES
    )
    assert fingerprinted.scalar("select count(*) from events") == DAY_EVENTS + COPIES
    # the collapsed events keep their daily row; only the renamed copies come from intraday
    assert fingerprinted.query(
        "select count(*) filter (where raw_row_count = 2), "
        "count(*) filter (where is_from_intraday) from events"
    ) == [(COPIES, COPIES)]
