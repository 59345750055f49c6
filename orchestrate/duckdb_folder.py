"""A dbt-duckdb plugin that creates the warehouse file's folder before DuckDB opens it.

DuckDB creates a database file but not its folder, so in a fresh clone (no `warehouse/` yet)
a plain `dbt build` would stop with an IO Error. dbt-duckdb initializes a profile's plugins
before it connects; this one only makes the `path`'s parent folder (nothing for `:memory:`
or a MotherDuck/remote path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        path = str(getattr(self.creds, "path", "") or "")
        if path and path != ":memory:" and ":" not in path.split("/", 1)[0]:
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
