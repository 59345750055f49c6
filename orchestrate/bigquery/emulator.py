"""A local BigQuery to run dbt-bigquery against: the `local-bigquery` REST emulator (BigQuery's
API and SQL, executed on DuckDB), in its own virtual environment.

local-bigquery needs Python 3.13 (our project runs on 3.11), so it lives in `.venv-bq`
(`python -m orchestrate.bigquery.emulator setup`, or `make bigquery-emulator`), with DuckDB
1.5.5 and the DuckDB extensions it loads installed from their PyPI wheels (it cannot download
them) and copied into the extension folder of the HOME it runs with. It is started through
our launcher (emulator_launcher.py), which patches two incompatibilities with dbt at start-up.
dbt-bigquery (in the main environment) reaches it through the profile's `api_endpoint`.

    python -m orchestrate.bigquery.emulator setup   # create / update .venv-bq (idempotent)
    python -m orchestrate.bigquery.emulator check   # one line: ready, or why not
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PYTHON_VERSION = (3, 13)
DUCKDB_VERSION = "1.5.5"
REQUIREMENTS = (
    "local-bigquery==0.3.2",
    f"duckdb=={DUCKDB_VERSION}",
    f"duckdb-extension-icu=={DUCKDB_VERSION}",
    f"duckdb-extension-ducklake=={DUCKDB_VERSION}",
    f"duckdb-extension-spatial=={DUCKDB_VERSION}",
)
VENV_NAME = ".venv-bq"
LAUNCHER = Path(__file__).resolve().with_name("emulator_launcher.py")
DEFAULT_PROJECT = "emulator-project"


class EmulatorUnavailable(Exception):
    """The emulator cannot run here; the message says why, in one line."""


class EmulatorError(Exception):
    """The emulator did not start, or stopped."""


# -------------------------------------------------------------- environment ----


def _python_version(executable: str | Path) -> tuple[int, int] | None:
    try:
        output = subprocess.run(
            [str(executable), "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
        return int(output[0]), int(output[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def find_python313() -> Path | None:
    """A Python 3.13 interpreter: $TRUFFLE_PYTHON313, python3.13 on the PATH, or pyenv's."""
    candidates: list[str | Path] = []
    if configured := os.environ.get("TRUFFLE_PYTHON313"):
        candidates.append(configured)
    if found := shutil.which("python3.13"):
        candidates.append(found)
    roots = [os.environ.get("PYENV_ROOT"), str(Path.home() / ".pyenv")]
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        roots.insert(0, subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout)
    for root in filter(None, (r.strip() if r else r for r in roots)):
        candidates.extend(sorted(Path(root).glob("versions/3.13*/bin/python3.13"), reverse=True))
    for candidate in candidates:
        if _python_version(candidate) == PYTHON_VERSION:
            return Path(candidate)
    return None


def venv_dir(project_dir: Path) -> Path:
    return Path(project_dir).resolve() / VENV_NAME


def _stamp(directory: Path) -> Path:
    digest = hashlib.sha256("\n".join(REQUIREMENTS).encode()).hexdigest()[:12]
    return directory / f".installed-{digest}"


def emulator_home(project_dir: Path) -> Path:
    """The HOME the emulator runs with (its DuckDB extension folder is filled at setup)."""
    return venv_dir(project_dir) / "home"


def is_ready(project_dir: Path) -> bool:
    directory = venv_dir(project_dir)
    return _stamp(directory).is_file() and (directory / "bin" / "python").exists()


def setup(project_dir: Path, *, python: Path | None = None, quiet: bool = True) -> Path:
    """Create or update the emulator's virtual environment (idempotent); returns it.

    Raises EmulatorUnavailable when no Python 3.13 is found."""
    directory = venv_dir(project_dir)
    if is_ready(project_dir):
        return directory
    python = python or find_python313()
    if python is None:
        raise EmulatorUnavailable(
            "no Python 3.13 found (local-bigquery, the BigQuery emulator, needs it; set "
            "TRUFFLE_PYTHON313 or install python3.13)"
        )
    quiet_flag = ["--quiet"] if quiet else []
    subprocess.run([str(python), "-m", "venv", "--clear", str(directory)], check=True)
    pip = [str(directory / "bin" / "python"), "-m", "pip", "install", *quiet_flag]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *REQUIREMENTS], check=True)
    _install_extensions(directory)
    for old in directory.glob(".installed-*"):
        old.unlink()
    _stamp(directory).touch()
    return directory


def _install_extensions(directory: Path) -> None:
    """Copy the extension files of the duckdb-extension-* wheels where DuckDB looks for them
    under the emulator's HOME (~/.duckdb/extensions/v<version>/<platform>/)."""
    python = directory / "bin" / "python"
    script = (
        "import duckdb, glob, json, os, site\n"
        "platform = duckdb.execute('pragma platform').fetchall()[0][0]\n"
        "files = [f for p in site.getsitepackages() for f in glob.glob(os.path.join("
        "p, 'duckdb_extension_*', 'extensions', '*', '*.duckdb_extension'))]\n"
        "print(json.dumps({'platform': platform, 'files': files}))\n"
    )
    found = json.loads(
        subprocess.run(
            [str(python), "-c", script], capture_output=True, text=True, check=True
        ).stdout
    )
    for file in map(Path, found["files"]):
        target = directory / "home" / ".duckdb" / "extensions" / file.parent.name
        target = target / found["platform"]
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, target / file.name)


def unavailable_reason(project_dir: Path) -> str | None:
    """Why the emulator cannot run here (one line), or None when it can (set up if needed)."""
    try:
        setup(project_dir)
    except EmulatorUnavailable as error:
        return str(error)
    except (OSError, subprocess.CalledProcessError) as error:
        return f"setting up {VENV_NAME} failed: {' '.join(str(error).split())}"
    return None


# ------------------------------------------------------------------ process ----


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class Emulator:
    """One running emulator on loopback ports. Use `start()` / `stop()` or `running()`."""

    project_dir: Path
    data_dir: Path
    project: str = DEFAULT_PROJECT
    host: str = "127.0.0.1"
    port: int = 0
    grpc_port: int = 0
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 90.0) -> Emulator:
        directory = venv_dir(self.project_dir)
        if not is_ready(self.project_dir):
            raise EmulatorUnavailable(f"{VENV_NAME} is not set up (make bigquery-emulator)")
        self.port = self.port or free_port(self.host)
        self.grpc_port = self.grpc_port or free_port(self.host)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_path or self.data_dir / "emulator.log"
        environment = {**os.environ, "HOME": str(emulator_home(self.project_dir))}
        for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "BIGQUERY_EMULATOR_HOST"):
            environment.pop(name, None)
        command = [
            str(directory / "bin" / "python"),
            str(LAUNCHER),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--grpc-port",
            str(self.grpc_port),
            "--data-dir",
            str(self.data_dir),
            "--project",
            self.project,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
                cwd=str(self.data_dir),
                start_new_session=True,
            )
        self._wait(timeout)
        return self

    def _wait(self, timeout: float) -> None:
        url = f"{self.endpoint}/bigquery/v2/projects/{self.project}/datasets"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise EmulatorError(f"the emulator exited at start-up; see {self.log_path}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(url, timeout=2) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.3)
        self.stop()
        raise EmulatorError(f"the emulator did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)

    def client(self) -> Any:
        """A google-cloud-bigquery client of the emulator (anonymous credentials)."""
        return emulator_client(self.endpoint, self.project)

    def profile(self, directory: Path, dataset: str = "random_truffle", threads: int = 4) -> Path:
        """Write a profiles.yml whose `bigquery` target is this emulator; returns its folder."""
        return write_profile(directory, self.endpoint, self.project, dataset, threads=threads)


@contextlib.contextmanager
def running(
    project_dir: Path, data_dir: Path, project: str = DEFAULT_PROJECT
) -> Iterator[Emulator]:
    emulator = Emulator(Path(project_dir), Path(data_dir), project=project).start()
    try:
        yield emulator
    finally:
        emulator.stop()


# ----------------------------------------------------------------- helpers ----


def emulator_client(endpoint: str, project: str) -> Any:
    from orchestrate.engines import BigQueryEngine

    return BigQueryEngine(project=project, api_endpoint=endpoint).client


def write_profile(
    directory: Path, endpoint: str, project: str, dataset: str, *, threads: int = 4
) -> Path:
    """profiles.yml for dbt-bigquery against an emulator: a dummy oauth-secrets token (never
    checked) and `api_endpoint`; the same cost settings as the production profile."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    profile = {
        "random_truffle": {
            "target": "bigquery",
            "outputs": {
                "bigquery": {
                    "type": "bigquery",
                    "method": "oauth-secrets",
                    "token": "emulator-dummy-token",
                    "project": project,
                    "dataset": dataset,
                    "location": "US",
                    "threads": threads,
                    "api_endpoint": endpoint,
                    "priority": "interactive",
                    "maximum_bytes_billed": 10737418240,
                    "job_execution_timeout_seconds": 600,
                    "job_retries": 0,
                }
            },
        }
    }
    (directory / "profiles.yml").write_text(json.dumps(profile, indent=2))
    return directory


def load_export_days(client: Any, dataset: str, files: Iterable[Path]) -> list[str]:
    """Load GA4 export files (Parquet, nested as exported) as tables named after the files
    (`events_YYYYMMDD`) of an export dataset; returns the table ids."""
    from google.cloud import bigquery

    client.create_dataset(dataset, exists_ok=True)
    loaded = []
    for path in sorted(Path(file) for file in files):
        table = f"{client.project}.{dataset}.{path.stem}"
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        )
        with _as_exported(path).open("rb") as handle:
            client.load_table_from_file(handle, table, job_config=config).result()
        loaded.append(table)
    return loaded


# The public sample's Parquet types the all-null fields of `user_properties` as int64 (its
# writer had no other type to give them); a BigQuery export has them typed as the export's
# schema (declared once: orchestrate.export_schema.EXPORT_SCHEMA), as the staging model expects.


def _as_exported(path: Path) -> Path:
    """The file as BigQuery's export types it: a copy with `user_properties` cast to the
    export's type when the file's differs (else the file itself)."""
    import pyarrow.parquet as pq

    from orchestrate.export_schema import EXPORT_SCHEMA

    wanted = EXPORT_SCHEMA.field("user_properties").type
    schema = pq.read_schema(path)
    if "user_properties" not in schema.names or schema.field("user_properties").type == wanted:
        return path
    table = pq.read_table(path)
    index = table.schema.get_field_index("user_properties")
    table = table.set_column(index, "user_properties", table["user_properties"].cast(wanted))
    copy = Path(tempfile.mkdtemp(prefix="ga4_export_")) / path.name
    pq.write_table(table, copy)
    return copy


def main(argv: list[str]) -> int:
    project_dir = Path(__file__).resolve().parents[2]
    command = argv[0] if argv else "check"
    if command == "setup":
        if find_python313() is None and not is_ready(project_dir):
            print(
                "bigquery-emulator: skipped: no Python 3.13 found (local-bigquery needs it); "
                "the BigQuery emulator tests will skip, the analyzer tests still run."
            )
            return 0
        setup(project_dir, quiet=True)
        print(f"bigquery-emulator: ready ({venv_dir(project_dir)})")
        return 0
    if command == "check":
        reason = unavailable_reason(project_dir)
        print(f"bigquery-emulator: {'ready' if reason is None else 'unavailable: ' + reason}")
        return 0
    print("usage: python -m orchestrate.bigquery.emulator [setup|check]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
