"""Prove a performance change kept the results: build a dataset's warehouse (full refresh,
then the nightly refresh on a copy), fingerprint both, compare with a saved baseline.

    python -m bench.verify --dataset 1m-30d --save     # before the change: save the baseline
    python -m bench.verify --dataset 1m-30d            # after it: compare (exit 1 if different)

Baselines live in bench/data/fingerprints/ (gitignored with the rest of bench/data/).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from bench.datasets import DATA_DIR, dataset
from bench.fingerprint import fingerprint
from bench.run import REPO, WORK_DIR, DatasetBench, log, run_child

FINGERPRINTS = DATA_DIR / "fingerprints"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.verify")
    parser.add_argument("--dataset", default="1m-30d", help="e.g. 1m-30d, 10m-30d")
    parser.add_argument("--save", action="store_true", help="save as the baseline")
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=REPO,
        help="the dbt project to build (e.g. a copy without the change, to save the baseline)",
    )
    parser.add_argument(
        "--ignore-columns",
        default="",
        help="comma-separated columns left out of every checksum (for a change that redefines "
        "a key: save the baseline from the old project with the same list)",
    )
    args = parser.parse_args(argv)
    ignore = frozenset(filter(None, args.ignore_columns.split(",")))
    size, _, days = args.dataset.partition("-")
    chosen = dataset(size, int(days.rstrip("d") or 30))
    chosen.ensure(log)
    bench = DatasetBench(chosen, reps=1, steps=set(), project_dir=args.project_dir.resolve())
    bench.work = WORK_DIR / f"verify-{chosen.name}"
    bench.work.mkdir(parents=True, exist_ok=True)
    full = bench.work / "full.duckdb"
    nightly = bench.work / "nightly.duckdb"
    bench.remove_database(full)
    full_args = ["build", "--exclude", "resource_type:test", "resource_type:unit_test"]
    outcome = run_child(bench.dbt_spec([*full_args, "--full-refresh"], full, "target-full"))
    log(f"full build {outcome['seconds']:.1f} s (cpu {outcome['cpu_seconds']:.1f} s)")
    bench.remove_database(nightly)
    shutil.copyfile(full, nightly)
    outcome = run_child(bench.dbt_spec(["run"], nightly, "target-nightly"))
    log(f"nightly {outcome['seconds']:.1f} s (cpu {outcome['cpu_seconds']:.1f} s)")
    current = {"full": fingerprint(full, ignore), "nightly": fingerprint(nightly, ignore)}
    FINGERPRINTS.mkdir(parents=True, exist_ok=True)
    suffix = f"-without-{'-'.join(sorted(ignore))}" if ignore else ""
    baseline_path = FINGERPRINTS / f"{chosen.key}{suffix}.json"
    if args.save or not baseline_path.is_file():
        baseline_path.write_text(json.dumps(current, indent=1) + "\n")
        log(f"baseline saved: {baseline_path}")
        return 0
    baseline = json.loads(baseline_path.read_text())
    status = 0
    for stage in ("full", "nightly"):
        names = sorted(set(baseline[stage]) & set(current[stage]))
        differing = [n for n in names if baseline[stage][n] != current[stage][n]]
        # models added or removed since the baseline (by anyone) are reported, not compared
        for label, only in (
            ("new since the baseline", set(current[stage]) - set(baseline[stage])),
            ("gone since the baseline", set(baseline[stage]) - set(current[stage])),
        ):
            if only:
                log(f"{stage}: {label}: {', '.join(sorted(only))}")
        if differing:
            status = 1
            log(f"{stage}: DIFFERENT from the baseline: {', '.join(differing)}")
        else:
            log(f"{stage}: identical to the baseline ({len(names)} relations)")
    return status


if __name__ == "__main__":
    sys.exit(main())
