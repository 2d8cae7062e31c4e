"""The seams of the service: what it needs from the scoring core and from the store.

The real implementations are :class:`fraudwatch.scoring.Scorer` and
:class:`fraudwatch.store.Store`; tests may inject anything with the same surface.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

__all__ = ["Clock", "ReasonLike", "ScoreResultLike", "ScorerLike", "system_clock"]


class ReasonLike(Protocol):
    """One reason of a score (``fraudwatch.scoring.Reason``)."""

    @property
    def feature(self) -> str: ...

    @property
    def value(self) -> float | str | None: ...

    @property
    def contribution(self) -> float: ...

    @property
    def phrase(self) -> str: ...


class ScoreResultLike(Protocol):
    """The outcome of scoring one transaction (``fraudwatch.scoring.ScoreResult``)."""

    @property
    def transaction_id(self) -> str: ...

    @property
    def score(self) -> float: ...

    @property
    def anomaly_score(self) -> float | None: ...

    @property
    def decision(self) -> str: ...

    @property
    def reasons(self) -> Sequence[ReasonLike]: ...

    @property
    def rules_fired(self) -> Sequence[str]: ...

    @property
    def model_version(self) -> str: ...

    @property
    def timings_us(self) -> Mapping[str, float]: ...


class ScorerLike(Protocol):
    """The scoring core: a pure function of transaction, feature state and model."""

    @property
    def model_version(self) -> str: ...

    @property
    def manifest(self) -> Mapping[str, Any]: ...

    def score_one(self, tx: Mapping[str, Any]) -> ScoreResultLike:
        """Score one transaction, updating its card's online feature state."""
        ...

    # Optional, looked up with getattr by the service (a scorer without it is called once per
    # transaction): ``score_each(txs) -> list[result | Exception]``, the transactions in
    # order, each with its own result or error, raising ``FeatureError`` before recording
    # any of them when a field is unusable (see fraudwatch.scoring.Scorer.score_each).

    def add_label(self, transaction_id: str, label: int, known_at: datetime) -> object:
        """Feed a label to the label-delayed features (the result is ignored)."""
        ...


Clock = Callable[[], datetime]
"""Returns the current time as an aware UTC ``datetime`` (audit timestamps, label arrival)."""


def system_clock() -> datetime:
    """The wall clock in UTC, used only at the edge (the default :data:`Clock`)."""
    return datetime.now(UTC)
