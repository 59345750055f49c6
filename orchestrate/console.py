"""Output helpers for the commands: one-line errors and a CLI error type with an exit code."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)


class CliError(Exception):
    """An expected failure: printed as one line, exits with `exit_code` (1 failed, 2 usage)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, exit_code: int = 2) -> typer.Exit:
    """Print an error line and return the Exit to raise."""
    error_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(exit_code)
