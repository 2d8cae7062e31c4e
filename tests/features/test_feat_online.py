"""Tests of the online executor's inputs and of each store's own guarantees."""

from __future__ import annotations

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
from fraudwatch.features.state._redis import (
    _CONTROL,
    SEP,
    _decode_columns,
    _encode,
    _parse_sums,
    _sums_text,
)

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
    for k in range(1, 27):  # each write drops up to two idle entities, oldest first
        ex.update(tx(60 * 24 * 2 + k, card_id="late"))
        assert store.entity_count(ex.plan) == max(1, 51 - 2 * k)


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


_text_value = st.one_of(st.none(), st.text(min_size=1, max_size=5))


@given(
    st.lists(
        st.tuples(_text_value, _text_value, st.lists(st.floats(allow_nan=False), max_size=4)),
        max_size=30,
    )
)
def test_redis_event_members_decode_to_their_columns(
    events: list[tuple[str | None, str | None, list[float]]],
) -> None:
    """Stored members (seq, running sums, two text fields) decode back to the fields' columns."""
    members = [
        f"{i:012d}{SEP}{_sums_text(sums)}{SEP}{_encode(a)}{SEP}{_encode(b)}"
        for i, (a, b, sums) in enumerate(events)
    ]
    cols = _decode_columns(members, 2)

    def stored(t: str | None) -> str | None:
        return t.translate(_CONTROL) if t else None

    assert cols == [[stored(a) for a, _, _ in events], [stored(b) for _, b, _ in events]]


@given(st.lists(st.floats(allow_nan=False), max_size=8))
def test_redis_running_sums_round_trip(sums: list[float]) -> None:
    """Running sums survive the text form the script stores, bit for bit."""
    zero = (0.0,) * len(sums)
    assert _parse_sums(_sums_text(sums), zero) == (tuple(sums) if sums else zero)
