"""Running one read-only query on the warehouse engine, with bound parameters, a time limit and
a row limit; and measuring what a query reads.

DuckDB: a read-only connection to the warehouse file with external access disabled and the
configuration locked; parameters are DuckDB prepared parameters ($1, $2, ...). Bytes read come
from DuckDB's own profiler (`io.total_bytes_read`), on a cold connection, by running the query.
The counter sees blocks of the warehouse file (with block prefetching on, as local scans
otherwise bypass it) and bytes of Parquet/JSON export files; DuckDB skips data in whole row
groups (122,880 rows) and files, so that is the granularity of the figure.
BigQuery: google-cloud-bigquery with named query parameters; bytes from a dry-run job.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_ROWS = 10_000


class QueryTimeout(Exception):
    """The query ran past its time limit and was cancelled (exit code 1)."""


class QueryFailed(Exception):
    """The engine rejected or failed the query (exit code 1, one line)."""


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    max_rows: int


class Engine(Protocol):
    name: str

    def run(
        self,
        sql: str,
        parameters: dict[str, object],
        bind_order: Sequence[str],
        *,
        timeout_seconds: float,
        max_rows: int,
    ) -> QueryResult: ...

    def measure_bytes(
        self,
        sql: str,
        parameters: dict[str, object],
        bind_order: Sequence[str],
        *,
        timeout_seconds: float,
    ) -> int: ...


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


class DuckDBEngine:
    """The DuckDB warehouse file, read-only."""

    name = "duckdb"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _connect(self, *, external_access: bool) -> duckdb.DuckDBPyConnection:
        if not self.path.is_file():
            raise QueryFailed(
                f"no warehouse at {self.path}: build it first (truffle build, or make demo)"
            )
        connection = duckdb.connect(str(self.path), read_only=True)
        if not external_access:
            connection.execute("set enable_external_access = false")
            connection.execute("set lock_configuration = true")
        return connection

    @staticmethod
    def _positional(parameters: dict[str, object], bind_order: Sequence[str]) -> list[object]:
        return [parameters[name] for name in bind_order]

    @staticmethod
    def _with_timeout(
        connection: duckdb.DuckDBPyConnection, timeout_seconds: float, work: Any
    ) -> Any:
        """Run work(connection) in a thread; interrupt DuckDB when the time is up."""
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["value"] = work(connection)
            except BaseException as error:  # re-raised in the caller's thread
                outcome["error"] = error

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(timeout_seconds)
        if thread.is_alive():
            connection.interrupt()
            thread.join(10)
            raise QueryTimeout(
                f"the query ran longer than {timeout_seconds:g} s and was cancelled "
                "(raise the limit with --timeout)"
            )
        if "error" in outcome:
            error = outcome["error"]
            if isinstance(error, duckdb.InterruptException):
                raise QueryTimeout(f"the query was cancelled after {timeout_seconds:g} s")
            if isinstance(error, duckdb.Error):
                raise QueryFailed(_one_line(error)) from None
            raise error
        return outcome.get("value")

    def run(
        self,
        sql: str,
        parameters: dict[str, object],
        bind_order: Sequence[str],
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> QueryResult:
        values = self._positional(parameters, bind_order)

        def work(connection: duckdb.DuckDBPyConnection) -> QueryResult:
            cursor = connection.execute(sql, values) if values else connection.execute(sql)
            columns = [column[0] for column in cursor.description or []]
            rows = cursor.fetchmany(max_rows + 1)
            truncated = len(rows) > max_rows
            if truncated:
                connection.abort()
            return QueryResult(columns, rows[:max_rows], truncated, max_rows)

        with self._connect(external_access=False) as connection:
            return self._with_timeout(connection, timeout_seconds, work)

    def measure_bytes(
        self,
        sql: str,
        parameters: dict[str, object],
        bind_order: Sequence[str],
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> int:
        """Bytes the query reads, from DuckDB's profiler, on a cold connection (runs it)."""
        values = self._positional(parameters, bind_order)
        with tempfile.TemporaryDirectory(prefix="truffle-profile-") as folder:
            output = Path(folder) / "profile.json"

            def work(connection: duckdb.DuckDBPyConnection) -> int:
                # Local block reads bypass the I/O counter unless they go through prefetching.
                connection.execute("set storage_block_prefetch = 'ALWAYS_PREFETCH'")
                connection.execute("set enable_profiling = 'json'")
                connection.execute(f"set profiling_output = '{output.as_posix()}'")
                cursor = connection.execute(sql, values) if values else connection.execute(sql)
                cursor.complete()
                connection.execute("set enable_profiling = 'no_output'")
                if not output.is_file():  # answered from metadata alone: nothing read
                    return 0
                profile = json.loads(output.read_text())
                return int((profile.get("io") or {}).get("total_bytes_read") or 0)

            with self._connect(external_access=True) as connection:
                return self._with_timeout(connection, timeout_seconds, work)


def _bigquery_parameter(name: str, value: object) -> Any:
    from google.cloud import bigquery

    if isinstance(value, list):
        return bigquery.ArrayQueryParameter(name, "STRING", [str(item) for item in value])
    if isinstance(value, bool):
        return bigquery.ScalarQueryParameter(name, "BOOL", value)
    if isinstance(value, int):
        return bigquery.ScalarQueryParameter(name, "INT64", value)
    if isinstance(value, float):
        return bigquery.ScalarQueryParameter(name, "FLOAT64", value)
    if isinstance(value, dt.date):
        return bigquery.ScalarQueryParameter(name, "DATE", value)
    return bigquery.ScalarQueryParameter(name, "STRING", None if value is None else str(value))


class BigQueryEngine:
    """BigQuery through google-cloud-bigquery (credentials as the profile's environment says;
    BIGQUERY_EMULATOR_HOST points it at a local emulator)."""

    name = "bigquery"

    def __init__(
        self,
        project: str | None = None,
        location: str | None = None,
        maximum_bytes_billed: int | None = None,
    ) -> None:
        self.project = project or os.environ.get("TRUFFLE_BQ_PROJECT")
        self.location = location or os.environ.get("TRUFFLE_BQ_LOCATION", "US")
        limit = maximum_bytes_billed or os.environ.get("TRUFFLE_BQ_MAXIMUM_BYTES_BILLED")
        self.maximum_bytes_billed = int(limit) if limit else None
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                from google.api_core.client_options import ClientOptions
                from google.auth.credentials import AnonymousCredentials
                from google.cloud import bigquery
            except ImportError as error:
                raise QueryFailed(
                    "google-cloud-bigquery is not installed: pip install dbt-bigquery"
                ) from error
            emulator = os.environ.get("BIGQUERY_EMULATOR_HOST")
            if emulator:
                endpoint = emulator if "://" in emulator else f"http://{emulator}"
                self._client = bigquery.Client(
                    project=self.project or "test",
                    credentials=AnonymousCredentials(),
                    client_options=ClientOptions(api_endpoint=endpoint),
                    location=self.location,
                )
            else:
                keyfile = os.environ.get("TRUFFLE_BQ_KEYFILE")
                if keyfile:
                    self._client = bigquery.Client.from_service_account_json(
                        keyfile, project=self.project, location=self.location
                    )
                else:
                    self._client = bigquery.Client(project=self.project, location=self.location)
        return self._client

    def _config(self, parameters: dict[str, object], **options: Any) -> Any:
        from google.cloud import bigquery

        return bigquery.QueryJobConfig(
            query_parameters=[_bigquery_parameter(k, v) for k, v in parameters.items()],
            maximum_bytes_billed=self.maximum_bytes_billed,
            **options,
        )

    def run(
        self,
        sql: str,
        parameters: dict[str, object],
        bind_order: Sequence[str],
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> QueryResult:
        from google.api_core.exceptions import GoogleAPIError

        try:
            job = self.client.query(
                sql,
                job_config=self._config(parameters, job_timeout_ms=int(timeout_seconds * 1000)),
            )
            iterator = job.result(timeout=timeout_seconds, max_results=max_rows + 1)
            rows = [tuple(row.values()) for row in iterator]
            columns = [field.name for field in iterator.schema]
        except TimeoutError as error:
            raise QueryTimeout(f"the query ran longer than {timeout_seconds:g} s") from error
        except GoogleAPIError as error:
            raise QueryFailed(_one_line(error)) from None
        truncated = len(rows) > max_rows
        return QueryResult(columns, rows[:max_rows], truncated, max_rows)

    def measure_bytes(
        self,
        sql: str,
        parameters: dict[str, object],
        bind_order: Sequence[str],
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> int:
        """Bytes a dry-run job says the query would process (nothing runs, nothing is billed)."""
        from google.api_core.exceptions import GoogleAPIError

        try:
            job = self.client.query(
                sql, job_config=self._config(parameters, dry_run=True, use_query_cache=False)
            )
        except GoogleAPIError as error:
            raise QueryFailed(f"dry run rejected the query: {_one_line(error)}") from None
        return int(job.total_bytes_processed or 0)


def engine_for(target_name: str, warehouse_path: Path) -> Engine:
    """The engine of a profile target: the DuckDB warehouse file, or BigQuery."""
    if target_name == "bigquery":
        return BigQueryEngine()
    return DuckDBEngine(warehouse_path)
