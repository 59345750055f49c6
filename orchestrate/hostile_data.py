"""A hostile GA4 export for reliability tests: the synthetic export, then damaged the ways real
exports are. Each damage is counted in the returned ground truth.

- a malformed line and a line with an unknown extra key in the NDJSON day;
- events without ga_session_id; params in the unexpected value slot (int for string, string
  for int);
- purchases in an unknown currency; negative and absurd revenue;
- events whose timestamp lies days away from their event_date;
- near-duplicates (same event, a different upload offset) and exact duplicates;
- an unknown extra column; a day without the newer columns next to days that have them;
- an empty day file;
- impossible values: an event_timestamp of 2^63-1; NaN, +inf, -inf, -5 and 1e300 in the
  `value` param; a negative ecommerce tax; a purchase whose items' revenue is NaN and price
  1e300 (no NUMERIC holds them); a row dated 2099 and one dated 1970 in a normal
  day, and a whole file dated 2099-12-31;
- a day years old (past its retention: removed, and counted);
- NDJSON lines that are valid JSON but not objects (two of them identical), and a broken
  line carrying a user's id (that user is in the erasure requests: the text is cleared);
- a day file with an upper-case extension (events_YYYYMMDD.PARQUET: read) and files that
  are not export files (named, not read).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb

from orchestrate.demo_data import GeneratorConfig, generate_export
from orchestrate.export_schema import NEWER_COLUMNS

HOSTILE_CONFIG = GeneratorConfig(
    end_date=dt.date(2026, 1, 31), days=4, users=120, seed=99, json_days=1, intraday_days=0
)


def _day(config: GeneratorConfig, offset: int) -> dt.date:
    return config.end_date - dt.timedelta(days=config.days - 1 - offset)


def write_hostile_export(out_dir: Path, config: GeneratorConfig = HOSTILE_CONFIG) -> dict:
    """Write the damaged export into out_dir; return {damage: count} plus the manifest."""
    manifest = generate_export(out_dir, config)
    truth: dict[str, object] = {"manifest": manifest}
    json_day = out_dir / f"events_{_day(config, 0):%Y%m%d}.json"
    lines = json_day.read_text().splitlines()
    extra = json.loads(lines[0])
    extra["a_column_google_added_later"] = {"x": 1}
    lines.insert(3, json.dumps(extra))  # valid, with an unknown key: a new, distinct event
    extra_changed = json.loads(lines[3])
    extra_changed["event_timestamp"] = str(int(extra_changed["event_timestamp"]) + 1)
    lines[3] = json.dumps(extra_changed)
    lines.insert(5, lines[6][: len(lines[6]) // 2])  # a line cut in half
    # valid JSON that is not an object: each kept as text, the two `42` lines apart
    not_objects = ["42", "42", "[1, 2]", '"a string"', "null", "true"]
    lines.extend(not_objects)
    # a broken line naming a user whose erasure is requested: its text must go. The user is
    # one without rows in the damaged day (whose damage the tests count)
    damaged_path = out_dir / f"events_{_day(config, 2):%Y%m%d}.parquet"
    with duckdb.connect() as connection:
        damaged_users = {
            row[0]
            for row in connection.execute(
                "select distinct user_pseudo_id from read_parquet(?)", [str(damaged_path)]
            ).fetchall()
        }
    erased = sorted(
        {
            record["user_pseudo_id"]
            for record in map(json.loads, lines[10:])
            if isinstance(record, dict)
            and record.get("user_pseudo_id")
            and record["user_pseudo_id"] not in damaged_users
        }
    )[0]
    lines.append(f'{{"event_name": "page_view", "user_pseudo_id": "{erased}", "event_par')
    json_day.write_text("\n".join(lines) + "\n")
    truth["malformed_json_lines"] = 2 + len(not_objects)
    truth["erased_user_pseudo_id"] = erased

    older = out_dir / f"events_{_day(config, 1):%Y%m%d}.parquet"
    damaged = out_dir / f"events_{_day(config, 2):%Y%m%d}.parquet"
    with duckdb.connect() as connection:
        # a day exported before the newer columns existed
        connection.execute(
            f"copy (select * exclude ({', '.join(NEWER_COLUMNS)}) from read_parquet(?)) "
            "to ? (format parquet)",
            [str(older), str(older) + ".tmp"],
        )
        connection.execute(
            "create table day as select *, row_number() over () as rn from read_parquet(?)",
            [str(damaged)],
        )
        consented = "user_pseudo_id is not null and event_name not in ('purchase')"
        first_rows = connection.execute(
            f"select rn from day where {consented} order by rn limit 30"
        ).fetchall()
        ids = [row[0] for row in first_rows]
        no_session, shifted = ids[:5], ids[10:12]
        wrong_slot = [
            row[0]
            for row in connection.execute(
                "select rn from day where event_name = 'page_view' and user_pseudo_id is not "
                "null and rn not in (select unnest(?)) order by rn limit 5",
                [ids],
            ).fetchall()
        ]
        connection.execute(
            "update day set event_params = list_filter(event_params, "
            "lambda p: p.key != 'ga_session_id') where rn in (select unnest(?))",
            [no_session],
        )
        connection.execute(
            "update day set event_params = list_transform(event_params, lambda p: case "
            "when p.key = 'engagement_time_msec' then {'key': p.key, 'value': "
            "{'string_value': cast(p.value.int_value as varchar), 'int_value': null, "
            "'float_value': null, 'double_value': null}} "
            "when p.key = 'page_title' then {'key': p.key, 'value': {'string_value': null, "
            "'int_value': 42, 'float_value': null, 'double_value': null}} else p end) "
            "where rn in (select unnest(?))",
            [wrong_slot],
        )
        connection.execute(
            "update day set event_timestamp = event_timestamp + cast(432000000000 as bigint) "
            "where rn in (select unnest(?))",
            [shifted],
        )
        purchases = [
            row[0]
            for row in connection.execute(
                "select rn from day where event_name = 'purchase' and ecommerce is not null "
                "order by rn"
            ).fetchall()
        ]
        unknown_currency, negative, absurd = purchases[0:2], purchases[2:3], purchases[3:4]
        connection.execute(
            "update day set event_params = list_transform(event_params, lambda p: case "
            "when p.key = 'currency' then {'key': p.key, 'value': {'string_value': 'XYZ', "
            "'int_value': null, 'float_value': null, 'double_value': null}} else p end) "
            "where rn in (select unnest(?))",
            [unknown_currency],
        )
        for row_ids, amount in ((negative, -50.0), (absurd, 1.0e12)):
            connection.execute(
                "update day set ecommerce = struct_update(ecommerce, purchase_revenue := ?, "
                "purchase_revenue_in_usd := ?) where rn in (select unnest(?))",
                [amount, amount, row_ids],
            )
        # rows 5-9 and 12-14 of the consented ones (0-4, 10-11, 20-22 carry other damage)
        impossible = ids[5:10] + ids[12:15]
        for row_id, amount in zip(
            impossible[:5], ["nan", "inf", "-inf", "-5", "1e300"], strict=True
        ):
            connection.execute(
                "update day set event_params = list_append(list_filter(event_params, "
                "lambda p: p.key != 'value'), {'key': 'value', 'value': {'string_value': "
                "null, 'int_value': null, 'float_value': null, 'double_value': "
                "cast(? as double)}}) where rn = ?",
                [amount, row_id],
            )
        connection.execute(
            "update day set ecommerce = struct_update(ecommerce, tax_value := -3.0) where rn = ?",
            [purchases[4]],
        )
        # item amounts no NUMERIC holds on a purchase (the quarantine checks the event's; the
        # day has five purchases: this one's currency is also unknown)
        connection.execute(
            "update day set items = list_transform(items, lambda i: struct_update(i, "
            "item_revenue := cast('nan' as double), price := 1e300)) where rn = ?",
            [purchases[1]],
        )
        device, timestamp, item_count = connection.execute(
            "select user_pseudo_id, event_timestamp, len(items) from day where rn = ?",
            [purchases[1]],
        ).fetchone()
        connection.execute(
            "update day set event_timestamp = 9223372036854775807 where rn = ?", [impossible[5]]
        )
        connection.execute("update day set event_date = '20991231' where rn = ?", [impossible[6]])
        connection.execute(
            "update day set event_date = '19700101', event_timestamp = 43200000000 where rn = ?",
            [impossible[7]],
        )
        # near-duplicates: the same event uploaded twice with a different offset
        connection.execute(
            "insert into day select * replace (coalesce(event_server_timestamp_offset, 0) + 7 "
            "as event_server_timestamp_offset, rn + 1000000 as rn) from day where rn in "
            "(select unnest(?))",
            [ids[20:23]],
        )
        connection.execute(
            "copy (select * exclude (rn), 'surprise' as a_column_google_added_later from day "
            "order by rn) to ? (format parquet)",
            [str(damaged) + ".tmp"],
        )
        # a day past its retention (user activity: 2 years), timestamps on that day, its
        # own devices (so its own sessions)
        old_day = dt.date(2020, 1, 5)
        shift = (_day(config, 2) - old_day).days * 86_400_000_000
        old_rows = [
            row[0]
            for row in connection.execute(
                "select rn from day where event_name in ('session_start', 'user_engagement') "
                "and user_pseudo_id is not null order by rn limit 2"
            ).fetchall()
        ]
        connection.execute(
            "copy (select * exclude (rn) replace (? as event_date, event_timestamp - "
            "cast(? as bigint) as event_timestamp, user_pseudo_id || '-2020' as "
            "user_pseudo_id) from day where rn in (select unnest(?))) "
            "to ? (format parquet)",
            [
                f"{old_day:%Y%m%d}",
                shift,
                old_rows,
                str(out_dir / f"events_{old_day:%Y%m%d}.parquet"),
            ],
        )
        future_file = out_dir / "events_20991231.parquet"
        connection.execute(
            "copy (select * exclude (rn) replace ('20991231' as event_date) from day "
            "where rn in (select unnest(?))) to ? (format parquet)",
            [ids[25:28], str(future_file)],
        )
        empty_day = out_dir / f"events_{config.end_date + dt.timedelta(days=1):%Y%m%d}.parquet"
        connection.execute(
            "copy (select * from read_parquet(?) limit 0) to ? (format parquet)",
            [str(damaged), str(empty_day)],
        )
    older.unlink()
    Path(str(older) + ".tmp").replace(older.with_suffix(".PARQUET"))
    Path(str(damaged) + ".tmp").replace(damaged)
    (out_dir / "README.txt").write_text("not an export file\n")
    (out_dir / f"events_{_day(config, 1):%Y%m%d}.csv").write_text("a,b\n1,2\n")
    truth.update(
        {
            "sessionless_events": len(no_session),
            "wrong_slot_events": len(wrong_slot),
            "timestamp_outside_event_date": len(shifted),
            "unknown_currency_purchases": len(unknown_currency),
            "invalid_revenue": len(negative) + len(absurd) + 5 + 1,
            "invalid_event_timestamp": 1,
            "future_event_date": 1 + 3,
            "event_date_outside_shard": 1,
            "retention_old_day": 2,
            # named by the build, not read (manifest.json: the generator's ground truth)
            "unread_files": ["README.txt", f"events_{_day(config, 1):%Y%m%d}.csv", "manifest.json"],
            "upper_case_file": older.with_suffix(".PARQUET").name,
            "near_duplicates": 3,
            "damaged_day": _day(config, 2).isoformat(),
            "empty_day": (config.end_date + dt.timedelta(days=1)).isoformat(),
            "old_schema_day": _day(config, 1).isoformat(),
            "json_day": _day(config, 0).isoformat(),
            "absurd_item_amounts": {
                "user_pseudo_id": device,
                "event_timestamp": timestamp,
                "items": item_count,
            },
        }
    )
    return truth
