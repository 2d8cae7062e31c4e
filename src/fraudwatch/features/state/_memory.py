"""The in-process state store (the default): arrays, lists and dicts behind one lock.

Events of an entity are kept in time order in parallel arrays, so a window is found with
:func:`bisect.bisect_right`. Beside each event sits the entity's running sums *before* it (a
double-double prefix, :mod:`fraudwatch.features._dd`), and one more row holds the sums after
its latest event, so a window's sums are read at two positions whatever its length. Memory
stays bounded: an entity's events older than its spec's retention are dropped whenever it is
written, and an entity whose last event is older than both its retention and its horizon is
dropped altogether (entities sit in an :class:`~collections.OrderedDict` by last activity;
every write drops up to two expired ones from its front, so expiry is O(1) per write, with
no bursts). The transaction index, for labels that arrive later, is a :class:`_TxIndex`.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_right, insort
from collections import OrderedDict, deque
from collections.abc import Sequence
from operator import itemgetter
from typing import TYPE_CHECKING

from fraudwatch.features._dd import dd_add, zero_prefix
from fraudwatch.features._plan import EntitySpec, StatePlan
from fraudwatch.features.state._base import EntityRequest, EntityState, Field, States, TxRequest

if TYPE_CHECKING:
    from fraudwatch.features.state._snapshot import StateSnapshot

__all__ = ["MemoryStateStore"]

_TS = itemgetter(0)
_NO_SUMS = array("d")


class _Entity:
    __slots__ = (
        "active",
        "cols",
        "dropped",
        "first",
        "frauds",
        "hints",
        "last",
        "loc",
        "pre",
        "seen",
        "seen_sizes",
        "ts",
    )

    def __init__(self, spec: EntitySpec, offsets: int) -> None:
        # contiguous machine arrays, not lists of boxed numbers: a read touches fewer cache
        # lines (the state of a busy service is far larger than the CPU caches)
        self.ts = array("q")
        # Where each read offset's window started last time, as positions counted from the
        # entity's first event ever (``dropped`` events have been cut from the front since):
        # a hint, checked and walked a step or two, instead of a bisection per offset.
        # A machine array, not a list: a list of positions is a list of boxed ints, each
        # one more object (one more cache miss) on every read of an entity gone cold.
        self.hints = array("q", bytes(8 * offsets))
        self.dropped = 0
        # Few containers per entity: every list, array and dict holder is an object the
        # garbage collector walks on each full collection, and a service holds tens of
        # thousands of entities. A tuple of ints (the sizes) drops out of the collector's
        # sight after its first collection; a tuple of dicts stays, but as one object.
        self.cols: tuple[list[Field], ...] = tuple([] for _ in spec.fields)
        # running sums before each event, one row of 2 * len(sums) per event, then one last
        # row: the sums after the latest event (so a window's sums are always one row of
        # this array); shared and never written for a spec without sums
        self.pre = array("d", zero_prefix(spec.sums)) if spec.sums else _NO_SUMS
        self.first: int | None = None
        self.last: int | None = None
        self.loc: tuple[int, float, float] | None = None
        self.seen: tuple[dict[str, int], ...] = tuple({} for _ in spec.seen)
        self.seen_sizes: tuple[int, ...] = (0,) * len(spec.seen)
        # (event ts, tx id, known at), sorted; None until the entity's first fraud label
        self.frauds: list[tuple[int, str, int]] | None = None
        self.active = -(1 << 62)


class _Reads:
    """Where one spec's reads look: each distinct time offset is bisected once.

    ``offsets`` are sorted and start with 0 (``now`` itself); counts are differences of two
    offsets' positions, window sums read the prefixes at ``sums``' offsets and returned
    events start at ``events``' offset. ``width`` is the length of one event's row of running
    sums (0: the spec keeps none).
    """

    __slots__ = ("events", "offsets", "pairs", "sums", "width")

    def __init__(self, spec: EntitySpec) -> None:
        wanted = {0, spec.event_window_us, *spec.sum_windows}
        wanted.update(o for r in spec.count_ranges for o in r)
        self.offsets = tuple(sorted(wanted))
        self.pairs = tuple(
            (self.offsets.index(a), self.offsets.index(b)) for a, b in spec.count_ranges
        )
        self.sums = tuple(self.offsets.index(w) for w in spec.sum_windows)
        self.events = self.offsets.index(spec.event_window_us) if spec.event_window_us else -1
        self.width = 2 * len(spec.sums)


_IndexEntry = tuple[int, tuple[str | None, ...]]  # (event ts, entity key per spec)


class _TxIndex:
    """Transaction id -> (ts, entity keys), for labels; entries expire oldest first.

    The ids are spread over :attr:`SHARDS` plain dicts, each with a queue of its ids in
    insertion order (the expiry order). CPython rebuilds a dict whole now and then as ids
    come and go; with one ordered dict for the ~700,000 ids of a 40-day snapshot that rebuild
    stopped one write for 57-74 ms. A shard of plain dict rebuilds in 0.3-0.6 ms (an ordered
    dict's node table made it ~1 ms), about once per ``len / SHARDS`` writes to it: the
    same work in pieces too small to stall a request.
    """

    SHARDS = 64
    __slots__ = ("maps", "queues")

    def __init__(self) -> None:
        self.maps: list[dict[str, _IndexEntry]] = [{} for _ in range(self.SHARDS)]
        self.queues: list[deque[str]] = [deque() for _ in range(self.SHARDS)]

    def get(self, tx_id: str) -> _IndexEntry | None:
        """The entry of ``tx_id``, if held."""
        return self.maps[hash(tx_id) & (self.SHARDS - 1)].get(tx_id)

    def put(self, tx_id: str, entry: _IndexEntry, expire_before: int | None = None) -> None:
        """Hold ``entry`` for ``tx_id`` (replacing any), then drop up to :data:`_SWEEP` of
        the shard's oldest entries whose time is ``<= expire_before``."""
        shard = hash(tx_id) & (self.SHARDS - 1)
        held, queue = self.maps[shard], self.queues[shard]
        held[tx_id] = entry
        queue.append(tx_id)
        if expire_before is None:
            return
        for _ in range(_SWEEP):
            if not queue:
                return
            oldest = held.get(queue[0])
            if oldest is not None:
                if oldest[0] > expire_before:
                    return
                del held[queue[0]]
            queue.popleft()  # expired, or a stale copy of an id written again

    def __len__(self) -> int:
        return sum(len(m) for m in self.maps)


class _PlanState:
    __slots__ = ("entities", "expire_after", "index", "reads")

    def __init__(self, plan: StatePlan) -> None:
        self.entities: list[OrderedDict[str, _Entity]] = [OrderedDict() for _ in plan.specs]
        self.expire_after = [max(s.retention_us, s.horizon_us) for s in plan.specs]
        self.reads = [_Reads(spec) for spec in plan.specs]
        self.index = _TxIndex()


class MemoryStateStore:
    """Entity state in this process, safe for concurrent threads.

    Examples
    --------
    >>> from fraudwatch.features import OnlineExecutor, default_feature_set
    >>> ex = OnlineExecutor(default_feature_set(), MemoryStateStore())
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plans: dict[str, _PlanState] = {}

    def _state(self, plan: StatePlan) -> _PlanState:
        pid = plan.id
        st = self._plans.get(pid)
        if st is None:
            st = self._plans[pid] = _PlanState(plan)
        return st

    # ------------------------------------------------------------------ contract
    def execute(self, plan: StatePlan, requests: Sequence[TxRequest]) -> list[States | None]:
        """Apply ``requests`` in order, each atomically; return each one's read."""
        out: list[States | None] = []
        with self._lock:
            st = self._state(plan)
            for req in requests:
                out.append(self._read(plan, st, req) if req.read else None)
                if req.write:
                    self._write(plan, st, req)
        return out

    def add_label(self, plan: StatePlan, transaction_id: str, label: int, known_at: int) -> bool:
        """Record a label for a transaction seen within the label retention."""
        with self._lock:
            st = self._state(plan)
            entry = st.index.get(transaction_id)
            if entry is None:
                return False
            ts, keys = entry
            for spec, ents, key in zip(plan.specs, st.entities, keys, strict=True):
                if key is None or not spec.labels:
                    continue
                ent = ents.get(key)
                if ent is not None:
                    _set_label(ent, ts, transaction_id, label, known_at)
            return True

    def load_snapshot(self, snapshot: StateSnapshot) -> None:
        """Replace the snapshot's plan state by the snapshot's content."""
        plan = snapshot.plan
        with self._lock:
            st = self._plans[plan.id] = _PlanState(plan)
            for i, spec in enumerate(plan.specs):
                ents = st.entities[i]
                n_offsets = len(st.reads[i].offsets)

                def get(
                    key: str,
                    spec: EntitySpec = spec,
                    ents: OrderedDict[str, _Entity] = ents,
                    n_offsets: int = n_offsets,
                ) -> _Entity:
                    ent = ents.get(key)
                    if ent is None:
                        ent = ents[key] = _Entity(spec, n_offsets)
                    return ent

                totals: dict[str, Sequence[float]] = {}
                for key, ts, fields, before, after in snapshot.iter_events(i):
                    ent = get(key)
                    ent.ts.append(ts)
                    for col, value in zip(ent.cols, fields, strict=True):
                        col.append(value)
                    if spec.sums:
                        if key not in totals:
                            del ent.pre[:]  # the zero row of a new entity
                        ent.pre.extend(before)
                        totals[key] = after
                    ent.active = max(ent.active, ts)
                for key, final in totals.items():
                    ents[key].pre.extend(final)  # the row after the latest event
                for key, first, last, loc in snapshot.iter_meta(i):
                    ent = get(key)
                    ent.first, ent.last, ent.loc = first, last, loc
                    ent.active = max(ent.active, last)
                for key, j, value, ts in snapshot.iter_seen(i):
                    ent = get(key)
                    ent.seen[j][value] = ts
                    ent.active = max(ent.active, ts)
                for key, tx_id, ts, known in snapshot.iter_frauds(i):
                    insort(_frauds(get(key)), (ts, tx_id, known))
                # order entities by last activity so expiry pops the oldest first
                for key in sorted(ents, key=lambda k: ents[k].active):
                    ents.move_to_end(key)
            for tx_id, ts, keys in snapshot.iter_index():
                st.index.put(tx_id, (ts, keys))

    def clear(self, plan: StatePlan) -> None:
        """Forget all state of ``plan``."""
        with self._lock:
            self._plans.pop(plan.id, None)

    def close(self) -> None:
        """Nothing to release."""

    # ------------------------------------------------------------------ inspection
    def entity_count(self, plan: StatePlan) -> int:
        """Number of entities currently held for ``plan`` (for memory checks)."""
        with self._lock:
            return sum(len(e) for e in self._state(plan).entities)

    def event_count(self, plan: StatePlan) -> int:
        """Number of events currently held for ``plan``."""
        with self._lock:
            return sum(len(ent.ts) for ents in self._state(plan).entities for ent in ents.values())

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _read(plan: StatePlan, st: _PlanState, req: TxRequest) -> States:
        now = req.now
        states: States = []
        for spec, ents, er, rd in zip(plan.specs, st.entities, req.entities, st.reads, strict=True):
            if er.key is None:
                states.append(None)
                continue
            ent = ents.get(er.key)
            if ent is None:
                states.append(_empty_state(spec))
                continue
            ts = ent.ts
            size = len(ts)
            hi = size if not size or ts[-1] <= now else bisect_right(ts, now)
            # position of the first event after now - offset, for each offset (ascending)
            at = _positions(ent, ts, now, hi, rd.offsets)
            ev_ts: Sequence[int] = ()
            if rd.events >= 0:
                lo = at[rd.events]
                ev_ts = ts[lo:hi]
                cols = [c[lo:hi] for c in ent.cols]
            else:
                cols = [[] for _ in spec.fields]
            sums: list[Sequence[float]] = []
            if spec.sums:
                pre, width = ent.pre, rd.width
                sums.append(pre[hi * width : (hi + 1) * width])
                for j in rd.sums:
                    k = at[j]
                    sums.append(pre[k * width : (k + 1) * width])
            counts = [at[b] - at[a] for a, b in rd.pairs]
            frauds: list[tuple[int, int]] = []
            if ent.frauds and spec.label_range is not None:
                a, b = spec.label_range
                flo = bisect_right(ent.frauds, now - a, key=_TS)
                fhi = bisect_right(ent.frauds, now - b, key=_TS)
                if fhi > flo:
                    frauds = [(f[0], f[2]) for f in ent.frauds[flo:fhi]]
            seen = (
                [
                    d.get(v) if v is not None else None
                    for d, v in zip(ent.seen, er.seen, strict=True)
                ]
                if er.seen
                else []
            )
            states.append(
                EntityState(ev_ts, cols, sums, counts, frauds, ent.first, ent.last, ent.loc, seen)
            )
        return states

    @staticmethod
    def _write(plan: StatePlan, st: _PlanState, req: TxRequest) -> None:
        now = req.now
        keys: list[str | None] = []
        for i, (spec, ents, er) in enumerate(
            zip(plan.specs, st.entities, req.entities, strict=True)
        ):
            keys.append(er.key if spec.labels else None)
            if er.key is None:
                continue
            ent = ents.get(er.key)
            if ent is None:
                ent = ents[er.key] = _Entity(spec, len(st.reads[i].offsets))
            if spec.retention_us:
                ts = ent.ts
                if not ts or ts[-1] <= now:
                    ts.append(now)
                    for col, value in zip(ent.cols, er.fields, strict=True):
                        col.append(value)
                    if spec.sums:
                        pre = ent.pre  # its last row: the sums after the latest event
                        pre.extend(dd_add(pre[-st.reads[i].width :], er.sums))
                else:
                    _insert(ent, bisect_right(ts, now), now, er, st.reads[i].width)
                cut = now - spec.retention_us
                if ts[0] <= cut:
                    k = bisect_right(ts, cut)
                    del ts[:k]
                    ent.dropped += k
                    for col in ent.cols:
                        del col[:k]
                    if spec.sums:
                        del ent.pre[: k * st.reads[i].width]
                if ent.frauds and ent.frauds[0][0] <= cut:
                    del ent.frauds[: bisect_right(ent.frauds, cut, key=_TS)]
            if spec.meta:
                if (
                    ent.last is None
                    or now - ent.last >= spec.age_reset_us
                    or (ent.first is not None and now < ent.first)
                ):
                    ent.first = now
                if ent.last is None or now >= ent.last:
                    ent.last = now
                if er.location is not None and (ent.loc is None or now >= ent.loc[0]):
                    ent.loc = (now, er.location[0], er.location[1])
            if spec.seen:
                horizon_cut = now - spec.horizon_us
                for j, value in enumerate(er.seen):
                    if value is None:
                        continue
                    d = ent.seen[j]
                    if d.get(value, -(1 << 62)) < now:
                        d[value] = now
                    if len(d) > 2 * ent.seen_sizes[j] + 8:
                        for v in [v for v, t in d.items() if t <= horizon_cut]:
                            del d[v]
                        sizes = ent.seen_sizes
                        ent.seen_sizes = (*sizes[:j], len(d), *sizes[j + 1 :])
            if req.label == 1 and spec.labels:
                _set_label(ent, now, req.tx_id, 1, req.label_known_at)
            if now > ent.active:
                ent.active = now
            ents.move_to_end(er.key)
            _expire(ents, now - st.expire_after[i])
        if plan.label_retention_us:
            st.index.put(req.tx_id, (now, tuple(keys)), now - plan.label_retention_us)


_SWEEP = 2
"""Expired entries dropped per write at most: more than a write adds, so a backlog drains,
and a bounded cost on every write instead of a burst every few writes (the tail latency)."""


def _expire(entities: OrderedDict[str, _Entity], limit: int) -> None:
    """Drop up to :data:`_SWEEP` of the oldest ``entities`` last active ``<= limit``.

    ``entities`` are kept in order of last activity (the latest moved to the end).
    """
    for _ in range(_SWEEP):
        if not entities:
            return
        oldest = next(iter(entities))
        if entities[oldest].active > limit:
            return
        del entities[oldest]


_WALK = 4
"""Steps a position hint may be walked before a bisection takes over."""


def _positions(
    ent: _Entity, ts: array[int], now: int, hi: int, offsets: tuple[int, ...]
) -> list[int]:
    """``bisect_right(ts, now - o, 0, previous)`` for each offset ``o`` after the first.

    ``offsets`` ascend from 0, so each position is at most the one before it (``hi`` for
    offset 0). Between two reads of an entity a window's start moves by an event or two, so
    the position found last time (kept in ``ent.hints``) is checked against its neighbours
    and walked; a hint that is off by more than :data:`_WALK` steps (a late event, a long
    pause) falls back to the bisection. The result is the bisection's either way.
    """
    at = [hi]
    hints = ent.hints
    base = ent.dropped
    prev = hi
    for j in range(1, len(offsets)):
        target = now - offsets[j]
        p = hints[j] - base
        if 0 <= p <= prev:
            steps = 0
            while p < prev and ts[p] <= target and steps < _WALK:
                p += 1
                steps += 1
            while p > 0 and ts[p - 1] > target and steps < _WALK:
                p -= 1
                steps += 1
            if steps == _WALK:
                p = bisect_right(ts, target, 0, prev)
        else:
            p = bisect_right(ts, target, 0, prev)
        hints[j] = p + base
        at.append(p)
        prev = p
    return at


def _empty_state(spec: EntitySpec) -> EntityState:
    """The state of an entity without any event."""
    zero = zero_prefix(spec.sums)
    return EntityState(
        cols=[[] for _ in spec.fields],
        sums=[zero] * (1 + len(spec.sum_windows)) if spec.sums else [],
        counts=[0] * len(spec.count_ranges),
        seen=[None] * len(spec.seen),
    )


def _insert(ent: _Entity, pos: int, now: int, er: EntityRequest, width: int) -> None:
    """Insert a late event at ``pos``: every later event's running sums now include it.

    ``width`` is the length of one row of running sums (0: the entity keeps none).
    """
    ent.ts.insert(pos, now)
    for col, value in zip(ent.cols, er.fields, strict=True):
        col.insert(pos, value)
    if width:
        pre, values = ent.pre, er.sums
        at = pos * width
        pre[at:at] = pre[at : at + width]  # the new event sees what the next one saw
        for j in range(at + width, len(pre), width):  # the last row too: the sums after all
            pre[j : j + width] = array("d", dd_add(pre[j : j + width], values))


def _frauds(ent: _Entity) -> list[tuple[int, str, int]]:
    """The entity's fraud labels, created on first use."""
    if ent.frauds is None:
        ent.frauds = []
    return ent.frauds


def _set_label(ent: _Entity, ts: int, tx_id: str, label: int, known_at: int) -> None:
    if ent.frauds is None and label != 1:
        return
    frauds = _frauds(ent)
    lo = bisect_right(frauds, ts - 1, key=_TS)
    hi = bisect_right(frauds, ts, key=_TS)
    for i in range(lo, hi):
        if frauds[i][1] == tx_id:
            del frauds[i]
            break
    if label == 1:
        insort(frauds, (ts, tx_id, known_at))
