"""``fraudwatch apikey``: create, list and revoke the API keys of the decision service.

Keys are sent as ``Authorization: Bearer <key>``; only their SHA-256 digest is stored, so a
key is printed once, at creation. Scopes: ``score``, ``feedback``, ``admin`` (admin implies
all).
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated

import typer

from fraudwatch.cli._common import command_errors, err_console, out_console
from fraudwatch.cli.db import DbOption, database_url

__all__ = ["apikey_app", "create", "list_keys", "revoke"]

apikey_app = typer.Typer(
    name="apikey",
    help="Create, list and revoke API keys (scopes: score, feedback, admin).",
    no_args_is_help=True,
)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no user name in this environment
        return "cli"


@apikey_app.command("create")
@command_errors
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="score, feedback or admin; repeat for several."),
    ],
    db: DbOption = None,
) -> None:
    """Create an API key and print it once (it cannot be shown again).

    The key alone goes to stdout, so it can be captured by a script; details go to stderr.

    Example: fraudwatch apikey create --name checkout --scope score --scope feedback
    """
    from fraudwatch.store import open_store, parse_scopes

    scopes = parse_scopes(scope)  # fail on a bad scope before touching the database
    with open_store(database_url(ctx, db)) as store:
        key_id, plaintext = store.create_api_key(name, scopes, actor=_actor())
        key = store.get_api_key(key_id)
    err_console().print(
        f"created API key {key.id} {key.name!r} (prefix {key.prefix}, scopes "
        f"{', '.join(key.scopes)}).\n[bold yellow]warning:[/] copy the key now: it is stored "
        "hashed and cannot be shown again.",
        highlight=False,
    )
    typer.echo(plaintext)


@apikey_app.command("list")
@command_errors
def list_keys(
    ctx: typer.Context,
    db: DbOption = None,
    active: Annotated[bool, typer.Option("--active", help="Hide revoked keys.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List API keys (id, name, prefix, scopes, status); never the keys themselves.

    Example: fraudwatch apikey list --active
    """
    from rich.table import Table

    from fraudwatch.store import open_store

    with open_store(database_url(ctx, db)) as store:
        keys = store.list_api_keys(include_revoked=not active)
    if as_json:
        for k in keys:
            typer.echo(
                json.dumps(
                    {
                        "id": k.id,
                        "name": k.name,
                        "prefix": k.prefix,
                        "scopes": list(k.scopes),
                        "created_at": k.created_at.isoformat(),
                        "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                    }
                )
            )
        return
    table = Table("id", "name", "prefix", "scopes", "created", "status")
    for k in keys:
        status = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        table.add_row(
            str(k.id),
            k.name,
            k.prefix,
            ", ".join(k.scopes),
            f"{k.created_at:%Y-%m-%d %H:%M}",
            status,
        )
    out_console().print(table)
    if not keys:
        which = "active API keys" if active else "API keys"
        err_console().print(f"no {which}: create one with `fraudwatch apikey create`")


@apikey_app.command("revoke")
@command_errors
def revoke(
    ctx: typer.Context,
    key_id: Annotated[int, typer.Argument(metavar="ID", help="The key's id (see `list`).")],
    db: DbOption = None,
) -> None:
    """Revoke an API key: requests using it are refused at once.

    Example: fraudwatch apikey revoke 3
    """
    from fraudwatch.store import open_store

    with open_store(database_url(ctx, db)) as store:
        key = store.revoke_api_key(key_id, actor=_actor())
    when = key.revoked_at.isoformat() if key.revoked_at else "?"
    out_console().print(f"API key {key.id} {key.name!r} revoked (at {when})", highlight=False)
