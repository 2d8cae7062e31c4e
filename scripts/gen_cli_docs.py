"""Regenerate docs/cli.md from the commands' own --help: .venv/bin/python scripts/gen_cli_docs.py"""
import re
from typer.testing import CliRunner
from fraudwatch.cli import build_app
from fraudwatch.cli.commands import COMMANDS, GROUPS
import typer.main
app = build_app()
r = CliRunner()
def help_of(args):
    out = r.invoke(app, args + ["--help"], env={"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}).output
    return re.sub(r"\x1b\[[0-9;]*m", "", out).rstrip()
parts = ["# Command line reference", "",
 "Every command prints this help with `--help`. Exit codes: `0` success, `2` bad input or",
 "usage (the message says what was wrong and how to fix it), `1` internal error. Global",
 "options (`--config FILE`, `--log-level LEVEL`) go before the command name:",
 "`fraudwatch --config fraudwatch.toml train ...`. Settings come from `fraudwatch.toml`",
 "(or `--config`) and `FRAUDWATCH_*` environment variables (see `fraudwatch.config.Settings`).",
 "Logs go to stderr: text on a terminal, one JSON object per line otherwise.", "",
 "This file is generated from the commands' own help (`scripts/gen_cli_docs.py`; tests/cli/test_cli_docs.py",
 "checks that every command has a section and an example).", ""]
parts += ["## fraudwatch", "", "```", help_of([]), "```", ""]
for name, _, _ in COMMANDS:
    parts += [f"## fraudwatch {name}", "", "```", help_of([name]), "```", ""]
for name, mod, attr in GROUPS:
    parts += [f"## fraudwatch {name}", "", "```", help_of([name]), "```", ""]
    import importlib
    grp = getattr(importlib.import_module(f"fraudwatch.cli.{mod}"), attr)
    for cmd in typer.main.get_command(grp).commands:
        parts += [f"### fraudwatch {name} {cmd}", "", "```", help_of([name, cmd]), "```", ""]
open("docs/cli.md", "w").write("\n".join(line.rstrip() for part in parts for line in part.split("\n")) + "\n")
