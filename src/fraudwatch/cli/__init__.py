"""The ``fraudwatch`` command line (Typer)."""

from __future__ import annotations

from fraudwatch.cli.main import build_app, main

__all__ = ["build_app", "main"]
