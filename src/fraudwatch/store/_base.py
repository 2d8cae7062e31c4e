"""The shared core of :class:`fraudwatch.store.Store`: engine, clock, audit helper."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, insert

from fraudwatch.errors import ConfigError
from fraudwatch.store._apikeys import TokenSource
from fraudwatch.store._convert import check_time, json_object
from fraudwatch.store._engine import write_engine
from fraudwatch.store._hotpath import DecisionWriter, api_key_reader, decision_reader
from fraudwatch.store._schema import audit_log

__all__ = ["Clock", "StoreBase", "system_clock"]

log = logging.getLogger("fraudwatch.store")

Clock = Callable[[], datetime]
"""Returns the current time as an aware ``datetime``; injected so tests control time."""

MAX_NAME_LEN = 200


def system_clock() -> datetime:
    """The wall clock in UTC: the default :data:`Clock`, used only at the edge."""
    return datetime.now(UTC)


def check_name(name: str, value: str) -> str:
    """A non-empty string of at most 200 characters (actors, targets, key names)."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_LEN:
        raise ConfigError(
            f"{name} must be a non-empty string of at most {MAX_NAME_LEN} characters; got {value!r}"
        )
    return value


class StoreBase:
    """Engine, clock and randomness shared by the parts of the store.

    Parameters
    ----------
    engine:
        From :func:`fraudwatch.store.make_engine` (SQLite or PostgreSQL), already migrated.
    clock:
        Source of "now" for ``created_at``/``received_at``/``at`` when a method is not
        given ``at=`` explicitly.
    token_bytes:
        Source of secret randomness for API keys (``secrets.token_bytes``).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = system_clock,
        token_bytes: TokenSource = secrets.token_bytes,
    ) -> None:
        backend = engine.dialect.name
        if backend not in ("sqlite", "postgresql"):
            raise ConfigError(
                f"the store supports SQLite and PostgreSQL, not {backend!r}; build the engine "
                "with fraudwatch.store.make_engine"
            )
        self._engine = engine
        self._write = write_engine(engine)
        self._clock = clock
        self._token_bytes = token_bytes
        self._writer = DecisionWriter(engine)
        self._reader = decision_reader(engine)
        self._key_reader = api_key_reader(engine)
        self._insert_audit = insert(audit_log).returning(audit_log.c.id)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for health checks and migrations)."""
        return self._engine

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _now(self, at: datetime | None, name: str = "at") -> datetime:
        return check_time(name, at if at is not None else self._clock())

    def _write_audit(
        self,
        conn: Connection,
        *,
        actor: str,
        action: str,
        target: str,
        details: Mapping[str, Any] | None,
        at: datetime,
    ) -> int:
        """Insert one audit entry inside the caller's transaction; return its id."""
        row_id = conn.execute(
            self._insert_audit,
            {
                "at": at,
                "actor": check_name("actor", actor),
                "action": check_name("action", action),
                "target": check_name("target", target),
                "details": json_object("details", details),
            },
        ).scalar_one()
        log.info(
            "audit %s %s %s",
            action,
            target,
            actor,
            extra={"audit_action": action, "audit_target": target, "audit_actor": actor},
        )
        return int(row_id)
