"""Bytes a BigQuery query would process, from a dry-run job (nothing runs, nothing is billed).

Google's `client_query_dry_run.py` sample: `QueryJobConfig(dry_run=True,
use_query_cache=False)`, then the job's `total_bytes_processed`. The query cache is off so the
figure is what a first run bills. An emulator accepts dry runs but reports 0 bytes; byte
thresholds are measured on DuckDB (`truffle cost`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class DryRunError(Exception):
    """BigQuery rejected the query (invalid SQL, unknown table, ...): one line."""


def _one_line(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error)
    for line in str(message).splitlines():
        if line.strip() and not line.lstrip().startswith(("-----", "Location:", "Job ID:")):
            return " ".join(line.split())
    return type(error).__name__


def dry_run_bytes(
    sql: str,
    *,
    client: Any,
    location: str | None = None,
    query_parameters: Sequence[Any] = (),
    default_dataset: str | None = None,
) -> int:
    """Bytes the query would process, from a dry-run job on `client` (a
    google.cloud.bigquery.Client: `BigQueryEngine(...).client` connects as a profile or an
    emulator says). Raises DryRunError with BigQuery's message, on one line, when the query
    is invalid."""
    from google.api_core import exceptions as api_exceptions
    from google.cloud import bigquery

    config = bigquery.QueryJobConfig(
        dry_run=True,
        use_query_cache=False,
        query_parameters=list(query_parameters),
        default_dataset=default_dataset,
    )
    try:
        job = client.query(sql, job_config=config, location=location or client.location)
    except (api_exceptions.GoogleAPIError, ValueError) as error:
        raise DryRunError(_one_line(error)) from None
    return int(job.total_bytes_processed or 0)
