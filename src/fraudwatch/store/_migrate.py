"""Run the packaged alembic migrations programmatically (no ``alembic.ini`` needed).

>>> head_revision()
'0001'
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from fraudwatch.errors import ConfigError
from fraudwatch.store._engine import make_engine, redact_url, sqlite_file, write_engine

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MIGRATIONS_LOCATION",
    "alembic_config",
    "check_schema",
    "current_revision",
    "downgrade",
    "head_revision",
    "upgrade",
]

log = logging.getLogger(__name__)

MIGRATIONS_LOCATION = "fraudwatch.store:migrations"
"""Where alembic finds ``env.py`` and ``versions/`` (inside the installed package)."""


def alembic_config(url: str | URL | None = None) -> Config:
    """An alembic ``Config`` for fraudwatch's migrations.

    Useful to developers writing a new revision::

        from alembic import command
        command.revision(alembic_config(), "add column x", autogenerate=False)

    Parameters
    ----------
    url:
        Only needed for offline (``sql=True``) rendering.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS_LOCATION)
    if url is not None:
        rendered = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest revision shipped with this version of fraudwatch."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError("no migrations packaged with fraudwatch")
    return head


@contextmanager
def _engine_for(target: str | URL | Engine) -> Iterator[Engine]:
    if isinstance(target, Engine):
        yield target
        return
    engine = make_engine(target, pool_size=1)
    try:
        yield engine
    finally:
        engine.dispose()


def _connection_error(engine: Engine, exc: DBAPIError) -> ConfigError:
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    return ConfigError(
        f"cannot use the database {redact_url(engine.url)}: {detail}; check --db or "
        "database_url (and for PostgreSQL that the server runs and the database exists)"
    )


def current_revision(target: str | URL | Engine) -> str | None:
    """The revision the database is at, or ``None`` when it was never migrated.

    Raises
    ------
    ConfigError
        The database cannot be reached or opened.
    """
    from alembic.runtime.migration import MigrationContext

    if not isinstance(target, Engine):
        path = sqlite_file(target)
        if path is not None and not path.exists():
            return None  # do not create an empty file just to look at it
    with _engine_for(target) as engine:
        try:
            with engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except DBAPIError as exc:
            raise _connection_error(engine, exc) from exc


def _run(target: str | URL | Engine, revision: str, *, up: bool) -> str | None:
    from alembic import command
    from alembic.util.exc import CommandError

    cfg = alembic_config()
    with _engine_for(target) as engine:
        try:
            with write_engine(engine).begin() as conn:
                cfg.attributes["connection"] = conn
                try:
                    if up:
                        command.upgrade(cfg, revision)
                    else:
                        command.downgrade(cfg, revision)
                except CommandError as exc:
                    raise ConfigError(
                        f"cannot migrate to revision {revision!r}: {exc}; use 'head' or one "
                        "of the revisions listed in docs/storage.md"
                    ) from None
        except DBAPIError as exc:
            raise _connection_error(engine, exc) from exc
        now = current_revision(engine)
    log.info("database %s at revision %s", redact_url(engine.url), now)
    return now


def upgrade(target: str | URL | Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` (default: the newest); return the new revision.

    Safe to run on an up-to-date database (nothing happens). Creates the SQLite file if it does
    not exist; a PostgreSQL database must exist already.

    Raises
    ------
    ConfigError
        The database cannot be reached, or ``revision`` is unknown.
    """
    return _run(target, revision, up=True)


def downgrade(target: str | URL | Engine, revision: str) -> str | None:
    """Undo migrations down to ``revision`` (``"base"`` drops every table: data is lost)."""
    return _run(target, revision, up=False)


def check_schema(target: str | URL | Engine) -> None:
    """Make sure the database schema is the one this fraudwatch expects.

    Raises
    ------
    ConfigError
        The database was never migrated, is behind, or was migrated by a newer fraudwatch.
    """
    from alembic.script import ScriptDirectory

    current = current_revision(target)
    head = head_revision()
    where = redact_url(target.url if isinstance(target, Engine) else target)
    if current == head:
        return
    if current is None:
        raise ConfigError(
            f"the database {where} has no fraudwatch tables yet; run "
            f"`fraudwatch db upgrade --db {where}` first"
        )
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current not in known:
        raise ConfigError(
            f"the database {where} is at revision {current!r}, made by a newer fraudwatch "
            f"(this one knows up to {head!r}); upgrade fraudwatch"
        )
    raise ConfigError(
        f"the database {where} is at revision {current!r} but this fraudwatch needs "
        f"{head!r}; run `fraudwatch db upgrade --db {where}`"
    )
