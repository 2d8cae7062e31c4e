"""The outcome of scoring one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from fraudwatch.scoring.reasons import Reason

__all__ = ["DecisionName", "ScoreResult"]

DecisionName = Literal["allow", "review", "decline"]


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """Score, decision and reasons of one transaction.

    Attributes
    ----------
    transaction_id:
        The transaction.
    score:
        Fraud probability in [0, 1]; higher is more suspicious.
    anomaly_score:
        Isolation-forest anomaly score in (0, 1], or ``None`` when the bundle has no detector.
    decision:
        ``allow``, ``review`` or ``decline``.
    reasons:
        Up to three reasons, most suspicious first (empty for allowed transactions when
        explanations are computed for flagged transactions only).
    rules_fired:
        Names of the rules and lists that matched.
    decided_by:
        ``model``, ``default`` or the name of the rule that set the decision.
    model_version:
        The bundle's version.
    timings_us:
        Microseconds spent per stage: ``features``, ``model``, ``rules``, ``reasons``.
    """

    transaction_id: str
    score: float
    anomaly_score: float | None
    decision: DecisionName
    reasons: tuple[Reason, ...]
    rules_fired: tuple[str, ...]
    decided_by: str
    model_version: str
    timings_us: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict."""
        return {
            "transaction_id": self.transaction_id,
            "score": self.score,
            "anomaly_score": self.anomaly_score,
            "decision": self.decision,
            "reasons": [r.to_dict() for r in self.reasons],
            "rules_fired": list(self.rules_fired),
            "decided_by": self.decided_by,
            "model_version": self.model_version,
            "timings_us": dict(self.timings_us),
        }
