"""`truffle report`: the warehouse as one self-contained HTML page of KPI cards and charts.

Every figure on the page is a row of an analysis in analyses/ (KPIs, daily trends, revenue by
currency paid, the funnel, sessions by channel and device, audiences, data quality), run
through the same path as `truffle query`: compiled once, checked by the query guard, measured
for cost, bound parameters, time limit and memory cap. Python only lays the rows out: charts
are Vega-Lite specifications (altair) rendered to static SVG offline (vl-convert-python), so
the page needs no script and no network to be read, on screen or on paper.
"""

from __future__ import annotations

import datetime as dt
import decimal
import html
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrate.console import CliError
from orchestrate.cost import Thresholds
from orchestrate.engines import DEFAULT_TIMEOUT_SECONDS, DuckDBEngine, Engine
from orchestrate.settings import Settings

LAST_CHOICES = (7, 30, 90)
DEFAULT_LAST_DAYS = 30
CURRENCY_ANALYSIS = "get_report_kpis"  # its `currency` parameter lists the reporting currencies
NEEDED_RELATIONS = ("sessions", "conversions", "events", "daily_kpis", "audience_metrics")
FUNNEL = "get_conversion_funnel"

# Okabe & Ito's palette: told apart with every common colour-vision deficiency; series also
# differ by dash or position so the page reads in greyscale print.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
INK = "#1f2328"
MUTED = "#57606a"
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
FULL_WIDTH = 860
HALF_WIDTH = 380

Rows = list[dict[str, Any]]


@dataclass
class ReportData:
    """The rows of each analysis the page shows, and what they were asked for."""

    start: dt.date
    end: dt.date
    currency: str
    engine: str
    kpis: Rows
    daily: Rows
    revenue: Rows
    funnel: Rows
    channels: Rows
    devices: Rows
    audiences: Rows
    quality: Rows
    analyses: list[str] = field(default_factory=list)
    property_id: str | None = None  # None: every property of the warehouse


@dataclass
class Runner:
    """Runs analyses the way `truffle query` does (guard, cost check, bound parameters)."""

    settings: Settings
    engine: Engine
    thresholds: Thresholds
    allow_expensive: bool = False
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    used: list[str] = field(default_factory=list)

    def run(self, name: str, **given: object) -> Rows:
        from orchestrate.queries import bind_values, compile_analysis, get_analysis, run_checked

        analysis = get_analysis(self.settings, name)
        values = bind_values(
            analysis, {key: str(value) for key, value in given.items()}, self.engine
        )
        outcome = run_checked(
            self.engine,
            analysis.name,
            compile_analysis(self.settings, analysis),
            values,
            analysis.bind_order,
            thresholds=self.thresholds,
            meta={},
            allow_expensive=self.allow_expensive,
            timeout_seconds=self.timeout_seconds,
            max_rows=10_000,
        )
        if name not in self.used:
            self.used.append(name)
        result = outcome.result
        return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def reporting_currencies(settings: Settings) -> tuple[str, ...]:
    """The warehouse's reporting currencies: the choices of the KPI analysis's parameter."""
    from orchestrate.queries import get_analysis

    return get_analysis(settings, CURRENCY_ANALYSIS).parameter("currency").choices


def check_currency(settings: Settings, currency: str) -> str:
    code = currency.strip().upper()
    known = reporting_currencies(settings)
    if code not in known:
        raise CliError(
            f"--currency {currency[:20]!r} is not a reporting currency of the warehouse "
            f"(one of {', '.join(known)})"
        )
    return code


def check_warehouse(engine: Engine) -> None:
    """A built warehouse holds the marts and views the report reads (exit 2 otherwise)."""
    if isinstance(engine, DuckDBEngine) and not engine.path.is_file():
        raise CliError(
            f"no warehouse at {engine.path}: build it first (truffle build, or make demo)"
        )
    names = {name[-1] for name in engine.relations()}
    missing = [name for name in NEEDED_RELATIONS if name not in names]
    if missing:
        raise CliError(
            f"the warehouse is not built (no {', '.join(missing)}): build it first "
            "(truffle build, or make demo)"
        )


def parse_day(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise CliError(f"{option} {value[:40]!r} is not a date (YYYY-MM-DD)") from None


def resolve_range(
    start: dt.date | None,
    end: dt.date | None,
    last: int | None,
    newest: Callable[[], dt.date],
) -> tuple[dt.date, dt.date]:
    """The date range: --start and --end, or the --last 7/30/90 days to the newest session."""
    if last is not None and (start is not None or end is not None):
        raise CliError("give --start and --end, or --last, not both")
    if (start is None) != (end is None):
        raise CliError("give both --start and --end (or --last 7, 30 or 90)")
    if start is not None and end is not None:
        if start > end:
            raise CliError(f"empty range: --start {start} is after --end {end}")
        return start, end
    days = DEFAULT_LAST_DAYS if last is None else last
    if days not in LAST_CHOICES:
        raise CliError(f"--last must be one of {', '.join(map(str, LAST_CHOICES))}, not {days}")
    final = newest()
    return final - dt.timedelta(days=days - 1), final


def gather(runner: Runner, start: dt.date, end: dt.date, currency: str) -> ReportData:
    """Run the report's analyses for the range (the KPIs first: no data, no report)."""
    from orchestrate.engines import QueryFailed

    period = {"start_date": start, "end_date": end}
    try:
        kpis = runner.run("get_report_kpis", currency=currency, **period)
    except QueryFailed as error:  # BigQuery: the dataset or a model is not there
        if "not found" in str(error).lower():
            raise CliError(f"the warehouse is not built ({error}): build it first") from None
        raise
    if not kpis or not kpis[0]["period_sessions"]:
        from orchestrate.queries import session_date_range

        oldest, newest = session_date_range(runner.engine)
        raise CliError(
            f"no sessions between {start} and {end}: the warehouse holds {oldest} to {newest}"
        )
    return ReportData(
        start=start,
        end=end,
        currency=currency,
        engine=runner.engine.name,
        property_id=getattr(runner.engine, "property_id", None),
        kpis=kpis,
        daily=runner.run("get_session_trends", grain="day", **period),
        revenue=runner.run("get_revenue_by_currency", currency=currency, **period),
        funnel=runner.run(FUNNEL, **period),
        channels=runner.run("get_sessions_by_dimension", dimension="channel_group", **period),
        devices=runner.run("get_sessions_by_dimension", dimension="device_category", **period),
        audiences=runner.run("get_audience_activity", **period),
        quality=runner.run("get_data_quality", **period),
        analyses=runner.used,
    )


# ---------------------------------------------------------------------------------------------
# Formatting (display only: every value comes from a row)


def number(value: object, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{float(value):,.{digits}f}"  # type: ignore[arg-type]


def kpi_value(row: dict[str, Any], key: str = "value") -> str:
    value = row[key]
    if value is None:
        return "n/a"
    if row["unit"] == "percent":
        return f"{float(value):.1f}%"
    if row["unit"] == "currency":
        return f"{float(value):,.2f} {row['currency']}"
    return number(value)


def kpi_change(row: dict[str, Any]) -> tuple[str, str]:
    """The change line of a card and its direction (up, down, flat, none)."""
    change = row["change"]
    if change is None:
        return "no data in the previous period", "none"
    change = float(change)
    unit = " pt" if row["change_unit"] == "pt" else "%"
    direction = "up" if change > 0 else "down" if change < 0 else "flat"
    arrow = {"up": "▲", "down": "▼", "flat": "="}[direction]
    return f"{arrow} {change:+,.1f}{unit} vs previous period", direction


KPI_LABELS = {
    "users": "Users",
    "sessions": "Sessions",
    "engaged_session_rate": "Engaged-session rate",
    "conversions": "Conversions",
    "conversion_rate": "Conversion rate",
    "revenue": "Revenue",
}


# ---------------------------------------------------------------------------------------------
# Charts: Vega-Lite specifications rendered to static SVG


def _plotted(value: object) -> object:
    """A value as the chart's JSON data holds it: dates as ISO text, money (an exact decimal
    in the warehouse) as a JSON number."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def _values(rows: Rows, keys: list[str]) -> list[dict[str, Any]]:
    return [{key: _plotted(row[key]) for key in keys} for row in rows]


def _config(chart: Any) -> Any:
    return (
        chart.configure(font=FONT, background="white")
        .configure_axis(labelFontSize=12, titleFontSize=12, labelColor=INK, titleColor=INK)
        .configure_legend(labelFontSize=12, titleFontSize=12, orient="top")
        .configure_view(stroke=None)
    )


def svg(chart: Any) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(_config(chart).to_dict())


def _day_axis(field_name: str, kind: str = "T") -> Any:
    """Days on x: temporal for lines, ordinal (one band a day) for bars; dates are UTC days."""
    import altair as alt

    return alt.X(
        f"{field_name}:{kind}",
        timeUnit="utcyearmonthdate",
        title="day",
        axis=alt.Axis(format="%b %d", labelAngle=-40, labelOverlap="parity")
        if kind == "O"
        else alt.Axis(format="%b %d", labelAngle=-40, tickCount="day"),
    )


def daily_chart(rows: Rows) -> str:
    import altair as alt

    long = [
        {"day": _plotted(row["period_start_date"]), "measure": measure, "count": row[measure]}
        for row in rows
        for measure in ("sessions", "users", "conversions")
    ]
    base = alt.Chart(alt.Data(values=long)).encode(x=_day_axis("day"))
    colours = alt.Scale(
        domain=["sessions", "users", "conversions"], range=[PALETTE[0], PALETTE[1], PALETTE[5]]
    )
    dashes = alt.Scale(domain=["sessions", "users", "conversions"], range=[[1, 0], [6, 3], [2, 2]])

    def panel(measures: list[str], title: str, height: int) -> Any:
        return (
            base.transform_filter(alt.FieldOneOfPredicate(field="measure", oneOf=measures))
            .mark_line(point=True, strokeWidth=2.5)
            .encode(
                y=alt.Y("count:Q", title=title),
                color=alt.Color("measure:N", scale=colours, title=None),
                strokeDash=alt.StrokeDash("measure:N", scale=dashes, title=None),
            )
            .properties(width=FULL_WIDTH - 80, height=height)
        )

    chart = alt.vconcat(
        panel(["sessions", "users"], "sessions, users", 220),
        panel(["conversions"], "conversions", 120),
    ).resolve_scale(color="shared", strokeDash="shared")
    return svg(chart)


def revenue_chart(rows: Rows, currency: str) -> str:
    import altair as alt

    data = _values(rows, ["conversion_date", "currency_paid", "revenue", "conversions"])
    data = [row for row in data if row["revenue"] is not None]  # unknown currency: no rate
    currencies = sorted({row["currency_paid"] for row in data})
    chart = (
        alt.Chart(alt.Data(values=data))
        .mark_bar()
        .encode(
            x=_day_axis("conversion_date", "O"),
            y=alt.Y("sum(revenue):Q", title=f"revenue ({currency})", stack="zero"),
            color=alt.Color(
                "currency_paid:N",
                title="currency paid",
                scale=alt.Scale(domain=currencies, range=list(PALETTE[: len(currencies)])),
            ),
            order=alt.Order("currency_paid:N"),
        )
        .properties(width=FULL_WIDTH - 80, height=220)
    )
    return svg(chart)


def funnel_chart(rows: Rows) -> str:
    import altair as alt

    data = [
        {
            "step": f"{row['step_number']}. {row['event_name']}",
            "sessions": row["sessions"],
            "previous": row["sessions"] + row["drop_off_sessions"],
            "label": (
                f"{number(row['sessions'])} sessions"
                + (
                    f"  ({number(row['step_conversion_pct'], 1)}% of the step before, "
                    f"drop-off {number(row['drop_off_sessions'])} = "
                    f"{number(row['drop_off_pct'], 1)}%)"
                    if row["step_number"] > 1
                    else ""
                )
            ),
        }
        for row in rows
    ]
    order = [item["step"] for item in data]
    y = alt.Y("step:N", sort=order, title=None, axis=alt.Axis(labelLimit=220))
    base = alt.Chart(alt.Data(values=data)).encode(y=y)
    reached_before = base.mark_bar(color="#d0d7de", stroke=MUTED, strokeDash=[3, 2]).encode(
        x=alt.X("previous:Q", title="sessions")
    )
    reached = base.mark_bar(color=PALETTE[0]).encode(x="sessions:Q")
    labels = base.mark_text(align="left", dx=4, color=INK, fontSize=12).encode(
        x="previous:Q", text="label:N"
    )
    chart = (reached_before + reached + labels).properties(
        width=FULL_WIDTH - 380, height=36 * len(data)
    )
    return svg(chart)


def breakdown_chart(rows: Rows, title: str) -> str:
    import altair as alt

    data = _values(rows, ["dimension_value", "sessions", "conversions", "share_of_sessions_pct"])
    order = [item["dimension_value"] for item in data]
    y = alt.Y("dimension_value:N", sort=order, title=None, axis=alt.Axis(labelLimit=150))

    def bars(measure: str, colour: str, width: int) -> Any:
        base = alt.Chart(alt.Data(values=data)).encode(y=y)
        return (
            base.mark_bar(color=colour).encode(x=alt.X(f"{measure}:Q", title=measure))
            + base.mark_text(align="left", dx=3, fontSize=11, color=INK).encode(
                x=f"{measure}:Q", text=alt.Text(f"{measure}:Q", format=",")
            )
        ).properties(width=width, height=max(60, 24 * len(data)))

    chart = alt.hconcat(
        bars("sessions", PALETTE[0], HALF_WIDTH - 60),
        bars("conversions", PALETTE[5], HALF_WIDTH - 200),
    ).properties(title=alt.Title(title, anchor="start", fontSize=13, color=INK))
    return svg(chart)


def audience_chart(rows: Rows) -> str:
    import altair as alt

    data = _values(rows, ["audience_name", "members", "sessions"])
    order = [item["audience_name"] for item in data]
    base = alt.Chart(alt.Data(values=data)).encode(
        y=alt.Y("audience_name:N", sort=order, title=None, axis=alt.Axis(labelLimit=220))
    )
    chart = (
        base.mark_bar(color=PALETTE[2]).encode(x=alt.X("members:Q", title="members (current)"))
        + base.mark_text(align="left", dx=3, fontSize=11, color=INK).encode(
            x="members:Q", text=alt.Text("members:Q", format=",")
        )
    ).properties(width=FULL_WIDTH - 320, height=max(60, 26 * len(data)))
    return svg(chart)


# ---------------------------------------------------------------------------------------------
# The page

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: DejaVu Sans, Helvetica, Arial, sans-serif; color: #1f2328; margin: 0;
  background: #f6f8fa; line-height: 1.45; }
main { max-width: 960px; margin: 0 auto; padding: 24px 28px 40px; background: white; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 30px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.sub { color: #57606a; margin: 0 0 16px; font-size: 14px; }
.cards + .sub { margin-top: 12px; }
.cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; }
.card { border: 1px solid #d0d7de; border-radius: 8px; padding: 12px 14px; }
.card .label { font-size: 13px; color: #57606a; text-transform: uppercase; letter-spacing: .03em; }
.card .value { font-size: 26px; font-weight: 700; margin: 2px 0; white-space: nowrap; }
.card .value .unit { font-size: 15px; font-weight: 600; color: #57606a; }
.card .change { font-size: 13px; }
.card .previous { font-size: 12px; color: #57606a; }
.up { color: #0a6b3d; } .down { color: #b3261e; } .flat, .none { color: #57606a; }
figure { margin: 12px 0 22px; break-inside: avoid; page-break-inside: avoid; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 13px; color: #57606a; margin-top: 6px; }
ul.quality { padding-left: 20px; } ul.quality li { margin: 4px 0; }
.warn { color: #b3261e; font-weight: 600; } .ok { color: #0a6b3d; font-weight: 600; }
footer { margin-top: 28px; font-size: 12px; color: #57606a; }
@media (max-width: 720px) { .cards { grid-template-columns: repeat(2, 1fr); } }
@media print {
  body { background: white; }
  main { max-width: none; padding: 0; }
  .cards { grid-template-columns: repeat(3, 1fr); }
  .card, h2 { break-inside: avoid; break-after: avoid; }
  @page { margin: 14mm; }
}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _figure(svg_text: str, caption: str, name: str) -> str:
    return (
        f'<figure data-chart="{_e(name)}" role="group" aria-label="{_e(caption)}">'
        f"{svg_text}<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _value_html(text: str) -> str:
    """The card's figure, a currency code after it set smaller (long COP amounts fit)."""
    amount, _, code = text.partition(" ")
    if not code:
        return _e(text)
    return f'{_e(amount)} <span class="unit">{_e(code)}</span>'


def _cards(data: ReportData) -> str:
    cards = []
    for row in data.kpis:
        change, direction = kpi_change(row)
        previous = kpi_value(row, "previous_value")
        cards.append(
            f'<div class="card" data-metric="{_e(row["metric"])}">'
            f'<div class="label">{_e(KPI_LABELS.get(row["metric"], row["metric"]))}</div>'
            f'<div class="value">{_value_html(kpi_value(row))}</div>'
            f'<div class="change {direction}">{_e(change)}</div>'
            f'<div class="previous">previous period: {_e(previous)}</div></div>'
        )
    return '<section class="cards" aria-label="key figures">' + "".join(cards) + "</section>"


def _quality(data: ReportData) -> str:
    if not data.quality:
        return "<p>No monitor figures for this range.</p>"
    q = data.quality[0]
    fresh = bool(q["is_fresh"])
    consent = q["consent_denied_pct"]
    consent_ok = consent is None or float(consent) <= float(q["consent_denied_limit_pct"])
    items = [
        (
            fresh,
            f"Freshness: the newest export day is {q['newest_export_day']}, "
            f"{number(q['newest_export_day_age_days'])} day(s) before today "
            f"(limit {q['freshness_max_days']} days): "
            + ("fresh." if fresh else "stale: recent days are missing from these figures."),
        ),
        (
            not q["quarantined_rows"],
            f"Quarantine: {number(q['quarantined_rows'])} raw row(s) of this range held out "
            f"as unusable ({number(q['quarantined_rows_all_days'])} over all days); see "
            "stg_ga4__events_quarantined.",
        ),
        (
            consent_ok,
            f"Consent: {number(consent, 2)}% of the range's {number(q['events'])} events had "
            f"analytics consent denied (worst day {number(q['max_daily_consent_denied_pct'], 2)}"
            f"%, monitor limit {number(q['consent_denied_limit_pct'], 0)}%); they count as "
            "events but carry no user or session.",
        ),
        (
            True,
            f"Export days in the range: {number(q['export_days'])}; duplicate export rows "
            f"collapsed: {number(q['collapsed_duplicate_rows'])}.",
        ),
    ]
    lines = "".join(
        f'<li><span class="{"ok" if good else "warn"}">{"OK" if good else "Check"}</span> '
        f"{_e(text)}</li>"
        for good, text in items
    )
    return f'<ul class="quality" data-section="quality">{lines}</ul>'


def render_html(data: ReportData, generated_at: dt.datetime) -> str:
    first = data.kpis[0]
    days = (data.end - data.start).days + 1
    cur = data.currency
    sections = [
        "<h2>Key figures</h2>",
        _cards(data),
        '<p class="sub">Users, sessions and conversions count sessions by their start day '
        "(users: distinct people, identities stitched); rates are shares of those sessions "
        "(a converting session has at least one conversion); revenue sums the conversions of "
        f"the range by conversion day in {_e(cur)} at the dated rate. Each is compared with "
        f"the previous {days} day(s), {_e(first['previous_start_date'])} to "
        f"{_e(first['previous_end_date'])} (counts and revenue in percent, rates in "
        "percentage points).</p>",
        "<h2>Daily trend</h2>",
        _figure(
            daily_chart(data.daily),
            "Sessions, users (distinct per day) and conversions of those sessions, per day of "
            "session start (property time zone); one point per day.",
            "daily",
        ),
        "<h2>Revenue per day by currency paid</h2>",
        _figure(
            revenue_chart(data.revenue, cur)
            if data.revenue
            else "<p>No conversions with revenue in this range.</p>",
            f"Revenue of conversions per conversion day, in {cur} at the dated exchange rate, "
            "stacked by the currency the customer paid in; one bar per day (conversions "
            "without an amount, or in a currency without a rate, are not in it).",
            "revenue",
        ),
        "<h2>Conversion funnel</h2>",
        _figure(
            funnel_chart(data.funnel),
            "Sessions reaching each step of the default funnel in order within the session "
            "(events of the range); blue: sessions reaching the step, grey dashed: sessions "
            "that reached the step before (the difference is the drop-off).",
            "funnel",
        ),
        "<h2>Where sessions come from</h2>",
        _figure(
            breakdown_chart(data.channels, "By default channel group"),
            "Sessions starting in the range and their conversions, per session default channel "
            "group (session-scoped source, not the user's first touch); one bar per group.",
            "channels",
        ),
        _figure(
            breakdown_chart(data.devices, "By device category"),
            "Sessions starting in the range and their conversions, per device category; one "
            "bar per category.",
            "devices",
        ),
        "<h2>Audiences</h2>",
        _figure(
            audience_chart(data.audiences)
            if data.audiences
            else "<p>No audience has members with activity.</p>",
            "Current members of each audience (rules applied to today's user attributes, "
            "from audience_metrics); one bar per audience.",
            "audiences",
        ),
        "<h2>What these numbers stand on</h2>",
        _quality(data),
    ]
    scope = "" if data.property_id is None else f" of property {data.property_id}"
    title = f"Random Truffle report{scope}, {data.start} to {data.end}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{_e(title)}</h1>"
        f'<p class="sub" data-range="{data.start}/{data.end}">{days} day(s), '
        f"{_e(data.start)} to {_e(data.end)}; revenue in {_e(cur)}; "
        f"{_e(data.engine)} warehouse; generated {_e(generated_at.strftime('%Y-%m-%d %H:%M UTC'))}"
        "</p>"
        + "\n".join(sections)
        + "<footer>Written by <code>truffle report</code>. Every number is a row of the "
        "analyses " + ", ".join(f"<code>{_e(name)}</code>" for name in data.analyses) + " "
        "(analyses/), run through the query guard and cost check as <code>truffle query</code>."
        "</footer></main></body></html>\n"
    )


def write_atomically(path: Path, text: str) -> None:
    """All of the file or none of it: a temporary file beside it, renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".partial", dir=path.parent
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's 0600
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def default_output(settings: Settings) -> Path:
    return settings.project_dir / "target" / "report.html"


def write_report(
    settings: Settings,
    *,
    start: str | None = None,
    end: str | None = None,
    last: int | None = None,
    currency: str = "USD",
    output: Path | None = None,
    thresholds: Thresholds,
    allow_expensive: bool = False,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    memory_limit: str | None = None,
    property_id: str | None = None,
) -> Path:
    """Check the input, run the analyses (on one GA4 property's rows with `property_id`),
    write the page; return its path."""
    from orchestrate.queries import restricted_engine, session_date_range

    parse_day(start, "--start"), parse_day(end, "--end")  # bad dates fail before any query
    code = check_currency(settings, currency)
    if last is not None and last not in LAST_CHOICES:
        raise CliError(f"--last must be one of {', '.join(map(str, LAST_CHOICES))}, not {last}")
    target = (output or default_output(settings)).resolve()
    if target.is_dir():
        raise CliError(f"--output {target} is a folder: give a file name")
    engine = restricted_engine(settings, memory_limit, property_id)
    check_warehouse(engine)
    first, final = resolve_range(
        parse_day(start, "--start"),
        parse_day(end, "--end"),
        last,
        lambda: session_date_range(engine)[1],
    )
    runner = Runner(settings, engine, thresholds, allow_expensive, timeout_seconds)
    data = gather(runner, first, final, code)
    page = render_html(data, dt.datetime.now(dt.UTC))
    try:
        write_atomically(target, page)
    except OSError as error:
        raise CliError(f"cannot write {target}: {error.strerror or type(error).__name__}") from None
    return target
