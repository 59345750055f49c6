"""Running one read-only query on the warehouse engine, with bound parameters, a time limit,
a memory cap and a row limit; and measuring what a query reads.

DuckDB: every guarded statement (an analysis, a user's SQL, and its cost measurement) runs on
a read-only connection to the warehouse file with external access off, no spilling to disk,
a memory cap (`TRUFFLE_QUERY_MEMORY_LIMIT`, default 2GB) and the configuration locked;
parameters are DuckDB prepared parameters ($1, $2, ...). Only a model's cost measurement (the
project's own SQL, which reads the export files) runs with external access on. Bytes read come
from DuckDB's own profiler (`io.total_bytes_read`), on a cold connection, by running the query.
The counter sees blocks of the warehouse file (with block prefetching on, as local scans
otherwise bypass it) and bytes of Parquet/JSON export files; DuckDB skips data in whole row
groups (122,880 rows) and files, so that is the granularity of the figure.

The time limit interrupts the engine; a call that does not stop within a second of it (one
long function call is not interruptible) is left behind, and the process exits without
waiting for it. Engine errors are shown as one line, with quoted values that are not in the
statement itself replaced by '…' (they can be data).
BigQuery: google-cloud-bigquery with named query parameters, maximum_bytes_billed and labels
on every job; bytes from a dry-run job.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import json
import os
import re
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

from orchestrate.console import CliError
from orchestrate.guard import Relations, relation_names

if TYPE_CHECKING:
    from orchestrate.settings import Settings

DEFAULT_TIMEOUT_SECONDS = 30.0
EVERY_PROPERTY_CATALOG = "truffle_every_property"
DEFAULT_MAX_ROWS = 10_000
DEFAULT_MEMORY_LIMIT = "2GB"
MEMORY_LIMIT_VARIABLE = "TRUFFLE_QUERY_MEMORY_LIMIT"
MEMORY_LIMIT = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)
INTERRUPT_GRACE_SECONDS = 0.8
LOCK_POLL_SECONDS = 0.25
JOB_LABELS = {"tool": "truffle"}


class QueryTimeout(Exception):
    """The query ran past its time limit and was cancelled (exit code 1)."""


class QueryFailed(Exception):
    """The engine rejected or failed the query (exit code 1, one line)."""


class ProfileError(QueryFailed, CliError):
    """The profile or target cannot be used (a CliError: exit code 2, one line)."""


class WarehouseBusy(QueryFailed, CliError):
    """Another process still holds the warehouse after the wait: exit code 2, as for a build
    (orchestrate/dbt.py wait_for_warehouse)."""


class WarehouseNotBuilt(QueryFailed, CliError):
    """The DuckDB warehouse file does not exist yet: exit code 2, as `truffle cost` says."""


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    max_rows: int


class Engine(Protocol):
    name: str

    def relations(self, *, wait_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Relations: ...

    def withheld(self) -> Relations: ...

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
        guarded: bool = True,
    ) -> int: ...


def _quoted(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


def engine_message(error: BaseException, sql: str = "", limit: int = 240) -> str:
    """An engine error as one short line that quotes nothing the statement did not say: its
    first line, each quoted value not found in `sql` replaced by '…', cut to `limit`."""
    first = next((line for line in str(error).splitlines() if line.strip()), "")

    def redact(match: re.Match[str]) -> str:
        text = match.group(0)
        inner = text[1:-1]
        return text if inner and inner in sql else text[0] + "…" + text[-1]

    message = " ".join(QUOTED.sub(redact, first).split())
    message = "".join(c for c in message if c.isprintable())
    if len(message) > limit:
        message = message[:limit] + "…"
    return message or type(error).__name__


def memory_limit_setting(value: str | None = None) -> str:
    """The memory cap of query connections: the value given, else $TRUFFLE_QUERY_MEMORY_LIMIT,
    else 2GB (a DuckDB size such as 512MB or 2GB)."""
    chosen = value or os.environ.get(MEMORY_LIMIT_VARIABLE) or DEFAULT_MEMORY_LIMIT
    if not MEMORY_LIMIT.match(chosen):
        raise CliError(f"memory limit {chosen[:40]!r} is not a size such as 512MB or 2GB")
    return chosen.strip()


# Calls that did not stop when interrupted: their connections stay open (closing a busy
# connection fails) and the process does not wait for them when it exits.
_ABANDONED: list[tuple[threading.Thread, duckdb.DuckDBPyConnection]] = []


def _exit_without_waiting() -> None:
    if any(thread.is_alive() for thread, _ in _ABANDONED):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)  # only a timed-out query (exit code 1) leaves a call behind


def _abandon(thread: threading.Thread, connection: duckdb.DuckDBPyConnection) -> None:
    if not _ABANDONED:
        atexit.register(_exit_without_waiting)
    _ABANDONED.append((thread, connection))


class DuckDBEngine:
    """The DuckDB warehouse file, read-only."""

    name = "duckdb"

    def __init__(
        self,
        path: Path,
        *,
        memory_limit: str | None = None,
        property_id: str | None = None,
        shared: frozenset[str] = frozenset(),
    ) -> None:
        self.path = Path(path)
        self.memory_limit = memory_limit_setting(memory_limit)
        self.property_id = property_id
        self.shared = shared  # relations without a property_id that every property may read
        self._relations: Relations | None = None
        self._withheld: Relations = frozenset()

    def _open(self, config: dict[str, Any], wait_seconds: float) -> duckdb.DuckDBPyConnection:
        """A read-only connection; while a build or the nightly holds the file's write lock,
        say so once and wait for it (up to `wait_seconds`)."""
        deadline = time.monotonic() + wait_seconds
        told = False
        while True:
            try:
                if self.property_id is not None:
                    return self._open_restricted(config)
                return duckdb.connect(str(self.path), read_only=True, config=config)
            except duckdb.Error as error:
                if "lock" not in str(error).lower():
                    raise QueryFailed(
                        f"cannot open the warehouse {self.path.name}: {engine_message(error)}"
                    ) from None
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"the warehouse {self.path.name} is being written by another process "
                        "(a build, backfill or the nightly): try again when it has finished"
                    ) from None
            if not told:
                from orchestrate.console import error_console

                error_console.print(
                    f"waiting for the warehouse: another process (a build or the nightly) is "
                    f"writing it (up to {wait_seconds:g} s)"
                )
                told = True
            time.sleep(LOCK_POLL_SECONDS)

    def _open_restricted(self, config: dict[str, Any]) -> duckdb.DuckDBPyConnection:
        """`truffle query --property ID`: an in-memory connection where the warehouse's own
        name (the catalog the analyses are compiled against: its file name) holds, for every
        relation with a property_id, a view of that property's rows, and, for every relation
        shared by all properties (`shared`: the variable ga4_shared_relations), a view of it.
        The warehouse file is attached read-only under another name, which no guarded query
        may name (the guard knows only the restricted catalog's relations), so `events`,
        `main.events` and `<warehouse>.main.events` all read one property; a relation holding
        every property's rows without a property_id (the erasure requests, the erasure and
        retention ledgers) is withheld."""
        # the file is attached first: external access goes off once it is
        opening = {key: value for key, value in config.items() if key != "enable_external_access"}
        connection = duckdb.connect(":memory:", config=opening)
        try:
            catalog = _quoted(self.path.stem)
            every = _quoted(EVERY_PROPERTY_CATALOG)
            connection.execute(f"attach {_literal(str(self.path))} as {every} (read_only)")
            if self.path.stem.lower() != "memory":  # the in-memory default already has it
                connection.execute(f"attach ':memory:' as {catalog}")
            columns = connection.execute(
                "select table_schema, table_name, bool_or(column_name = 'property_id') "
                "from information_schema.columns where table_catalog = ? "
                "group by all order by all",
                [EVERY_PROPERTY_CATALOG],
            ).fetchall()
            withheld = []
            for schema, name, restricted in columns:
                source = f"{every}.{_quoted(schema)}.{_quoted(name)}"
                if restricted:
                    shown = f"select * from {source} where property_id = "
                    shown += _literal(str(self.property_id))
                elif name.lower() in self.shared:
                    shown = f"select * from {source}"
                else:
                    withheld.append((self.path.stem, schema, name))
                    continue
                connection.execute(f"create schema if not exists {catalog}.{_quoted(schema)}")
                connection.execute(
                    f"create view {catalog}.{_quoted(schema)}.{_quoted(name)} as {shown}"
                )
            connection.execute(f"use {catalog}")
            if config.get("enable_external_access") is False:
                connection.execute("set enable_external_access = false")
            self._withheld = relation_names(withheld)
        except BaseException:
            connection.close()
            raise
        return connection

    def withheld(self) -> Relations:
        """Relations of the warehouse a query restricted to one property may not read (after
        relations())."""
        return self._withheld

    def _connect(
        self,
        *,
        external_access: bool,
        profiling: bool = False,
        wait_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> duckdb.DuckDBPyConnection:
        if not self.path.is_file():
            raise WarehouseNotBuilt(
                f"no warehouse at {self.path}: build it first (truffle build, or make demo)"
            )
        config: dict[str, Any] = {}
        if not external_access:
            config = {
                "enable_external_access": False,
                "memory_limit": self.memory_limit,
                "temp_directory": "",  # no spilling: the cap is the cap
            }
        connection = self._open(config, wait_seconds)
        try:
            if profiling:
                # Local block reads bypass the I/O counter unless they go through prefetching.
                connection.execute("set storage_block_prefetch = 'ALWAYS_PREFETCH'")
                connection.execute("set enable_profiling = 'no_output'")
            if not external_access:
                connection.execute("set lock_configuration = true")
        except BaseException:
            connection.close()
            raise
        return connection

    def relations(self, *, wait_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Relations:
        """Every table and view of the warehouse file (by name, schema.name and
        catalog.schema.name): what a guarded query may read."""
        if self._relations is None:
            connection = self._connect(external_access=False, wait_seconds=wait_seconds)
            try:
                rows = connection.execute(
                    "select table_catalog, table_schema, table_name "
                    "from information_schema.tables where table_catalog = current_database()"
                ).fetchall()
            except duckdb.Error as error:
                raise QueryFailed(engine_message(error)) from None
            finally:
                connection.close()
            self._relations = relation_names(rows)
        return self._relations

    @staticmethod
    def _positional(parameters: dict[str, object], bind_order: Sequence[str]) -> list[object]:
        return [parameters[name] for name in bind_order]

    @staticmethod
    def _with_timeout(
        connection: duckdb.DuckDBPyConnection, timeout_seconds: float, work: Any, sql: str
    ) -> Any:
        """Run work(connection) in a thread; when the time is up, interrupt DuckDB and return
        within a second (leaving a call that does not stop behind), then close."""
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["value"] = work(connection)
            except BaseException as error:  # re-raised in the caller's thread
                outcome["error"] = error

        thread = threading.Thread(target=target, daemon=True, name="truffle-query")
        thread.start()
        thread.join(timeout_seconds)
        timed_out = thread.is_alive()
        if timed_out:
            connection.interrupt()
            thread.join(INTERRUPT_GRACE_SECONDS)
            if thread.is_alive():
                _abandon(thread, connection)
                raise QueryTimeout(
                    f"the query ran longer than {timeout_seconds:g} s and was cancelled "
                    "(raise the limit with --timeout)"
                )
        connection.close()
        if timed_out:
            raise QueryTimeout(
                f"the query ran longer than {timeout_seconds:g} s and was cancelled "
                "(raise the limit with --timeout)"
            )
        if "error" in outcome:
            error = outcome["error"]
            if isinstance(error, duckdb.InterruptException):
                raise QueryTimeout(f"the query was cancelled after {timeout_seconds:g} s")
            if isinstance(error, duckdb.OutOfMemoryException):
                raise QueryFailed(
                    "the query needs more memory than its cap allows: "
                    "narrow it, or raise the limit (--memory-limit or "
                    f"{MEMORY_LIMIT_VARIABLE})"
                ) from None
            if isinstance(error, duckdb.Error):
                raise QueryFailed(engine_message(error, sql)) from None
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
            return QueryResult(columns, rows[:max_rows], truncated, max_rows)

        connection = self._connect(external_access=False, wait_seconds=timeout_seconds)
        return self._with_timeout(connection, timeout_seconds, work, sql)

    def measure_bytes(
        self,
        sql: str,
        parameters: dict[str, object],
        bind_order: Sequence[str],
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        guarded: bool = True,
    ) -> int:
        """Bytes the query reads, from DuckDB's profiler, on a cold connection (runs it).

        `guarded` (every analysis and user query): the same locked connection as `run`, with
        external access off and the memory cap. Only the project's models, which read the
        export files, are measured with external access on (guarded=False)."""
        values = self._positional(parameters, bind_order)

        def work(connection: duckdb.DuckDBPyConnection) -> int:
            cursor = connection.execute(sql, values) if values else connection.execute(sql)
            cursor.complete()
            text = connection.get_profiling_information(format="json")
            profile = json.loads(text) if text else {}
            return int((profile.get("io") or {}).get("total_bytes_read") or 0)

        connection = self._connect(
            external_access=not guarded, profiling=True, wait_seconds=timeout_seconds
        )
        return self._with_timeout(connection, timeout_seconds, work, sql)


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
        dataset: str | None = None,
        project_dir: Path | None = None,
    ) -> None:
        self.project = project
        self.dataset = dataset
        self.project_dir = project_dir
        self.location = location or "US"
        self.maximum_bytes_billed = maximum_bytes_billed
        self.method = method
        self.keyfile = keyfile
        self.token = token
        self.api_endpoint = api_endpoint
        self._client: Any = None

    @classmethod
    def from_profile(
        cls, profiles_dir: Path, target: str, project_dir: Path | None = None
    ) -> BigQueryEngine:
        """The connection of a BigQuery target of profiles.yml (env_var() rendered)."""
        output = profile_target(profiles_dir, target)
        if output.get("type") != "bigquery":
            raise ProfileError(
                f"target {target!r} in {profiles_dir / 'profiles.yml'} is not a BigQuery target"
            )
        limit = output.get("maximum_bytes_billed")
        try:
            maximum = int(limit) if limit not in (None, "") else None
        except (TypeError, ValueError):
            raise ProfileError(
                f"maximum_bytes_billed {str(limit)[:40]!r} is not a number"
            ) from None
        return cls(
            project=str(output.get("project") or "") or None,
            location=str(output.get("location") or "") or None,
            maximum_bytes_billed=maximum,
            method=str(output.get("method") or "") or None,
            keyfile=str(output.get("keyfile") or "") or None,
            token=str(output.get("token") or "") or None,
            api_endpoint=str(output.get("api_endpoint") or "") or None,
            dataset=str(output.get("dataset") or output.get("schema") or "") or None,
            project_dir=project_dir,
        )

    def relations(self, *, wait_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Relations:
        """The project's models and seeds, as `project`.`dataset`.`name` (and dataset.name,
        name): what a guarded query may read. No table is listed over the network."""
        folder = self.project_dir or Path(__file__).resolve().parent.parent
        names = {path.stem for path in (folder / "models").rglob("*.sql")}
        names |= {path.stem for path in (folder / "seeds").rglob("*.csv")}
        names |= _aliases(folder / "models")
        return relation_names((self.project, self.dataset, name) for name in sorted(names))

    def withheld(self) -> Relations:
        """None: a BigQuery reader's rows are restricted by its grants, not by truffle."""
        return frozenset()

    def _credentials(self) -> Any:
        if self.api_endpoint:  # an emulator checks no credentials
            from google.auth.credentials import AnonymousCredentials

            return AnonymousCredentials()
        if self.method == "oauth-secrets" and self.token:
            from google.oauth2.credentials import Credentials

            return Credentials(self.token)
        if self.method in (None, "service-account"):
            check_keyfile({"type": "bigquery", "keyfile": self.keyfile}, "the BigQuery target")
            from google.oauth2 import service_account

            return service_account.Credentials.from_service_account_file(self.keyfile)
        return None  # oauth: the environment's application-default credentials

    @property
    def client(self) -> Any:
        if self._client is None:
            from orchestrate.extras import require_bigquery

            require_bigquery("a query on BigQuery", "google.cloud.bigquery")
            from google.api_core.client_options import ClientOptions
            from google.cloud import bigquery

            try:
                self._client = bigquery.Client(
                    project=self.project,
                    credentials=self._credentials(),
                    location=self.location,
                    client_options=(
                        ClientOptions(api_endpoint=self.api_endpoint) if self.api_endpoint else None
                    ),
                )
            except ProfileError:
                raise
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
            labels=dict(JOB_LABELS),
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

        job = None
        try:
            job = self.client.query(
                sql,
                job_config=self._config(parameters, job_timeout_ms=int(timeout_seconds * 1000)),
            )
            iterator = job.result(timeout=timeout_seconds, max_results=max_rows + 1)
            rows = [tuple(row.values()) for row in iterator]
            columns = [field.name for field in iterator.schema]
        except TimeoutError:
            if job is not None:  # do not leave it running (and billing) on BigQuery
                with contextlib.suppress(Exception):
                    job.cancel()
            raise QueryTimeout(
                f"the query ran longer than {timeout_seconds:g} s and was cancelled"
            ) from None
        except GoogleAPIError as error:
            raise QueryFailed(engine_message(error, sql)) from None
        truncated = len(rows) > max_rows
        return QueryResult(columns, rows[:max_rows], truncated, max_rows)

    def measure_bytes(
        self,
        sql: str,
        parameters: dict[str, object],
        bind_order: Sequence[str],
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        guarded: bool = True,
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
            raise QueryFailed(f"dry run rejected the query: {engine_message(error, sql)}") from None


def _aliases(models: Path) -> set[str]:
    """Every `alias:` the models' YAML files give (versioned models are built under one)."""
    import yaml

    found: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "alias" and isinstance(value, str):
                    found.add(value)
                else:
                    visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    for path in models.rglob("*.yml"):
        try:
            visit(yaml.safe_load(path.read_text()))
        except (OSError, yaml.YAMLError):
            continue
    return found


def profile_target(profiles_dir: Path, target: str) -> dict[str, Any]:
    """One output of the random_truffle profile, its env_var() calls rendered as dbt does."""
    import jinja2
    import yaml

    path = Path(profiles_dir) / "profiles.yml"
    try:
        document = yaml.safe_load(path.read_text()) or {}
        outputs = document["random_truffle"]["outputs"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise ProfileError(
            f"cannot read the random_truffle profile in {path}: {_one_line(error)[:200]}"
        ) from None
    if not isinstance(outputs, dict) or target not in outputs:
        known = ", ".join(map(str, outputs)) if isinstance(outputs, dict) else "none"
        raise ProfileError(f"no target {str(target)[:60]!r} in {path} (targets: {known})")
    if not isinstance(outputs[target], dict | None):
        raise ProfileError(f"target {target!r} in {path} is not a mapping")

    def env_var(name: str, default: str | None = None) -> str:
        value = os.environ.get(name, default)
        if value is None:
            raise ProfileError(f"{path}: environment variable {name} is not set")
        return value

    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.globals["env_var"] = env_var
    rendered = {}
    for key, value in (outputs[target] or {}).items():
        if isinstance(value, str) and "{{" in value:
            try:
                value = environment.from_string(value).render()
            except jinja2.TemplateError as error:
                raise ProfileError(
                    f"{path}: target {target!r}, {key}: {_one_line(error)[:160]}"
                ) from None
        rendered[key] = value
    return rendered


def check_keyfile(output: dict[str, Any], where: str) -> None:
    """A BigQuery output authenticating by service-account key (the default method) names a
    key file that exists: one line saying so, instead of the client's `No such file: ''`."""
    if output.get("type") != "bigquery" or output.get("api_endpoint"):
        return  # not BigQuery, or an emulator (no credentials)
    if (output.get("method") or "service-account") != "service-account":
        return
    keyfile = str(output.get("keyfile") or "")
    if not keyfile or not Path(keyfile).expanduser().is_file():
        shown = repr(keyfile[:200]) if keyfile else "(none: TRUFFLE_BQ_KEYFILE is not set)"
        raise ProfileError(
            f"{where}: the BigQuery key file {shown} does not exist; set TRUFFLE_BQ_KEYFILE to "
            "a service-account JSON key file, or use TRUFFLE_BQ_METHOD=oauth"
        )


def target_type(settings: Settings) -> str:
    """The engine of the settings' target as its profile's `type` says (duckdb, bigquery),
    whatever the target is called: a BigQuery target named `prod` runs on BigQuery."""
    assert settings.profiles_dir is not None
    return str(profile_target(settings.profiles_dir, settings.target_name).get("type"))


def shared_relations(settings: Settings) -> frozenset[str]:
    """The relations without a property_id that hold no property's data (reference seeds and
    what is derived from them alone): the dbt variable ga4_shared_relations, which the BigQuery
    row access policies read too (macros/ga4/access.sql)."""
    from orchestrate.run_dates import project_var

    names = project_var(settings, "ga4_shared_relations") or []
    if not isinstance(names, list):
        raise CliError(
            "variable ga4_shared_relations must be a list of relation names, not "
            f"{str(names)[:60]!r}"
        )
    return frozenset(str(name).lower() for name in names)


def engine_for(
    settings: Settings, *, memory_limit: str | None = None, property_id: str | None = None
) -> Engine:
    """The engine of the settings' profile target (--target, else $TRUFFLE_TARGET, else
    duckdb), as its `type` says: the DuckDB warehouse file, or BigQuery as the target connects
    to it. An unknown target or a broken profile is a ProfileError (exit code 2).
    `property_id`: every query reads only that GA4 property's rows (DuckDB; on BigQuery a
    reader is restricted by the property's row access policy instead)."""
    assert settings.profiles_dir is not None
    target = settings.target_name
    output = profile_target(settings.profiles_dir, target)
    kind = output.get("type")
    if kind == "bigquery":
        if property_id is not None:
            raise CliError(
                "--property restricts queries on DuckDB; on BigQuery a reader sees one property "
                "through its row access policy (grant the reader the property's policy)"
            )
        return BigQueryEngine.from_profile(settings.profiles_dir, target, settings.project_dir)
    if kind == "duckdb":
        return DuckDBEngine(
            settings.warehouse_path,
            memory_limit=memory_limit,
            property_id=property_id,
            shared=shared_relations(settings) if property_id is not None else frozenset(),
        )
    raise ProfileError(
        f"target {target!r} in {settings.profiles_dir / 'profiles.yml'} has type "
        f"{str(kind)[:40]!r}: truffle runs on duckdb or bigquery"
    )
