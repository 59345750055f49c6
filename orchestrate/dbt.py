"""The one wrapper around dbt's programmatic API (dbtRunner).

It runs a dbt command for the project, then reads `run_results.json` (dbt's documented
artifact, rather than the in-memory result object) into a list of node results, and turns
the two kinds of failure into something a person can act on:

* dbt could not run at all (bad profile, unknown target, missing export): `DbtUsageError`,
  one line, exit code 2;
* nodes ended in error or failed tests: `DbtRun.failures`, a readable list, exit code 1.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestrate.ast_guard import guard_ast_parse
from orchestrate.settings import Settings

FAILED_STATUSES = {"error", "fail", "runtime error"}


class DbtUsageError(Exception):
    """dbt could not run: the configuration, profile or arguments are wrong (exit code 2)."""


@dataclass(frozen=True)
class NodeResult:
    """One node of a dbt invocation, as run_results.json reports it."""

    unique_id: str
    status: str
    message: str | None
    execution_time: float
    rows_affected: int | None
    failures: int | None

    @property
    def resource_type(self) -> str:
        return self.unique_id.split(".", 1)[0]

    @property
    def name(self) -> str:
        """The node's name: `model.<package>.<name>[.v<version>]`, `test.<package>.<name>.<hash>`,
        `unit_test.<package>.<model>.<test name>`."""
        parts = self.unique_id.split(".")
        if self.resource_type == "unit_test":
            return parts[-1]
        return parts[2] if len(parts) > 2 else self.unique_id

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES


@dataclass
class DbtRun:
    """The outcome of one dbt invocation."""

    command: list[str]
    success: bool
    target_path: Path
    results: list[NodeResult] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    # what each destructive step (retention, erasure) removed, refused or skipped, per table
    deletions: list[dict[str, object]] = field(default_factory=list)
    # where the window's raw export rows ended, per export day, outcome and reason (logged by
    # the events mart: macros/ga4/accounting.sql)
    accounting: list[dict[str, object]] = field(default_factory=list)
    # days whose conversions count a transaction first sent earlier, to build again (logged
    # by the conversions: macros/ga4/transactions.sql)
    restated: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[NodeResult]:
        return [result for result in self.results if result.failed]

    @property
    def warnings(self) -> list[NodeResult]:
        return [result for result in self.results if result.status == "warn"]

    def failure_report(self) -> str:
        """A readable list of the failing nodes and dbt's message for each."""
        lines = [f"{len(self.failures)} dbt node(s) failed:"]
        for result in self.failures:
            message = " ".join((result.message or "").split())
            lines.append(f"  - {result.resource_type} {result.name} [{result.status}]: {message}")
        return "\n".join(lines)


def read_run_results(target_path: Path) -> tuple[list[NodeResult], float]:
    """Node results and elapsed time from `run_results.json` under a target path."""
    path = target_path / "run_results.json"
    if not path.is_file():
        return [], 0.0
    document = json.loads(path.read_text())
    results = [
        NodeResult(
            unique_id=item["unique_id"],
            status=str(item.get("status")),
            message=item.get("message"),
            execution_time=float(item.get("execution_time") or 0.0),
            rows_affected=(item.get("adapter_response") or {}).get("rows_affected"),
            failures=item.get("failures"),
        )
        for item in document.get("results", [])
    ]
    return results, float(document.get("elapsed_time") or 0.0)


def _release_duckdb() -> None:
    """Close dbt-duckdb's process-wide database handle after an invocation.

    dbt-duckdb caches one DuckDB instance per process and keeps the warehouse file open after
    `invoke` returns; DuckDB then refuses another connection to that file with a different
    configuration (a read-only reader, say), so the KPI summary or a test could not read what
    dbt just built. Its own close_all_connections() only forgets the handle; close it too.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed: nothing to release
        return
    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if environment is not None:
        # closing a handle dbt already closed is harmless
        with contextlib.suppress(Exception):
            environment.close()


KILL_POINT_VARIABLE = "TRUFFLE_TEST_KILL_AT"
KILL_PHASES = {
    # phase -> (dbt event name, text the statement must contain)
    "delete": ("SQLQuery", "delete from"),
    "insert": ("SQLQuery", "insert into"),
    "rename": ("SQLQuery", "rename to"),
    "commit": ("SQLCommit", ""),
}


def _kill_point_callbacks() -> list:
    """Crash-safety tests: `TRUFFLE_TEST_KILL_AT=<model>:<phase>` makes the process SIGKILL
    itself at that point of that model's write (phases: delete, insert, rename, commit), a
    deterministic stand-in for a machine dying mid-build. Unset, nothing is registered."""
    spec = os.environ.get(KILL_POINT_VARIABLE)
    if not spec:
        return []
    node, _, phase = spec.partition(":")
    if phase not in KILL_PHASES:
        raise DbtUsageError(f"{KILL_POINT_VARIABLE}: phase must be one of {sorted(KILL_PHASES)}")
    event_name, text = KILL_PHASES[phase]

    def callback(event: object) -> None:
        info, data = getattr(event, "info", None), getattr(event, "data", None)
        node_info = getattr(data, "node_info", None)
        if getattr(info, "name", "") != event_name or getattr(node_info, "node_name", "") != node:
            return
        if text and text not in str(getattr(data, "sql", "")).lower():
            return
        os.kill(os.getpid(), signal.SIGKILL)

    return [callback]


DELETES_MARKER = "TRUFFLE_DELETES "
ACCOUNTING_MARKER = "TRUFFLE_ACCOUNTING "
RESTATE_MARKER = "TRUFFLE_RESTATE "


def _report_collector(
    deletions: list[dict[str, object]],
    accounting: list[dict[str, object]],
    restated: list[str],
):
    """A callback keeping the reports macros log as debug lines: the delete guard's
    (macros/ga4/deletes.sql, one `TRUFFLE_DELETES {json}` per destructive step), the
    row accounting (macros/ga4/accounting.sql, `TRUFFLE_ACCOUNTING [json]`) and the days to
    build again (macros/ga4/transactions.sql, `TRUFFLE_RESTATE {json}`)."""

    def callback(event: object) -> None:
        info, data = getattr(event, "info", None), getattr(event, "data", None)
        if getattr(info, "name", "") not in ("JinjaLogDebug", "JinjaLogInfo"):
            return
        message = str(getattr(data, "msg", ""))
        with contextlib.suppress(ValueError):
            if message.startswith(DELETES_MARKER):
                deletions.append(json.loads(message[len(DELETES_MARKER) :]))
            elif message.startswith(ACCOUNTING_MARKER):
                accounting.extend(json.loads(message[len(ACCOUNTING_MARKER) :]))
            elif message.startswith(RESTATE_MARKER):
                restated.extend(json.loads(message[len(RESTATE_MARKER) :])["days"])

    return callback


LOCK_WAIT_VARIABLE = "TRUFFLE_LOCK_WAIT_SECONDS"


def wait_for_warehouse(path: Path, seconds: float | None = None) -> None:
    """Wait while another process holds the DuckDB warehouse (a `truffle query` reading it, a
    second build), so a build that starts then waits with a message instead of failing on
    DuckDB's file lock. Gives up after `seconds` ($TRUFFLE_LOCK_WAIT_SECONDS, 300) with a
    one-line error."""
    import time

    import duckdb

    if not path.is_file():
        return
    limit = seconds if seconds is not None else float(os.environ.get(LOCK_WAIT_VARIABLE, 300))
    deadline = time.monotonic() + limit
    told = False
    while True:
        try:
            duckdb.connect(str(path)).close()
            return
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise DbtUsageError(
                    f"cannot open the warehouse {path}: {_first_line(error)}"
                ) from None
            if time.monotonic() >= deadline:
                raise DbtUsageError(
                    f"the warehouse {path} is still in use by another process after "
                    f"{limit:g} s; try again when it is done"
                ) from None
            if not told:
                from orchestrate.console import console

                console.print(f"Waiting for the warehouse (in use by another process): {path}")
                told = True
            time.sleep(0.25)


def _first_line(exception: BaseException) -> str:
    text = " ".join(str(exception).split())
    return text or type(exception).__name__


def check_project(settings: Settings) -> None:
    """The project and its profile exist (checked before anything else)."""
    if not (settings.project_dir / "dbt_project.yml").is_file():
        raise DbtUsageError(
            f"No dbt_project.yml in {settings.project_dir}: pass --project-dir or run from the "
            "project folder."
        )
    if not (settings.profiles_dir / "profiles.yml").is_file():
        raise DbtUsageError(
            f"No profiles.yml in {settings.profiles_dir}: pass --profiles-dir (the project's "
            "own is profiles.yml at its root)."
        )


def _selection(args: Sequence[str]) -> list[str]:
    """The values given to --select / -s in a dbt command line."""
    values: list[str] = []
    taking = False
    for arg in args:
        if arg in ("--select", "-s"):
            taking = True
        elif arg.startswith("-"):
            taking = False
        elif taking:
            values.append(arg)
    return values


def _target_checked(settings: Settings) -> str:
    """The target's engine (its profile `type`), after what dbt would otherwise report as a
    traceback or a cryptic line: the BigQuery extra installed, the key file there."""
    from orchestrate.engines import ProfileError, check_keyfile, profile_target

    assert settings.profiles_dir is not None
    try:
        output = profile_target(settings.profiles_dir, settings.target_name)
    except ProfileError as error:
        raise DbtUsageError(str(error)) from None
    if output.get("type") == "bigquery":
        from orchestrate.extras import require_bigquery

        require_bigquery("dbt on BigQuery", "dbt.adapters.bigquery")
        try:
            check_keyfile(output, f"target {settings.target_name!r}")
        except ProfileError as error:
            raise DbtUsageError(str(error)) from None
    return str(output.get("type"))


def run_dbt(
    args: Sequence[str],
    settings: Settings,
    *,
    target_path: Path | None = None,
    extra_vars: dict[str, object] | None = None,
    quiet: bool = False,
) -> DbtRun:
    """Run `dbt <args>` on the project with the settings' profile, target and variables.

    Raises DbtUsageError when dbt could not run; returns a DbtRun (check `.success` and
    `.failures`) when it ran. `quiet` silences dbt's own output (for internal compiles whose
    caller prints results, e.g. CSV on stdout); problems still come back as errors.
    """
    from dbt.cli.main import dbtRunner  # imported lazily: dbt is slow to import

    guard_ast_parse()
    check_project(settings)
    target_path = (target_path or settings.project_dir / "target").resolve()
    variables = settings.dbt_vars()
    variables.update(extra_vars or {})
    command = [
        *args,
        "--project-dir",
        str(settings.project_dir),
        "--profiles-dir",
        str(settings.profiles_dir),
        "--target",
        settings.target_name,
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path / "logs"),
        "--vars",
        json.dumps(variables),
    ]
    if quiet:
        command += ["--log-level", "none"]
    run_results = target_path / "run_results.json"
    if run_results.exists():
        run_results.unlink()

    # The profile reads the warehouse file from TRUFFLE_DUCKDB_PATH: set it for this call only.
    previous = os.environ.get("TRUFFLE_DUCKDB_PATH")
    engine = _target_checked(settings)
    if engine == "duckdb":
        settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        wait_for_warehouse(settings.warehouse_path)
    os.environ["TRUFFLE_DUCKDB_PATH"] = str(settings.warehouse_path)
    deletions: list[dict[str, object]] = []
    accounting: list[dict[str, object]] = []
    restated: list[str] = []
    callbacks = [*_kill_point_callbacks(), _report_collector(deletions, accounting, restated)]
    try:
        result = dbtRunner(callbacks=callbacks).invoke(command)
    finally:
        _release_duckdb()
        if previous is None:
            os.environ.pop("TRUFFLE_DUCKDB_PATH", None)
        else:
            os.environ["TRUFFLE_DUCKDB_PATH"] = previous
    if result.exception is not None:
        raise DbtUsageError(_first_line(result.exception))
    results, elapsed = read_run_results(target_path)
    selection = _selection(args)
    if selection and not results:
        raise DbtUsageError(
            f"the selection {' '.join(selection)!r} matches nothing: check the names "
            "(dbt ls --select ... lists what a selection picks)"
        )
    if not result.success and not any(node.failed for node in results):
        # dbt stopped before running nodes (compilation or profile error) without raising.
        raise DbtUsageError(
            "dbt failed before running any node; see the messages above (or "
            f"{target_path / 'logs' / 'dbt.log'})."
        )
    return DbtRun(
        command=list(command),
        success=bool(result.success),
        target_path=target_path,
        results=results,
        elapsed_seconds=elapsed,
        deletions=deletions,
        accounting=accounting,
        restated=sorted(set(restated)),
    )
