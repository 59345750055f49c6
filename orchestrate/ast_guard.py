"""Serialize `ast.parse` on the CPython builds whose AST constructor is not thread-safe.

CPython 3.11.0-3.11.7 and 3.12.0-3.12.1 count the depth of the AST they build from a parse in
state shared by every thread (python/cpython gh-106905, fixed in 3.11.8 and 3.12.2). When a
garbage collection during one thread's parse runs Python code, another thread's parse can
move that count, and the first fails with `SystemError: AST constructor recursion depth
mismatch`. dbt parses on its worker threads (Jinja's native rendering calls
`ast.literal_eval`), so a threaded `dbt build` on such a Python fails a node at random.

`guard_ast_parse()` wraps `ast.parse` (which `ast.literal_eval` calls) and the copy Jinja's
native types imported in one re-entrant lock. It does nothing on a fixed Python. It can go
when `requires-python` in pyproject.toml is at least 3.11.8.
"""

from __future__ import annotations

import ast
import sys
import threading
from collections.abc import Callable
from typing import Any

_LOCK = threading.RLock()


def ast_race_affected(version: tuple[int, int, int] | None = None) -> bool:
    """True for the CPython versions with gh-106905's race (3.11.0-3.11.7, 3.12.0-3.12.1)."""
    major, minor, micro = version or sys.version_info[:3]
    if sys.implementation.name != "cpython" or major != 3:
        return False
    return (minor == 11 and micro < 8) or (minor == 12 and micro < 2)


def _serialized(parse: Callable[..., Any]) -> Callable[..., Any]:
    def parse_serialized(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return parse(*args, **kwargs)

    parse_serialized.__wrapped__ = parse  # type: ignore[attr-defined]
    parse_serialized.truffle_ast_guard = True  # type: ignore[attr-defined]
    return parse_serialized


def guard_ast_parse() -> bool:
    """Install the lock on an affected Python (once); return whether it is installed."""
    if not ast_race_affected():
        return False
    if not getattr(ast.parse, "truffle_ast_guard", False):
        ast.parse = _serialized(ast.parse)
    import jinja2.nativetypes  # imported `parse` from ast by name: guard its copy too

    if not getattr(jinja2.nativetypes.parse, "truffle_ast_guard", False):
        jinja2.nativetypes.parse = ast.parse
    return True
