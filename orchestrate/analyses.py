"""The reusable analyses in analyses/: their declared parameters (analyses/_analyses.yml) and
turning command-line values into typed values to bind."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

TYPES = ("string", "date", "int", "float", "string_list")
RELATIVE_DATE = re.compile(r"^(newest|oldest)_session_date(?:\s*([+-])\s*(\d+))?$")
MAX_LIST_ITEMS = 10
MAX_TEXT_LENGTH = 512


class ParameterError(ValueError):
    """A parameter value is missing, unknown or of the wrong type (exit code 2)."""


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: object
    description: str
    choices: tuple[str, ...] = ()
    min_items: int = 1  # string_list: the fewest values it takes

    def parse(self, text: str) -> object:
        """Turn the command-line text into a typed value; never SQL, always data."""
        if len(text) > MAX_TEXT_LENGTH * (MAX_LIST_ITEMS if self.type == "string_list" else 1):
            raise ParameterError(f"{self.name}: value too long")
        try:
            if self.type == "date":
                value: object = dt.date.fromisoformat(text.strip())
            elif self.type == "int":
                value = int(text.strip())
            elif self.type == "float":
                value = float(text.strip())
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError("not a finite number")
            elif self.type == "string_list":
                value = [item.strip() for item in text.split(",") if item.strip()]
                if not self.min_items <= len(value) <= MAX_LIST_ITEMS:
                    raise ValueError(
                        f"give {self.min_items} to {MAX_LIST_ITEMS} comma-separated values"
                    )
            else:
                value = text
        except ValueError as error:
            raise ParameterError(
                f"{self.name}: {text!r} is not a valid {self.type} ({error})"
            ) from None
        self.check_choice(value)
        return value

    def check_choice(self, value: object) -> None:
        if self.choices and value not in self.choices:
            raise ParameterError(f"{self.name}: {value!r} is not one of {', '.join(self.choices)}")


@dataclass(frozen=True)
class Analysis:
    name: str
    description: str
    parameters: tuple[Parameter, ...]
    secret_parameters: tuple[str, ...] = ()
    path: Path = field(default=Path())

    def parameter(self, name: str) -> Parameter:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        known = ", ".join(p.name for p in self.parameters) or "none"
        raise ParameterError(f"{self.name} has no parameter {name!r} (its parameters: {known})")

    def check_range(self, values: dict[str, object]) -> None:
        """A start_date after the end_date is refused (it would return nothing)."""
        start, end = values.get("start_date"), values.get("end_date")
        if isinstance(start, dt.date) and isinstance(end, dt.date) and end < start:
            raise ParameterError(
                f"end_date {end} is before start_date {start}: give an end on or after the start"
            )

    @property
    def bind_order(self) -> list[str]:
        """The order DuckDB's numbered parameters ($1, $2, ...) follow (see truffle_param)."""
        return [p.name for p in self.parameters] + list(self.secret_parameters)


def seed_values(project_dir: Path, item: dict) -> tuple[str, ...]:
    """The values a parameter may take from a seed column (`choices_from: seed.column`, e.g.
    audiences.audience_id): read from the seed file, so a new row is a new choice."""
    source = item.get("choices_from")
    if not source:
        return ()
    seed, _, column = str(source).partition(".")
    with (project_dir / "seeds" / f"{seed}.csv").open(newline="") as handle:
        return tuple(sorted({row[column] for row in csv.DictReader(handle) if row.get(column)}))


def load_analyses(project_dir: Path) -> dict[str, Analysis]:
    """The analyses declared in analyses/_analyses.yml that have a .sql file."""
    folder = project_dir / "analyses"
    document = yaml.safe_load((folder / "_analyses.yml").read_text()) or {}
    analyses: dict[str, Analysis] = {}
    for entry in document.get("analyses", []):
        meta = (entry.get("config") or {}).get("meta") or {}
        parameters = []
        for item in meta.get("parameters", []):
            if item.get("type", "string") not in TYPES:
                raise ValueError(f"{entry['name']}: parameter type must be one of {TYPES}")
            parameters.append(
                Parameter(
                    name=item["name"],
                    type=item.get("type", "string"),
                    default=item.get("default"),
                    description=item.get("description", ""),
                    choices=tuple(item.get("choices") or seed_values(project_dir, item)),
                    min_items=int(item.get("min_items", 1)),
                )
            )
        path = folder / f"{entry['name']}.sql"
        if path.is_file():
            analyses[entry["name"]] = Analysis(
                name=entry["name"],
                description=" ".join(str(entry.get("description", "")).split()),
                parameters=tuple(parameters),
                secret_parameters=tuple(meta.get("secret_parameters", [])),
                path=path,
            )
    return analyses


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """`key=value` strings from the command line, into a dict (the value may contain '=')."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise ParameterError(f"--param {pair!r}: expected key=value")
        values[key.strip()] = value
    return values


def resolve_parameters(
    analysis: Analysis,
    given: dict[str, str],
    session_dates: Callable[[], tuple[dt.date, dt.date]],
) -> dict[str, object]:
    """Typed values for every declared parameter: the given ones parsed, the rest defaulted.

    `session_dates` returns (oldest, newest) session date, for relative date defaults.
    """
    for name in given:
        analysis.parameter(name)  # unknown names are an error, not ignored
    values: dict[str, object] = {}
    for parameter in analysis.parameters:
        if parameter.name in given:
            values[parameter.name] = parameter.parse(given[parameter.name])
            continue
        default = parameter.default
        if parameter.type == "date" and isinstance(default, str):
            match = RELATIVE_DATE.match(default.strip())
            if not match:
                raise ParameterError(f"{parameter.name}: bad default {default!r}")
            oldest, newest = session_dates()
            base = newest if match.group(1) == "newest" else oldest
            days = int(match.group(3) or 0) * (-1 if match.group(2) == "-" else 1)
            default = base + dt.timedelta(days=days)
        if default is None:
            raise ParameterError(f"{parameter.name} is required (--param {parameter.name}=...)")
        parameter.check_choice(default)
        values[parameter.name] = default
    analysis.check_range(values)
    return values
