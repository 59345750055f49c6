"""The benchmark: the warehouse's build, nightly refresh and analyses against DuckDB's own limit.

    .venv/bin/python -m bench [--sizes 1m,10m] [--reps 3] [--quick] [--steps ...]

For each synthetic export (1M events / 30 days; 10M events / 30 days and 90 days of the same
daily volume; generated once, cached under bench/data/exports/), with `--reps` repetitions
each, timed and measured for peak memory in a child process of its own:

  raw       the limit: one hand-written DuckDB pass over the export files (list_filter params,
            session key hash, group by session) into a table;
  full      `dbt build --full-refresh` of every seed and model, no tests, into a new warehouse;
  nightly   `dbt run` of the default window (ga4_run_date = the export's last day, lookback 3)
            on a copy of the full build;
  analyses  each analysis in analyses/ with its default parameters, compiled by dbt once, then
            only the query timed on the built warehouse (truffle's engine, 10,000-row limit).

Writes bench/results.json (and a dated copy under bench/results/) and prints the figures and
the ratios against the targets of issue 6.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.datasets import BENCH_DIR, DATA_DIR, Dataset, datasets_for

REPO = BENCH_DIR.parent
WORK_DIR = DATA_DIR / "work"
RESULTS_FILE = BENCH_DIR / "results.json"
HISTORY_DIR = BENCH_DIR / "results"
STEPS = ("raw", "full", "nightly", "analyses")
GIB = 1024**3

TARGETS = {
    "full_over_raw_10m": ("full build / raw pass, 10M (30d)", 3.0),
    "nightly_over_full_10m_90d": ("nightly / full build, 10M-90d", 0.15),
    "nightly_90d_over_30d": ("nightly 90d / nightly 30d, 10M", 1.3),
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

    document = yaml.safe_load((REPO / "profiles.example.yml").read_text())
    output = document["random_truffle"]["outputs"]["duckdb"]
    return {str(k): str(v).lower() for k, v in (output.get("settings") or {}).items()}


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

    def __init__(self, dataset: Dataset, reps: int, steps: set[str]) -> None:
        self.dataset = dataset
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
            "project_dir": str(REPO),
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

    def repeat(self, label: str, make_spec, before=None) -> dict:
        samples = []
        for rep in range(self.reps):
            if before:
                before()
            try:
                sample = run_child(make_spec())
            except RuntimeError as error:  # recorded, and the other steps still run
                log(f"  {self.dataset.name} {label} FAILED: {error}")
                return {"error": str(error)[-2000:]}
            samples.append(sample)
            rss = sample["peak_rss_bytes"] / GIB
            log(
                f"  {self.dataset.name} {label} rep {rep + 1}/{self.reps}: "
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

        need_build = bool(self.steps & {"full", "nightly", "analyses"})
        if "full" in self.steps or (need_build and not self.built.is_file()):
            building = self.work / "full.duckdb"
            full_args = [
                "build",
                "--exclude",
                "resource_type:test",
                "resource_type:unit_test",
                "--full-refresh",
            ]
            steps["full"] = self.repeat(
                "full build",
                lambda: self.dbt_spec(full_args, building, "target-full"),
                before=lambda: self.remove_database(building),
            )
            if "error" in steps["full"]:
                return result  # nothing built: the other steps cannot run
            self.remove_database(self.built)
            shutil.move(building, self.built)
            result["warehouse_bytes"] = self.built.stat().st_size

        if "nightly" in self.steps:
            nightly = self.work / "nightly.duckdb"

            def fresh_copy() -> None:
                self.remove_database(nightly)
                shutil.copyfile(self.built, nightly)

            steps["nightly"] = self.repeat(
                "nightly",
                lambda: self.dbt_spec(["run"], nightly, "target-nightly"),
                before=fresh_copy,
            )
            self.remove_database(nightly)

        if "analyses" in self.steps:
            steps["analyses"] = self.run_analyses()
        return result

    def run_analyses(self) -> dict:
        from orchestrate.analyses import load_analyses

        names = sorted(load_analyses(REPO))
        target = self.work / "target-analyses"
        # compiled once (not timed): refs resolve against the built warehouse
        compile_spec = self.dbt_spec(["compile", "--select", *names], self.built, "target-analyses")
        run_child(compile_spec)
        timings = {}
        for name in names:
            compiled = target / "compiled" / "random_truffle" / "analyses" / f"{name}.sql"
            timings[name] = self.repeat(
                f"analysis {name}",
                lambda compiled=compiled, name=name: {
                    "kind": "analysis",
                    "project_dir": str(REPO),
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


def step_median(results: dict, dataset: str, step: str) -> float | None:
    entry = results.get(dataset, {}).get("steps", {}).get(step)
    return entry.get("median_seconds") if entry else None


def compute_ratios(results: dict) -> dict:
    """The issue's ratios, on the 10M datasets (or, for a --quick run, 1M as a stand-in)."""
    big = "10m-30d" if "10m-30d" in results else "1m-30d"
    ratios: dict = {"measured_on": big}
    ratios["full_over_raw_10m"] = ratio(
        step_median(results, big, "full"), step_median(results, big, "raw")
    )
    ratios["nightly_over_full_10m_90d"] = ratio(
        step_median(results, "10m-90d", "nightly"), step_median(results, "10m-90d", "full")
    )
    ratios["nightly_90d_over_30d"] = ratio(
        step_median(results, "10m-90d", "nightly"), step_median(results, "10m-30d", "nightly")
    )
    analyses = results.get(big, {}).get("steps", {}).get("analyses", {})
    ratios["analysis_seconds_10m"] = {
        name: entry["median_seconds"] for name, entry in analyses.items() if "error" not in entry
    }
    full = results.get(big, {}).get("steps", {}).get("full")
    ratios["full_peak_gib_10m"] = (
        round(full["peak_rss_bytes"] / GIB, 2) if full and "error" not in full else None
    )
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
        for step, summary in entry["steps"].items():
            rows = summary.items() if step == "analyses" else [(step, summary)]
            for label, figures in rows:
                shown = label if step != "analyses" else f"analysis {label}"
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
    print(f"ratios (the 10M figures measured on {ratios['measured_on']}):")
    for key, (label, target) in TARGETS.items():
        value = ratios.get(key)
        if isinstance(value, dict):
            shown = ", ".join(f"{k} {v:.2f}" for k, v in value.items()) or "n/a"
        else:
            shown = "n/a" if value is None else f"{value:.3f}"
        print(f"  {label:<42} {shown:<20} target <= {target:g}  {verdict(value, target)}")
    print(f"\nload average at start {document['load_start']}, at end {document['load_end']}")
    print(f"results: {RESULTS_FILE}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1m,10m", help="comma-separated: 1m, 10m")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per step (median)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1M only, 1 repetition")
    parser.add_argument(
        "--steps", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}"
    )
    parser.add_argument(
        "--datasets", default="", help="only these datasets (e.g. 10m-90d), after --sizes"
    )
    parser.add_argument("--generate-only", action="store_true", help="generate exports, exit")
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
        wanted = {d.strip() for d in args.datasets.split(",")}
        datasets = [d for d in datasets if d.name in wanted]
    for dataset in datasets:
        dataset.ensure(log)
    if args.generate_only:
        return 0

    document: dict = {
        "started_at": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB, 1),
        },
        "versions": versions(),
        "options": {"sizes": sizes, "reps": reps, "steps": sorted(steps)},
        "load_start": load_average(),
        "datasets": {},
    }
    document["targets"] = {key: target for key, (_, target) in TARGETS.items()}
    for dataset in datasets:
        size = dataset.bytes_on_disk() / GIB
        log(f"{dataset.name}: {len(dataset.files())} files, {size:.2f} GiB")
        document["datasets"][dataset.name] = DatasetBench(dataset, reps, steps).run()
        # written after every dataset, so a long run that stops keeps what it measured
        document["load_end"] = load_average()
        document["ratios"] = compute_ratios(document["datasets"])
        RESULTS_FILE.write_text(json.dumps(document, indent=2) + "\n")
    HISTORY_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    shutil.copyfile(RESULTS_FILE, HISTORY_DIR / f"results-{stamp}.json")
    print_report(document)
    return 0


def versions() -> dict:
    from importlib.metadata import version

    return {name: version(name) for name in ("dbt-core", "dbt-duckdb", "duckdb")}


if __name__ == "__main__":
    sys.exit(main())
