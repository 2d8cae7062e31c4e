"""A pipeline in which the Redis server fails some scripts: each transaction's own outcome."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from fraudwatch.errors import PartialStateError, StateStoreError
from fraudwatch.features import FeatureSet, OnlineExecutor, RedisStateStore
from fraudwatch.features._definitions import Feature

pytestmark = pytest.mark.redis

START = datetime(2024, 5, 1, tzinfo=UTC)


def _tx(i: int, card: str) -> dict[str, Any]:
    return {
        "transaction_id": f"t{i}",
        "timestamp": START + timedelta(minutes=i),
        "card_id": card,
        "amount": 10.0 + i,
    }


@pytest.fixture
def executor(redis_url: str, redis_prefix: str) -> Any:
    fs = FeatureSet(
        (Feature("count", "card", window="1h"), Feature("sum", "card", "amount", window="1h"))
    )
    store = RedisStateStore(redis_url, prefix=f"{redis_prefix}{uuid.uuid4().hex[:6]}:")
    ex = OnlineExecutor(fs, store)
    yield ex
    store.clear(ex.plan)
    store.close()


def _poison(ex: OnlineExecutor, card: str, redis_url: str) -> None:
    """Make the server fail every script that writes ``card`` (a key of the wrong type)."""
    store = ex.store
    assert isinstance(store, RedisStateStore)
    spec = next(s for s in ex.plan.specs if s.entity == "card")
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(store._base(ex.plan, spec, card) + ":m", "not a hash")
    finally:
        client.close()


def test_only_the_failed_transactions_fail_and_the_others_are_recorded(
    executor: OnlineExecutor, redis_url: str
) -> None:
    _poison(executor, "bad", redis_url)
    group = [_tx(0, "good"), _tx(1, "bad"), _tx(2, "good"), _tx(3, "bad"), _tx(4, "good")]
    results = executor.apply_each(executor.prepare_many(group))
    failed = [i for i, r in enumerate(results) if isinstance(r, StateStoreError)]
    assert failed == [1, 3]
    assert "'t1'" in str(results[1])
    counts = [r["tx_count_card_1h"] for r in results if not isinstance(r, Exception)]
    assert counts == [0.0, 1.0, 2.0]  # the good card's transactions were recorded, in order
    after = executor.compute(_tx(5, "good"))
    assert after["tx_count_card_1h"] == 3.0  # each of the three once


def test_apply_raises_the_partial_error_with_every_outcome(
    executor: OnlineExecutor, redis_url: str
) -> None:
    _poison(executor, "bad", redis_url)
    with pytest.raises(PartialStateError, match="1 of 2 transactions failed") as info:
        executor.compute_and_update_many([_tx(0, "bad"), _tx(1, "good")])
    assert isinstance(info.value.results[0], StateStoreError)
    assert not isinstance(info.value.results[1], Exception)
