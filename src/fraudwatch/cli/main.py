"""Entry point of the ``fraudwatch`` command.

Command modules live beside this one (``fraudwatch.cli.<name>``) and are registered in
:func:`build_app`; heavy libraries are imported inside command bodies so ``--help`` is fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from fraudwatch import __version__
from fraudwatch.cli._common import EXIT_USAGE, err_console
from fraudwatch.config import load_settings
from fraudwatch.errors import UserError
from fraudwatch.logs import configure_logging

__all__ = ["build_app", "main"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fraudwatch {__version__}")
        raise typer.Exit(0)


def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML settings file (default: ./fraudwatch.toml).",
        ),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """fraudwatch: fraud detection for card and payment transactions.

    Example: fraudwatch demo
    """
    overrides = {"log_level": log_level.upper()} if log_level else {}
    try:
        settings = load_settings(config, overrides=overrides)
    except UserError as exc:
        err_console().print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    configure_logging(settings.log_level, settings.log_format)
    ctx.obj = settings


def build_app() -> typer.Typer:
    """Create the Typer application with every command registered."""
    application = typer.Typer(
        name="fraudwatch",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    application.callback()(_root)
    from fraudwatch.cli import commands

    commands.register(application)
    return application


def main() -> None:
    """Console-script entry point."""
    # OpenMP threads that spin while waiting made LightGBM ~3x slower on a busy 2-core machine;
    # passive waiting costs nothing when the machine is idle. Set here, at the edge, before
    # any model library starts its thread pool; an explicit user setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    application = build_app()
    application(prog_name="fraudwatch")
