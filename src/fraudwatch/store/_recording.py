"""Recording decisions: the hot write path of the service, one at a time or in groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

from fraudwatch.errors import DataValidationError, NotFoundError
from fraudwatch.store._base import StoreBase, check_name
from fraudwatch.store._checkpoint import WalCheckpointer, wal_mode
from fraudwatch.store._convert import (
    check_choice,
    decision_from_mapping,
    finite,
    json_list,
    normalize_transaction,
)
from fraudwatch.store._hotpath import ItemError, PinnedConnection
from fraudwatch.store._records import Decision, RecordResult
from fraudwatch.store._schema import DECISIONS

__all__ = ["OPENS_CASE", "DecisionInput", "DecisionSession", "RecordingMixin"]

OPENS_CASE: frozenset[str] = frozenset({"review", "decline"})
"""Decisions that open a case for an analyst."""


@dataclass(frozen=True, slots=True)
class DecisionInput:
    """One decision to store with :meth:`Store.record_decisions` (same fields as
    :meth:`Store.record_decision`)."""

    transaction: Mapping[str, Any]
    score: float
    decision: str
    model_version: str
    reasons: Sequence[Any] = ()
    rules_fired: Sequence[str] = ()
    anomaly_score: float | None = None
    latency_ms: float = 0.0
    at: datetime | None = field(default=None)


@dataclass(frozen=True, slots=True)
class _Prepared:
    params: dict[str, Any]
    case_params: dict[str, Any] | None
    decision: Decision


def _json_error(exc: BaseException, tx_id: str) -> DataValidationError:
    return DataValidationError(
        f"the transaction, reasons or rules cannot be stored as JSON ({exc}); send plain "
        "strings, numbers, lists and objects",
        transaction_id=tx_id,
    )


class RecordingMixin(StoreBase):
    """Store decisions idempotently; read them back by transaction id."""

    def _prepare(self, item: DecisionInput) -> _Prepared:
        doc, tx_id, ts, card_id, amount = normalize_transaction(item.transaction)
        check_choice("decision", item.decision, DECISIONS)
        created_at = self._now(item.at)
        score = finite("score", item.score, tx_id)
        anomaly = (
            None
            if item.anomaly_score is None
            else finite("anomaly_score", item.anomaly_score, tx_id)
        )
        reasons = json_list("reasons", item.reasons, tx_id)
        rules = [str(r) for r in json_list("rules_fired", item.rules_fired, tx_id)]
        latency = finite("latency_ms", item.latency_ms, tx_id)
        model_version = check_name("model_version", item.model_version)
        decision = Decision(
            transaction_id=tx_id,
            timestamp=ts,
            card_id=card_id,
            amount=amount,
            score=score,
            anomaly_score=anomaly,
            decision=item.decision,
            reasons=reasons,
            rules_fired=rules,
            model_version=model_version,
            latency_ms=latency,
            created_at=created_at,
            transaction=doc,
        )
        params = {
            "transaction_id": tx_id,
            "transaction": doc,
            "timestamp": ts,
            "card_id": card_id,
            "amount": amount,
            "score": score,
            "anomaly_score": anomaly,
            "decision": item.decision,
            "reasons": reasons,
            "rules_fired": rules,
            "model_version": model_version,
            "latency_ms": latency,
            "created_at": created_at,
        }
        case_params = (
            {"transaction_id": tx_id, "status": "open", "opened_at": created_at}
            if item.decision in OPENS_CASE
            else None
        )
        return _Prepared(params, case_params, decision)

    def _store(
        self, prepared: Sequence[_Prepared], pinned: PinnedConnection | None = None
    ) -> list[RecordResult]:
        bound = []
        for p in prepared:
            try:  # JSON is serialised here on SQLite, by psycopg while executing on PostgreSQL
                bound.append(self._writer.bind(p.params, p.case_params))
            except (TypeError, ValueError) as exc:
                raise _json_error(exc, p.decision.transaction_id) from None
        try:
            outcomes = self._writer.write_many(bound, pinned)
        except ItemError as exc:
            raise _json_error(exc.cause, prepared[exc.index].decision.transaction_id) from None
        results = []
        for p, (inserted, case_id) in zip(prepared, outcomes, strict=True):
            if inserted:
                results.append(RecordResult(decision=p.decision, created=True, case_id=case_id))
                continue
            # A retry: stored decisions are immutable, so reading after the commit is safe.
            found = self._find_record(p.decision.transaction_id, pinned)
            if found is None:  # pragma: no cover - decisions are never deleted
                raise RuntimeError(f"decision {p.decision.transaction_id!r} vanished")
            results.append(found)
        return results

    def record_decision(
        self,
        transaction: Mapping[str, Any],
        *,
        score: float,
        decision: str,
        model_version: str,
        reasons: Sequence[Any] = (),
        rules_fired: Sequence[str] = (),
        anomaly_score: float | None = None,
        latency_ms: float = 0.0,
        at: datetime | None = None,
    ) -> RecordResult:
        """Store the decision on a transaction, once; open a case for review/decline.

        Idempotent on ``transaction_id``: if a decision is stored already (a client retry, or
        a concurrent request with the same id), nothing is written and the stored decision
        is returned with ``created=False``, so it is not counted twice. The decision and its
        case are written in one transaction, committed before this method returns (see
        docs/storage.md for what survives a crash).

        Parameters
        ----------
        transaction:
            The transaction as received: needs ``transaction_id``, ``timestamp`` (aware
            datetime or ISO-8601 text with a zone), ``card_id`` and ``amount``; every field
            is stored as JSON.
        score:
            Model score, higher is more suspicious.
        decision:
            ``allow``, ``review`` or ``decline``.
        model_version:
            The model bundle that scored.
        reasons, rules_fired:
            Explanations and the names of the rules that matched (JSON lists).
        anomaly_score:
            Optional unsupervised score.
        latency_ms:
            How long scoring took.
        at:
            When the decision was made (default: the store's clock).

        Raises
        ------
        DataValidationError
            The transaction or a score is malformed (the message names the field).
        ConfigError
            ``decision`` is not one of allow/review/decline, or ``at`` is naive.

        Examples
        --------
        >>> from fraudwatch.store import open_store
        >>> store = open_store("sqlite://", upgrade=True)
        >>> tx = {"transaction_id": "t1", "timestamp": "2024-05-01T10:00:00Z",
        ...       "card_id": "c1", "amount": 42.0}
        >>> first = store.record_decision(tx, score=0.91, decision="review", model_version="v1")
        >>> retry = store.record_decision(tx, score=0.10, decision="allow", model_version="v1")
        >>> first.created, retry.created, retry.decision.decision, retry.case_id
        (True, False, 'review', 1)
        >>> store.close()
        """
        item = DecisionInput(
            transaction=transaction,
            score=score,
            decision=decision,
            model_version=model_version,
            reasons=reasons,
            rules_fired=rules_fired,
            anomaly_score=anomaly_score,
            latency_ms=latency_ms,
            at=at,
        )
        return self._store([self._prepare(item)])[0]

    def record_decisions(self, items: Sequence[DecisionInput]) -> list[RecordResult]:
        """Store several decisions in **one** transaction and one commit (group commit).

        Each item behaves as :meth:`record_decision` (idempotent on ``transaction_id``; an id
        repeated within the group is stored once, later copies get ``created=False``). All
        or nothing: if one item is invalid, nothing is written and the error names its
        transaction, so the caller can retry the others one by one. Returns one result per
        item, in order.

        Raises
        ------
        DataValidationError, ConfigError
            As :meth:`record_decision`, for the first bad item.
        """
        if not items:
            return []
        return self._store([self._prepare(item) for item in items])

    def find_record(self, transaction_id: str) -> RecordResult | None:
        """What a retry of ``transaction_id`` returns, without writing: or ``None``.

        The stored decision and the id of its case (``created=False``), in one indexed read:
        call it before scoring so that a retried transaction is answered from the store,
        neither scored again nor counted twice.
        """
        return self._find_record(transaction_id, None)

    def decision_session(self) -> DecisionSession:
        """:meth:`find_record` and :meth:`record_decisions` on one connection kept open.

        For a caller making both calls from one thread at a time, on every request (the
        service's event loop with SQLite): it saves checking a connection out of the pool
        and back in on each call. Close the session to return the connection.

        Examples
        --------
        >>> from fraudwatch.store import open_store
        >>> store = open_store("sqlite://", upgrade=True)
        >>> tx = {"transaction_id": "t1", "timestamp": "2024-05-01T10:00:00Z",
        ...       "card_id": "c1", "amount": 42.0}
        >>> with store.decision_session() as session:
        ...     before = session.find_record("t1")
        ...     [saved] = session.record_decisions(
        ...         [DecisionInput(tx, score=0.2, decision="allow", model_version="v1")])
        ...     after = session.find_record("t1")
        >>> before is None, saved.created, after.decision.score
        (True, True, 0.2)
        >>> store.close()
        """
        return DecisionSession(self)

    def wal_checkpointer(self, *, interval_s: float = 0.05) -> WalCheckpointer | None:
        """A background WAL checkpointer for this database (not started yet), if it has a WAL.

        ``None`` for PostgreSQL and in-memory SQLite. See :class:`WalCheckpointer`: for a
        writer that commits on an event loop, it keeps SQLite's checkpoints (a copy and two
        fsyncs) out of the commits.
        """
        if not wal_mode(self.engine):
            return None
        return WalCheckpointer(self.engine, interval_s=interval_s)

    def _find_record(
        self, transaction_id: str, pinned: PinnedConnection | None
    ) -> RecordResult | None:
        found = self._reader.run({"tx_id": transaction_id}, pinned)
        if found is None:
            return None
        return RecordResult(
            decision=decision_from_mapping(found),
            created=False,
            case_id=None if found["case_id"] is None else int(found["case_id"]),
        )

    def find_decision(self, transaction_id: str) -> Decision | None:
        """The stored decision on a transaction, or ``None`` (one indexed read)."""
        found = self._reader.one_or_none(tx_id=transaction_id)
        return None if found is None else decision_from_mapping(found)

    def get_decision(self, transaction_id: str) -> Decision:
        """The stored decision on a transaction.

        Raises
        ------
        NotFoundError
            No decision is stored for ``transaction_id``.
        """
        found = self.find_decision(transaction_id)
        if found is None:
            raise NotFoundError(
                f"no decision is stored for transaction {transaction_id!r}; check the id, or "
                "score the transaction first"
            )
        return found


class DecisionSession:
    """The decision hot path of a store on one connection: see
    :meth:`RecordingMixin.decision_session`.

    Same statements, transactions and results as the store's own methods; use it from one
    thread at a time. After a disconnect the next call checks out a fresh connection.
    """

    def __init__(self, store: RecordingMixin) -> None:
        self._store = store
        self._pinned = PinnedConnection(store.engine)

    def find_record(self, transaction_id: str) -> RecordResult | None:
        """As :meth:`RecordingMixin.find_record`."""
        return self._store._find_record(transaction_id, self._pinned)

    def record_decisions(self, items: Sequence[DecisionInput]) -> list[RecordResult]:
        """As :meth:`RecordingMixin.record_decisions` (one transaction, one commit)."""
        if not items:
            return []
        store = self._store
        return store._store([store._prepare(item) for item in items], self._pinned)

    def close(self) -> None:
        """Return the connection to the pool."""
        self._pinned.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
