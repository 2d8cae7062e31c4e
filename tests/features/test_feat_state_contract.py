"""The contract every state store passes (memory and Redis run the same tests)."""

from __future__ import annotations

import math
import random
import statistics
import threading
from datetime import timedelta

import polars as pl
import pytest
from feat_streams import T0, StoreFactory, frame, mismatches, random_stream, tx

from fraudwatch.features import (
    Feature,
    FeatureSet,
    MemoryStateStore,
    OnlineExecutor,
    RedisStateStore,
    StateStore,
    build_snapshot,
    compute_batch,
    default_feature_set,
)
from fraudwatch.features._definitions import STD_FLOOR

CARD = FeatureSet(
    (
        Feature("count", "card", window="2h"),
        Feature("sum", "card", "amount", "2h"),
        Feature("novel", "card", "merchant", "365d"),
        Feature("since_prev", "card", window="365d"),
    )
)
RATE = FeatureSet((Feature("fraud_rate", "terminal", window="1d", delay="1d"),))


def _events(store: StateStore, ex: OnlineExecutor) -> int:
    assert isinstance(store, MemoryStateStore | RedisStateStore)
    return store.event_count(ex.plan)


def test_empty_state_gives_cold_features(store: StateStore) -> None:
    """Check that an unseen card has no history: zero counts, new merchant, no previous."""
    ex = OnlineExecutor(CARD, store)
    got = ex.compute(tx(0, merchant_id="M"))
    assert got == {
        "tx_count_card_2h": 0.0,
        "amount_sum_card_2h": 0.0,
        "new_merchant_card": 1.0,
        "seconds_since_prev_card": None,
    }


def test_compute_does_not_change_state(store: StateStore) -> None:
    """Check that compute reads only and update makes the transaction visible."""
    ex = OnlineExecutor(CARD, store)
    first = ex.compute(tx(0, merchant_id="M"))
    assert ex.compute(tx(1, merchant_id="M", transaction_id="t2")) == first
    ex.update(tx(0, merchant_id="M", amount=7.5))
    got = ex.compute(tx(1, merchant_id="M", transaction_id="t2"))
    assert got["tx_count_card_2h"] == 1.0
    assert got["amount_sum_card_2h"] == 7.5
    assert got["new_merchant_card"] == 0.0
    assert got["seconds_since_prev_card"] == 60.0


def test_many_equals_one_by_one(make_store: StoreFactory) -> None:
    """Check that compute_and_update_many equals compute_and_update in a loop."""
    fs = default_feature_set()
    rows = random_stream(5, 120).sort("timestamp").to_dicts()
    one = OnlineExecutor(fs, make_store())
    many = OnlineExecutor(fs, make_store())
    assert [one.compute_and_update(r) for r in rows] == many.compute_and_update_many(rows)


def test_old_events_are_evicted(store: StateStore) -> None:
    """Check that events older than the retention are dropped so memory stays bounded."""
    ex = OnlineExecutor(FeatureSet((Feature("count", "card", window="2h"),)), store)
    for i in range(40):
        ex.update(tx(60 * i, transaction_id=f"t{i}"))
    assert _events(store, ex) <= 3
    assert ex.compute(tx(60 * 40, transaction_id="x"))["tx_count_card_2h"] == 1.0


def test_unknown_transaction_label_is_ignored(store: StateStore) -> None:
    """Check that a label for a transaction the state never saw returns False."""
    ex = OnlineExecutor(RATE, store)
    assert ex.add_label("nobody", 1, T0) is False


def test_label_counts_only_once_known(store: StateStore) -> None:
    """Check that a late label changes the fraud rate only from its known_at on."""
    ex = OnlineExecutor(RATE, store)
    ex.update(tx(0, terminal_id="T", transaction_id="a"))
    assert ex.add_label("a", 1, T0 + timedelta(days=3)) is True
    probe = tx(60 * 36, terminal_id="T", transaction_id="p")  # window (-12h, 12h]
    assert ex.compute(probe)["fraud_rate_terminal_1d_delay1d"] == 0.0
    ex.add_label("a", 1, T0 + timedelta(days=1))
    assert ex.compute(probe)["fraud_rate_terminal_1d_delay1d"] == 1.0


def test_label_can_be_corrected(store: StateStore) -> None:
    """Check that a fraud label set back to 0 no longer counts."""
    ex = OnlineExecutor(RATE, store)
    ex.update(tx(0, terminal_id="T", transaction_id="a"))
    ex.add_label("a", 1, T0)
    probe = tx(60 * 30, terminal_id="T", transaction_id="p")
    probe["timestamp"] = T0 + timedelta(days=1, hours=1)
    assert ex.compute(probe)["fraud_rate_terminal_1d_delay1d"] == 1.0
    ex.add_label("a", 0, T0)
    assert ex.compute(probe)["fraud_rate_terminal_1d_delay1d"] == 0.0


def test_carried_label_is_known_after_the_delay(store: StateStore) -> None:
    """Check that is_fraud carried by an update becomes known timestamp + delay later."""
    ex = OnlineExecutor(RATE, store)
    ex.update(tx(0, terminal_id="T", transaction_id="a", is_fraud=1))
    probe = tx(0, terminal_id="T", transaction_id="p")
    probe["timestamp"] = T0 + timedelta(days=1)
    assert ex.compute(probe)["fraud_rate_terminal_1d_delay1d"] == 1.0
    probe["timestamp"] = T0 + timedelta(days=1) - timedelta(microseconds=1)
    assert ex.compute(probe)["fraud_rate_terminal_1d_delay1d"] is None


def test_late_event_is_placed_by_timestamp(store: StateStore) -> None:
    """Check that an event arriving late enters windows by its timestamp, not arrival."""
    ex = OnlineExecutor(FeatureSet((Feature("count", "card", window="1h"),)), store)
    ex.update(tx(50, transaction_id="future"))
    ex.update(tx(10, transaction_id="late"))
    assert ex.compute(tx(20, transaction_id="p"))["tx_count_card_1h"] == 1.0
    assert ex.compute(tx(55, transaction_id="q"))["tx_count_card_1h"] == 2.0


def test_late_events_update_the_running_sums_after_them(store: StateStore) -> None:
    """Check that window sums stay exact when events arrive out of time order."""
    fs = FeatureSet(
        (
            Feature("count", "card", window="1h"),
            Feature("sum", "card", "amount", "1h"),
            Feature("zscore", "card", "amount", "1h"),
            Feature("count_below", "card", "amount", "1h", threshold=5.0),
        )
    )
    ex = OnlineExecutor(fs, store)
    rng = random.Random(11)
    events = [(rng.uniform(0, 50), round(rng.uniform(0, 20), 2)) for _ in range(40)]
    for i, (minute, amount) in enumerate(events):  # arrival order is not time order
        ex.update(tx(minute, transaction_id=f"e{i}", amount=amount))
    for probe in (10.0, 25.5, 40.0, 50.0, 70.0):
        got = ex.compute(tx(probe, transaction_id="p", amount=7.0))
        inside = [a for m, a in events if probe - 60 < m <= probe]
        assert got["tx_count_card_1h"] == len(inside)
        assert got["amount_sum_card_1h"] == pytest.approx(math.fsum(inside), abs=1e-9)
        assert got["amount_under_5_count_card_1h"] == sum(a < 5.0 for a in inside)
        if len(inside) >= 2:
            mean = math.fsum(inside) / len(inside)
            std = statistics.stdev(inside)
            expected = (7.0 - mean) / max(std, STD_FLOOR)
            assert got["amount_zscore_card_1h"] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_concurrent_writers_lose_nothing(store: StateStore) -> None:
    """Check that threads updating one card at once all land in its window."""
    ex = OnlineExecutor(FeatureSet((Feature("count", "card", window="24h"),)), store)

    def work(worker: int) -> None:
        for i in range(40):
            ex.compute_and_update(tx(i * 0.5, transaction_id=f"w{worker}-{i}"))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ex.compute(tx(60, transaction_id="probe"))["tx_count_card_24h"] == 160.0


def test_snapshot_starts_the_executor_warm(store: StateStore) -> None:
    """Check that after loading a history snapshot the online features equal batch ones."""
    fs = default_feature_set()
    data = random_stream(11, 600).sort("timestamp")
    history, new = data.head(450), data.tail(150)
    store.load_snapshot(build_snapshot(fs, history))
    online = OnlineExecutor(fs, store).replay(new)
    assert mismatches(fs, compute_batch(fs, new, history=history), online) == []


def test_snapshot_keeps_keys_with_separator_characters(store: StateStore) -> None:
    """Check that ids holding the Redis store's separator characters load and read back."""
    fs = default_feature_set()
    data = (
        random_stream(12, 300)
        .sort("timestamp")
        .with_columns(
            pl.concat_str(pl.col("card_id"), pl.lit("\x1e\x1d")),
            pl.concat_str(pl.col("terminal_id"), pl.lit("\x1c")),
            pl.concat_str(pl.col("transaction_id"), pl.lit("\x1f\x1d")),
        )
    )
    history, new = data.head(200), data.tail(100)
    store.load_snapshot(build_snapshot(fs, history))
    ex = OnlineExecutor(fs, store)
    online = ex.replay(new)
    assert mismatches(fs, compute_batch(fs, new, history=history), online) == []
    frauds = history.filter(pl.col("is_fraud") == 1)["transaction_id"].to_list()
    assert frauds, "the stream must hold labelled transactions for the index check"
    known = history["timestamp"].max() + timedelta(days=30)
    assert all(ex.add_label(t, 0, known) for t in frauds[:3])


def test_clear_forgets_everything(store: StateStore) -> None:
    """Check that clear empties the plan's state."""
    ex = OnlineExecutor(CARD, store)
    ex.update(tx(0, merchant_id="M"))
    store.clear(ex.plan)
    assert ex.compute(tx(1, merchant_id="M", transaction_id="p"))["tx_count_card_2h"] == 0.0


def test_feature_sets_do_not_share_state(store: StateStore) -> None:
    """Check that two feature sets on one store keep separate state."""
    a = OnlineExecutor(FeatureSet((Feature("count", "card", window="1h"),)), store)
    b = OnlineExecutor(FeatureSet((Feature("count", "card", window="2h"),)), store)
    a.update(tx(0))
    assert b.compute(tx(1, transaction_id="p"))["tx_count_card_2h"] == 0.0


def test_missing_optional_keys_are_fine(store: StateStore) -> None:
    """Check that a transaction without device or location gets null for those features."""
    ex = OnlineExecutor(default_feature_set(), store)
    got = ex.compute_and_update(tx(0, terminal_id="T", merchant_id="M"))
    assert got["card_distinct_device_24h"] is None
    assert got["new_device_card"] is None
    assert got["km_from_prev_card"] is None
    assert got["tx_count_terminal_1d"] == 0.0


@pytest.mark.parametrize("rows", [frame([tx(0), tx(1)])])
def test_replay_keeps_row_order(store: StateStore, rows: object) -> None:
    """Check that replay returns one row per input row, in input order."""
    ex = OnlineExecutor(CARD, store)
    data = frame([tx(5, transaction_id="b"), tx(1, transaction_id="a")])
    out = ex.replay(data)
    assert out["transaction_id"].to_list() == ["b", "a"]
    assert out["tx_count_card_2h"].to_list() == [1.0, 0.0]
