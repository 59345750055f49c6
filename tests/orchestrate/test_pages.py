"""Pages: page_hostname, page_path and page_query of every event equal Python's own URL
parsing (urllib) of its page_location, on the real GA4 sample and the synthetic export; a
session's landing and exit page are the paths of its first and last event with a page."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import yaml

from tests.orchestrate.conftest import REPO, Warehouse

EXCLUDED = set(
    yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]["ga4_page_query_params_excluded"]
)


def expected_parts(url: str | None) -> tuple[str | None, str | None, str | None]:
    if url is None or "://" not in url:
        return None, None, None
    parts = urlsplit(url)
    kept = [
        pair for pair in parts.query.split("&") if pair and pair.split("=", 1)[0] not in EXCLUDED
    ]
    return parts.hostname, parts.path or "/", "&".join(kept) or None


@pytest.mark.parametrize("warehouse_name", ["real_warehouse", "generated_warehouse"])
def test_page_parts_equal_python_url_parsing(
    warehouse_name: str, request: pytest.FixtureRequest
) -> None:
    warehouse: Warehouse = request.getfixturevalue(warehouse_name)
    rows = warehouse.query(
        "select distinct page_location, page_hostname, page_path, page_query from events"
    )
    with_query = [row for row in rows if row[3] is not None]
    assert len(rows) > 20
    mismatches = [row for row in rows if tuple(row[1:]) != expected_parts(row[0])]
    assert mismatches == []
    # the synthetic export tags its URLs with utm_* and gclid only: nothing is left of them
    if warehouse_name == "generated_warehouse":
        assert warehouse.scalar("select count(*) from events where page_location like '%?%'") > 0
        assert with_query == []


def test_landing_and_exit_pages(real_warehouse: Warehouse) -> None:
    events = real_warehouse.query(
        """
        select session_key, page_path from events
        where session_key is not null and page_path is not null
        order by session_key, event_timestamp_micros, event_key
        """
    )
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    for session, path in events:
        first.setdefault(session, path)
        last[session] = path
    sessions = {
        key: (landing, exit_page)
        for key, landing, exit_page in real_warehouse.query(
            "select session_key, landing_page_path, exit_page_path from sessions"
            " where landing_page_path is not null"
        )
    }
    assert len(sessions) > 1000
    # ties on the timestamp may pick either event: compare where the path is unambiguous
    ties = {
        session
        for session, count in real_warehouse.query(
            """
            select session_key, count(*) from events where page_path is not null
            group by session_key, event_timestamp_micros having count(distinct page_path) > 1
            """
        )
    }
    compared = [key for key in sessions if key not in ties]
    assert len(compared) > 1000
    assert {key: sessions[key] for key in compared} == {
        key: (first[key], last[key]) for key in compared
    }
