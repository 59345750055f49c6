"""`truffle report` on the BigQuery target: the two real sample days built on the local
BigQuery emulator (skipped, saying why, without Python 3.13). The same analyses run through
the BigQuery engine (guard, dry-run cost check, named parameters) and the page's KPI cards
equal the marts' figures of the DuckDB build of the same days."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from typer.testing import CliRunner

from orchestrate.cli import app
from tests.orchestrate.conftest import REPO, Warehouse
from tests.orchestrate.test_report import (
    REAL_END,
    REAL_START,
    assert_cards_match,
    cards,
    mart_figures,
)

if TYPE_CHECKING:
    from tests.orchestrate.bigquery_fixtures import EmulatorWarehouse

pytest_plugins = ("tests.orchestrate.bigquery_fixtures",)

runner = CliRunner()


def test_report_on_bigquery_shows_the_same_figures(
    emulator_warehouse: EmulatorWarehouse, real_warehouse: Warehouse, tmp_path: Path
) -> None:
    from tests.orchestrate.bigquery_fixtures import EMULATOR_VARIABLES

    profiles = emulator_warehouse.emulator.profile(tmp_path / "profile")
    page = tmp_path / "bigquery.html"
    base = ["--project-dir", str(REPO), "--profiles-dir", str(profiles), "--target", "bigquery"]
    base += ["--vars", json.dumps(EMULATOR_VARIABLES)]
    result = runner.invoke(
        app,
        [
            *base,
            "report",
            "--start",
            str(REAL_START),
            "--end",
            str(REAL_END),
            "--output",
            str(page),
        ],
    )
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert "bigquery warehouse" in text
    assert_cards_match(cards(text), mart_figures(real_warehouse, REAL_START, REAL_END))
    assert text.count("<figcaption>") == 6
