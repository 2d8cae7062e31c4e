"""The values the store returns: small frozen dataclasses, independent of SQLAlchemy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Case",
    "CaseDetail",
    "Decision",
    "Feedback",
    "Page",
    "RecordResult",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Decision:
    """A stored decision on one transaction.

    Attributes
    ----------
    transaction_id, timestamp, card_id, amount:
        Copied from the transaction for lookups.
    score:
        Model score in [0, 1]; higher is more suspicious.
    anomaly_score:
        Unsupervised anomaly score, when the model has one.
    decision:
        ``allow``, ``review`` or ``decline``.
    reasons:
        Why (JSON list as produced by the scoring core).
    rules_fired:
        Names of the rules that matched.
    model_version:
        The model bundle that scored.
    latency_ms:
        Scoring latency, for monitoring.
    created_at:
        When the decision was recorded (UTC).
    transaction:
        The transaction as JSON (``timestamp`` as ISO-8601 UTC text).
    """

    transaction_id: str
    timestamp: datetime
    card_id: str
    amount: float
    score: float
    anomaly_score: float | None
    decision: str
    reasons: list[Any]
    rules_fired: list[str]
    model_version: str
    latency_ms: float
    created_at: datetime
    transaction: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What :meth:`Store.record_decision` did.

    Attributes
    ----------
    decision:
        The stored decision: the new one, or on a retry the one stored first.
    created:
        ``True`` when this call stored it; ``False`` for a retry (do not count it again).
    case_id:
        The case opened for a ``review``/``decline`` (also on a retry), else ``None``.
    """

    decision: Decision
    created: bool
    case_id: int | None


@dataclass(frozen=True, slots=True)
class Case:
    """A case opened by a ``review`` or ``decline``, with a summary of its decision."""

    id: int
    transaction_id: str
    status: str
    opened_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    resolved_by: str | None
    note: str | None
    decision: str
    score: float
    card_id: str
    amount: float


@dataclass(frozen=True, slots=True)
class Feedback:
    """A label received for a transaction."""

    id: int
    transaction_id: str
    label: str
    source: str
    note: str | None
    received_at: datetime
    actor: str
    card_id: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """Everything an analyst needs to resolve a case.

    Attributes
    ----------
    case:
        The case.
    decision:
        The decision (transaction, score, reasons, rules) that opened it.
    card_history:
        The card's earlier decisions, most recent first (not including this transaction).
    feedback:
        Labels received for the transaction, oldest first.
    """

    case: Case
    decision: Decision
    card_history: list[Decision]
    feedback: list[Feedback]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log: who did what, to what, when."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as stored (never the key itself).

    Attributes
    ----------
    prefix:
        The public part of the key, shown in listings and logs to recognise it.
    scopes:
        Granted scopes; ``admin`` implies all of them (see :meth:`allows`).
    """

    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """Whether the key has not been revoked."""
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        """Whether the key grants ``scope`` (``admin`` grants everything).

        >>> from datetime import UTC, datetime
        >>> k = ApiKey(1, "ci", "fw_ab", ("feedback",), datetime(2024, 1, 1, tzinfo=UTC), None)
        >>> k.allows("feedback"), k.allows("score")
        (True, False)
        """
        return self.active and ("admin" in self.scopes or scope in self.scopes)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing.

    Attributes
    ----------
    items:
        The rows of this page.
    next_cursor:
        Pass it back to get the next page; ``None`` when this is the last page.
    """

    items: list[T]
    next_cursor: str | None
