"""Optional parts: the BigQuery pieces (dbt-bigquery, google-cloud-bigquery, zetasql) come
with the `bigquery` extra, so a DuckDB-only install stays small. Code that needs them asks
here first and, when they are missing, stops with one line saying what to install."""

from __future__ import annotations

import importlib.util

from orchestrate.console import CliError

BIGQUERY_INSTALL = "pip install 'random-truffle[bigquery]'"
# what each use needs: the module to import, and the distribution that provides it
BIGQUERY_MODULES = {
    "dbt.adapters.bigquery": "dbt-bigquery",
    "google.cloud.bigquery": "google-cloud-bigquery",
    "zetasql": "zetasql",
}


class MissingExtra(CliError):
    """An optional part is not installed (exit code 2, one line)."""


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def require_bigquery(purpose: str, *modules: str) -> None:
    """Stop with one line when a BigQuery piece `purpose` needs is not installed."""
    missing = [BIGQUERY_MODULES[m] for m in modules or BIGQUERY_MODULES if not installed(m)]
    if missing:
        raise MissingExtra(
            f"{purpose} needs the BigQuery extra ({', '.join(missing)} not installed): "
            f"{BIGQUERY_INSTALL}"
        )
