"""State stores of the online feature executor: in-process memory and Redis."""

from __future__ import annotations

from fraudwatch.features.state._base import EntityRequest, EntityState, StateStore, TxRequest
from fraudwatch.features.state._memory import MemoryStateStore
from fraudwatch.features.state._redis import RedisStateStore
from fraudwatch.features.state._snapshot import StateSnapshot, build_snapshot

__all__ = [
    "EntityRequest",
    "EntityState",
    "MemoryStateStore",
    "RedisStateStore",
    "StateSnapshot",
    "StateStore",
    "TxRequest",
    "build_snapshot",
]
