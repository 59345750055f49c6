"""Output helpers for the commands: one-line errors and a CLI error type with an exit code."""

from __future__ import annotations

import atexit
import inspect
import os
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

# typer (0.2x) parses with its own copy of click: its exceptions, not the click package's
from typer._click.exceptions import ClickException
from typer.core import TyperGroup

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


class OneLineErrors(TyperGroup):
    """The `truffle` command group: a usage error click finds (an unknown command or option,
    a missing or invalid value) is one line on stderr, exit code 2, not click's boxed
    usage text; the line says where the help is."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except ClickException as error:
            message = plain(error.format_message())
            if not message:  # `truffle` alone: the help was the answer
                sys.exit(error.exit_code)
            context = getattr(error, "ctx", None)
            if context is not None:
                message += f" (see {plain(context.command_path)} --help)"
            error_console.print(f"[bold red]error:[/] {message}")
            sys.exit(error.exit_code)
        except typer.Abort:
            error_console.print("[bold red]error:[/] aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


class TruffleApp(typer.Typer):
    """The `truffle` program. When a command fails, the process ends as soon as its one-line
    message is out (stdio and logs flushed, exit handlers run): an engine error leaves DuckDB
    and pyarrow objects alive, and the interpreter's teardown would report each of them as
    leaked (`nanobind: leaked ...`, dozens of lines) after the message. Tests call the
    command group directly (CliRunner), not this, and exit normally."""

    def command(self, name: str | None = None, **kwargs: Any) -> Any:
        """A command whose line in `truffle --help` is its docstring's first paragraph on one
        line: typer 0.29 keeps the docstring's line breaks there, so a wrapped sentence broke
        mid-way in the command list (an explicit `short_help` is kept)."""
        register = super().command

        def decorator(function: Any) -> Any:
            short_help = kwargs.get("short_help")
            if short_help is None and function.__doc__:
                paragraph = inspect.cleandoc(function.__doc__).split("\n\n")[0]
                short_help = " ".join(paragraph.split())
            return register(name, **{**kwargs, "short_help": short_help})(function)

        return decorator

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except SystemExit as exit_:
            code = exit_.code
            if code in (None, 0):
                raise
            status = code if isinstance(code, int) else 1
            if not isinstance(code, int):
                error_console.print(str(code))
            atexit._run_exitfuncs()  # what the interpreter would run on exit (logging, ...)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
