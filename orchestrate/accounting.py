"""Where every raw export row of a run's window ended, per export day: kept, a collapsed
duplicate, quarantined (per reason) or removed (by retention or erasure, per reason), so that
raw = kept + collapsed duplicates + quarantined + removed for each day; with several GA4
properties, also for each property and day.

The counts come from the build itself: the events mart logs its accounting after its
erasure and retention steps (macros/ga4/accounting.sql) and the delete guard reports rows
erased from staging per export day (macros/ga4/deletes.sql, by_day); dbt.py collects both.
"""

from __future__ import annotations

from rich.table import Table

from orchestrate.console import console
from orchestrate.dbt import DbtRun


def _iso(day: object) -> str:
    text = str(day or "")
    return f"{text[:4]}-{text[4:6]}-{text[6:]}" if len(text) == 8 and text.isdigit() else "unknown"


def accounted_properties(run: DbtRun) -> list[str]:
    """The GA4 properties whose rows a run accounted for, sorted."""
    found = {str(item["property"]) for item in run.accounting if item.get("property")}
    for deletion in run.deletions:
        found.update(str(name) for name in (deletion.get("by_property_day") or {}))  # type: ignore[union-attr]
    return sorted(found)


def row_accounting(run: DbtRun, property_id: str | None = None) -> dict[str, dict[str, object]]:
    """{export day (YYYY-MM-DD): {raw, kept, collapsed_duplicates, quarantined: {reason: rows},
    removed: {retention|erasure: rows}}}, sorted by day; empty when the run built no events.
    Every property's rows summed, or (`property_id`) one property's."""
    days: dict[str, dict[str, object]] = {}

    def entry(day: object) -> dict[str, object]:
        return days.setdefault(
            _iso(day),
            {"raw": 0, "kept": 0, "collapsed_duplicates": 0, "quarantined": {}, "removed": {}},
        )

    def add(bucket: dict, reason: str, rows: int) -> None:
        bucket[reason] = bucket.get(reason, 0) + rows

    for item in run.accounting:
        if property_id is not None and str(item.get("property")) != property_id:
            continue
        counted = entry(item.get("day"))
        rows = int(item.get("rows") or 0)
        counted["collapsed_duplicates"] += int(item.get("collapsed") or 0)  # type: ignore[operator]
        if item.get("outcome") == "kept":
            counted["kept"] += rows  # type: ignore[operator]
        else:
            add(counted[str(item.get("outcome"))], str(item.get("reason")), rows)  # type: ignore[arg-type]
    for deletion in run.deletions:
        if deletion.get("refused") or deletion.get("skipped"):
            continue
        removed = (
            deletion.get("by_day")
            if property_id is None
            else (deletion.get("by_property_day") or {}).get(property_id)  # type: ignore[union-attr]
        )
        for day, rows in (removed or {}).items():  # type: ignore[union-attr]
            add(entry(day)["removed"], str(deletion.get("step")), int(rows))  # type: ignore[arg-type]
    for counted in days.values():
        counted["raw"] = (
            counted["kept"]  # type: ignore[operator]
            + counted["collapsed_duplicates"]
            + sum(counted["quarantined"].values())  # type: ignore[union-attr]
            + sum(counted["removed"].values())  # type: ignore[union-attr]
        )
    return dict(sorted(days.items()))


def accounting_by_property(run: DbtRun) -> dict[str, dict[str, dict[str, object]]]:
    """{property id: its row_accounting}, when the run accounted for several properties (each
    property's own raw = kept + collapsed duplicates + quarantined + removed); else {}."""
    properties = accounted_properties(run)
    if len(properties) < 2:
        return {}
    return {property_id: row_accounting(run, property_id) for property_id in properties}


def _reasons(bucket: dict[str, int]) -> str:
    return ", ".join(f"{reason} {rows:,}" for reason, rows in sorted(bucket.items()))


def print_accounting(
    accounting: dict[str, dict[str, object]],
    title: str = "export rows accounted for (per export day)",
) -> None:
    """One line per export day: where its raw rows went."""
    if not accounting:
        return
    table = Table(title=title)
    for column in ("day", "raw", "kept", "duplicates", "quarantined", "removed"):
        table.add_column(column, justify="left" if column in ("day",) else "right")
    for day, counted in accounting.items():
        quarantined: dict[str, int] = counted["quarantined"]  # type: ignore[assignment]
        removed: dict[str, int] = counted["removed"]  # type: ignore[assignment]
        table.add_row(
            day,
            f"{counted['raw']:,}",
            f"{counted['kept']:,}",
            f"{counted['collapsed_duplicates']:,}",
            _reasons(quarantined) or "0",
            _reasons(removed) or "0",
        )
    console.print(table)
