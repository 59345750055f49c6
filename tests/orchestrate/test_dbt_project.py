"""The project as a dbt user meets it: plain `dbt` commands through the shell from a copy of
the repository (no flags, no ~/.dbt, no warehouse/ folder yet), slim CI against a production
manifest written by `truffle nightly`, and the project installed as a package of another dbt
project (by local path) and built on DuckDB."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestrate.demo import write_demo_export
from orchestrate.demo_data import GeneratorConfig

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NOT_COPIED = (".git", ".venv", ".venv-bq", "target", "logs", "warehouse", "data", "dbt_packages")


def copy_project(destination: Path) -> Path:
    """The repository's project files, as a fresh clone has them (no build output)."""
    shutil.copytree(
        REPO,
        destination,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            *NOT_COPIED, "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache", "bench"
        ),
    )
    return destination


def plain_environment(home: Path) -> dict[str, str]:
    """The environment of a shell with no dbt or truffle settings and an empty home folder."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DBT_", "TRUFFLE_")) and key != "HOME"
    }
    home.mkdir(exist_ok=True)
    environment["HOME"] = str(home)
    environment["PATH"] = f"{BIN}{os.pathsep}{environment.get('PATH', '')}"
    return environment


def shell(command: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """One command line through the shell, as a user types it."""
    return subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        env=plain_environment(home),
        capture_output=True,
        text=True,
        timeout=900,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.args, result.stdout[-3000:], result.stderr[-2000:])
    return result.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository with a fresh three-day synthetic export in data/ga4_export
    (newest day yesterday, UTC, so source freshness passes) and no warehouse/ folder."""
    root = copy_project(tmp_path_factory.mktemp("plain") / "random_truffle")
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    config = GeneratorConfig(end_date=yesterday, days=3, users=150, seed=5, time_zone="UTC")
    write_demo_export(root / "data" / "ga4_export", config)
    assert not (root / "warehouse").exists()
    return root


def test_plain_dbt_commands_from_the_repository_root(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert "All checks passed" in ok(shell("dbt debug", project, home))
    built = ok(shell("dbt build", project, home))
    assert "Completed successfully" in built
    assert (project / "warehouse" / "random_truffle.duckdb").is_file()
    assert "Completed successfully" in ok(shell("dbt run --select daily_kpis", project, home))
    assert "Completed successfully" in ok(shell("dbt test --select sessions", project, home))
    ok(shell("dbt docs generate", project, home))
    catalog = json.loads((project / "target" / "catalog.json").read_text())
    assert "model.random_truffle.sessions.v1" in catalog["nodes"]

    freshness = ok(shell("dbt source freshness", project, home))
    assert "PASS freshness of ga4.events" in freshness
    sources = json.loads((project / "target" / "sources.json").read_text())["results"]
    newest = dt.datetime.fromisoformat(sources[0]["max_loaded_at"]).date()
    assert newest == dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)

    shown = ok(shell("dbt show --select daily_kpis --limit 2 --output json", project, home))
    assert '"kpi_date"' in shown

    with duckdb.connect(str(project / "warehouse" / "random_truffle.duckdb")) as connection:
        sessions = connection.execute("select count(*) from sessions").fetchall()[0][0]
    assert sessions > 0


def built(project: Path, home: Path) -> Path:
    """The copy's warehouse, built by plain dbt (by the test above, or here)."""
    warehouse = project / "warehouse" / "random_truffle.duckdb"
    if not warehouse.is_file():
        ok(shell("dbt build", project, home))
    return warehouse


def mf_csv(project: Path, home: Path, arguments: str) -> list[dict[str, str]]:
    out = home / "mf.csv"
    ok(shell(f"mf query {arguments} --csv {out}", project, home))
    return list(csv.DictReader(out.open()))


def test_semantic_layer_metrics_equal_the_marts(project: Path, tmp_path: Path) -> None:
    """MetricFlow validates the semantic models and metrics (dbt parse, then mf against the
    warehouse), and its figures are the marts' own."""
    home = tmp_path / "home"
    warehouse = built(project, home)
    validated = ok(shell("mf validate-configs", project, home))
    assert "ERRORS: 0" in validated and "Successfully validated" in validated

    daily = mf_csv(
        project, home, "--metrics sessions,engaged_sessions,users --group-by metric_time__day"
    )
    paid = mf_csv(
        project, home, "--metrics revenue_paid,conversions --group-by conversion__currency"
    )
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        expected_daily = connection.sql(
            "select session_start_date, count(*), count(*) filter (where is_engaged_session), "
            "count(distinct unified_user_id) from sessions group by 1"
        ).fetchall()
        expected_paid = connection.sql(
            "select currency, sum(local_amount), count(*) from conversions group by 1"
        ).fetchall()
    assert {
        (
            dt.date.fromisoformat(row["metric_time__day"][:10]),
            int(row["sessions"]),
            int(row["engaged_sessions"]),
            int(row["users"]),
        )
        for row in daily
    } == set(expected_daily)
    assert len(paid) == len(expected_paid) > 0
    by_currency = {row["conversion__currency"]: row for row in paid}
    for currency, amount, count in expected_paid:
        row = by_currency[currency or ""]
        assert int(row["conversions"]) == count
        assert float(row["revenue_paid"] or 0) == pytest.approx(float(amount or 0))


def test_exposures_name_what_the_analyses_read(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok(shell(f"dbt parse --target-path {tmp_path / 'target'}", project, home))
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    read_by_analyses = {
        parent
        for node in manifest["nodes"].values()
        if node["resource_type"] == "analysis"
        for parent in node["depends_on"]["nodes"]
    }
    exposures = {item["name"]: item for item in manifest["exposures"].values()}
    assert set(exposures["truffle_analyses"]["depends_on"]["nodes"]) == read_by_analyses
    assert set(exposures["truffle_report"]["depends_on"]["nodes"]) <= read_by_analyses
    marts_and_views = {
        unique_id
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
        and node["original_file_path"].startswith(("models/marts/", "models/views/"))
    }
    assert set(exposures["truffle_nightly"]["depends_on"]["nodes"]) == marts_and_views


def test_source_freshness_fails_on_a_stale_export(project: Path, tmp_path: Path) -> None:
    stale = REPO / "tests" / "fixtures" / "ga4_sample"
    result = shell(
        f"dbt source freshness --vars '{{ga4_export_path: {stale}}}' --target-path "
        f"{tmp_path / 'target'}",
        project,
        tmp_path / "home",
    )
    assert result.returncode == 1
    document = json.loads((tmp_path / "target" / "sources.json").read_text())
    assert document["results"][0]["status"] == "error"
    assert document["results"][0]["max_loaded_at"].startswith("2020-11-02")


def selected(output: str) -> list[str]:
    """The node names `dbt ls --output name` printed."""
    return [line.strip() for line in output.splitlines() if line.strip() and " " not in line]


def test_slim_ci_against_a_nightly_manifest(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    nightly = shell("truffle nightly --json", project, home)
    assert nightly.returncode == 0, nightly.stdout[-2000:] + nightly.stderr[-2000:]
    state = tmp_path / "production"
    state.mkdir()
    shutil.copy(project / "target" / "manifest.json", state / "manifest.json")
    production = json.loads((state / "manifest.json").read_text())
    events = production["nodes"]["model.random_truffle.int_events_recorded"]
    assert any("date('" in partition for partition in events["config"]["partitions"]), (
        "the nightly pins its run date into the BigQuery partitions config"
    )

    modified = f"dbt ls --quiet --output name --select state:modified+ --state {state}"
    assert selected(ok(shell(modified, project, home))) == []

    model = project / "models" / "views" / "daily_kpis.sql"
    original = model.read_text()
    model.write_text(original + "\n-- a change under review\n")
    try:
        names = selected(ok(shell(modified, project, home)))
        assert "daily_kpis" in names
        assert "assert_daily_kpis_match_marts" in names
        assert not {"sessions", "events", "int_events_recorded", "stg_ga4__events"} & set(names)

        build = ok(
            shell(
                f"dbt build --target ci --select state:modified+ --defer --state {state}",
                project,
                home,
            )
        )
        assert "Completed successfully" in build
    finally:
        model.write_text(original)
    ci_file = project / "warehouse" / "ci.duckdb"
    with duckdb.connect(str(ci_file), read_only=True) as connection:
        built = {
            row[0] for row in connection.sql("select table_name from duckdb_tables()").fetchall()
        }
        views = {
            row[0] for row in connection.sql("select view_name from duckdb_views()").fetchall()
        }
    assert "daily_kpis" in views | built
    # deferred: the sessions mart and its stored table are read from the production file
    assert not {"sessions", "int_sessions_converted"} & (views | built)


def test_installs_as_a_dbt_package(project: Path, tmp_path: Path) -> None:
    consumer = tmp_path / "consumer"
    (consumer / "models").mkdir(parents=True)
    (consumer / "dbt_project.yml").write_text(
        "name: consumer\nversion: '1.0.0'\nconfig-version: 2\nprofile: consumer\n"
        "vars:\n"
        f"  ga4_export_path: '{project / 'data' / 'ga4_export'}'\n"
        "  ga4_dataset: analytics_123456789\n"
    )
    (consumer / "packages.yml").write_text(f"packages:\n  - local: '{project}'\n")
    (consumer / "profiles.yml").write_text(
        "consumer:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: '{consumer / 'consumer.duckdb'}'\n      threads: 2\n"
    )
    (consumer / "models" / "sessions_by_day.sql").write_text(
        "select session_start_date, count(*) as sessions\n"
        "from {{ ref('random_truffle', 'sessions') }}\ngroup by session_start_date\n"
    )
    home = tmp_path / "home"
    ok(shell("dbt deps", consumer, home))
    assert "Completed successfully" in ok(shell("dbt build", consumer, home))
    with duckdb.connect(str(consumer / "consumer.duckdb"), read_only=True) as connection:
        days, sessions = connection.execute(
            "select count(*), sum(sessions) from sessions_by_day"
        ).fetchall()[0]
        marts = connection.execute("select count(*) from sessions").fetchall()[0][0]
    assert days == 3
    assert sessions == marts > 0
