"""Fixtures of the feature tests: both state stores behind one parametrised fixture."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from feat_streams import StoreFactory

from fraudwatch.features import MemoryStateStore, RedisStateStore, StateStore


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def make_store(
    request: pytest.FixtureRequest, redis_url: str, redis_prefix: str
) -> Iterator[StoreFactory]:
    """A factory of empty stores of one backend (each Redis store gets its own prefix)."""
    made: list[StateStore] = []

    def make() -> StateStore:
        store: StateStore
        if request.param == "memory":
            store = MemoryStateStore()
        else:
            store = RedisStateStore(redis_url, prefix=f"{redis_prefix}{uuid.uuid4().hex[:6]}:")
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> StateStore:
    """One empty store of each backend."""
    return make_store()
