"""Column types that behave the same on SQLite and PostgreSQL.

* :class:`UTCDateTime` stores an aware ``datetime`` as UTC and always returns an aware UTC
  ``datetime`` (SQLite has no time zones: the value is stored as naive UTC text).
* :data:`JSON_TYPE` is ``JSONB`` on PostgreSQL and JSON text on SQLite.
* :data:`ID_TYPE` is a 64-bit autoincrementing key (``BIGINT`` identity on PostgreSQL,
  ``INTEGER PRIMARY KEY`` rowid alias on SQLite).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["ID_TYPE", "JSON_TYPE", "UTCDateTime", "ensure_utc"]


def ensure_utc(value: datetime, *, name: str = "timestamp") -> datetime:
    """Return ``value`` converted to UTC; refuse a naive ``datetime``.

    Raises
    ------
    ValueError
        ``value`` has no time zone (the caller turns it into a user-facing error).
    """
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(
            f"{name} {value.isoformat()} has no time zone; pass an aware datetime "
            "(e.g. datetime(..., tzinfo=datetime.UTC))"
        )
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored and returned in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC (naive UTC on SQLite, which has no zones)."""
        if value is None:
            return None
        utc = ensure_utc(value)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the backend returned."""
        if value is None:
            return None
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)


JSON_TYPE: TypeEngine[Any] = JSON().with_variant(postgresql.JSONB(), "postgresql")
"""JSON documents: ``JSONB`` on PostgreSQL, text on SQLite."""

ID_TYPE: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")
"""Surrogate keys: 64-bit on PostgreSQL, the rowid alias on SQLite."""
