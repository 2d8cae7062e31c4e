"""Scoring: features, model score, rules, decision and reasons — in batch and one at a time.

:class:`Scorer` scores one transaction against an online feature state (the real-time path);
:func:`score_frame` scores a whole frame with the batch feature executor. Both use the same
feature definitions, model bundle, decision function and reason phrases.
"""

from __future__ import annotations

from fraudwatch.scoring._batch import BatchScores, StageTime, score_frame
from fraudwatch.scoring._load import load_scorer, open_state_store, resolve_bundle
from fraudwatch.scoring._result import DecisionName, ScoreResult
from fraudwatch.scoring._scorer import ExplainMode, Scorer, bundle_feature_set
from fraudwatch.scoring.reasons import Reason, top_reasons, top_reasons_batch

__all__ = [
    "BatchScores",
    "DecisionName",
    "ExplainMode",
    "Reason",
    "ScoreResult",
    "Scorer",
    "StageTime",
    "bundle_feature_set",
    "load_scorer",
    "open_state_store",
    "resolve_bundle",
    "score_frame",
    "top_reasons",
    "top_reasons_batch",
]
