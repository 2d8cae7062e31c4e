"""The list of CLI commands.

Each command lives in its own module ``fraudwatch.cli.<module>`` as a plain function
decorated with :func:`fraudwatch.cli._common.command_errors`; add one line here to expose it.
Sub-groups (``models``, ``rules``, ``db``, ``apikey``) are Typer apps named ``<x>_app``.
"""

from __future__ import annotations

import importlib

import typer

__all__ = ["COMMANDS", "GROUPS", "register"]

# (command name, module, function)
COMMANDS: list[tuple[str, str, str]] = [
    ("evaluate", "evaluate", "evaluate"),
    ("backtest", "evaluate", "backtest"),
    ("tune", "tune", "tune"),
    ("simulate", "simulate", "simulate_command"),
    ("serve", "serve", "serve"),
    ("validate", "validate", "validate"),
    ("score", "score", "score"),
    ("demo", "demo", "demo"),
    ("features", "features", "features_command"),
    ("train", "train", "train"),
]

# (group name, module, attribute holding a typer.Typer)
GROUPS: list[tuple[str, str, str]] = [
    ("db", "db", "db_app"),
    ("apikey", "apikey", "apikey_app"),
    ("rules", "rules", "rules_app"),
    ("models", "models", "models_app"),
]


def register(app: typer.Typer) -> None:
    """Attach every command and group to ``app``."""
    for name, module, func in COMMANDS:
        mod = importlib.import_module(f"fraudwatch.cli.{module}")
        app.command(name)(getattr(mod, func))
    for name, module, attr in GROUPS:
        mod = importlib.import_module(f"fraudwatch.cli.{module}")
        app.add_typer(getattr(mod, attr), name=name)
