"""The in-process store's internals: the transaction index and the window position hints."""

from __future__ import annotations

import itertools
from array import array
from bisect import bisect_right
from datetime import timedelta
from types import SimpleNamespace

from feat_streams import T0, tx
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudwatch.features import Feature, FeatureSet, MemoryStateStore, OnlineExecutor
from fraudwatch.features.state._memory import _positions, _TxIndex

RATE = FeatureSet((Feature("fraud_rate", "terminal", window="1d", delay="1d"),))


def test_index_stays_bounded_and_keeps_every_live_entry() -> None:
    """Check that expired ids go (a bounded backlog) while no live id is dropped early."""
    index, keep = _TxIndex(), 500
    for t in range(20_000):
        index.put(f"t{t}", (t, ("k",)), t - keep)
    assert len(index) <= keep + 2 * _TxIndex.SHARDS
    assert all(index.get(f"t{t}") == (t, ("k",)) for t in range(20_000 - keep, 20_000))
    assert sum(index.get(f"t{t}") is not None for t in range(10_000)) == 0


def test_rewritten_id_keeps_its_newest_entry() -> None:
    """Check that the stale queue copy of an id written again neither drops nor blocks it."""
    index = _TxIndex()
    index.put("a", (0, ("old",)))
    index.put("a", (100, ("new",)))
    for t in range(1, 3_000):  # every shard swept many times past ts 0, none past 100
        index.put(f"t{t}", (60, ("k",)), 50)
    assert index.get("a") == (100, ("new",))
    for t in range(3_000, 6_000):
        index.put(f"t{t}", (200, ("k",)), 150)
    assert index.get("a") is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 50)), min_size=1, max_size=200)
)
def test_index_matches_a_dict_of_latest_entries(ops: list[tuple[str, int]]) -> None:
    """Check, on random writes and rewrites, that a held entry is always the id's latest."""
    index, latest = _TxIndex(), {}
    now = 0
    for i, (tx_id, step) in enumerate(ops):
        now += step
        entry = (now, (str(i),))
        index.put(tx_id, entry, now - 60)
        latest[tx_id] = entry
        for other, want in latest.items():
            got = index.get(other)
            assert got is None or got == want
            if want[0] > now - 60:
                assert got == want  # never dropped while inside the retention


def test_label_for_a_transaction_past_retention_is_ignored() -> None:
    """Check that the store forgets a transaction once labels for it can no longer count."""
    store = MemoryStateStore()
    ex = OnlineExecutor(RATE, store)
    ex.update(tx(0, terminal_id="T", transaction_id="a"))
    assert ex.add_label("a", 1, T0 + timedelta(hours=1)) is True
    retention_min = ex.plan.label_retention_us // 60_000_000
    for i in range(2_000):  # ids spread over every shard, all later than the retention
        ex.update(tx(retention_min + 60 + i, terminal_id="U", transaction_id=f"b{i}"))
    assert ex.add_label("a", 1, T0 + timedelta(hours=2)) is False


@settings(max_examples=200, deadline=None)
@given(
    times=st.lists(st.integers(0, 60), min_size=0, max_size=40),
    now=st.integers(-5, 70),
    gaps=st.lists(st.integers(1, 30), min_size=1, max_size=5),
    hints=st.lists(st.integers(-10, 50), min_size=6, max_size=6),
    dropped=st.integers(0, 20),
)
def test_position_hints_give_the_bisection(
    times: list[int], now: int, gaps: list[int], hints: list[int], dropped: int
) -> None:
    """Check that walking from any hint (stale, far off, out of range) finds what bisect does."""
    ts = array("q", sorted(times))
    offsets = (0, *itertools.accumulate(gaps))
    hi = bisect_right(ts, now)
    ent = SimpleNamespace(hints=array("q", hints[: len(offsets)]), dropped=dropped)
    expected = [hi]
    for o in offsets[1:]:
        expected.append(bisect_right(ts, now - o, 0, expected[-1]))
    assert _positions(ent, ts, now, hi, offsets) == expected  # type: ignore[arg-type]
    assert _positions(ent, ts, now, hi, offsets) == expected  # from the hints just kept
