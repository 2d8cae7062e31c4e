"""Shared plumbing of CLI commands: error handling, exit codes, settings, progress.

Exit codes: 0 success, 2 bad input or usage, 1 internal error. Every command is wrapped
with :func:`command_errors`, so a user never sees a traceback: a :class:`UserError` prints
its message (which says how to fix the problem) and exits 2; anything else prints a short
"internal error" line, logs the traceback, and exits 1.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from fraudwatch.config import Settings
from fraudwatch.errors import FraudwatchError, UserError

__all__ = [
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "command_errors",
    "err_console",
    "out_console",
    "progress",
    "settings_from",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("fraudwatch.cli")


def out_console() -> Console:
    """A console on stdout (tables, summaries); 140 columns wide when not on a terminal."""
    return Console(soft_wrap=True, width=None if sys.stdout.isatty() else 140)


def err_console() -> Console:
    """A console on stderr (errors, progress)."""
    return Console(stderr=True, soft_wrap=True)


def command_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn fraudwatch errors into a clear message and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except UserError as exc:
            err_console().print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
            raise typer.Exit(EXIT_USAGE) from None
        except FraudwatchError as exc:
            log.exception("command failed")
            err_console().print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(EXIT_INTERNAL) from None
        except KeyboardInterrupt:
            err_console().print("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:
            log.exception("internal error")
            err_console().print(
                f"[bold red]internal error:[/] {type(exc).__name__}: {exc}. "
                "This is a bug in fraudwatch; rerun with --log-level DEBUG and report it.",
                highlight=False,
            )
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper


def settings_from(ctx: typer.Context) -> Settings:
    """The settings built by the top-level callback."""
    obj = ctx.find_root().obj
    if isinstance(obj, Settings):
        return obj
    return Settings()


@contextmanager
def progress(description: str, total: float | None = None) -> Iterator[Callable[..., Any]]:
    """A rich progress bar on stderr, silent when stderr is not a terminal.

    Yields a function ``advance(n=1, description=None)``.
    """
    enabled = sys.stderr.isatty()
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console(),
        disable=not enabled,
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=total)

        def advance(n: float = 1, description: str | None = None) -> None:
            if description is not None:
                bar.update(task, description=description)
            bar.advance(task, n)

        yield advance
