"""The benchmark: the warehouse's build, nightly refresh and analyses against DuckDB's own limit.

    .venv/bin/python -m bench [--sizes 1m,10m] [--reps 3] [--quick] [--steps ...]

For each synthetic export (1M events / 30 days; 10M events / 30 days and 90 days of the same
daily volume; generated once, cached under bench/data/exports/), with `--reps` repetitions
each, timed and measured for peak memory in a child process of its own:

  raw       the limit: one hand-written DuckDB pass over the export files (list_filter params,
            session key hash, group by session) into a table;
  store     a reference, not a target: the export's rows stored as they are in one DuckDB
            table (`create table as select * from read_parquet`), the least that keeping
            every event costs;
  full      `dbt build --full-refresh` of every seed and model, no tests, into a new warehouse;
  history   (a history longer than --chunk-days) a full refresh of the first 30 days, then one
            backfill run per following 30 days: a long history built as it would have grown;
  nightly_bytes  the bytes a whole nightly reads: `dbt build` of the default window (models,
            their delete+insert, hooks, data tests and unit tests) on a copy of the full
            build, the export's last day's eve and then its last day, every statement
            measured by DuckDB's profiler (orchestrate.recorder; not timed); the second night
            is the figure (a night after a night, as scheduled), the first is kept beside it;
  nightly   `dbt run` of the default window (ga4_run_date = the export's last day, lookback 3)
            on a copy of the full build;
  analyses  each analysis in analyses/ with its default parameters, compiled by dbt once, then
            only the query timed on the built warehouse (truffle's engine, 10,000-row limit).

Writes bench/results.json (and a dated copy under bench/results/) and prints the figures and
the ratios against the targets of issue 6. results.json is rewritten after every step, so an
interrupted run keeps what it measured. A step that fails (a dbt error, a crash) is recorded
with its error and the run goes on with the next step and dataset; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.datasets import (
    BENCH_DIR,
    DATA_DIR,
    DEVICES_PER_MILLION_EVENTS_30D,
    Dataset,
    datasets_for,
    named_dataset,
)

REPO = BENCH_DIR.parent
WORK_DIR = DATA_DIR / "work"
RESULTS_FILE = BENCH_DIR / "results.json"
HISTORY_DIR = BENCH_DIR / "results"
STEPS = ("raw", "store", "full", "history", "analyses", "nightly_bytes", "nightly")
GIB = 1024**3
# A long history is built (step `history`) in runs of this many days.
CHUNK_DAYS = 30


def enough_disk_for_full(dataset: Dataset) -> bool:
    """A full refresh of a long history spills its dedup window and sort to disk (with the
    profile's memory limit): ~2 GB per 1M raw rows, plus the warehouse (~0.6 GB per 1M)."""
    raw_millions = dataset.config.users / DEVICES_PER_MILLION_EVENTS_30D  # ~21 events a device
    needed = raw_millions * (2.0 + 0.6) * 1e9
    return shutil.disk_usage(WORK_DIR.parent).free > needed * 1.2


TARGETS = {
    "full_over_raw_10m": ("full build / raw pass, 10M (30d)", 3.0),
    "nightly_over_full_10m_90d": ("nightly / full build, 10M-90d", 0.15),
    "nightly_90d_over_30d": ("nightly 90d / nightly 30d, 10M", 1.3),
    "nightly_bytes_90d_over_30d": ("nightly bytes read 90d / 30d, 10M", 1.15),
    "analysis_seconds_10m": ("each analysis median, 10M (30d), s", 1.0),
    "full_peak_gib_10m": ("full-build peak memory, 10M (30d), GiB", 4.0),
}


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", flush=True)


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def profile_settings() -> dict[str, str]:
    """The DuckDB session settings the profile gives dbt, so the raw pass runs with them too."""
    import yaml

    document = yaml.safe_load((REPO / "profiles.yml").read_text())
    output = document["random_truffle"]["outputs"]["duckdb"]
    settings = {}
    for name, value in (output.get("settings") or {}).items():
        text = str(value)
        # the profile's only template form: {{ env_var('NAME', 'default') }}
        template = re.fullmatch(r"\{\{\s*env_var\('(\w+)',\s*'([^']*)'\)\s*\}\}", text.strip())
        if template:
            text = os.environ.get(template.group(1), template.group(2))
        settings[str(name)] = text.lower() if isinstance(value, bool) else text
    return settings


def run_child(spec: dict) -> dict:
    """Run one step in a child process; its own figures plus wall time, max RSS and load."""
    with tempfile.TemporaryDirectory(prefix="truffle-bench-") as folder:
        spec_path = Path(folder) / "spec.json"
        out_path = Path(folder) / "out.json"
        spec_path.write_text(json.dumps({**spec, "out": str(out_path)}))
        load_before = load_average()
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.child", str(spec_path)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert process.stdout is not None
        output = process.stdout.read()
        # wait4 gives this child's own resource usage; ru_maxrss is KiB on Linux
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        if process.returncode != 0 or not out_path.is_file():
            text = output.decode(errors="replace")[-4000:]
            raise RuntimeError(f"benchmark step {spec['kind']} failed:\n{text}")
        outcome = json.loads(out_path.read_text())
    if outcome.get("success") is False:
        raise RuntimeError(f"dbt step failed: {outcome.get('failures')}")
    outcome.update(
        {
            "process_seconds": round(wall, 3),
            "peak_rss_bytes": usage.ru_maxrss * 1024,
            # CPU seconds of the child (user + system): steadier than wall time on a busy box
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
            "load_before": load_before,
            "load_after": load_average(),
        }
    )
    outcome["seconds"] = round(outcome["seconds"], 3)
    return outcome


def summarize(samples: list[dict]) -> dict:
    seconds = [s["seconds"] for s in samples]
    rss = [s["peak_rss_bytes"] for s in samples]
    summary = {
        "median_seconds": round(statistics.median(seconds), 3),
        "median_cpu_seconds": round(statistics.median(s["cpu_seconds"] for s in samples), 3),
        "min_seconds": round(min(seconds), 3),
        "max_seconds": round(max(seconds), 3),
        "peak_rss_bytes": max(rss),
        "median_peak_rss_bytes": int(statistics.median(rss)),
        "samples": samples,
    }
    nodes = [s["nodes"] for s in samples if s.get("nodes")]
    if nodes:
        summary["node_median_seconds"] = {
            name: round(statistics.median(n[name]["seconds"] for n in nodes if name in n), 3)
            for name in nodes[0]
        }
    return summary


class DatasetBench:
    """Every step for one dataset, in its own work folder (warehouses, dbt target)."""

    def __init__(
        self,
        dataset: Dataset,
        reps: int,
        steps: set[str],
        project_dir: Path = REPO,
        chunk_days: int = CHUNK_DAYS,
        build_reps: int | None = None,
        checkpoint: Callable[[dict], None] | None = None,
    ) -> None:
        self.dataset = dataset
        self.checkpoint = checkpoint
        self.project_dir = project_dir
        self.chunk_days = chunk_days
        self.build_reps = build_reps or reps
        self.reps = reps
        self.steps = steps
        self.work = WORK_DIR / dataset.name
        self.work.mkdir(parents=True, exist_ok=True)
        self.built = self.work / "built.duckdb"  # the last full build, kept for the rest
        self.vars = {
            "ga4_export_path": str(dataset.path),
            "ga4_run_date": dataset.end_date.isoformat(),
            "ga4_property_time_zone": dataset.config.time_zone,
        }

    def dbt_spec(self, args: list[str], warehouse: Path, target: str) -> dict:
        return {
            "kind": "dbt",
            "project_dir": str(self.project_dir),
            "args": args,
            "vars": self.vars,
            "warehouse": str(warehouse),
            "target_path": str(self.work / target),
        }

    @staticmethod
    def remove_database(path: Path) -> None:
        for suffix in ("", ".wal", ".tmp"):
            candidate = Path(str(path) + suffix)
            if candidate.is_dir():
                shutil.rmtree(candidate)
            else:
                candidate.unlink(missing_ok=True)

    def failed(self, label: str, error: Exception) -> dict:
        """A step's failure as its result: logged, and kept in results.json."""
        log(f"  {self.dataset.name} {label} FAILED: {error}")
        text = str(error) if isinstance(error, RuntimeError) else traceback.format_exc()
        return {"error": text[-2000:]}

    def step_done(self, result: dict) -> None:
        """After every step: hand the dataset's results so far to the checkpoint."""
        if self.checkpoint:
            self.checkpoint(result)

    def repeat(self, label: str, make_spec, before=None, reps: int | None = None) -> dict:
        samples = []
        reps = reps or self.reps
        for rep in range(reps):
            try:
                if before:
                    before(rep)
                sample = run_child(make_spec())
            except Exception as error:  # recorded, and the other steps still run
                return self.failed(label, error)
            samples.append(sample)
            rss = sample["peak_rss_bytes"] / GIB
            log(
                f"  {self.dataset.name} {label} rep {rep + 1}/{reps}: "
                f"{sample['seconds']:.2f} s (cpu {sample['cpu_seconds']:.1f} s), "
                f"peak {rss:.2f} GiB, load {sample['load_before'][0]}"
            )
        return summarize(samples)

    def run(self) -> dict:
        files = [str(path) for path in self.dataset.files()]
        manifest = self.dataset.manifest()
        result: dict = {
            "dataset": self.dataset.name,
            "export_path": str(self.dataset.path),
            "config": {
                "end_date": self.dataset.end_date.isoformat(),
                "days": self.dataset.config.days,
                "users": self.dataset.config.users,
                "seed": self.dataset.config.seed,
                "intraday_days": self.dataset.config.intraday_days,
            },
            "files": len(files),
            "export_bytes": self.dataset.bytes_on_disk(),
            "raw_rows": manifest.get("raw_rows") or manifest.get("totals", {}).get("raw_rows"),
            "steps": {},
        }
        steps = result["steps"]
        scratch = self.work / "raw.duckdb"
        if "raw" in self.steps:
            steps["raw"] = self.repeat(
                "raw pass",
                lambda: {
                    "kind": "raw",
                    "files": files,
                    "database": str(scratch),
                    "settings": profile_settings(),
                },
            )
            if "samples" in steps["raw"]:
                result["raw_events"] = steps["raw"]["samples"][0]["events"]
            self.remove_database(scratch)
            self.step_done(result)
        # the reference is read beside the 30-day full build only (the 90-day one is built in
        # runs); storing a 31M-row export would add minutes for no ratio
        if "store" in self.steps and self.dataset.days <= self.chunk_days:
            steps["store"] = self.repeat(
                "export stored as it is",
                lambda: {
                    "kind": "raw",
                    "query": "store",
                    "files": files,
                    "database": str(scratch),
                    "settings": profile_settings(),
                },
            )
            self.remove_database(scratch)
            self.step_done(result)

        need_build = bool(self.steps & {"full", "history", "nightly", "nightly_bytes", "analyses"})
        long_history = self.dataset.days > self.chunk_days
        run_full = "full" in self.steps
        if run_full and long_history and not enough_disk_for_full(self.dataset):
            free = shutil.disk_usage(self.work).free / GIB
            log(
                f"  {self.dataset.name}: no full refresh (its spill and warehouse need more "
                f"than the {free:.0f} GiB free): the history is built in 30-day runs instead"
            )
            result["full_skipped"] = f"not enough free disk ({free:.0f} GiB)"
            run_full = False
        run_history = long_history and not run_full and "history" in self.steps
        if not (run_full or run_history) and need_build and not self.built.is_file():
            run_full, run_history = not long_history, long_history
        built = (not run_full or self.run_full(steps)) and (
            not run_history or self.run_history(steps)
        )
        self.step_done(result)
        if not built:
            # nothing built: the steps that need the warehouse cannot run; say so
            for step in ("analyses", "nightly_bytes", "nightly"):
                if step in self.steps:
                    steps[step] = {"error": "not run: the warehouse build failed"}
            self.step_done(result)
            return result
        if self.built.is_file():
            result["warehouse_bytes"] = self.built.stat().st_size

        if "analyses" in self.steps:
            steps["analyses"] = self.run_analyses()
            self.step_done(result)

        if "nightly_bytes" in self.steps:
            steps["nightly_bytes"] = self.run_nightly_bytes()
            self.step_done(result)

        if "nightly" in self.steps:
            nightly = self.work / "nightly.duckdb"

            def fresh_copy(rep: int) -> None:
                self.remove_database(nightly)
                if rep < self.reps - 1:
                    shutil.copyfile(self.built, nightly)
                else:  # the last run on the build itself: one warehouse less on disk
                    shutil.move(self.built, nightly)

            steps["nightly"] = self.repeat(
                "nightly",
                lambda: self.dbt_spec(["run"], nightly, "target-nightly"),
                before=fresh_copy,
            )
            if nightly.is_file():  # the refreshed warehouse holds the same data: keep it
                self.remove_database(self.built)
                shutil.move(nightly, self.built)
            self.remove_database(nightly)
            self.step_done(result)
        return result

    def run_nightly_bytes(self) -> dict:
        """The whole nightly (`dbt build`: models, hooks, tests), every statement's bytes
        measured, on a copy of the build, night after night: the run date's eve, then the
        run date. The second is the figure: a scheduled nightly follows the previous night's,
        whose window days it reads again as that night wrote them; the night after the build
        reads window days the build wrote, spread over its row groups (10M events / 90 days:
        the events' delete+insert read 505 MiB after the build, 397 the next night, as at 30
        days), which no later night pays again. Both are kept.

        `--reps` pairs of nights, each pair on a fresh copy, and the median of their run
        dates' figures (the lower middle one of an even count): what a night reads moves
        with the row groups the eve's parallel insert left (the same code, one pair per
        size: 1.19 - 1.28 x at 10M), so one pair cannot tell a change of a few percent from
        that spread."""
        measured = self.work / "nightly-bytes.duckdb"
        eve = {
            **self.vars,
            "ga4_run_date": (self.dataset.end_date - dt.timedelta(days=1)).isoformat(),
        }

        def fresh_copy(rep: int) -> None:
            if rep % 2 == 0:
                self.remove_database(measured)
                shutil.copyfile(self.built, measured)

        nights = iter([eve, self.vars] * self.reps)

        def spec() -> dict:
            # one thread: statements one at a time, each measured alone (orchestrate.recorder)
            args = ["build", "--threads", "1"]
            night = self.dbt_spec(args, measured, "target-nightly-bytes")
            return {**night, "vars": next(nights), "record": True}

        summary = self.repeat("nightly bytes", spec, before=fresh_copy, reps=2 * self.reps)
        self.remove_database(measured)
        if "samples" in summary:
            firsts, seconds = summary["samples"][0::2], summary["samples"][1::2]
            read = [sample.get("bytes_read") or 0 for sample in seconds]
            # the median night (the lower middle one of an even count: a night measured,
            # not a mean of two), whose bytes by kind are reported with its figure
            middle = sorted(seconds, key=lambda sample: sample.get("bytes_read") or 0)[
                (len(seconds) - 1) // 2
            ]
            summary["bytes_read"] = middle.get("bytes_read") or 0
            summary["bytes_read_nights"] = read
            summary["bytes_by_kind"] = middle.get("bytes_by_kind")
            summary["first_night_bytes_read"] = int(
                statistics.median(sample.get("bytes_read") or 0 for sample in firsts)
            )
            log(
                f"  {self.dataset.name} nightly bytes read: {summary['bytes_read']:,}"
                f" (median of {len(read)}: {', '.join(f'{value:,}' for value in read)}; "
                f"the night after the build, on the eve: {summary['first_night_bytes_read']:,})"
            )
        return summary

    FULL_ARGS = (
        "build",
        "--exclude",
        "resource_type:test",
        "resource_type:unit_test",
        "--full-refresh",
    )

    def run_full(self, steps: dict) -> bool:
        """`dbt build --full-refresh` (no tests) into a new file; the last one is kept."""
        building = self.work / "full.duckdb"
        steps["full"] = self.repeat(
            "full build",
            lambda: self.dbt_spec(list(self.FULL_ARGS), building, "target-full"),
            before=lambda rep: self.remove_database(building),
            reps=self.build_reps,
        )
        if "error" in steps["full"]:
            return False
        self.remove_database(self.built)
        shutil.move(building, self.built)
        return True

    def run_history(self, steps: dict) -> bool:
        """The history built as it would have grown: a full refresh of the first 30 days, then
        one backfill run (`dbt run`) per following 30 days. Each run holds one 30-day window,
        so a long history builds where one full refresh would not fit (memory, spill)."""
        days = self.dataset.days
        first_day = self.dataset.end_date - dt.timedelta(days=days - 1)
        chunks = []
        for start in range(0, days, self.chunk_days):
            chunk_start = first_day + dt.timedelta(days=start)
            chunk_end = min(
                chunk_start + dt.timedelta(days=self.chunk_days - 1), self.dataset.end_date
            )
            chunks.append((chunk_start, chunk_end))
        # the first run sees only its own days: a folder of links to their files
        first_folder = self.work / "first-chunk-export"
        shutil.rmtree(first_folder, ignore_errors=True)
        first_folder.mkdir(parents=True)
        for path in self.dataset.files():
            day = dt.datetime.strptime(path.stem.rsplit("_", 1)[-1], "%Y%m%d").date()
            if day <= chunks[0][1]:
                (first_folder / path.name).symlink_to(path)
        building = self.work / "history.duckdb"
        samples = []
        for rep in range(self.build_reps):
            self.remove_database(building)
            parts = []
            for index, (chunk_start, chunk_end) in enumerate(chunks):
                spec = self.dbt_spec(
                    list(self.FULL_ARGS) if index == 0 else ["run"], building, "target-history"
                )
                if index == 0:
                    spec["vars"] = {
                        **self.vars,
                        "ga4_export_path": str(first_folder),
                        "ga4_run_date": chunk_end.isoformat(),
                    }
                else:
                    spec["vars"] = {
                        **self.vars,
                        "ga4_backfill_start_date": chunk_start.isoformat(),
                        "ga4_backfill_end_date": chunk_end.isoformat(),
                    }
                try:
                    part = run_child(spec)
                except Exception as error:
                    steps["history"] = self.failed("history", error)
                    return False
                part["days"] = [chunk_start.isoformat(), chunk_end.isoformat()]
                parts.append(part)
                log(
                    f"  {self.dataset.name} history rep {rep + 1}/{self.build_reps} "
                    f"run {index + 1}/{len(chunks)} ({chunk_start} to {chunk_end}): "
                    f"{part['seconds']:.1f} s "
                    f"(cpu {part['cpu_seconds']:.1f} s), peak {part['peak_rss_bytes'] / GIB:.2f} "
                    f"GiB, load {part['load_before'][0]}"
                )
            samples.append(
                {
                    "seconds": round(sum(p["seconds"] for p in parts), 3),
                    "cpu_seconds": round(sum(p["cpu_seconds"] for p in parts), 3),
                    "peak_rss_bytes": max(p["peak_rss_bytes"] for p in parts),
                    "load_before": parts[0]["load_before"],
                    "runs": parts,
                }
            )
        steps["history"] = summarize(samples)
        self.remove_database(self.built)
        shutil.move(building, self.built)
        shutil.rmtree(first_folder, ignore_errors=True)
        return True

    def run_analyses(self) -> dict:
        from orchestrate.analyses import load_analyses

        names = sorted(load_analyses(self.project_dir))
        target = self.work / "target-analyses"
        # compiled once (not timed): refs resolve against the built warehouse
        compile_spec = self.dbt_spec(["compile", "--select", *names], self.built, "target-analyses")
        try:
            run_child(compile_spec)
        except Exception as error:
            return {"(compile)": self.failed("analyses compile", error)}
        timings = {}
        for name in names:
            compiled = target / "compiled" / "random_truffle" / "analyses" / f"{name}.sql"
            timings[name] = self.repeat(
                f"analysis {name}",
                lambda compiled=compiled, name=name: {
                    "kind": "analysis",
                    "project_dir": str(self.project_dir),
                    "name": name,
                    "compiled": str(compiled),
                    "warehouse": str(self.built),
                },
            )
        return timings


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def step_entry(results: dict, dataset: str, step: str) -> dict | None:
    entry = results.get(dataset, {}).get("steps", {}).get(step)
    return entry if entry and "error" not in entry else None


def step_median(results: dict, dataset: str, step: str, key: str = "median_seconds"):
    entry = step_entry(results, dataset, step)
    return entry.get(key) if entry else None


def compute_ratios(results: dict) -> dict:
    """The issue's ratios, on the 10M datasets (or, for a --quick run, 1M as a stand-in).
    At 90 days the full refresh may have been replaced by the history built in 30-day runs
    (`history`): the nightly is then compared with that."""
    big = "10m-30d" if "10m-30d" in results else "1m-30d"
    long_build = "full" if step_entry(results, "10m-90d", "full") else "history"
    ratios: dict = {"measured_on": big, "long_history_build": long_build}
    for suffix, key in (("", "median_seconds"), ("_cpu", "median_cpu_seconds")):
        ratios[f"full_over_raw_10m{suffix}"] = ratio(
            step_median(results, big, "full", key), step_median(results, big, "raw", key)
        )
        ratios[f"nightly_over_full_10m_90d{suffix}"] = ratio(
            step_median(results, "10m-90d", "nightly", key),
            step_median(results, "10m-90d", long_build, key),
        )
        ratios[f"nightly_90d_over_30d{suffix}"] = ratio(
            step_median(results, "10m-90d", "nightly", key),
            step_median(results, "10m-30d", "nightly", key),
        )
    ratios["store_over_raw_10m"] = ratio(
        step_median(results, big, "store"), step_median(results, big, "raw")
    )
    ratios["full_over_store_10m"] = ratio(
        step_median(results, big, "full"), step_median(results, big, "store")
    )
    analyses = results.get(big, {}).get("steps", {}).get("analyses", {})
    ratios["analysis_seconds_10m"] = {
        name: entry["median_seconds"] for name, entry in analyses.items() if "error" not in entry
    }
    # a whole nightly's bytes at 90 days over 30 days: 10M, else any size run at both
    pairs = [
        size for size in ("10m", "1m") if f"{size}-90d" in results and f"{size}-30d" in results
    ]
    ratios["nightly_bytes_measured_on"] = pairs[0] if pairs else None
    ratios["nightly_bytes_90d_over_30d"] = (
        ratio(
            step_median(results, f"{pairs[0]}-90d", "nightly_bytes", "bytes_read"),
            step_median(results, f"{pairs[0]}-30d", "nightly_bytes", "bytes_read"),
        )
        if pairs
        else None
    )
    full = step_entry(results, big, "full")
    ratios["full_peak_gib_10m"] = round(full["peak_rss_bytes"] / GIB, 2) if full else None
    return ratios


def verdict(value, target: float) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, dict):
        if not value:
            return "n/a"
        return "ok" if all(v <= target for v in value.values()) else "MISSED"
    return "ok" if value <= target else "MISSED"


def print_report(document: dict) -> None:
    results = document["datasets"]
    print()
    header = (
        f"{'dataset':<9} {'step':<34} {'median s':>9} {'min s':>8} {'max s':>8} "
        f"{'cpu s':>8} {'peak GiB':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, entry in results.items():
        if "error" in entry:
            print(f"{name:<9} {'(dataset)':<34} FAILED (see results.json)")
        for step, summary in entry.get("steps", {}).items():
            rows = (
                summary.items()
                if step == "analyses" and "error" not in summary
                else [(step, summary)]
            )
            for label, figures in rows:
                shown = step if label == step else f"analysis {label}"
                if "error" in figures:
                    print(f"{name:<9} {shown:<34} FAILED (see results.json)")
                    continue
                print(
                    f"{name:<9} {shown:<34} {figures['median_seconds']:>9.2f} "
                    f"{figures['min_seconds']:>8.2f} {figures['max_seconds']:>8.2f} "
                    f"{figures['median_cpu_seconds']:>8.1f} "
                    f"{figures['peak_rss_bytes'] / GIB:>9.2f}"
                )
    ratios = document["ratios"]
    print()
    print(
        f"ratios (the 10M figures measured on {ratios['measured_on']}; the 90-day nightly "
        f"compared with its {ratios['long_history_build']} build):"
    )
    for key, (label, target) in TARGETS.items():
        value = ratios.get(key)
        if isinstance(value, dict):
            shown = ", ".join(f"{k} {v:.2f}" for k, v in value.items()) or "n/a"
        else:
            shown = "n/a" if value is None else f"{value:.3f}"
        cpu = ratios.get(f"{key}_cpu")
        cpu_text = f" (cpu {cpu:.3f})" if cpu is not None else ""
        print(
            f"  {label:<42} {shown + cpu_text:<22} target <= {target:g}  {verdict(value, target)}"
        )
    measured_on = ratios.get("nightly_bytes_measured_on")
    if measured_on and measured_on != "10m":
        print(f"  (nightly bytes: measured on the {measured_on} datasets, a stand-in for 10M)")
    for name, entry in results.items():
        read = (entry.get("steps", {}).get("nightly_bytes") or {}).get("bytes_read")
        if read is not None:
            print(f"  nightly bytes read, {name:<28} {read / 2**20:,.1f} MiB")
    for key, label in (
        ("store_over_raw_10m", "export stored as it is / raw pass"),
        ("full_over_store_10m", "full build / export stored as it is"),
    ):
        value = ratios.get(key)
        print(f"  {label:<42} {'n/a' if value is None else f'{value:.3f}':<22} (reference)")
    print(f"\nload average at start {document['load_start']}, at end {document['load_end']}")
    print(f"results: {RESULTS_FILE}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.split("\n")[0],
        epilog=(
            "Writes bench/results.json after every step. A failing step is recorded there with "
            "its error and the run goes on; the exit status is then 1 (2: bad arguments)."
        ),
    )
    parser.add_argument("--sizes", default="1m,10m", help="comma-separated: 1m, 10m")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per step (median)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1M only, 1 repetition")
    parser.add_argument(
        "--steps", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}"
    )
    parser.add_argument(
        "--datasets",
        default="",
        help="only these datasets, replacing --sizes (e.g. 10m-90d, or 1m-30d,1m-90d)",
    )
    parser.add_argument("--generate-only", action="store_true", help="generate exports, exit")
    parser.add_argument(
        "--build-reps",
        type=int,
        default=None,
        help="repetitions of the full and history builds (default: --reps)",
    )
    parser.add_argument(
        "--chunk-days",
        type=int,
        default=CHUNK_DAYS,
        help="a history longer than this is built in runs of this many days (step history)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = ["1m"] if args.quick else [s.strip().lower() for s in args.sizes.split(",") if s]
    reps = 1 if args.quick else args.reps
    steps = {s.strip() for s in args.steps.split(",") if s.strip()}
    unknown = steps - set(STEPS) or {s for s in sizes if s not in ("1m", "10m")}
    if unknown:
        print(f"unknown step or size: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    datasets = datasets_for(sizes)
    if args.datasets:
        # any <size>-<days>d (e.g. 1m-90d, the smallest history-growth pair with 1m-30d)
        wanted = [d.strip() for d in args.datasets.split(",") if d.strip()]
        try:
            datasets = [named_dataset(name) for name in wanted]
        except (KeyError, ValueError):
            print(f"unknown dataset in {args.datasets!r}: <1m|10m>-<days>d", file=sys.stderr)
            return 2
    not_generated = {}
    for dataset in datasets:
        try:
            dataset.ensure(log)
        except Exception:
            log(f"{dataset.name}: generating the export FAILED")
            not_generated[dataset.name] = {"error": traceback.format_exc()[-2000:], "steps": {}}
    if args.generate_only:
        return 1 if not_generated else 0

    document: dict = {
        "started_at": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB, 1),
        },
        "versions": versions(),
        "options": {
            "sizes": sizes,
            "reps": reps,
            "build_reps": 1 if args.quick else (args.build_reps or reps),
            "steps": sorted(steps),
            "chunk_days": args.chunk_days,
        },
        "duckdb_settings": profile_settings(),
        "load_start": load_average(),
        "datasets": {},
    }
    document["targets"] = {key: target for key, (_, target) in TARGETS.items()}
    results = document["datasets"]

    def save(name: str, result: dict) -> None:
        # written after every step, so a long run that stops keeps what it measured
        results[name] = result
        document["load_end"] = load_average()
        document["ratios"] = compute_ratios(results)
        write_results(document)

    for dataset in datasets:
        if dataset.name in not_generated:
            save(dataset.name, not_generated[dataset.name])
            continue
        size = dataset.bytes_on_disk() / GIB
        log(f"{dataset.name}: {len(dataset.files())} files, {size:.2f} GiB")
        bench = DatasetBench(
            dataset,
            reps,
            steps,
            chunk_days=args.chunk_days,
            build_reps=1 if args.quick else args.build_reps,
            checkpoint=lambda result, name=dataset.name: save(name, result),
        )
        try:
            result = bench.run()
        except Exception:  # a fault of the harness itself: recorded, the next dataset runs
            log(f"{dataset.name} FAILED:\n{traceback.format_exc()}")
            result = results.get(dataset.name, {"dataset": dataset.name, "steps": {}})
            result["error"] = traceback.format_exc()[-2000:]
        save(dataset.name, result)
    HISTORY_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    shutil.copyfile(RESULTS_FILE, HISTORY_DIR / f"results-{stamp}.json")
    print_report(document)
    failed = failures(results)
    if failed:
        print(f"\n{len(failed)} failed step(s): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def write_results(document: dict) -> None:
    """Replace results.json whole (a run interrupted mid-write leaves the previous one)."""
    partial = RESULTS_FILE.with_suffix(".json.partial")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    partial.replace(RESULTS_FILE)


def failures(results: dict) -> list[str]:
    """`dataset step` (or `dataset analysis name`, or `dataset`) of every recorded failure."""
    failed = []
    for name, entry in results.items():
        if "error" in entry:
            failed.append(name)
        for step, summary in entry.get("steps", {}).items():
            if "error" in summary:
                failed.append(f"{name} {step}")
            elif step == "analyses":
                failed.extend(
                    f"{name} analysis {label}"
                    for label, figures in summary.items()
                    if "error" in figures
                )
    return failed


def versions() -> dict:
    from importlib.metadata import version

    return {name: version(name) for name in ("dbt-core", "dbt-duckdb", "duckdb")}


if __name__ == "__main__":
    sys.exit(main())
