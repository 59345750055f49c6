"""Output helpers for the commands: one-line errors and a CLI error type with an exit code."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

console = Console(highlight=False, soft_wrap=True)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)

MAX_MESSAGE_CHARS = 500


class CliError(Exception):
    """An expected failure: printed as one line, exits with `exit_code` (1 failed, 2 usage)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def print_table(table: object, to: Console | None = None) -> None:
    """Print a rich Table whole: as wide as its widest cells need (never narrower than the
    terminal), so headers and dates are not cut to `…` on a narrow or non-terminal output."""
    from rich.measure import Measurement

    target = to or console
    unbounded = target.options.update_width(100_000)
    needed = Measurement.get(target, unbounded, table).maximum  # type: ignore[arg-type]
    if needed <= target.width:
        target.print(table)
        return
    wide = Console(file=target.file, width=needed, highlight=False, soft_wrap=True)
    wide.print(table)


def plain(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Text from a user, a file or an engine, made safe to print: one line, no control
    characters, not too long, Rich markup escaped (shown as written, never interpreted)."""
    flat = " ".join(str(text).split())
    flat = "".join(character if character.isprintable() else "?" for character in flat)
    if len(flat) > limit:
        flat = flat[:limit] + "…"
    return escape(flat)


def fail(message: str, exit_code: int = 2) -> typer.Exit:
    """Print an error line (a report keeps its lines) and return the Exit to raise. The
    message is printed as written: control characters replaced, Rich markup escaped."""
    lines = str(message).replace("\r\n", "\n").split("\n")
    safe = "\n".join(
        "".join(c if c.isprintable() else ("    " if c == "\t" else "?") for c in line)
        for line in lines
    )
    error_console.print(f"[bold red]error:[/] {escape(safe)}")
    return typer.Exit(exit_code)
