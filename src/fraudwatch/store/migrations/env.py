"""Alembic environment of fraudwatch's service database.

Run through :func:`fraudwatch.store.upgrade` (or ``fraudwatch db upgrade``), which passes an
open connection in ``config.attributes["connection"]``; all pending revisions are applied in
that one transaction (SQLite and PostgreSQL both have transactional DDL), so a failed
upgrade leaves the schema unchanged. Offline mode (``--sql``) renders the SQL for the URL in
``sqlalchemy.url``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from fraudwatch.store._schema import metadata


def run_migrations_offline() -> None:
    """Render the migrations as SQL text for the URL in the config."""
    url = context.config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        literal_binds=True,
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Apply the migrations on the connection handed over by the caller."""
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "fraudwatch migrations run through fraudwatch.store.upgrade() or "
            "`fraudwatch db upgrade`, which supply the database connection"
        )
    context.configure(
        connection=connection,
        transactional_ddl=True,
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite rebuilds tables for most ALTERs
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
