"""The benchmark harness (bench/run.py) keeps going when a step fails: the failure is recorded
with its error, the next steps and datasets still run, results.json is rewritten after every
step, and the exit status says something failed. No dbt, no export: the steps are faked."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bench import run as bench_run


class FakeDataset:
    """What the harness reads of a dataset, with no export behind it."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.days = 30
        self.path = folder / name
        self.path.mkdir(parents=True)
        self.end_date = dt.date(2024, 3, 31)

        class Config:
            time_zone = "UTC"
            days = 30
            users = 10
            seed = 1
            intraday_days = 0

        self.config = Config()

    def ensure(self, log) -> Path:
        return self.path

    def files(self) -> list[Path]:
        return [self.path / "events_20240331.parquet"]

    def manifest(self) -> dict:
        return {"raw_rows": 100}

    def bytes_on_disk(self) -> int:
        return 1


def fake_child(failing: set[tuple[str, str]]):
    """run_child that fails the (dataset folder, kind-or-dbt-command) pairs in `failing`."""

    def run_child(spec: dict) -> dict:
        step = spec["args"][0] if spec["kind"] == "dbt" else spec["kind"]
        folder = Path(spec.get("target_path") or spec.get("database") or "").parent.name
        if (folder, step) in failing:
            raise RuntimeError(f"dbt step failed: ['{step} broke']")
        if spec["kind"] == "dbt":
            Path(spec["warehouse"]).write_text("warehouse")
        return {
            "seconds": 1.0,
            "cpu_seconds": 1.5,
            "peak_rss_bytes": 1024,
            "load_before": [0.0, 0.0, 0.0],
            "events": 100,
        }

    return run_child


@pytest.fixture
def harness(tmp_path, monkeypatch):
    results_file = tmp_path / "results.json"
    monkeypatch.setattr(bench_run, "RESULTS_FILE", results_file)
    monkeypatch.setattr(bench_run, "HISTORY_DIR", tmp_path / "results")
    monkeypatch.setattr(bench_run, "WORK_DIR", tmp_path / "work")
    datasets = [FakeDataset("1m-30d", tmp_path / "exports"), FakeDataset("x-30d", tmp_path / "e")]
    monkeypatch.setattr(bench_run, "datasets_for", lambda sizes: datasets)
    monkeypatch.setattr(bench_run, "versions", lambda: {})
    writes = []
    original_write = bench_run.write_results

    def counting_write(document: dict) -> None:
        original_write(document)
        writes.append(json.loads(results_file.read_text()))

    monkeypatch.setattr(bench_run, "write_results", counting_write)
    return results_file, writes


def test_a_failing_build_is_recorded_and_the_next_dataset_runs(harness, monkeypatch):
    results_file, writes = harness
    monkeypatch.setattr(bench_run, "run_child", fake_child({("1m-30d", "build")}))
    status = bench_run.main(["--sizes", "1m", "--reps", "1", "--steps", "raw,full,nightly"])
    assert status == 1
    results = json.loads(results_file.read_text())["datasets"]
    first = results["1m-30d"]["steps"]
    assert "build broke" in first["full"]["error"]
    assert first["raw"]["median_seconds"] == 1.0
    assert "not run" in first["nightly"]["error"]
    second = results["x-30d"]["steps"]
    assert second["full"]["median_seconds"] == 1.0
    assert second["nightly"]["median_seconds"] == 1.0
    # rewritten after every step: the raw pass was on disk before the build failed
    assert any(
        "raw" in w["datasets"].get("1m-30d", {}).get("steps", {})
        and "full" not in w["datasets"]["1m-30d"]["steps"]
        for w in writes
    )


def test_a_failing_nightly_does_not_stop_the_run(harness, monkeypatch):
    results_file, _ = harness
    monkeypatch.setattr(bench_run, "run_child", fake_child({("1m-30d", "run")}))
    status = bench_run.main(["--sizes", "1m", "--reps", "1", "--steps", "full,nightly"])
    assert status == 1
    results = json.loads(results_file.read_text())["datasets"]
    assert "run broke" in results["1m-30d"]["steps"]["nightly"]["error"]
    assert results["x-30d"]["steps"]["nightly"]["median_seconds"] == 1.0


def test_a_clean_run_exits_zero(harness, monkeypatch):
    results_file, _ = harness
    monkeypatch.setattr(bench_run, "run_child", fake_child(set()))
    assert bench_run.main(["--sizes", "1m", "--reps", "1", "--steps", "raw,full"]) == 0
    ratios = json.loads(results_file.read_text())["ratios"]
    assert ratios["full_over_raw_10m"] == 1.0
