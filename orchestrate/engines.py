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
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

if TYPE_CHECKING:
    from orchestrate.settings import Settings

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
    """BigQuery through google-cloud-bigquery, connected as a profile target says (project,
    location, maximum_bytes_billed, method and key file or token, api_endpoint for an
    emulator): `from_profile`, whose env_var() calls read the TRUFFLE_BQ_* variables."""

    name = "bigquery"

    def __init__(
        self,
        project: str | None = None,
        location: str | None = None,
        maximum_bytes_billed: int | None = None,
        *,
        method: str | None = None,
        keyfile: str | None = None,
        token: str | None = None,
        api_endpoint: str | None = None,
    ) -> None:
        self.project = project
        self.location = location or "US"
        self.maximum_bytes_billed = maximum_bytes_billed
        self.method = method
        self.keyfile = keyfile
        self.token = token
        self.api_endpoint = api_endpoint
        self._client: Any = None

    @classmethod
    def from_profile(cls, profiles_dir: Path, target: str) -> BigQueryEngine:
        """The connection of a BigQuery target of profiles.yml (env_var() rendered)."""
        output = profile_target(profiles_dir, target)
        if output.get("type") != "bigquery":
            raise QueryFailed(
                f"target {target!r} in {profiles_dir / 'profiles.yml'} is not a BigQuery target"
            )
        limit = output.get("maximum_bytes_billed")
        return cls(
            project=str(output.get("project") or "") or None,
            location=str(output.get("location") or "") or None,
            maximum_bytes_billed=int(limit) if limit not in (None, "") else None,
            method=str(output.get("method") or "") or None,
            keyfile=str(output.get("keyfile") or "") or None,
            token=str(output.get("token") or "") or None,
            api_endpoint=str(output.get("api_endpoint") or "") or None,
        )

    def _credentials(self) -> Any:
        if self.api_endpoint:  # an emulator checks no credentials
            from google.auth.credentials import AnonymousCredentials

            return AnonymousCredentials()
        if self.method == "oauth-secrets" and self.token:
            from google.oauth2.credentials import Credentials

            return Credentials(self.token)
        if self.keyfile and self.method in (None, "service-account"):
            from google.oauth2 import service_account

            return service_account.Credentials.from_service_account_file(self.keyfile)
        return None  # oauth: the environment's application-default credentials

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                from google.api_core.client_options import ClientOptions
                from google.cloud import bigquery
            except ImportError as error:
                raise QueryFailed(
                    "google-cloud-bigquery is not installed: pip install dbt-bigquery"
                ) from error
            try:
                self._client = bigquery.Client(
                    project=self.project,
                    credentials=self._credentials(),
                    location=self.location,
                    client_options=(
                        ClientOptions(api_endpoint=self.api_endpoint) if self.api_endpoint else None
                    ),
                )
            except Exception as error:  # no credentials, unreadable key file, ...
                raise QueryFailed(
                    f"cannot connect to BigQuery: {_one_line(error)} (check the profile's "
                    "project and credentials)"
                ) from None
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
        from orchestrate.bigquery.dry_run import DryRunError, dry_run_bytes

        try:
            return dry_run_bytes(
                sql,
                client=self.client,
                location=self.location,
                query_parameters=[_bigquery_parameter(k, v) for k, v in parameters.items()],
            )
        except DryRunError as error:
            raise QueryFailed(f"dry run rejected the query: {error}") from None


def profile_target(profiles_dir: Path, target: str) -> dict[str, Any]:
    """One output of the random_truffle profile, its env_var() calls rendered as dbt does."""
    import jinja2
    import yaml

    path = Path(profiles_dir) / "profiles.yml"
    try:
        document = yaml.safe_load(path.read_text()) or {}
        outputs = document["random_truffle"]["outputs"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise QueryFailed(f"cannot read the random_truffle profile in {path}: {error}") from None
    if target not in outputs:
        raise QueryFailed(f"no target {target!r} in {path} (targets: {', '.join(outputs)})")

    def env_var(name: str, default: str | None = None) -> str:
        value = os.environ.get(name, default)
        if value is None:
            raise QueryFailed(f"{path}: environment variable {name} is not set")
        return value

    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.globals["env_var"] = env_var
    rendered = {}
    for key, value in (outputs[target] or {}).items():
        if isinstance(value, str) and "{{" in value:
            value = environment.from_string(value).render()
        rendered[key] = value
    return rendered


def engine_for(settings: Settings) -> Engine:
    """The engine of the settings' profile target: the DuckDB warehouse file, or BigQuery as
    the profile's target connects to it."""
    if settings.target_name == "bigquery":
        assert settings.profiles_dir is not None
        return BigQueryEngine.from_profile(settings.profiles_dir, settings.target_name)
    return DuckDBEngine(settings.warehouse_path)
