"""`truffle report`: the page opened in a real headless Chromium (no console errors, nothing
fetched), its KPI cards equal to the marts' figures, and bad input refused in one line with
nothing written."""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from orchestrate.cli import app
from orchestrate.report import write_atomically

from .conftest import GENERATED_CONFIG, Warehouse

runner = CliRunner()
GENERATED_END = GENERATED_CONFIG.end_date
REAL_START, REAL_END = dt.date(2020, 11, 1), dt.date(2020, 11, 2)
CARD = re.compile(
    r'<div class="card" data-metric="(?P<metric>[a-z_]+)">.*?'
    r'<div class="value">(?P<value>.*?)</div>\s*<div class="change[^"]*">(?P<change>[^<]*)</div>',
    re.S,
)


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed (make test installs it with apt-get where it can)")


def report(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, *args: str, database: Path | None = None
):
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(database or warehouse.path))
    return runner.invoke(app, ["--vars", json.dumps(warehouse.settings.vars), "report", *args])


def open_in_browser(page: Path) -> tuple[str, list[str]]:
    """The DOM Chromium built from the page, and the console messages it logged."""
    run = subprocess.run(
        [
            chromium(),
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    return run.stdout, console


def cards(dom: str) -> dict[str, tuple[str, str]]:
    return {
        match["metric"]: (
            " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match["value"])).split()),
            html.unescape(match["change"]),
        )
        for match in CARD.finditer(dom)
    }


def mart_figures(warehouse: Warehouse, start: dt.date, end: dt.date) -> dict[str, object]:
    """The KPIs straight from the marts (and the daily_kpis view), not from any analysis."""
    users, sessions, engaged, converting, conversions = warehouse.query(
        "select count(distinct unified_user_id), count(*), count(*) filter (is_engaged_session), "
        "count(*) filter (has_conversion), coalesce(sum(conversion_count), 0) "
        "from sessions where session_start_date between ? and ?",
        [start, end],
    )[0]
    revenue = warehouse.scalar(
        "select coalesce(sum(revenue_usd), 0) from conversions "
        "where conversion_date between ? and ?",
        [start, end],
    )
    daily_sessions = warehouse.scalar(
        "select sum(sessions) from daily_kpis where kpi_date between ? and ?", [start, end]
    )
    assert daily_sessions == sessions  # the view agrees with the mart
    return {
        "users": users,
        "sessions": sessions,
        "engaged_session_rate": 100 * engaged / sessions,
        "conversions": conversions,
        "conversion_rate": 100 * converting / sessions,
        "revenue": revenue,
    }


def assert_cards_match(shown: dict[str, tuple[str, str]], expected: dict[str, object]) -> None:
    assert set(shown) == set(expected), shown
    for metric in ("users", "sessions", "conversions"):
        assert shown[metric][0] == f"{expected[metric]:,}", metric
    for metric in ("engaged_session_rate", "conversion_rate"):
        assert shown[metric][0] == f"{expected[metric]:.1f}%", metric
    assert shown["revenue"][0] == f"{expected['revenue']:,.2f} USD"


def test_report_renders_in_chromium_and_its_cards_equal_the_marts(
    generated_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chromium()
    # the last 3 days of the 6-day export: the 3 days before are the previous period
    start, end = GENERATED_END - dt.timedelta(days=2), GENERATED_END
    page = tmp_path / "report.html"
    result = report(
        generated_warehouse,
        monkeypatch,
        "--start",
        str(start),
        "--end",
        str(end),
        "--output",
        str(page),
    )
    assert result.exit_code == 0, result.output
    text = page.read_text()
    # self-contained: no script, no stylesheet or image fetched from anywhere
    assert "<script" not in text
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:|//)""", text)
    assert "@import" not in text

    dom, console = open_in_browser(page)
    assert console == []
    assert dom.count("<svg") >= 6  # trend, revenue, funnel, channel, device, audiences
    assert dom.count("<figcaption>") == 6
    shown = cards(dom)
    assert_cards_match(shown, mart_figures(generated_warehouse, start, end))

    previous = mart_figures(
        generated_warehouse, start - dt.timedelta(days=3), start - (dt.timedelta(days=1))
    )
    current = mart_figures(generated_warehouse, start, end)
    change = 100 * (current["sessions"] - previous["sessions"]) / previous["sessions"]
    assert f"{change:+,.1f}% vs previous period" in shown["sessions"][1]
    points = current["engaged_session_rate"] - previous["engaged_session_rate"]
    assert f"{points:+,.1f} pt vs previous period" in shown["engaged_session_rate"][1]


def test_browser_check_catches_a_console_error(tmp_path: Path) -> None:
    """The browser check can fail: a page that logs an error is caught."""
    chromium()
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); missing();</script>")
    _, console = open_in_browser(page)
    assert any("boom" in line for line in console)
    assert any("missing is not defined" in line for line in console)


def test_report_on_the_real_sample_days(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    page = tmp_path / "real.html"
    result = report(
        real_warehouse,
        monkeypatch,
        "--start",
        str(REAL_START),
        "--end",
        str(REAL_END),
        "--currency",
        "usd",
        "--output",
        str(page),
    )
    assert result.exit_code == 0, result.output
    shown = cards(page.read_text())
    assert_cards_match(shown, mart_figures(real_warehouse, REAL_START, REAL_END))
    assert shown["sessions"][1] == "no data in the previous period"


def test_revenue_follows_the_reporting_currency(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    page = tmp_path / "cop.html"
    result = report(
        real_warehouse,
        monkeypatch,
        "--start",
        str(REAL_START),
        "--end",
        str(REAL_END),
        "--currency",
        "COP",
        "--output",
        str(page),
    )
    assert result.exit_code == 0, result.output
    expected = real_warehouse.scalar(
        "select sum(revenue_cop) from conversions where conversion_date between ? and ?",
        [REAL_START, REAL_END],
    )
    assert cards(page.read_text())["revenue"][0] == f"{expected:,.2f} COP"


def one_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2026-01-31", "--end", "2026-01-01"], "empty range"),
        (["--start", "2000-01-01", "--end", "2000-01-07"], "no sessions between"),
        (["--currency", "EUR"], "not a reporting currency"),
        (["--last", "14"], "--last must be one of 7, 30, 90"),
        (["--start", "2026-01-30"], "give both --start and --end"),
        (["--last", "7", "--start", "2026-01-30", "--end", "2026-01-31"], "not both"),
        (["--start", "yesterday", "--end", "2026-01-31"], "is not a date"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    generated_warehouse: Warehouse,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: list[str],
    message: str,
) -> None:
    output = tmp_path / "out" / "report.html"
    output.parent.mkdir()
    output.write_text("the previous report")
    result = report(generated_warehouse, monkeypatch, *args, "--output", str(output))
    assert result.exit_code == 2, result.output
    assert message in one_line(result)
    assert output.read_text() == "the previous report"
    assert [path.name for path in output.parent.iterdir()] == ["report.html"]


def test_a_warehouse_not_built_is_refused(
    generated_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    output = tmp_path / "report.html"
    missing = tmp_path / "nowhere.duckdb"
    result = report(generated_warehouse, monkeypatch, "--output", str(output), database=missing)
    assert result.exit_code == 2, result.output
    assert "no warehouse at" in one_line(result)
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    result = report(generated_warehouse, monkeypatch, "--output", str(output), database=empty)
    assert result.exit_code == 2, result.output
    assert "the warehouse is not built" in one_line(result)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["empty.duckdb"]


def test_a_failed_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("the previous report")
    with pytest.raises(UnicodeEncodeError):
        write_atomically(target, "<html>" + "x" * 100_000 + "\ud800")  # fails mid-write
    assert target.read_text() == "the previous report"
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]
    write_atomically(target, "<html>new</html>")
    assert target.read_text() == "<html>new</html>"
    assert target.stat().st_mode & 0o044  # readable by others, not mkstemp's 0600


def test_nightly_writes_the_report_only_after_a_successful_run(
    generated_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(generated_warehouse.path, copy)  # nightly writes: the shared fixture is read only
    copied = Warehouse(copy, generated_warehouse.settings, tmp_path, generated_warehouse.run)
    page = tmp_path / "nightly.html"
    options = ["--summary", str(tmp_path / "summary.json"), "--report", str(page)]
    variables = {k: v for k, v in generated_warehouse.settings.vars.items() if k != "ga4_run_date"}
    base = ["--vars", json.dumps(variables), "nightly"]
    monkeypatch.setenv("TRUFFLE_DUCKDB_PATH", str(copy))
    stale = runner.invoke(app, [*base, "--run-date", "2026-03-01", *options])
    assert stale.exit_code == 1, stale.output  # the export is a month old: freshness fails
    assert not page.exists()
    result = runner.invoke(app, [*base, "--run-date", str(GENERATED_END), *options])
    assert result.exit_code == 0, result.output
    assert "Report:" in result.output and page.is_file()
    start = GENERATED_END - dt.timedelta(days=29)  # the last 30 days to the newest session
    assert_cards_match(cards(page.read_text()), mart_figures(copied, start, GENERATED_END))


class DevTools:
    """Headless Chromium driven over the DevTools protocol (a websocket): what the page logs,
    throws and requests, and what its text says."""

    def __init__(self, profile: Path) -> None:
        self.process = subprocess.Popen(
            [
                chromium(),
                "--headless",
                "--disable-gpu",
                "--no-sandbox",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stderr=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        # Chromium writes its DevTools port and path to this file once it listens
        active = profile / "DevToolsActivePort"
        for _ in range(300):
            if active.is_file() and len(active.read_text().split()) >= 2:
                break
            time.sleep(0.1)
        else:
            self.process.kill()
            raise AssertionError("chromium did not open its DevTools endpoint")
        port, path = active.read_text().split()[:2]
        from websockets.sync.client import connect

        self.stack = contextlib.ExitStack()
        self.socket = self.stack.enter_context(
            connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=30)
        )
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, session: str | None = None, **params: object) -> dict:
        self.next_id += 1
        message: dict[str, object] = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        while True:
            reply = json.loads(self.socket.recv(timeout=60))
            if reply.get("id") == self.next_id:
                assert "error" not in reply, reply
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        while not any(event.get("method") == method for event in self.events):
            self.events.append(json.loads(self.socket.recv(timeout=60)))

    def open(self, page: Path) -> str:
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.send(f"{domain}.enable", session)
        self.events.clear()
        self.send("Page.navigate", session, url=page.as_uri())
        self.wait_for("Page.loadEventFired")
        return session

    def text(self, session: str, expression: str) -> str:
        result = self.send("Runtime.evaluate", session, expression=expression, returnByValue=True)
        return result["result"]["value"]

    def close(self) -> None:
        self.stack.close()
        self.process.terminate()
        self.process.wait(timeout=30)


def test_report_over_devtools_fetches_nothing_and_its_card_text_equals_the_marts(
    real_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chromium()
    page = tmp_path / "report.html"
    result = report(
        real_warehouse,
        monkeypatch,
        *("--start", str(REAL_START), "--end", str(REAL_END), "--output", str(page)),
    )
    assert result.exit_code == 0, result.output
    browser = DevTools(tmp_path / "chromium-profile")
    try:
        session = browser.open(page)
        texts = json.loads(
            browser.text(
                session,
                "JSON.stringify(Array.from(document.querySelectorAll('.card')).map("
                "c => [c.dataset.metric, c.querySelector('.value').innerText]))",
            )
        )
        width = browser.text(session, "String(document.documentElement.scrollWidth)")
    finally:
        browser.close()
    methods = [event.get("method") for event in browser.events]
    complaints = [
        event
        for event in browser.events
        if event.get("method") in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown")
        or (
            event.get("method") == "Log.entryAdded"
            and event["params"]["entry"]["level"] != "verbose"
        )
    ]
    assert complaints == []
    requests = [
        event["params"]["request"]["url"]
        for event in browser.events
        if event.get("method") == "Network.requestWillBeSent"
    ]
    assert requests in ([], [page.as_uri()]), requests  # the page itself, nothing else
    assert "Page.loadEventFired" in methods
    assert int(width) <= 1000  # no sideways scrolling at laptop width
    shown = {metric: " ".join(value.split()) for metric, value in texts}
    assert_cards_match(
        {metric: (value, "") for metric, value in shown.items()},
        mart_figures(real_warehouse, REAL_START, REAL_END),
    )


def test_devtools_sees_a_request_and_an_exception(tmp_path: Path) -> None:
    """The DevTools check can fail: a page that fetches and throws is caught."""
    chromium()
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><img src="http://127.0.0.1:9/x.png"><script>missing();</script>'
    )
    browser = DevTools(tmp_path / "chromium-profile")
    try:
        browser.open(page)
    finally:
        browser.close()
    methods = [event.get("method") for event in browser.events]
    assert "Runtime.exceptionThrown" in methods
    urls = [
        event["params"]["request"]["url"]
        for event in browser.events
        if event.get("method") == "Network.requestWillBeSent"
    ]
    assert "http://127.0.0.1:9/x.png" in urls
