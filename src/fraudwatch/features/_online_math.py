"""The online feature math: features of one transaction from its entities' states.

This is the only online implementation of each feature kind, shared by every state store
(the store returns events and last-seen facts; the code here turns them into features). The
parity tests prove it equal to the batch executor in :mod:`fraudwatch.features._batch`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, cast

from fraudwatch.errors import FeatureError
from fraudwatch.features._dd import event_values, m2_from_sums, window, window_value
from fraudwatch.features._definitions import (
    MIN_SPEED_HOURS,
    NIGHT_LAST_HOUR,
    STD_FLOOR,
    VALUES,
    Feature,
)
from fraudwatch.features._featureset import FeatureSet
from fraudwatch.features._geo import haversine_km, km_to_centroid, unit_vector
from fraudwatch.features._plan import EntitySpec, StatePlan
from fraudwatch.features._validate import ip_prefix
from fraudwatch.features.state._base import EntityRequest, States

__all__ = ["Job", "Tx", "Value", "compile_jobs", "request_builder", "run_jobs", "value_names"]


Value = float | str | None
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 86_400_000_000


class Tx:
    """A transaction's fields, checked and converted once.

    ``names`` are the values the state plan stores or tracks (value names such as
    ``merchant``); they are resolved up front into :attr:`values`.
    """

    __slots__ = ("amount", "lat", "lon", "now", "raw", "tx_id", "unit", "values")

    def __init__(self, tx: Mapping[str, Any], names: tuple[str, ...] = ()) -> None:
        tx_id = tx.get("transaction_id")
        if tx_id is None or tx_id == "":
            raise FeatureError("the transaction has no transaction_id; every event needs one")
        self.tx_id = str(tx_id)
        ts = tx.get("timestamp")
        if not isinstance(ts, datetime):
            raise FeatureError(
                f"transaction {self.tx_id!r}: timestamp must be a timezone-aware datetime; "
                f"got {type(ts).__name__}"
            )
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise FeatureError(
                f"transaction {self.tx_id!r}: timestamp {ts.isoformat()} has no time zone; "
                "attach one (e.g. tzinfo=datetime.UTC)"
            )
        self.now = (ts - _EPOCH) // _ONE_US
        amount = tx.get("amount")
        if amount is not None:
            try:
                amount = float(amount)
            except (TypeError, ValueError):
                raise FeatureError(
                    f"transaction {self.tx_id!r}: amount {amount!r} is not a number"
                ) from None
            if not math.isfinite(amount) or amount < 0:
                raise FeatureError(
                    f"transaction {self.tx_id!r}: amount {amount!r} must be finite and >= 0"
                )
        self.amount: float | None = amount
        lat, lon = tx.get("latitude"), tx.get("longitude")
        self.lat: float | None = None
        self.lon: float | None = None
        self.unit: tuple[float, float, float] | None = None
        if lat is not None and lon is not None:
            la, lo = float(lat), float(lon)
            if math.isnan(la) or math.isnan(lo) or abs(la) > 90 or abs(lo) > 180:
                raise FeatureError(
                    f"transaction {self.tx_id!r}: coordinates ({lat}, {lon}) are out of range; "
                    "fix them or send null"
                )
            self.lat, self.lon = la, lo
            self.unit = unit_vector(la, lo)
        self.raw = tx
        self.values: dict[str, str | None] = {}
        for name in names:
            self.values[name] = self._resolve(name)

    def text(self, column: str) -> str | None:
        value = self.raw.get(column)
        if value is None or value == "":
            return None
        return str(value)

    def _resolve(self, name: str) -> str | None:
        if name == "ip_prefix":
            ip = self.text("ip_address")
            return ip_prefix(ip) if ip is not None else None
        return self.text(VALUES.get(name, name))

    def value(self, name: str) -> str | None:
        """The text value ``name`` (a :data:`VALUES` name, ``ip_prefix`` or a column)."""
        values = self.values
        if name not in values:
            values[name] = self._resolve(name)
        return values[name]


class _Call:
    """One computation: the transaction, its entity states and the output being filled."""

    __slots__ = ("now", "out", "states", "tx")

    def __init__(self, tx: Tx, states: States, out: dict[str, Value]) -> None:
        self.tx = tx
        self.now = tx.now
        self.states = states
        self.out = out


Job = Callable[[_Call], None]
_GEO_PREV = frozenset({"km_prev", "speed_prev"})


def _window_job(si: int, spec: EntitySpec, w: int, feats: list[Feature]) -> Job:
    """All payload features of one entity and one window.

    Sums come from the store's running sums (two prefixes per window, O(1) whatever the
    number of events); ``distinct`` counts the values of the window's returned events.
    """
    counts = [f.name for f in feats if f.kind == "count"]
    sums = [f.name for f in feats if f.kind == "sum"]
    means = [f.name for f in feats if f.kind == "mean"]
    ratios = [f.name for f in feats if f.kind == "ratio_to_mean"]
    zscores = [f.name for f in feats if f.kind == "zscore"]
    belows = [
        (f.name, spec.sums.index(f"under:{f.threshold!r}"))
        for f in feats
        if f.kind == "count_below"
    ]
    distincts = [
        (f.name, spec.fields.index(cast(str, f.value))) for f in feats if f.kind == "distinct"
    ]
    usuals = [f.name for f in feats if f.kind == "km_usual"]
    names = [f.name for f in feats]
    need_total = bool(sums or means or ratios or zscores)
    has_sums = need_total or bool(belows or usuals or counts)
    # positions in the store's answer: the window's running sums, and the count among them
    wi = 1 + spec.sum_windows.index(w) if has_sums else -1
    kc = spec.sums.index("count") if has_sums else -1
    ka = 2 * spec.sums.index("amount") if need_total else -1
    k2 = 2 * spec.sums.index("amount2") if zscores else -1
    kl = spec.sums.index("located") if usuals else -1
    kx, ky, kz = (spec.sums.index(n) for n in ("x", "y", "z")) if usuals else (0, 0, 0)

    def job(c: _Call) -> None:
        out = c.out
        s = c.states[si]
        if s is None:
            for name in names:
                out[name] = None
            return
        if has_sums:
            end = s.sums[0]
            start = s.sums[wi]
            n = round(window_value(end, start, kc))
            for name in counts:
                out[name] = float(n)
            if need_total:
                hi1, lo1 = window(end[ka], end[ka + 1], start[ka], start[ka + 1])
                total = hi1 + lo1
                for name in sums:
                    out[name] = total
                mean = total / n if n else None
                for name in means:
                    out[name] = mean
                amount = c.tx.amount
                for name in ratios:
                    out[name] = amount / mean if mean and amount is not None else None
                if zscores:
                    z: float | None = None
                    if n >= 2 and amount is not None:
                        hi2, lo2 = window(end[k2], end[k2 + 1], start[k2], start[k2 + 1])
                        m2 = max(m2_from_sums(hi1, lo1, hi2, lo2, float(n)), 0.0)
                        std = math.sqrt(m2 / (n - 1))
                        z = (amount - total / n) / max(std, STD_FLOOR)
                    for name in zscores:
                        out[name] = z
            for name, kb in belows:
                out[name] = window_value(end, start, kb)
            if usuals:
                unit = c.tx.unit
                km: float | None = None
                if unit is not None:
                    km = km_to_centroid(
                        unit,
                        window_value(end, start, kx),
                        window_value(end, start, ky),
                        window_value(end, start, kz),
                        round(window_value(end, start, kl)),
                    )
                for name in usuals:
                    out[name] = km
        if distincts:
            lo = bisect_right(s.ts, c.now - w)
            for name, vi in distincts:
                values = set(s.cols[vi][lo:])
                values.discard(None)
                out[name] = float(len(values))

    return job


def _range_job(si: int, spec: EntitySpec, feats: list[Feature]) -> Job:
    """Counts over (possibly delayed) ranges and fraud rates of one entity."""
    counts = [
        (f.name, spec.count_ranges.index((f.window_us + f.delay_us, f.delay_us)))
        for f in feats
        if f.kind == "count"
    ]
    rates = [
        (
            f.name,
            spec.count_ranges.index((f.window_us + f.delay_us, f.delay_us)),
            f.window_us,
            f.delay_us,
        )
        for f in feats
        if f.kind == "fraud_rate"
    ]
    names = [f.name for f in feats]

    def job(c: _Call) -> None:
        out = c.out
        s = c.states[si]
        if s is None:
            for name in names:
                out[name] = None
            return
        got = s.counts
        for name, ci in counts:
            out[name] = float(got[ci])
        now = c.now
        frauds = s.frauds
        for name, ci, w, d in rates:
            n = got[ci]
            if not n:
                out[name] = None
            elif not frauds:
                out[name] = 0.0
            else:
                lo, hi = now - d - w, now - d
                out[name] = sum(1 for ts, known in frauds if lo < ts <= hi and known <= now) / n

    return job


def _last_seen_job(si: int, spec: EntitySpec, feats: list[Feature]) -> Job:
    """Features of an entity's last-seen facts: previous transaction, age, novelty."""
    reset = spec.age_reset_us
    novel = [
        (f.name, spec.seen.index(cast(str, f.value)), f.window_us, cast(str, f.value))
        for f in feats
        if f.kind == "novel"
    ]
    since = [(f.name, f.window_us) for f in feats if f.kind == "since_prev"]
    ages = [f.name for f in feats if f.kind == "age"]
    geo = [(f.name, f.window_us, f.kind == "speed_prev") for f in feats if f.kind in _GEO_PREV]
    names = [f.name for f in feats]

    def job(c: _Call) -> None:
        out = c.out
        s = c.states[si]
        if s is None:
            for name in names:
                out[name] = None
            return
        now = c.now
        tx = c.tx
        for name, ni, w, value in novel:
            if tx.value(value) is None:
                out[name] = None
            else:
                last = s.seen[ni]
                out[name] = 1.0 if last is None or now - last >= w else 0.0
        last_ts = s.last_ts
        gap = now - last_ts if last_ts is not None else -1
        for name, w in since:
            out[name] = gap / 1e6 if 0 <= gap < w else None
        for name in ages:
            if last_ts is None or s.first_seen is None or gap >= reset:
                out[name] = 0.0
            else:
                out[name] = max(now - s.first_seen, 0) / _US_PER_DAY
        if geo:
            loc = s.loc
            km: float | None = None
            loc_gap = -1
            if loc is not None and tx.lat is not None and tx.lon is not None:
                loc_gap = now - loc[0]
                km = haversine_km(loc[1], loc[2], tx.lat, tx.lon)
            for name, w, speed in geo:
                if km is None or not 0 <= loc_gap < w:
                    out[name] = None
                elif speed:
                    out[name] = km / max(loc_gap / _US_PER_HOUR, MIN_SPEED_HOURS)
                else:
                    out[name] = km

    return job


def _own_job(feats: list[Feature]) -> Job:
    """Features of the transaction alone: calendar, categories, values."""
    jobs = [(f.name, f.kind, f.value or "") for f in feats]

    def job(c: _Call) -> None:
        out = c.out
        now = c.now
        hour = (now // _US_PER_HOUR) % 24
        weekday = (now // _US_PER_DAY + 3) % 7
        tx = c.tx
        for name, kind, col in jobs:
            if kind == "hour":
                out[name] = float(hour)
            elif kind == "weekday":
                out[name] = float(weekday)
            elif kind == "night":
                out[name] = 1.0 if hour <= NIGHT_LAST_HOUR else 0.0
            elif kind == "weekend":
                out[name] = 1.0 if weekday >= 5 else 0.0
            elif kind == "category":
                out[name] = tx.text(col)
            elif col == "amount":
                out[name] = tx.amount
            else:
                out[name] = _number(tx.raw.get(col))

    return job


def compile_jobs(fs: FeatureSet, plan: StatePlan) -> list[Job]:
    """Group the set's features into jobs that share their inputs."""
    own: list[Feature] = []
    windows: dict[tuple[int, int], list[Feature]] = {}
    ranges: dict[int, list[Feature]] = {}
    last_seen: dict[int, list[Feature]] = {}
    for f in fs:
        if f.entity is None:
            own.append(f)
            continue
        si = plan.index(f.entity)
        spec = plan.specs[si]
        if f.kind == "fraud_rate" or (
            f.kind == "count" and (f.delay_us or f.window_us not in spec.sum_windows)
        ):
            ranges.setdefault(si, []).append(f)
        elif f.kind in {"since_prev", "age", "novel", "km_prev", "speed_prev"}:
            last_seen.setdefault(si, []).append(f)
        else:
            windows.setdefault((si, f.window_us), []).append(f)
    jobs: list[Job] = []
    for (si, w), feats in windows.items():
        jobs.append(_window_job(si, plan.specs[si], w, feats))
    for si, feats in ranges.items():
        jobs.append(_range_job(si, plan.specs[si], feats))
    for si, feats in last_seen.items():
        jobs.append(_last_seen_job(si, plan.specs[si], feats))
    if own:
        jobs.append(_own_job(own))
    return jobs


def _number(value: object) -> float | None:
    if value is None:
        return None
    x = float(cast(Any, value))
    return None if math.isnan(x) else x


_NO_ENTITY = EntityRequest(None)

_Getter = Callable[[dict[str, str | None]], tuple[str | None, ...]]


def _tuple_getter(names: tuple[str, ...]) -> _Getter:
    """``values -> tuple(values[n] for n in names)``, built in C where it can."""
    if not names:
        return lambda _values: ()
    if len(names) == 1:
        only = names[0]
        return lambda values: (values[only],)
    return cast(_Getter, itemgetter(*names))


def value_names(plan: StatePlan) -> tuple[str, ...]:
    """Every value the plan's entities store or track, for :class:`Tx` to resolve once."""
    return tuple(dict.fromkeys(n for spec in plan.specs for n in (*spec.fields, *spec.seen)))


def request_builder(spec: EntitySpec) -> Callable[[Tx], EntityRequest]:
    """A function building the request of one entity from a transaction.

    The transaction must have been built with :func:`value_names` of the plan.
    """
    column = spec.column
    required = column == "card_id"
    fields = _tuple_getter(spec.fields)
    seen = _tuple_getter(spec.seen)
    meta = spec.meta
    sums = spec.sums

    def build(tx: Tx) -> EntityRequest:
        key = tx.raw.get(column)
        if key is None or key == "":
            if required:
                raise FeatureError(f"transaction {tx.tx_id!r}: card_id is missing")
            return _NO_ENTITY
        if key.__class__ is not str:
            key = str(key)
        loc = (tx.lat, tx.lon) if meta and tx.lat is not None and tx.lon is not None else None
        values = tx.values
        return EntityRequest(
            key,
            fields(values),
            event_values(sums, tx.amount, tx.unit) if sums else (),
            seen(values),
            loc,
        )

    return build


def run_jobs(
    jobs: list[Job], template: dict[str, Value], tx: Tx, states: States
) -> dict[str, Value]:
    """Fill a copy of ``template`` (feature names in set order) from ``tx`` and ``states``."""
    out = template.copy()
    call = _Call(tx, states, out)
    for job in jobs:
        job(call)
    return out
