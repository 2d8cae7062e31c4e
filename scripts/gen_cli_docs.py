"""Regenerate docs/cli.md from the commands' own --help.

Run from the repository root: ``.venv/bin/python scripts/gen_cli_docs.py``.
tests/cli/test_cli_docs.py checks that every command has a section and an example.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import typer.main
from typer.testing import CliRunner

from fraudwatch.cli import build_app
from fraudwatch.cli.commands import COMMANDS, GROUPS

_ENV = {"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}
_INTRO = [
    "# Command line reference",
    "",
    "Every command prints this help with `--help`. Exit codes: `0` success, `2` bad input or",
    "usage (the message says what was wrong and how to fix it), `1` internal error. Global",
    "options (`--config FILE`, `--log-level LEVEL`) go before the command name:",
    "`fraudwatch --config fraudwatch.toml train ...`. Settings come from `fraudwatch.toml`",
    "(or `--config`) and `FRAUDWATCH_*` environment variables (see `fraudwatch.config.Settings`).",
    "Logs go to stderr: text on a terminal, one JSON object per line otherwise.",
    "",
    "This file is generated from the commands' own help (`scripts/gen_cli_docs.py`; "
    "tests/cli/test_cli_docs.py",
    "checks that every command has a section and an example).",
    "",
]


def main() -> None:
    """Write docs/cli.md: the top-level help, then each command and group subcommand."""
    app = build_app()
    runner = CliRunner()

    def section(title: str, args: list[str]) -> list[str]:
        out = runner.invoke(app, [*args, "--help"], env=_ENV).output
        return [title, "", "```", re.sub(r"\x1b\[[0-9;]*m", "", out).rstrip(), "```", ""]

    parts = [*_INTRO, *section("## fraudwatch", [])]
    for name, _, _ in COMMANDS:
        parts += section(f"## fraudwatch {name}", [name])
    for name, module, attr in GROUPS:
        parts += section(f"## fraudwatch {name}", [name])
        group = getattr(importlib.import_module(f"fraudwatch.cli.{module}"), attr)
        for cmd in typer.main.get_command(group).commands:
            parts += section(f"### fraudwatch {name} {cmd}", [name, cmd])
    lines = (line.rstrip() for part in parts for line in part.split("\n"))
    Path("docs/cli.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
