"""Decision thresholds: the review / decline pair versioned with a model, and their tuning.

A score ``s`` (higher = more suspicious) is declined when ``s >= decline``, reviewed when
``review <= s < decline``, allowed otherwise. :func:`default_thresholds` gives a sensible pair
without labels; :func:`tune_thresholds` picks one on validation data for an objective
(``cost``, ``f1``, ``precision``, ``alert-budget``). See docs/evaluation.md.
"""

from __future__ import annotations

from fraudwatch.thresholds._curve import CostModel, ScoreCurve, build_curve
from fraudwatch.thresholds._model import (
    DECISIONS,
    OBJECTIVES,
    THRESHOLDS_FORMAT_VERSION,
    Decision,
    Thresholds,
)
from fraudwatch.thresholds._tune import (
    DEFAULT_DECLINE_RATE,
    DEFAULT_REVIEW_RATE,
    TUNING_OBJECTIVES,
    default_thresholds,
    expected_outcomes,
    tune_thresholds,
)

__all__ = [
    "DECISIONS",
    "DEFAULT_DECLINE_RATE",
    "DEFAULT_REVIEW_RATE",
    "OBJECTIVES",
    "THRESHOLDS_FORMAT_VERSION",
    "TUNING_OBJECTIVES",
    "CostModel",
    "Decision",
    "ScoreCurve",
    "Thresholds",
    "build_curve",
    "default_thresholds",
    "expected_outcomes",
    "tune_thresholds",
]
