"""What the online executor keeps per entity, derived from a feature set.

For each entity kind a set touches (card, merchant, terminal, device, ip, customer) an
:class:`EntitySpec` says which events to keep and for how long, which fields each event
carries, which quantities are kept as running (prefix) sums, which counts, window sums and
label ranges to read, and which last-seen facts to track. Stores execute these specs; the
feature math stays in :mod:`fraudwatch.features._online_math`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Final

from fraudwatch.errors import ConfigError
from fraudwatch.features._definitions import ENTITIES, Feature
from fraudwatch.features._featureset import FeatureSet

__all__ = ["NO_RESET", "EntitySpec", "StatePlan"]

NO_RESET: Final = 1 << 62
"""``age_reset_us`` of entities without an ``age`` feature (never reset)."""

_PAYLOAD_KINDS: Final = frozenset(
    {"sum", "mean", "ratio_to_mean", "zscore", "count_below", "distinct", "km_usual"}
)
_SUM_KINDS: Final = frozenset({"sum", "mean", "ratio_to_mean", "zscore", "count_below", "km_usual"})
_META_KINDS: Final = frozenset({"since_prev", "age", "km_prev", "speed_prev"})


@dataclass(frozen=True)
class EntitySpec:
    """The state kept for one entity kind.

    Attributes
    ----------
    entity:
        Entity name (``"card"``).
    column:
        Input column holding the key (``"card_id"``).
    fields:
        Value names stored with every event (``"merchant"``), for ``distinct`` features.
    event_window_us:
        Events with ``ts`` in ``(now - event_window_us, now]`` are returned with their fields
        (0: none are returned).
    sums:
        Quantities kept as running sums over the entity's events, in double-double
        precision (see :mod:`fraudwatch.features._dd`): ``"amount"``, ``"amount2"`` (its
        square), ``"count"`` (1 per event: a window's number of events), ``"located"`` (1
        for located events), ``"x"``/``"y"``/``"z"`` (unit vector of the location, 0 when
        not located) and ``"under:<threshold>"`` (1 for amounts under it).
    sum_windows:
        Windows (µs): for each, the running sums at the first event with ``ts > now - w`` are
        returned, so that window sums cost O(1) whatever the number of events.
    count_ranges:
        ``(a, b)`` pairs: the number of events with ``ts`` in ``(now - a, now - b]`` is returned.
    label_range:
        ``(a, b)``: fraud labels of events with ``ts`` in ``(now - a, now - b]`` are returned
        with the time they became known; ``None`` when the entity has no label feature.
    retention_us:
        Events (and labels) older than this are evicted.
    meta:
        Whether first-seen, last-seen and last-located facts are kept.
    seen:
        Value names whose last-seen time is kept per entity (novelty).
    horizon_us:
        How long last-seen facts are kept after the entity's last event.
    age_reset_us:
        A gap at least this long restarts the entity's first-seen time.
    """

    entity: str
    column: str
    fields: tuple[str, ...]
    event_window_us: int
    sums: tuple[str, ...]
    sum_windows: tuple[int, ...]
    count_ranges: tuple[tuple[int, int], ...]
    label_range: tuple[int, int] | None
    retention_us: int
    meta: bool
    seen: tuple[str, ...]
    horizon_us: int
    age_reset_us: int

    @property
    def labels(self) -> bool:
        """True when the entity keeps fraud labels."""
        return self.label_range is not None

    @property
    def needs_amount(self) -> bool:
        """True when a running sum reads the transaction's amount."""
        return any(n in ("amount", "amount2") or n.startswith("under:") for n in self.sums)


@dataclass(frozen=True)
class StatePlan:
    """The state specs of a feature set, in a fixed entity order."""

    specs: tuple[EntitySpec, ...]

    @cached_property
    def id(self) -> str:
        """A short hash of the specs; stores namespace their state with it."""
        canon = json.dumps([asdict(s) for s in self.specs], sort_keys=True)
        return hashlib.sha256(canon.encode()).hexdigest()[:12]

    @cached_property
    def label_retention_us(self) -> int:
        """How long transactions stay addressable by :meth:`add_label`."""
        return max((s.retention_us for s in self.specs if s.labels), default=0)

    def index(self, entity: str) -> int:
        """Position of ``entity``'s spec."""
        for i, spec in enumerate(self.specs):
            if spec.entity == entity:
                return i
        raise KeyError(entity)

    @classmethod
    def from_feature_set(cls, fs: FeatureSet) -> StatePlan:
        """Derive the specs of every entity the set aggregates over.

        Raises
        ------
        ConfigError
            Two ``age`` features of one entity have different horizons.
        """
        by_entity: dict[str, list[Feature]] = {}
        for feat in fs:
            if feat.entity is not None:
                by_entity.setdefault(feat.entity, []).append(feat)
        specs = [_spec(entity, by_entity[entity]) for entity in ENTITIES if entity in by_entity]
        return cls(tuple(specs))


def _spec(entity: str, feats: list[Feature]) -> EntitySpec:
    fields: list[str] = []
    event_window = 0
    sums: list[str] = []
    sum_windows: list[int] = []
    counts: list[tuple[int, int]] = []
    for f in feats:
        if f.kind == "distinct":
            event_window = max(event_window, f.window_us)
            fields.append(str(f.value))
        elif f.kind in _SUM_KINDS:
            sum_windows.append(f.window_us)
            sums.append("count")  # the window's number of events
            if f.kind in {"sum", "mean", "ratio_to_mean"}:
                sums.append("amount")
            elif f.kind == "zscore":
                sums += ["amount", "amount2"]
            elif f.kind == "count_below":
                sums.append(f"under:{f.threshold!r}")
            else:
                sums += ["located", "x", "y", "z"]
    for f in feats:
        if f.kind == "count" and not f.delay_us and f.window_us in sum_windows:
            continue  # read from the running count with the window's sums
        if f.kind in {"count", "fraud_rate"}:
            counts.append((f.window_us + f.delay_us, f.delay_us))
    label_feats = [f for f in feats if f.kind == "fraud_rate"]
    label_range = (
        (max(f.window_us + f.delay_us for f in label_feats), min(f.delay_us for f in label_feats))
        if label_feats
        else None
    )
    windowed = [f.window_us + f.delay_us for f in feats if f.kind in _PAYLOAD_KINDS | {"count"}]
    windowed += [f.window_us + f.delay_us for f in label_feats]
    ages = {f.window_us for f in feats if f.kind == "age"}
    if len(ages) > 1:
        raise ConfigError(f"entity {entity!r} has 'age' features with different horizons; keep one")
    horizons = [f.window_us for f in feats if f.kind in _META_KINDS | {"novel"}]
    seen = tuple(dict.fromkeys(str(f.value) for f in feats if f.kind == "novel"))
    return EntitySpec(
        entity=entity,
        column=ENTITIES[entity],
        fields=tuple(dict.fromkeys(fields)),
        event_window_us=event_window,
        sums=tuple(dict.fromkeys(sums)),
        sum_windows=tuple(sorted(set(sum_windows))),
        count_ranges=tuple(dict.fromkeys(counts)),
        label_range=label_range,
        retention_us=max(windowed, default=0),
        meta=any(f.kind in _META_KINDS for f in feats),
        seen=seen,
        horizon_us=max(horizons, default=0),
        age_reset_us=ages.pop() if ages else NO_RESET,
    )
