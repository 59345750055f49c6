"""The short KPI summary printed after a build: read from the DuckDB warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class KpiSummary:
    first_date: str | None
    last_date: str | None
    days: int
    users: int
    sessions: int
    engaged_sessions: int
    events: int
    conversions: int
    local_revenue: dict[str, float]
    reporting_revenue: dict[str, float]

    def lines(self) -> list[str]:
        local = ", ".join(f"{amount:,.2f} {code}" for code, amount in self.local_revenue.items())
        reporting = ", ".join(
            f"{amount:,.2f} {code}" for code, amount in self.reporting_revenue.items()
        )
        return [
            f"days         {self.days} ({self.first_date} .. {self.last_date})",
            f"users        {self.users:,}",
            f"sessions     {self.sessions:,} ({self.engaged_sessions:,} engaged)",
            f"events       {self.events:,}",
            f"conversions  {self.conversions:,}",
            f"revenue      by currency paid: {local or 'none'}",
            f"             in reporting currencies: {reporting}",
        ]


def read_summary(warehouse_path: Path) -> KpiSummary:
    """KPIs of the whole warehouse (marts, not views, so it needs only the tables)."""
    with duckdb.connect(str(warehouse_path), read_only=True) as connection:
        days = connection.execute(
            "select count(distinct event_date), min(event_date), max(event_date) from events"
        ).fetchall()[0]
        users = connection.execute("select count(*) from user_attributes").fetchall()[0][0]
        sessions = connection.execute(
            "select count(*), count(*) filter (where is_engaged_session) from sessions"
        ).fetchall()[0]
        events = connection.execute("select count(*) from events").fetchall()[0][0]
        conversions = connection.execute(
            "select count(*), coalesce(sum(revenue_usd), 0), coalesce(sum(revenue_mxn), 0), "
            "coalesce(sum(revenue_cop), 0) from conversions"
        ).fetchall()[0]
        local = connection.execute(
            "select currency, sum(local_amount) from conversions "
            "where currency is not null group by currency order by currency"
        ).fetchall()
    return KpiSummary(
        first_date=str(days[1]) if days[1] else None,
        last_date=str(days[2]) if days[2] else None,
        days=int(days[0]),
        users=int(users),
        sessions=int(sessions[0]),
        engaged_sessions=int(sessions[1]),
        events=int(events),
        conversions=int(conversions[0]),
        local_revenue={str(code): float(amount or 0) for code, amount in local},
        reporting_revenue={
            "USD": float(conversions[1]),
            "MXN": float(conversions[2]),
            "COP": float(conversions[3]),
        },
    )
