"""``fraudwatch db``: create and migrate the service database.

The database holds decisions, cases, feedback, API keys and the audit log (docs/storage.md).
"""

from __future__ import annotations

from typing import Annotated

import typer

from fraudwatch.cli._common import command_errors, out_console, settings_from
from fraudwatch.errors import ConfigError

__all__ = ["DbOption", "current", "database_url", "db_app", "upgrade"]

db_app = typer.Typer(
    name="db",
    help="Create and migrate the service database (SQLite or PostgreSQL).",
    no_args_is_help=True,
)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL, e.g. sqlite:///fraudwatch.db or postgresql://user@host:5432/db "
        "(default: database_url from the settings).",
        show_default=False,
    ),
]


def database_url(ctx: typer.Context, db: str | None) -> str:
    """The ``--db`` URL, else ``database_url`` from the settings.

    Also checks that the storage libraries are installed (they come with the server extra).
    """
    try:
        import alembic  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:  # pragma: no cover - installed with fraudwatch[server]
        raise ConfigError(
            "the database commands need SQLAlchemy and alembic: pip install 'fraudwatch[server]'"
        ) from None
    return db if db else settings_from(ctx).database_url


@db_app.command("upgrade")
@command_errors
def upgrade(
    ctx: typer.Context,
    db: DbOption = None,
    revision: Annotated[
        str, typer.Option("--revision", help="Target revision (default: the newest).")
    ] = "head",
) -> None:
    """Create the tables or migrate them to the newest schema (safe to re-run).

    Example: fraudwatch db upgrade --db postgresql://fraud@127.0.0.1:5432/fraudwatch
    """
    from fraudwatch.store import current_revision, redact_url
    from fraudwatch.store import upgrade as run_upgrade

    url = database_url(ctx, db)
    before = current_revision(url)
    after = run_upgrade(url, revision)
    where = redact_url(url)
    if before == after:
        out_console().print(f"database {where} already at revision {after}", highlight=False)
    else:
        out_console().print(
            f"database {where} upgraded from revision {before or '(empty)'} to {after}",
            highlight=False,
        )


@db_app.command("current")
@command_errors
def current(
    ctx: typer.Context,
    db: DbOption = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit with code 2 unless the database is up to date."),
    ] = False,
) -> None:
    """Show the database's schema revision and whether it is the newest.

    Example: fraudwatch db current --db sqlite:///fraudwatch.db --check
    """
    from fraudwatch.store import check_schema, current_revision, head_revision, redact_url

    url = database_url(ctx, db)
    rev = current_revision(url)
    head = head_revision()
    where = redact_url(url)
    if rev == head:
        state = "(head: up to date)"
    elif rev is None:
        state = "(empty: run `fraudwatch db upgrade`)"
    else:
        state = f"(behind head {head}: run `fraudwatch db upgrade`)"
    out_console().print(f"database {where} at revision {rev or 'none'} {state}", highlight=False)
    if check and rev != head:
        check_schema(url)
