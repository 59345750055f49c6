"""Run CPython's AST-constructor race (gh-106905) and print how many parses failed.

Run as a script, in its own process (it installs a garbage-collector callback that runs Python
code, which is what lets another thread's parse in mid-way): `python ast_race.py [--guard]
RUNS`. Eight threads parse this machine's `ast.py` through the two paths dbt's Jinja uses
(`ast.literal_eval` and `jinja2.nativetypes.parse`); a run stops early at the first failure.
"""

from __future__ import annotations

import ast
import difflib
import gc
import random
import sys
import threading


def main(argv: list[str]) -> None:
    guarded = "--guard" in argv
    runs = int(argv[-1])
    import jinja2.nativetypes  # before the guard, as dbt imports it before run_dbt guards

    if guarded:
        from orchestrate.ast_guard import guard_ast_parse

        guard_ast_parse()

    def collector_runs_python(phase: str, info: dict) -> None:
        left = [f"{random.randint(0, 9)}\n" for _ in range(50)]
        right = [f"{random.randint(0, 9)}\n" for _ in range(50)]
        list(difflib.unified_diff(left, right))

    gc.callbacks.append(collector_runs_python)
    with open(ast.__file__, encoding="utf-8") as module:
        source = module.read()
    literal = repr({f"k{n}": [n, (n, str(n)), {"v": n * 1.5}] for n in range(300)})
    errors: list[str] = []

    def parse_repeatedly() -> None:
        try:
            for _ in range(4):
                jinja2.nativetypes.parse(source)
                ast.literal_eval(literal)
        except SystemError as error:
            errors.append(str(error))

    done = 0
    while done < runs and not errors:
        threads = [threading.Thread(target=parse_repeatedly) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done += 1
    print(f"{len(errors)} {done}")


if __name__ == "__main__":
    main(sys.argv[1:])
