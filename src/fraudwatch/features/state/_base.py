"""The state store contract: a small event store the online executor reads and writes.

A store keeps, per entity (one card, one terminal...), the events of its recent transactions
with a few fields and running double-double sums (:mod:`fraudwatch.features._dd`), fraud
labels with the time they became known, and last-seen facts (first seen, last transaction,
last location, last use of each merchant/device/...). It answers the
reads an :class:`~fraudwatch.features._plan.EntitySpec` describes and applies the writes of
one transaction atomically. It does no feature math: the features are computed from the
returned :class:`EntityState` by shared Python code, whatever the backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from fraudwatch.features._plan import StatePlan

if TYPE_CHECKING:
    from fraudwatch.features.state._snapshot import StateSnapshot

__all__ = ["EntityRequest", "EntityState", "StateStore", "TxRequest"]

Field = float | str | None


@dataclass(slots=True)
class EntityRequest:
    """One entity of one transaction.

    Attributes
    ----------
    key:
        The entity's key (``None``: the transaction has none; nothing is read or written).
    fields:
        Values of the spec's fields for the event to write.
    sums:
        What the event adds to each of the spec's running sums, as flat ``(hi, lo)`` pairs
        (:func:`~fraudwatch.features._dd.event_values`).
    seen:
        Values of the spec's ``seen`` names (``None`` when missing).
    location:
        ``(latitude, longitude)`` of the transaction, or ``None``.
    """

    key: str | None
    fields: tuple[Field, ...] = ()
    sums: tuple[float, ...] = ()
    seen: tuple[str | None, ...] = ()
    location: tuple[float, float] | None = None


@dataclass(slots=True)
class TxRequest:
    """The state operation of one transaction (entities aligned with ``plan.specs``).

    ``read`` returns each entity's state *before* this transaction's writes; ``write`` records
    the transaction. With both, the two happen as one atomic step.
    """

    now: int
    tx_id: str
    entities: tuple[EntityRequest, ...]
    read: bool = True
    write: bool = True
    label: int | None = None
    label_known_at: int = 0


@dataclass(slots=True)
class EntityState:
    """What a store returns for one entity (state before the transaction).

    Attributes
    ----------
    ts:
        Timestamps (µs) of events in ``(now - event_window, now]``, ascending (ties in
        arrival order).
    cols:
        One list per spec field, aligned with ``ts``.
    sums:
        Running sums (flat ``(hi, lo)`` pairs per spec ``sums`` entry): first the sums over
        every event with ``ts <= now``, then, per ``sum_windows`` entry ``w``, the sums over
        the events with ``ts <= now - w``. A window's sum is the difference of the first
        and its own.
    counts:
        Event counts per ``count_ranges`` entry.
    frauds:
        ``(event ts, known_at)`` of fraud labels in the label range.
    first_seen, last_ts:
        First-seen time of the entity's current run and time of its latest event.
    loc:
        ``(ts, latitude, longitude)`` of its latest located event.
    seen:
        Last-seen time of each requested ``seen`` value (``None``: never or expired).
    """

    ts: Sequence[int] = field(default_factory=list)
    cols: list[list[Field]] = field(default_factory=list)
    sums: list[Sequence[float]] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    frauds: list[tuple[int, int]] = field(default_factory=list)
    first_seen: int | None = None
    last_ts: int | None = None
    loc: tuple[int, float, float] | None = None
    seen: list[int | None] = field(default_factory=list)


States = list[EntityState | None]


@runtime_checkable
class StateStore(Protocol):
    """Where the online executor keeps entity state (memory, Redis).

    Every implementation passes the same contract suite (tests/features/test_state_contract.py).
    """

    def execute(self, plan: StatePlan, requests: Sequence[TxRequest]) -> list[States | None]:
        """Apply ``requests`` in order, each atomically; return each one's read (or ``None``)."""
        ...

    def add_label(self, plan: StatePlan, transaction_id: str, label: int, known_at: int) -> bool:
        """Record a transaction's label, known from ``known_at`` (µs); False if unknown."""
        ...

    def load_snapshot(self, snapshot: StateSnapshot) -> None:
        """Load a snapshot built from history (replacing that plan's state)."""
        ...

    def clear(self, plan: StatePlan) -> None:
        """Forget all state of ``plan``."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
