"""The write path of :meth:`Store.record_decision`, on the pooled DBAPI connection.

SQLAlchemy's ``Connection`` costs ~150-250 µs per transaction in Python (events, execution
context, result objects) against ~80 µs for the whole SQLite transaction itself. This module
keeps SQLAlchemy's pool, its compiled SQL and its type bind processors (so rows are
byte-for-byte what the Core path writes) but drives the DBAPI cursor directly: one
``BEGIN IMMEDIATE`` (SQLite) or implicit ``BEGIN`` (psycopg), the ``INSERT ... ON CONFLICT DO
NOTHING``, the case ``INSERT ... RETURNING`` when needed, for one decision or a group of
them, then one ``COMMIT``. psycopg prepares the
two statements on the server after a few executions (``prepare_threshold``).

:class:`RawSelect` does the same for the two reads made on every request: the
idempotency lookup by ``transaction_id`` and the API key lookup by prefix.

Each call checks a connection out of the pool and back in (about 10 µs of pool code, with a
reset on return), unless it is given one: :class:`PinnedConnection` keeps one connection
checked out for a caller that reads and writes from one thread (the service's event loop
with SQLite), and is replaced after a disconnect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Engine, Insert, PoolProxiedConnection, Select, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from fraudwatch.store._schema import api_keys, cases, decisions

__all__ = [
    "DecisionWriter",
    "ItemError",
    "PinnedConnection",
    "RawSelect",
    "api_key_reader",
    "decision_reader",
]

_Processor = Callable[[Any], Any] | None


class PinnedConnection:
    """One pooled connection kept checked out, for calls made from one thread at a time.

    :meth:`get` returns it, checking a new one out first if there is none or the last one
    was invalidated (a disconnect); :meth:`close` returns it to the pool.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._raw: PoolProxiedConnection | None = None

    def get(self) -> PoolProxiedConnection:
        """The connection (checked out now if needed)."""
        raw = self._raw
        if raw is None or not raw.is_valid:
            if raw is not None:
                raw.close()
            raw = self._raw = self._engine.raw_connection()
        return raw

    def close(self) -> None:
        """Return the connection to the pool (a later :meth:`get` checks one out again)."""
        raw, self._raw = self._raw, None
        if raw is not None:
            raw.close()


def _checkout(engine: Engine, pinned: PinnedConnection | None) -> PoolProxiedConnection:
    """The pinned connection, or one checked out for this call (closed by the caller)."""
    return pinned.get() if pinned is not None else engine.raw_connection()


class _Compiled:
    """A statement compiled for one dialect, with the bind processors of its columns."""

    def __init__(self, stmt: Insert, engine: Engine) -> None:
        dialect = engine.dialect
        compiled = stmt.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = dialect.paramstyle in ("qmark", "numeric", "format")
        names = list(compiled.positiontup or []) if self.positional else list(compiled.params)
        table = stmt.table
        self.names = names
        self.processors: list[_Processor] = []
        for name in names:
            col = table.c[name]
            self.processors.append(col.type.dialect_impl(dialect).bind_processor(dialect))

    def bind(self, params: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = [
            p(params[n]) if p is not None else params[n]
            for n, p in zip(self.names, self.processors, strict=True)
        ]
        if self.positional:
            return tuple(values)
        return dict(zip(self.names, values, strict=True))


class DecisionWriter:
    """Insert a decision (idempotently) and its case in one committed transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        dialect_insert = sqlite.insert if self._sqlite else postgresql.insert
        self._decision = _Compiled(
            dialect_insert(decisions).on_conflict_do_nothing(
                index_elements=[decisions.c.transaction_id]
            ),
            engine,
        )
        self._case = _Compiled(
            insert(cases)
            .values(transaction_id="", status="", opened_at=None)
            .returning(cases.c.id),
            engine,
        )

    def bind(self, decision: Mapping[str, Any], case: Mapping[str, Any] | None) -> tuple[Any, Any]:
        """Serialise the parameters (JSON, timestamps); raises TypeError/ValueError."""
        return self._decision.bind(decision), None if case is None else self._case.bind(case)

    def write_many(
        self, items: Sequence[tuple[Any, Any]], pinned: PinnedConnection | None = None
    ) -> list[tuple[bool, int | None]]:
        """Store bound ``(decision, case)`` pairs in one transaction; one commit.

        Returns ``(inserted, case_id)`` per item, in order; a case is inserted only for a
        decision that was new. The transaction runs on ``pinned``'s connection if given,
        else on one checked out of the pool for this call.

        Raises
        ------
        ItemError
            Item ``index`` could not be serialised (psycopg serialises JSON while executing);
            nothing was written.
        sqlalchemy.exc.DBAPIError
            The database failed (wrapped like every other SQLAlchemy error); nothing was
            written.
        """
        dbapi_error: type[Exception] = self._engine.dialect.loaded_dbapi.Error
        out: list[tuple[bool, int | None]] = []
        raw = _checkout(self._engine, pinned)
        try:
            cursor = raw.cursor()
            try:
                if self._sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                for index, (decision_params, case_params) in enumerate(items):
                    try:
                        cursor.execute(self._decision.sql, decision_params)
                    except (TypeError, ValueError) as exc:
                        raise ItemError(index, exc) from exc
                    inserted = cursor.rowcount == 1
                    case_id: int | None = None
                    if inserted and case_params is not None:
                        cursor.execute(self._case.sql, case_params)
                        returned = cursor.fetchone()
                        if returned is None:  # pragma: no cover - RETURNING yields the row
                            raise RuntimeError("INSERT ... RETURNING returned no row")
                        case_id = int(returned[0])
                    out.append((inserted, case_id))
                raw.commit()
            except BaseException as exc:
                try:
                    raw.rollback()
                except dbapi_error:  # pragma: no cover - connection already broken
                    raw.invalidate()
                if isinstance(exc, dbapi_error):
                    if self._engine.dialect.is_disconnect(
                        cast(Any, exc), raw.dbapi_connection, cursor
                    ):
                        raw.invalidate()
                    raise DBAPIError.instance(self._decision.sql, None, exc, dbapi_error) from exc
                raise
            finally:
                cursor.close()
        finally:
            if pinned is None:
                raw.close()
        return out


class ItemError(Exception):
    """Item ``index`` of a batch could not be written (its JSON does not serialise)."""

    def __init__(self, index: int, cause: Exception) -> None:
        super().__init__(f"item {index}: {cause}")
        self.index = index
        self.cause = cause


class RawSelect:
    """A one-row ``SELECT`` run on the raw connection, its row decoded like SQLAlchemy would.

    The result processors (JSON, timestamps) are taken from the selected columns' types,
    for the DBAPI type codes of the first result (psycopg needs them for numbers).
    """

    def __init__(self, stmt: Select[Any], engine: Engine) -> None:
        self._engine = engine
        dialect = engine.dialect
        self._dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
        compiled = stmt.compile(dialect=dialect)
        self._sql = compiled.string
        self._positional = dialect.paramstyle in ("qmark", "numeric", "format")
        self._param_names = (
            list(compiled.positiontup or []) if self._positional else list(compiled.params)
        )
        self._columns = list(stmt.selected_columns)
        self._names = [str(c.key) for c in self._columns]
        self._processors: list[_Processor] | None = None

    def _decoders(self, description: Any) -> list[_Processor]:
        if self._processors is None:
            dialect = self._engine.dialect
            self._processors = [
                col.type.dialect_impl(dialect).result_processor(dialect, desc[1])
                for col, desc in zip(self._columns, description, strict=True)
            ]
        return self._processors

    def one_or_none(self, **params: Any) -> dict[str, Any] | None:
        """Run the query; return the first row as ``{column key: value}`` or ``None``."""
        return self.run(params)

    def run(
        self, params: Mapping[str, Any], pinned: PinnedConnection | None = None
    ) -> dict[str, Any] | None:
        """As :meth:`one_or_none`, on ``pinned``'s connection if given."""
        bound: tuple[Any, ...] | dict[str, Any] = (
            tuple([params[n] for n in self._param_names]) if self._positional else dict(params)
        )
        dbapi_error = self._dbapi_error
        raw = _checkout(self._engine, pinned)
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(self._sql, bound)
                row = cursor.fetchone()
                decoders = self._decoders(cursor.description)
                raw.rollback()
            except dbapi_error as exc:
                if self._engine.dialect.is_disconnect(cast(Any, exc), raw.dbapi_connection, cursor):
                    raw.invalidate()
                raise DBAPIError.instance(self._sql, None, exc, dbapi_error) from exc
            finally:
                cursor.close()
        finally:
            if pinned is None:
                raw.close()
        if row is None:
            return None
        return {
            name: (p(value) if p is not None else value)
            for name, p, value in zip(self._names, decoders, row, strict=True)
        }


def decision_reader(engine: Engine) -> RawSelect:
    """Read one decision and its case id (``case_id``) by ``tx_id``."""
    return RawSelect(
        select(decisions, cases.c.id.label("case_id"))
        .outerjoin(cases, cases.c.transaction_id == decisions.c.transaction_id)
        .where(decisions.c.transaction_id == bindparam("tx_id")),
        engine,
    )


def api_key_reader(engine: Engine) -> RawSelect:
    """Read one API key row by ``prefix``."""
    return RawSelect(select(api_keys).where(api_keys.c.prefix == bindparam("prefix")), engine)
