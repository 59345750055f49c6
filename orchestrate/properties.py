"""The GA4 properties a warehouse reads, as the CLI sees them.

The declaration is the dbt variable `ga4_properties` (a list of {property_id, export_path or
project and dataset, time_zone, currency}); left empty, one property from the single-export
variables (`ga4_property_id`, else the number in `ga4_dataset`'s name, else that name;
`ga4_export_path`, `ga4_project` / `ga4_dataset`, `ga4_property_time_zone`,
`ga4_property_currency`). The models read the same declaration with the same rules
(macros/ga4/properties.sql): the CLI needs it before dbt runs, to check each export, its
freshness and each property's today.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orchestrate.dbt import DbtUsageError
from orchestrate.settings import Settings

PROPERTY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class Property:
    property_id: str
    export_path: Path | None
    project: str | None
    dataset: str | None
    time_zone: str
    currency: str
    declared: bool

    def today(self) -> dt.date:
        return dt.datetime.now(ZoneInfo(self.time_zone)).date()


def _var(settings: Settings, name: str, default: object = None) -> object:
    from orchestrate.run_dates import project_var

    return project_var(settings, name, default)


def _folder(settings: Settings, value: object) -> Path:
    path = Path(str(value))
    return path if path.is_absolute() else (settings.project_dir / path).resolve()


def declared_properties(settings: Settings) -> list[Property]:
    """The properties of this run, validated: one line (exit 2) naming what is wrong."""
    declared = _var(settings, "ga4_properties") or []
    if not isinstance(declared, list):
        raise DbtUsageError(
            "variable ga4_properties must be a list of properties ({property_id, export_path "
            f"or project and dataset, time_zone, currency}}), not {str(declared)[:60]!r}"
        )
    properties: list[Property] = []
    if not declared:
        configured = _var(settings, "ga4_property_id")
        dataset = _var(settings, "ga4_dataset")
        numbered = re.match(r"^analytics_([0-9]+)$", str(dataset))
        property_id = (
            str(configured).strip()
            if configured is not None
            else (numbered.group(1) if numbered else str(dataset))
        )
        properties.append(
            Property(
                property_id=property_id,
                export_path=settings.export_path,
                project=_optional(_var(settings, "ga4_project")),
                dataset=_optional(dataset),
                time_zone=str(_var(settings, "ga4_property_time_zone", "UTC")),
                currency=str(_var(settings, "ga4_property_currency", "USD")),
                declared=False,
            )
        )
    for index, entry in enumerate(declared, start=1):
        if not isinstance(entry, dict):
            raise DbtUsageError(
                f"ga4_properties entry {index} is not a property ({{property_id: ..., "
                f"export_path: ... or dataset: ..., time_zone: ..., currency: ...}}): "
                f"{str(entry)[:60]!r}"
            )
        property_id = "" if entry.get("property_id") is None else str(entry["property_id"])
        export_path = entry.get("export_path")
        properties.append(
            Property(
                property_id=property_id,
                export_path=_folder(settings, export_path) if export_path else None,
                project=_optional(entry.get("project")),
                dataset=_optional(entry.get("dataset")) or f"analytics_{property_id}",
                time_zone=str(entry.get("time_zone") or "UTC"),
                currency=str(entry.get("currency") or "USD"),
                declared=True,
            )
        )
    seen: set[str] = set()
    for index, prop in enumerate(properties, start=1):
        where = f"ga4_properties entry {index}" if prop.declared else "ga4_property_id"
        if not PROPERTY_ID.match(prop.property_id):
            what = (
                f"{prop.property_id[:40]!r} is not a property id"
                if prop.property_id
                else "is missing"
            )
            raise DbtUsageError(
                f"{where}: property_id {what}: use the GA4 property's id (digits, letters, "
                "'-' or '_')"
            )
        if prop.property_id in seen:
            raise DbtUsageError(
                f"ga4_properties: property_id {prop.property_id} is declared twice: each "
                "property once"
            )
        seen.add(prop.property_id)
        try:
            ZoneInfo(prop.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            name = "ga4_property_time_zone" if not prop.declared else "time_zone"
            raise DbtUsageError(
                f"property {prop.property_id}: unknown {name} {prop.time_zone!r} (use an IANA "
                "name such as America/Mexico_City)"
            ) from None
        if not CURRENCY.match(prop.currency):
            raise DbtUsageError(
                f"property {prop.property_id}: currency {prop.currency[:20]!r} is not an ISO "
                "4217 code (three capital letters, such as USD)"
            )
    return properties


def chosen_properties(settings: Settings, property_ids: list[str] | None) -> list[Property]:
    """The properties a command is for: those named (`--property`), else every declared one.
    A name that is not a declared property is refused (exit 2) before anything runs."""
    declared = declared_properties(settings)
    if not property_ids:
        return declared
    known = {prop.property_id: prop for prop in declared}
    for property_id in property_ids:
        if property_id not in known:
            raise DbtUsageError(
                f"--property {property_id[:40]!r} is not a declared property (declared: "
                f"{', '.join(known)}; ga4_properties)"
            )
    return [known[property_id] for property_id in dict.fromkeys(property_ids)]


def bigquery_exports(settings: Settings) -> list[tuple[str | None, str]]:
    """(project, dataset) of each declared property's BigQuery export (project None: the
    target's), for the offline proof's catalog; none for the single-export variables (the
    project's source is that export)."""
    return [
        (prop.project, prop.dataset)
        for prop in declared_properties(settings)
        if prop.declared and prop.dataset
    ]


def _optional(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def dbt_property_vars(settings: Settings) -> dict[str, object]:
    """The declared properties with each export folder absolute (dbt resolves a relative
    path against where it runs, the CLI against the project): {} when none are declared."""
    declared = settings.vars.get("ga4_properties")
    if not isinstance(declared, list) or not declared:
        return {}
    resolved = []
    for entry in declared:
        if isinstance(entry, dict) and entry.get("export_path"):
            entry = {**entry, "export_path": str(_folder(settings, entry["export_path"]))}
        resolved.append(entry)
    return {"ga4_properties": resolved}
