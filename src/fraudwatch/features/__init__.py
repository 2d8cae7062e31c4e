"""Features: declared once, computed two ways (batch and online), proven equal.

A :class:`Feature` declares one aggregation (entity, value, window, delay); a
:class:`FeatureSet` is an ordered, hashed list of them. :func:`compute_batch` computes a set
over a whole history with polars/numpy; :class:`OnlineExecutor` computes it one transaction at
a time over a :class:`StateStore` (in-process memory or Redis). See docs/features.md.
"""

from __future__ import annotations

from fraudwatch.features._batch import compute_batch
from fraudwatch.features._definitions import DEFAULT_HORIZON, ENTITIES, KINDS, VALUES, Feature
from fraudwatch.features._durations import parse_duration
from fraudwatch.features._featureset import FeatureSet, default_feature_set
from fraudwatch.features._online import OnlineExecutor
from fraudwatch.features.state import (
    MemoryStateStore,
    RedisStateStore,
    StateSnapshot,
    StateStore,
    build_snapshot,
)

__all__ = [
    "DEFAULT_HORIZON",
    "ENTITIES",
    "KINDS",
    "VALUES",
    "Feature",
    "FeatureSet",
    "MemoryStateStore",
    "OnlineExecutor",
    "RedisStateStore",
    "StateSnapshot",
    "StateStore",
    "build_snapshot",
    "compute_batch",
    "default_feature_set",
    "parse_duration",
]
