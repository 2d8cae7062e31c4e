"""Build a SQLAlchemy engine for the service database from a URL.

Only SQLite (the default, ``sqlite:///fraudwatch.db``) and PostgreSQL
(``postgresql://user@host/db``, driven by psycopg 3) are supported.

SQLite connections are set up for a durable, concurrent service:

* ``journal_mode=WAL``: readers never block the writer and a commit is one append to the WAL;
* ``synchronous=NORMAL`` (default) or ``FULL``: see docs/storage.md for what each survives;
* ``foreign_keys=ON`` and a busy timeout, so concurrent writers wait instead of failing;
* SQLAlchemy, not the ``sqlite3`` module, emits ``BEGIN``: reads start a deferred
  transaction, writes (engines derived with :func:`write_engine`) ``BEGIN IMMEDIATE``, which
  takes the write lock up front and so cannot fail half-way with ``database is locked``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from fraudwatch.errors import ConfigError

__all__ = [
    "SqliteSync",
    "make_engine",
    "normalize_url",
    "redact_url",
    "sqlite_file",
    "write_engine",
]

log = logging.getLogger(__name__)

SqliteSync = Literal["NORMAL", "FULL"]

_WRITE_OPTION = "fraudwatch_write"
_SYNC_VALUES: tuple[str, ...] = ("NORMAL", "FULL")


def redact_url(url: str | URL) -> str:
    """Render a database URL with its password hidden (for messages and logs).

    >>> redact_url("postgresql://fw:secret@db/fraud")
    'postgresql://fw:***@db/fraud'
    """
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except ArgumentError:
        return "<unparseable database URL>"
    return parsed.render_as_string(hide_password=True)


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL and pick our drivers (psycopg 3 for PostgreSQL).

    ``postgres://`` and ``postgresql://`` become ``postgresql+psycopg://``; other PostgreSQL
    drivers are refused (the store is built and tested on psycopg 3).

    Raises
    ------
    ConfigError
        The URL cannot be parsed or names a database other than SQLite or PostgreSQL.

    Examples
    --------
    >>> normalize_url("postgres://u@h/db").drivername
    'postgresql+psycopg'
    """
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"cannot parse database URL {url!r}: {exc}; use e.g. sqlite:///fraudwatch.db "
            "or postgresql://user@host:5432/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend in ("postgresql", "postgres"):
        raise ConfigError(
            f"unsupported PostgreSQL driver {parsed.drivername!r}; fraudwatch uses psycopg 3: "
            "write the URL as postgresql://user@host:5432/dbname"
        )
    if backend == "sqlite" and parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return parsed
    raise ConfigError(
        f"unsupported database {redact_url(parsed)!r} (driver {parsed.drivername!r}); "
        "fraudwatch stores its data in SQLite (sqlite:///path/to/file.db) or PostgreSQL "
        "(postgresql://user@host:5432/dbname)"
    )


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite URL; ``None`` for PostgreSQL or an in-memory database.

    >>> sqlite_file("sqlite:///data/fw.db")
    PosixPath('data/fw.db')
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):  # URI form: leave it to SQLite
        return None
    return Path(parsed.database)


def _sqlite_sync(url: URL, explicit: SqliteSync | None) -> tuple[URL, str]:
    """Take ``?synchronous=`` off a SQLite URL (the driver does not know it)."""
    from_url = url.query.get("synchronous")
    url = url.difference_update_query(["synchronous"])
    chosen = explicit or (str(from_url).upper() if from_url else "NORMAL")
    if chosen not in _SYNC_VALUES:
        raise ConfigError(
            f"synchronous={chosen!r} is not supported for the service database; "
            f"use one of {', '.join(_SYNC_VALUES)} (see docs/storage.md)"
        )
    return url, chosen


def _orjson_dumps(value: Any) -> str:
    """Serialise with orjson: 5-10x faster than ``json``; NaN and infinity become ``null``."""
    import orjson

    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode(
        "utf-8"
    )


def _json_codecs() -> dict[str, Any]:
    """orjson when installed (it ships with the ``server`` extra), else the standard library.

    The fallback refuses NaN/infinity (PostgreSQL's JSONB would refuse them anyway). Module
    functions, not closures: psycopg warns about closures as JSON dumpers.
    """
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson ships with the server extra
        return {"json_serializer": _stdlib_dumps, "json_deserializer": json.loads}
    return {"json_serializer": _orjson_dumps, "json_deserializer": orjson.loads}


def _stdlib_dumps(value: Any) -> str:  # pragma: no cover - used only without orjson
    return json.dumps(value, allow_nan=False)


def make_engine(
    url: str | URL,
    *,
    sqlite_synchronous: SqliteSync | None = None,
    sqlite_timeout_s: float = 30.0,
    pool_size: int = 5,
    pool_pre_ping: bool = False,
    echo: bool = False,
) -> Engine:
    """Create an engine for the service database.

    Parameters
    ----------
    url:
        ``sqlite:///path.db`` (``sqlite://`` is an in-memory database shared by one
        connection: tests only), or ``postgresql://user@host:port/db``. A SQLite URL may carry
        ``?synchronous=FULL``.
    sqlite_synchronous:
        ``"NORMAL"`` (default: a commit survives a crash of the process; see docs/storage.md)
        or ``"FULL"`` (a commit also survives power loss, at the cost of an fsync per commit).
        Overrides ``?synchronous=`` in the URL.
    sqlite_timeout_s:
        How long a SQLite writer waits for the lock held by another writer.
    pool_size:
        Connections kept open (PostgreSQL; SQLite files use the same pool size).
    pool_pre_ping:
        Test each connection before use (PostgreSQL). Costs a round trip per checkout; turn it
        on when the server or a proxy drops idle connections.
    echo:
        Log every SQL statement (debugging).

    Raises
    ------
    ConfigError
        The URL is malformed or not SQLite/PostgreSQL, or ``synchronous`` is invalid.
    """
    parsed = normalize_url(url)
    kwargs: dict[str, Any] = {"echo": echo, **_json_codecs()}
    if parsed.get_backend_name() == "postgresql":
        try:
            return create_engine(
                parsed,
                pool_size=pool_size,
                max_overflow=2 * pool_size,
                pool_pre_ping=pool_pre_ping,
                **kwargs,
            )
        except ImportError:  # pragma: no cover - psycopg is in the postgres extra
            raise ConfigError(
                "PostgreSQL needs the psycopg driver: pip install 'fraudwatch[postgres]'"
            ) from None

    parsed, sync = _sqlite_sync(parsed, sqlite_synchronous)
    in_memory = parsed.database in (None, "", ":memory:")
    connect_args: dict[str, Any] = {"timeout": sqlite_timeout_s, "check_same_thread": False}
    if in_memory:
        engine = create_engine(parsed, poolclass=StaticPool, connect_args=connect_args, **kwargs)
    else:
        engine = create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=2 * pool_size,
            connect_args=connect_args,
            **kwargs,
        )
    _install_sqlite_hooks(engine, sync=sync, wal=not in_memory, timeout_s=sqlite_timeout_s)
    return engine


def write_engine(engine: Engine) -> Engine:
    """A view of ``engine`` whose transactions take the write lock up front.

    On SQLite its transactions start with ``BEGIN IMMEDIATE``; on PostgreSQL it is the same
    engine (row locks and ``ON CONFLICT`` do the work).
    """
    return engine.execution_options(**{_WRITE_OPTION: True})


def _install_sqlite_hooks(engine: Engine, *, sync: str, wal: bool, timeout_s: float) -> None:
    """Set the pragmas on every new connection and let SQLAlchemy emit ``BEGIN``."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop the sqlite3 module from issuing BEGIN itself; the "begin" hook does it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if wal:
                mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    log.warning("SQLite refused WAL mode (journal_mode=%s)", mode)
            cursor.execute(f"PRAGMA synchronous={sync}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
