"""The synthetic exports the benchmark runs on, generated once and cached under bench/data/.

Each dataset is a `GeneratorConfig`; its folder name is derived from every field of the config,
so a changed config is a new folder and a rerun with the same config skips generation. A folder
counts as complete only once the generator has written its manifest.json (written last) and
our own `bench-config.json` next to it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrate.demo_data import GeneratorConfig, generate_export

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"
EXPORTS_DIR = DATA_DIR / "exports"

# One fixed end date: runs are comparable across machines and days.
END_DATE = dt.date(2024, 3, 31)
SEED = 7
# The generator yields ~21 events per device over the period, whatever its length, so the
# same daily volume over 3x the days needs 3x the devices.
DEVICES_PER_MILLION_EVENTS_30D = 47_000


@dataclass(frozen=True)
class Dataset:
    """A named export: `size` is the nominal event count of 30 days at its daily volume."""

    name: str
    size: str
    days: int
    config: GeneratorConfig

    @property
    def key(self) -> str:
        c = self.config
        return (
            f"{self.name}__end{c.end_date:%Y%m%d}-d{c.days}-u{c.users}-s{c.seed}"
            f"-j{c.json_days}-i{c.intraday_days}-{c.time_zone.replace('/', '_')}"
        )

    @property
    def path(self) -> Path:
        return EXPORTS_DIR / self.key

    @property
    def end_date(self) -> dt.date:
        return self.config.end_date

    def is_ready(self) -> bool:
        return (self.path / "manifest.json").is_file() and (
            self.path / "bench-config.json"
        ).is_file()

    def manifest(self) -> dict:
        return json.loads((self.path / "manifest.json").read_text())

    def ensure(self, log=print) -> Path:
        """Generate the export unless a complete one with the same config is cached."""
        if self.is_ready():
            return self.path
        if self.path.exists():
            shutil.rmtree(self.path)  # an interrupted generation
        self.path.mkdir(parents=True)
        log(f"generating {self.key} (this takes a while: ~45k events/s) ...")
        started = time.perf_counter()
        generate_export(self.path, self.config)
        seconds = time.perf_counter() - started
        record = {
            "config": {k: str(v) for k, v in dataclasses.asdict(self.config).items()},
            "generated_seconds": round(seconds, 1),
        }
        (self.path / "bench-config.json").write_text(json.dumps(record, indent=2) + "\n")
        log(f"generated {self.key} in {seconds:,.0f} s")
        return self.path

    def files(self) -> list[Path]:
        return sorted(self.path.glob("events_*.parquet"))

    def bytes_on_disk(self) -> int:
        return sum(f.stat().st_size for f in self.files())


def dataset(size: str, days: int = 30) -> Dataset:
    millions = {"1m": 1, "10m": 10}[size]
    users = DEVICES_PER_MILLION_EVENTS_30D * millions * days // 30
    config = GeneratorConfig(
        end_date=END_DATE, days=days, users=users, seed=SEED, json_days=0, intraday_days=2
    )
    return Dataset(name=f"{size}-{days}d", size=size, days=days, config=config)


def named_dataset(name: str) -> Dataset:
    """`<size>-<days>d` (1m-30d, 10m-90d, 1m-90d ...); KeyError / ValueError otherwise."""
    size, _, days = name.partition("-")
    return dataset(size, int(days.rstrip("d") or 30))


def datasets_for(sizes: list[str]) -> list[Dataset]:
    """1M: 30 days. 10M: 30 days and 90 days of the same daily volume (history growth)."""
    chosen: list[Dataset] = []
    for size in sizes:
        chosen.append(dataset(size, 30))
        if size == "10m":
            chosen.append(dataset(size, 90))
    return chosen


if __name__ == "__main__":  # python -m bench.datasets 1m-30d 10m-90d ...: generate only
    import sys

    for name in sys.argv[1:]:
        named_dataset(name).ensure()
