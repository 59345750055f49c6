"""Session keys across id forms: one synthetic export day (web and app streams) rewritten so
that the app events' ga_session_id arrives in each form newer exports and SDKs use (int,
string, double), mixed within a session. Each session must stay one session: the warehouse's
sessions equal the distinct (device, stream, session id) of the original day, counted with
plain SQL over the unmodified file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from tests.orchestrate.conftest import GENERATED_CONFIG, GENERATED_TIME_ZONE, make_warehouse

DAY = GENERATED_CONFIG.end_date - dt.timedelta(days=2)
# the ga_session_id param rewritten by the event's timestamp: a third each as int (as sent),
# string and double
REWRITE = """
    list_transform(event_params, lambda p: case
        when p.key = 'ga_session_id' and platform != 'WEB' and event_timestamp % 3 = 1
            then {'key': p.key, 'value': {
                'string_value': cast(coalesce(p.value.int_value, try_cast(p.value.string_value as bigint)) as varchar),
                'int_value': null, 'float_value': null, 'double_value': null}}
        when p.key = 'ga_session_id' and platform != 'WEB' and event_timestamp % 3 = 2
            then {'key': p.key, 'value': {
                'string_value': null, 'int_value': null, 'float_value': null,
                'double_value': cast(coalesce(p.value.int_value, try_cast(p.value.string_value as bigint)) as double)}}
        else p
    end)
"""  # noqa: E501


@pytest.fixture(scope="module")
def rewritten_day(
    tmp_path_factory: pytest.TempPathFactory, generated_export: tuple[Path, dict]
) -> tuple[Path, Path]:
    export, _ = generated_export
    original = export / f"events_{DAY:%Y%m%d}.parquet"
    folder = tmp_path_factory.mktemp("session_id_forms")
    with duckdb.connect() as connection:
        connection.execute(
            f"copy (select * replace ({REWRITE} as event_params) from read_parquet('{original}'))"
            f" to '{folder / original.name}' (format parquet)"
        )
        forms = connection.execute(
            f"""
            select count(*) filter (where p.value.double_value is not null),
                count(*) filter (where p.value.string_value is not null),
                count(*) filter (where p.value.int_value is not null)
            from (select unnest(event_params) as p from read_parquet('{folder / original.name}'))
            where p.key = 'ga_session_id'
            """
        ).fetchone()
    assert all(count > 0 for count in forms), forms
    return original, folder


def test_every_session_id_form_keys_one_session(
    tmp_path: Path, rewritten_day: tuple[Path, Path]
) -> None:
    original, folder = rewritten_day
    with duckdb.connect() as connection:
        expected = connection.execute(
            f"""
            select platform = 'WEB', count(distinct (user_pseudo_id, stream_id, session_id))
            from (
                select user_pseudo_id, stream_id, platform, coalesce(
                    list_filter(event_params, lambda p: p.key = 'ga_session_id')[1].value.int_value,
                    try_cast(list_filter(event_params, lambda p: p.key = 'ga_session_id')[1]
                        .value.string_value as bigint)
                ) as session_id
                from read_parquet('{original}')
            )
            where user_pseudo_id is not null and session_id is not null
            group by all
            """
        ).fetchall()
    warehouse = make_warehouse(
        tmp_path,
        folder,
        {"ga4_property_time_zone": GENERATED_TIME_ZONE, "ga4_run_date": DAY.isoformat()},
    )
    built = warehouse.query(
        "select platform = 'WEB', count(*) from sessions where platform is not null group by all"
    )
    assert dict(built) == dict(expected)
    assert dict(built)[False] > 0  # app sessions are there
    # the app sessions' ids are the plain integer text, whatever form each event sent
    assert (
        warehouse.scalar(
            "select count(*) from events where platform != 'WEB'"
            " and ga_session_id is not null and not regexp_matches(ga_session_id, '^[0-9]+$')"
        )
        == 0
    )
