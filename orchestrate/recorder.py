"""Every statement a DuckDB build sends, with the bytes DuckDB's profiler measured for it.

While `recording()` is active, each statement dbt-duckdb executes (models, the
delete+insert of incremental models, post-hooks, data tests, catalog lookups) is recorded
with the node that sent it. Before each statement the connection's buffer pool is emptied
(its memory limit is lowered to 1MB and restored), so the profiler's `io.total_bytes_read`
counts what that statement reads from the file, not what an earlier one left in memory: the
sum over a build is what a nightly reads, statement by statement. It runs the real build on
a real warehouse (a scratch copy, for `truffle cost --nightly` and the benchmark), on one dbt
thread (`dbt build --threads 1`: the memory limit is the database's, and a statement
running on another thread while it is lowered would run out of memory; with more threads the
eviction is skipped while another statement runs, and that statement reads warm); the
eviction makes it slower than a plain build.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_EVICT_TO = "1MB"
FETCHES = ("fetchall", "fetchone", "fetchmany", "fetchdf", "arrow", "df")


@dataclass
class SentStatement:
    """One statement a build sent: its node, its SQL and the bytes its run read."""

    unique_id: str
    sql: str
    bytes_read: int | None = None


_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


def _profile_bytes(cursor: Any) -> int | None:
    try:
        text = cursor.get_profiling_information(format="json")
    except Exception:  # (no profile: the statement sent nothing to measure)
        return None
    profile = json.loads(text) if text else {}
    io = profile.get("io")
    return None if io is None else int(io.get("total_bytes_read") or 0)


class _Recorder:
    def __init__(self) -> None:
        self.statements: list[SentStatement] = []
        self.lock = threading.Lock()
        # id(cursor) -> the cursor and its last statement, measured once complete
        self.pending: dict[int, tuple[Any, SentStatement]] = {}
        self.limit = ""  # the build's memory limit, restored after each eviction
        self.running = 0  # statements executing now (on any thread)

    def finish(self, cursor: Any) -> None:
        """The previous statement on this cursor is complete (its rows were fetched): read
        its profile before anything else runs on the cursor."""
        _, statement = self.pending.pop(id(cursor), (None, None))
        if statement is not None:
            measured = _profile_bytes(cursor)
            statement.bytes_read = statement.bytes_read if measured is None else measured

    def finish_all(self) -> None:
        for cursor, _ in list(self.pending.values()):
            self.finish(cursor)

    def prepare(self, cursor: Any, *, evict: bool) -> None:
        # every time (a cursor's id is reused once it is gone): local block reads bypass
        # the I/O counter unless they go through prefetching
        cursor.execute("set storage_block_prefetch = 'ALWAYS_PREFETCH'")
        cursor.execute("set enable_profiling = 'no_output'")
        # a connection of its own to the same database (one buffer pool): a failed eviction
        # there cannot abort the build's open transaction; blocks an open transaction pins
        # cannot be evicted (those are read warm)
        if not evict:
            return
        evictor = cursor.cursor()
        try:
            if not self.limit:
                (self.limit,) = evictor.execute("select current_setting('memory_limit')").fetchone()
            with contextlib.suppress(Exception):
                evictor.execute(f"set memory_limit = '{_EVICT_TO}'")
            evictor.execute(f"set memory_limit = '{self.limit}'")
        finally:
            evictor.close()


@contextmanager
def recording() -> Iterator[list[SentStatement]]:
    """Record (and measure) every statement dbt-duckdb executes inside the block."""
    from dbt.adapters.duckdb.environments import local
    from dbt_common.events.contextvars import get_node_info

    recorder = _Recorder()
    wrapper = local.DuckDBCursorWrapper
    saved_execute = wrapper.execute
    saved_close = wrapper.__dict__.get("close")
    assert not any(name in wrapper.__dict__ for name in FETCHES)

    def execute(self: Any, sql: str, bindings: Any = None) -> Any:
        cursor = self._cursor
        node = get_node_info() or {}
        statement = SentStatement(str(node.get("unique_id") or ""), sql)
        with recorder.lock:
            recorder.statements.append(statement)
        if not _COMMENTS.sub(" ", sql).strip():
            return saved_execute(self, sql, bindings)
        recorder.finish(cursor)
        with recorder.lock:
            alone = not recorder.running
            recorder.running += 1
        try:
            recorder.prepare(cursor, evict=alone)
            result = saved_execute(self, sql, bindings)
        finally:
            with recorder.lock:
                recorder.running -= 1
        # DDL and DML have run; a query's profile is complete once its rows are fetched
        statement.bytes_read = _profile_bytes(cursor)
        recorder.pending[id(cursor)] = (cursor, statement)
        return result

    def fetcher(name: str) -> Any:
        def fetch(self: Any, *args: Any) -> Any:
            rows = getattr(self._cursor, name)(*args)
            recorder.finish(self._cursor)
            return rows

        return fetch

    def close(self: Any) -> Any:
        recorder.finish(self._cursor)
        return self._cursor.close()

    wrapper.execute = execute  # type: ignore[method-assign]
    wrapper.close = close  # type: ignore[attr-defined]
    for name in FETCHES:
        setattr(wrapper, name, fetcher(name))
    try:
        yield recorder.statements
    finally:
        recorder.finish_all()
        wrapper.execute = saved_execute  # type: ignore[method-assign]
        for name in FETCHES:
            delattr(wrapper, name)
        if saved_close is None:
            del wrapper.close  # type: ignore[attr-defined]
        else:
            wrapper.close = saved_close  # type: ignore[attr-defined]
