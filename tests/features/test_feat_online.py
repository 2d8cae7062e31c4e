"""Tests of the online executor's inputs and of each store's own guarantees."""

from __future__ import annotations

import math
import multiprocessing
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from feat_streams import T0, tx
from hypothesis import given
from hypothesis import strategies as st

from fraudwatch.errors import FeatureError, StateStoreError
from fraudwatch.features import (
    Feature,
    FeatureSet,
    MemoryStateStore,
    OnlineExecutor,
    RedisStateStore,
    default_feature_set,
)
from fraudwatch.features._definitions import STD_FLOOR
from fraudwatch.features._online_math import _located_sum, _zscore
from fraudwatch.features.state._redis import _CONTROL, SEP, _decode_columns, _encode

COUNT = FeatureSet((Feature("count", "card", window="24h"),))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"transaction_id": None}, "no transaction_id"),
        ({"timestamp": datetime(2024, 1, 1)}, "has no time zone"),
        ({"timestamp": "2024-01-01"}, "timezone-aware datetime"),
        ({"amount": float("nan")}, "must be finite"),
        ({"amount": -1.0}, "must be finite and >= 0"),
        ({"amount": "ten"}, "is not a number"),
        ({"card_id": None}, "card_id is missing"),
        ({"latitude": 91.0, "longitude": 0.0}, "out of range"),
        ({"is_fraud": 3}, "is_fraud must be 0 or 1"),
    ],
)
def test_bad_transactions_are_refused(change: dict[str, object], match: str) -> None:
    """Check that an unusable transaction raises a FeatureError saying what is wrong."""
    ex = OnlineExecutor(default_feature_set())
    with pytest.raises(FeatureError, match=match):
        ex.compute_and_update(tx(0, **change))


def test_bad_label_is_refused() -> None:
    """Check that add_label refuses labels other than 0/1 and naive times."""
    ex = OnlineExecutor(default_feature_set())
    with pytest.raises(FeatureError, match="must be 0 or 1"):
        ex.add_label("t", 2, T0)
    with pytest.raises(FeatureError, match="no time zone"):
        ex.add_label("t", 1, datetime(2024, 1, 1))


def test_set_without_labels_ignores_labels() -> None:
    """Check that add_label on a set without label features returns False."""
    ex = OnlineExecutor(COUNT)
    ex.update(tx(0, transaction_id="a"))
    assert ex.add_label("a", 1, T0) is False


def test_timestamps_in_other_zones_are_the_same_instant() -> None:
    """Check that a timestamp with another offset lands on the same instant."""
    from datetime import timezone

    ex = OnlineExecutor(FeatureSet((Feature("hour"),)))
    paris = T0.astimezone(timezone(timedelta(hours=2)))
    assert ex.compute(tx(0, timestamp=paris)) == ex.compute(tx(0))


def test_memory_forgets_idle_entities() -> None:
    """Check that the memory store drops entities idle longer than retention and horizon."""
    store = MemoryStateStore()
    fs = FeatureSet(
        (Feature("count", "card", window="1h"), Feature("since_prev", "card", window="1d"))
    )
    ex = OnlineExecutor(fs, store)
    for i in range(50):
        ex.update(tx(i, card_id=f"c{i}"))
    assert store.entity_count(ex.plan) == 50
    for i in range(16):  # idle entities are swept every 16th write
        ex.update(tx(60 * 24 * 2 + i, card_id="late"))
    assert store.entity_count(ex.plan) == 1


def test_memory_snapshot_ignores_other_plans() -> None:
    """Check that loading one plan's snapshot leaves another plan's state alone."""
    from feat_streams import frame

    from fraudwatch.features import build_snapshot

    store = MemoryStateStore()
    other = OnlineExecutor(FeatureSet((Feature("count", "card", window="2h"),)), store)
    other.update(tx(0))
    store.load_snapshot(build_snapshot(COUNT, frame([tx(0)])))
    assert other.compute(tx(1))["tx_count_card_2h"] == 1.0


@pytest.mark.redis
def test_redis_keys_expire(redis_url: str, redis_prefix: str) -> None:
    """Check that every Redis key the store writes carries a TTL."""
    store = RedisStateStore(redis_url, prefix=redis_prefix)
    ex = OnlineExecutor(default_feature_set(), store)
    ex.compute_and_update(
        tx(0, terminal_id="T", merchant_id="M", device_id="D", ip_address="1.2.3.4", is_fraud=1)
    )
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=redis_prefix + "*"))
    assert len(keys) > 5
    assert all(client.pttl(k) > 0 for k in keys)
    client.close()


@pytest.mark.redis
def test_redis_unreachable_is_a_state_store_error() -> None:
    """Check that a dead Redis raises StateStoreError naming the URL."""
    ex = OnlineExecutor(COUNT, RedisStateStore("redis://127.0.0.1:1/0", prefix="x:"))
    with pytest.raises(StateStoreError, match=r"127\.0\.0\.1:1.*reachable"):
        ex.compute(tx(0))


def _writer(url: str, prefix: str, worker: int, n: int) -> None:
    ex = OnlineExecutor(COUNT, RedisStateStore(url, prefix=prefix))
    for i in range(n):
        ex.compute_and_update(
            {
                "transaction_id": f"p{worker}-{i}",
                "timestamp": T0 + timedelta(seconds=i),
                "card_id": "shared",
                "amount": 1.0,
            }
        )


@pytest.mark.redis
@pytest.mark.slow
def test_redis_concurrent_processes_lose_nothing(redis_url: str, redis_prefix: str) -> None:
    """Check that several processes writing one card all land in its window."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(redis_url, redis_prefix, w, 60)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    ex = OnlineExecutor(COUNT, RedisStateStore(redis_url, prefix=redis_prefix))
    probe = {"transaction_id": "probe", "timestamp": T0 + timedelta(minutes=5), "card_id": "shared"}
    assert ex.compute({**probe, "amount": 1.0})["tx_count_card_24h"] == 180.0


@pytest.mark.redis
def test_redis_costs_one_round_trip_per_transaction(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check that compute_and_update sends exactly one command (one EVALSHA) to Redis."""
    store = RedisStateStore(redis_url, prefix=redis_prefix)
    ex = OnlineExecutor(default_feature_set(), store)
    ex.compute(tx(0, transaction_id="warm"))  # loads the script once
    sent: list[object] = []
    client = store._client
    original: Any = client.execute_command

    def counting(*args: object, **kwargs: object) -> object:
        sent.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(client, "execute_command", counting)
    for i in range(5):
        ex.compute_and_update(
            tx(i, terminal_id="T", merchant_id="M", device_id="D", ip_address="10.0.0.1")
        )
    assert sent == ["EVALSHA"] * 5


_coords = st.one_of(
    st.none(),
    st.sampled_from([0.0, -0.0, 1.0, -1.0]),
    st.floats(min_value=-1.0, max_value=1.0, allow_nan=False),
)


@given(st.lists(_coords, max_size=60))
def test_located_sum_equals_the_sum_of_non_null_coordinates(values: list[float | None]) -> None:
    """The C-level window sum of coordinates (nulls and zeros dropped) is the exact sum."""
    expected = math.fsum([v for v in values if v is not None])
    assert _located_sum(list(values)) == expected


@given(
    st.lists(st.floats(min_value=0.0, max_value=1e6, allow_nan=False), min_size=0, max_size=60),
    st.floats(min_value=0.0, max_value=1e6, allow_nan=False),
)
def test_zscore_matches_the_two_pass_definition(amounts: list[float], amount: float) -> None:
    """The z-score's squared deviations are the textbook two-pass ones, bit for bit."""
    got = _zscore(amounts, math.fsum(amounts), amount)
    if len(amounts) < 2:
        assert got is None
        return
    m = math.fsum(amounts) / len(amounts)
    std = math.sqrt(math.fsum([(x - m) * (x - m) for x in amounts]) / (len(amounts) - 1))
    assert got == (amount - m) / max(std, STD_FLOOR)


_field_value = st.one_of(
    st.none(), st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)
)


@given(
    st.lists(
        st.tuples(_field_value, st.one_of(st.none(), st.text(min_size=1, max_size=5))),
        max_size=30,
    )
)
def test_redis_event_members_decode_to_their_columns(
    events: list[tuple[float | None, str | None]],
) -> None:
    """Stored members (seq, float field, text field) decode back to the fields' columns."""
    members = [
        f"{i:012d}{SEP}{_encode(amount)}{SEP}{_encode(text)}"
        for i, (amount, text) in enumerate(events)
    ]
    cols = _decode_columns(members, [True, False]) if members else [[], []]
    expected_text = [None if t is None else t.translate(_CONTROL) for _, t in events]
    expected_text = [t if t else None for t in expected_text]
    assert cols == [[a for a, _ in events], expected_text]
