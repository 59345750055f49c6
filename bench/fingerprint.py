"""Row count and an order-independent checksum of every relation of a warehouse, to prove a
performance change left the results identical.

    python -m bench.fingerprint WAREHOUSE.duckdb [--json OUT.json] [--compare OTHER.json]

Doubles are rounded to 6 decimals (summation order differs between runs and thread counts);
everything else is hashed as stored. Two warehouses built from the same export and variables
must give the same fingerprint.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb


def relation_checksum(
    connection: duckdb.DuckDBPyConnection, name: str, ignore: frozenset[str] = frozenset()
) -> tuple[int, str, list]:
    """Row count, an order-independent checksum of every column (doubles rounded to 6
    decimals) and the column names of one relation of schema main. Columns named in `ignore`
    are left out (a change that redefines a key proves the rest unchanged)."""
    columns = [
        (column, kind)
        for column, kind in connection.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'main' and table_name = ? order by ordinal_position",
            [name],
        ).fetchall()
        if column not in ignore
    ]
    expressions = ", ".join(
        f'round("{column}", 6)' if kind in ("DOUBLE", "FLOAT") else f'"{column}"'
        for column, kind in columns
    )
    count, checksum = connection.execute(
        f'select count(*), sum(hash(({expressions}))) from "{name}"'
    ).fetchall()[0]
    return int(count), str(checksum), [column for column, _ in columns]


def fingerprint(path: Path, ignore: frozenset[str] = frozenset()) -> dict[str, list]:
    with duckdb.connect(str(path), read_only=True) as connection:
        relations = connection.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'main' order by table_name"
        ).fetchall()
        return {name: list(relation_checksum(connection, name, ignore)) for (name,) in relations}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fingerprint")
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--json", type=Path, help="write the fingerprint here")
    parser.add_argument("--compare", type=Path, help="a fingerprint JSON to compare with")
    args = parser.parse_args(argv)
    current = fingerprint(args.warehouse)
    if args.json:
        args.json.write_text(json.dumps(current, indent=1) + "\n")
    for name, (count, checksum, _) in current.items():
        print(f"{name:<34} {count:>12,} {checksum}")
    if args.compare:
        reference = json.loads(args.compare.read_text())
        differing = sorted(
            name
            for name in set(reference) | set(current)
            if reference.get(name) != current.get(name)
        )
        if differing:
            print(f"DIFFERENT: {', '.join(differing)}")
            return 1
        print("identical to", args.compare)
    return 0


if __name__ == "__main__":
    sys.exit(main())
