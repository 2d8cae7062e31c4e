"""The :class:`Store` (repository of the service database) and its factory."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError

from fraudwatch.errors import ConfigError, NotFoundError
from fraudwatch.store._apikeys import (
    TokenSource,
    digest_matches,
    generate_key,
    hash_key,
    key_prefix,
    parse_scopes,
)
from fraudwatch.store._base import Clock, check_name, system_clock
from fraudwatch.store._convert import api_key_from_mapping, api_key_from_row
from fraudwatch.store._engine import SqliteSync, make_engine, redact_url, sqlite_file
from fraudwatch.store._labels import LabelsMixin
from fraudwatch.store._migrate import check_schema
from fraudwatch.store._records import ApiKey
from fraudwatch.store._schema import api_keys

__all__ = ["Store", "open_store"]

_KEY_ATTEMPTS = 5


class Store(LabelsMixin):
    """Repository of the service database: decisions, cases, feedback, API keys, audit log.

    Thread-safe: every method checks a connection out of the engine's pool for one
    transaction. Build it with :func:`open_store` (from a URL) or directly from an engine made
    by :func:`fraudwatch.store.make_engine` on a migrated database.

    Parameters
    ----------
    engine:
        SQLite or PostgreSQL engine.
    clock:
        Returns "now" (aware); used when a write method gets no ``at=``.
    token_bytes:
        Secret randomness for API keys.
    """

    # -- API keys --------------------------------------------------------------------------

    def create_api_key(
        self,
        name: str,
        scopes: Iterable[str],
        *,
        actor: str = "system",
        at: datetime | None = None,
    ) -> tuple[int, str]:
        """Create an API key; return ``(key_id, plaintext)``.

        Only the SHA-256 digest of the key is stored: the plaintext returned here cannot be
        recovered later. The creation is audited (``apikey.create``).

        Parameters
        ----------
        name:
            What the key is for (``checkout-service``); shown in listings and the audit log.
        scopes:
            Any of ``score``, ``feedback``, ``admin`` (``admin`` implies all).
        actor:
            Who creates it.
        at:
            When (default: the store's clock).

        Raises
        ------
        ConfigError
            No scope, an unknown scope (the message lists the allowed ones), or empty name.
        """
        check_name("name", name)
        granted = parse_scopes(scopes)
        check_name("actor", actor)
        when = self._now(at)
        for attempt in range(_KEY_ATTEMPTS):
            prefix, plaintext = generate_key(self._token_bytes)
            try:
                with self._write.begin() as conn:
                    key_id = conn.execute(
                        api_keys.insert().returning(api_keys.c.id),
                        {
                            "name": name,
                            "prefix": prefix,
                            "hash": hash_key(plaintext),
                            "scopes": list(granted),
                            "created_at": when,
                            "revoked_at": None,
                        },
                    ).scalar_one()
                    self._write_audit(
                        conn,
                        actor=actor,
                        action="apikey.create",
                        target=f"apikey:{key_id}",
                        details={"name": name, "prefix": prefix, "scopes": list(granted)},
                        at=when,
                    )
                return int(key_id), plaintext
            except IntegrityError:
                # Two keys drew the same 48-bit prefix: astronomically rare; draw again.
                if attempt == _KEY_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def verify_api_key(self, plaintext: str) -> ApiKey | None:
        """The active key matching ``plaintext``, or ``None`` (unknown, wrong or revoked).

        One indexed lookup by the key's public prefix, then a constant-time comparison of
        SHA-256 digests. Never raises on malformed input: a caller answers 401.
        """
        if not isinstance(plaintext, str):
            return None
        prefix = key_prefix(plaintext)
        if prefix is None:
            return None
        row = self._key_reader.one_or_none(prefix=prefix)
        if row is None or not digest_matches(plaintext, row["hash"]):
            return None
        key = api_key_from_mapping(row)
        return key if key.active else None

    def get_api_key(self, key_id: int) -> ApiKey:
        """A key's description (never the key).

        Raises
        ------
        NotFoundError
            No key has this id.
        """
        with self._engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None:
            raise NotFoundError(
                f"API key {key_id} does not exist; `fraudwatch apikey list` shows the ids"
            )
        return api_key_from_row(row)

    def list_api_keys(self, *, include_revoked: bool = True) -> list[ApiKey]:
        """Every key, oldest first."""
        query = select(api_keys).order_by(api_keys.c.id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with self._engine.connect() as conn:
            return [api_key_from_row(r) for r in conn.execute(query)]

    def revoke_api_key(
        self, key_id: int, *, actor: str = "system", at: datetime | None = None
    ) -> ApiKey:
        """Revoke a key: it stops verifying at once. Audited (``apikey.revoke``).

        Revoking a revoked key changes nothing and returns it.

        Raises
        ------
        NotFoundError
            No key has this id.
        """
        check_name("actor", actor)
        when = self._now(at)
        with self._write.begin() as conn:
            row = conn.execute(
                select(api_keys).where(api_keys.c.id == key_id).with_for_update()
            ).first()
            if row is None:
                raise NotFoundError(
                    f"API key {key_id} does not exist; `fraudwatch apikey list` shows the ids"
                )
            if row.revoked_at is None:
                conn.execute(
                    update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=when)
                )
                self._write_audit(
                    conn,
                    actor=actor,
                    action="apikey.revoke",
                    target=f"apikey:{key_id}",
                    details={"name": row.name, "prefix": row.prefix},
                    at=when,
                )
            out = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).one()
        return api_key_from_row(out)


def open_store(
    url: str | URL,
    *,
    upgrade: bool = False,
    sqlite_synchronous: SqliteSync | None = None,
    pool_size: int = 5,
    clock: Clock = system_clock,
    token_bytes: TokenSource = secrets.token_bytes,
) -> Store:
    """Connect to the service database and return a :class:`Store`.

    Parameters
    ----------
    url:
        ``sqlite:///fraudwatch.db`` or ``postgresql://user@host:5432/db`` (see
        :func:`fraudwatch.store.make_engine`).
    upgrade:
        Apply pending migrations first. Otherwise the schema must be up to date.
    sqlite_synchronous:
        ``"NORMAL"`` (default) or ``"FULL"``; see docs/storage.md.
    pool_size:
        Connections kept open.
    clock, token_bytes:
        Time and secret randomness (injected for tests).

    Raises
    ------
    ConfigError
        Bad URL, unreachable database, or schema not at the expected revision (the message
        says to run ``fraudwatch db upgrade``).
    """
    path = sqlite_file(url)
    if not upgrade and path is not None and not path.exists():
        raise ConfigError(
            f"the SQLite database {path} does not exist; create it with "
            f"`fraudwatch db upgrade --db {redact_url(url)}` (or check the path)"
        )
    engine = make_engine(url, sqlite_synchronous=sqlite_synchronous, pool_size=pool_size)
    try:
        if upgrade:
            from fraudwatch.store._migrate import upgrade as run_upgrade

            run_upgrade(engine)
        else:
            check_schema(engine)
        return Store(engine, clock=clock, token_bytes=token_bytes)
    except BaseException:
        engine.dispose()
        raise
