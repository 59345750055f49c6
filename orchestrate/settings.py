"""Where things are: the dbt project, its profiles, the default export and warehouse paths."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def default_project_dir() -> Path:
    """The dbt project: $TRUFFLE_PROJECT_DIR, else the current folder if it holds a
    dbt_project.yml, else the checkout this package was installed from."""
    configured = os.environ.get("TRUFFLE_PROJECT_DIR")
    if configured:
        return Path(configured).resolve()
    cwd = Path.cwd()
    if (cwd / "dbt_project.yml").is_file():
        return cwd
    return PACKAGE_DIR.parent


def default_profiles_dir(project_dir: Path) -> Path:
    """Where plain dbt finds the profile too: the project folder's profiles.yml (a project laid
    out before it moved there keeps working from its profiles/ folder)."""
    if (
        not (project_dir / "profiles.yml").is_file()
        and (project_dir / "profiles" / "profiles.yml").is_file()
    ):
        return project_dir / "profiles"
    return project_dir


@dataclass
class Settings:
    """One invocation's view of the project (the CLI's global options)."""

    project_dir: Path = field(default_factory=default_project_dir)
    profiles_dir: Path | None = None
    target: str | None = None
    vars: dict[str, object] = field(default_factory=dict)
    duckdb_path: Path | None = None

    def __post_init__(self) -> None:
        self.project_dir = Path(self.project_dir).resolve()
        if self.duckdb_path is None:
            configured = os.environ.get("TRUFFLE_DUCKDB_PATH") or "warehouse/random_truffle.duckdb"
            self.duckdb_path = Path(configured)
        if not self.duckdb_path.is_absolute():
            self.duckdb_path = (self.project_dir / self.duckdb_path).resolve()
        if self.profiles_dir is None:
            env = os.environ.get("DBT_PROFILES_DIR")
            self.profiles_dir = Path(env) if env else default_profiles_dir(self.project_dir)
        self.profiles_dir = Path(self.profiles_dir).resolve()

    @property
    def target_name(self) -> str:
        return self.target or os.environ.get("TRUFFLE_TARGET", "duckdb")

    @property
    def export_path(self) -> Path:
        """The GA4 export folder (DuckDB): the ga4_export_path variable, relative to the project."""
        configured = self.vars.get("ga4_export_path") or os.environ.get("TRUFFLE_EXPORT_PATH")
        path = Path(str(configured)) if configured else Path("data/ga4_export")
        return path if path.is_absolute() else (self.project_dir / path).resolve()

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB warehouse file the duckdb target writes ($TRUFFLE_DUCKDB_PATH)."""
        assert self.duckdb_path is not None
        return self.duckdb_path

    def dbt_vars(self) -> dict[str, object]:
        """Variables passed to dbt: the user's, with the export path made absolute. The
        project's default export path is left to dbt_project.yml when dbt runs from the project
        folder (it resolves there): the source's rendered location then does not change with
        where the checkout lives, so a production manifest compares equal in slim CI."""
        from orchestrate.properties import dbt_property_vars

        merged = dict(self.vars)
        configured = merged.get("ga4_export_path") or os.environ.get("TRUFFLE_EXPORT_PATH")
        if configured or Path.cwd().resolve() != self.project_dir:
            merged["ga4_export_path"] = str(self.export_path)
        merged.update(dbt_property_vars(self))
        return merged
