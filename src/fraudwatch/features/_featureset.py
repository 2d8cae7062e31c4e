"""An ordered, versioned, hashable list of features, and the default set."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

from fraudwatch.errors import ConfigError, FeatureError
from fraudwatch.features._definitions import Feature
from fraudwatch.features._durations import duration_text
from fraudwatch.schema.columns import COLUMNS

__all__ = ["DEFAULT_SET_VERSION", "FeatureSet", "default_feature_set"]

DEFAULT_SET_VERSION = "1"
_BASE_COLUMNS = ("transaction_id", "timestamp")
_NUMERIC_CANONICAL = {"amount", "latitude", "longitude"}
_CANONICAL = {c.name for c in COLUMNS}


@dataclass(frozen=True)
class FeatureSet:
    """An ordered, immutable list of features with a version and a content hash.

    Parameters
    ----------
    features:
        The declarations, in output order. Names must be unique.
    name:
        A short name (``"default"``).
    version:
        The set's version text; bump it when the list changes on purpose.

    Examples
    --------
    >>> fs = FeatureSet((Feature("count", "card", window="1h"), Feature("hour")))
    >>> fs.names
    ['tx_count_card_1h', 'hour_of_day']
    >>> FeatureSet.from_dict(fs.to_dict()).hash == fs.hash
    True
    """

    features: tuple[Feature, ...]
    name: str = "custom"
    version: str = "1"
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        feats = tuple(self.features)
        object.__setattr__(self, "features", feats)
        if not feats:
            raise ConfigError("a feature set needs at least one feature")
        index: dict[str, int] = {}
        for i, feat in enumerate(feats):
            if not isinstance(feat, Feature):
                raise ConfigError(f"feature set entries must be Feature objects; got {feat!r}")
            if feat.name in index:
                raise ConfigError(
                    f"feature {feat.name!r} appears twice in the set; remove the duplicate"
                )
            index[feat.name] = i
        object.__setattr__(self, "_index", index)

    # ----------------------------------------------------------------- the list
    @property
    def names(self) -> list[str]:
        """Feature names, in order."""
        return [f.name for f in self.features]

    @property
    def definitions(self) -> tuple[Feature, ...]:
        """The feature declarations, in order."""
        return self.features

    @property
    def categorical(self) -> list[str]:
        """Names of categorical features (output as String columns)."""
        return [f.name for f in self.features if f.categorical]

    @property
    def required_columns(self) -> list[str]:
        """Input columns needed to compute every feature of the set."""
        cols: dict[str, None] = dict.fromkeys(_BASE_COLUMNS)
        for feat in self.features:
            cols.update(dict.fromkeys(feat.required_columns))
        return list(cols)

    @cached_property
    def hash(self) -> str:
        """sha256 of the canonical JSON of the definitions (stable across processes)."""
        canon = json.dumps(
            [f.identity() for f in self.features], sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(canon.encode("utf-8")).hexdigest()

    @property
    def label_delay(self) -> timedelta | None:
        """The shortest delay of the set's label features, or ``None`` when it has none.

        In backtests a transaction's label becomes known this long after its timestamp; the
        online executor uses it for labels carried by replayed transactions.
        """
        delays = [f.delay_us for f in self.features if f.kind == "fraud_rate"]
        return timedelta(microseconds=min(delays)) if delays else None

    def feature(self, name: str) -> Feature:
        """The declaration of the feature called ``name``.

        Raises
        ------
        FeatureError
            No feature of the set has that name.
        """
        try:
            return self.features[self._index[name]]
        except KeyError:
            raise FeatureError(
                f"no feature named {name!r} in feature set {self.name!r} v{self.version}; "
                "see `fraudwatch features --list` for the names"
            ) from None

    def __len__(self) -> int:
        return len(self.features)

    def __iter__(self) -> Iterator[Feature]:
        return iter(self.features)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def phrase(self, name: str, value: object) -> str:
        """The human phrase for a value of feature ``name`` (used in explanations).

        Examples
        --------
        >>> default_feature_set().phrase("new_device_card", 1.0)
        'first time this card uses this device'
        """
        return self.feature(name).explain(value)

    # ----------------------------------------------------------------- derived sets
    def select(self, names: Sequence[str]) -> FeatureSet:
        """A set of the named features, in the given order."""
        return FeatureSet(tuple(self.feature(n) for n in names), self.name, self.version)

    def available_for(self, columns: Collection[str]) -> tuple[FeatureSet, list[tuple[str, str]]]:
        """The features computable from ``columns``, and the ``(feature, reason)`` left out.

        Raises
        ------
        FeatureError
            None of the features can be computed (e.g. ``transaction_id`` or ``timestamp``
            is missing).

        Examples
        --------
        >>> fs, dropped = default_feature_set().available_for(
        ...     ["transaction_id", "timestamp", "card_id", "amount", "terminal_id", "is_fraud"]
        ... )
        >>> "new_device_card" in fs, dropped[0][1].startswith("needs column")
        (False, True)
        """
        have = set(columns)
        keep: list[Feature] = []
        dropped: list[tuple[str, str]] = []
        base_missing = [c for c in _BASE_COLUMNS if c not in have]
        for feat in self.features:
            missing = base_missing + [c for c in feat.required_columns if c not in have]
            if missing:
                word = "column" if len(missing) == 1 else "columns"
                dropped.append((feat.name, f"needs {word} {', '.join(missing)}"))
            else:
                keep.append(feat)
        if not keep:
            raise FeatureError(
                f"no feature of set {self.name!r} can be computed from columns "
                f"{', '.join(sorted(have)) or '(none)'}; every feature needs transaction_id "
                "and timestamp, and most need card_id and amount"
            )
        return FeatureSet(tuple(keep), self.name, self.version), dropped

    def with_passthrough(self, columns: Sequence[str]) -> FeatureSet:
        """This set plus numeric input columns copied as features (e.g. ULB's ``V1..V28``).

        Raises
        ------
        ConfigError
            A column is a non-numeric canonical column or collides with a feature name.
        """
        extra: list[Feature] = []
        for col in columns:
            if col in _CANONICAL and col not in _NUMERIC_CANONICAL:
                raise ConfigError(
                    f"column {col!r} is a canonical non-numeric column and cannot be passed "
                    "through; pass numeric columns such as V1..V28"
                )
            if col in self._index:
                raise ConfigError(f"column {col!r} is already a feature of the set")
            extra.append(Feature("value", value=col))
        return FeatureSet(self.features + tuple(extra), self.name, self.version)

    # ----------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for model manifests); :meth:`from_dict` restores it."""
        return {
            "name": self.name,
            "version": self.version,
            "hash": self.hash,
            "features": [f.to_dict() for f in self.features],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSet:
        """Rebuild a set written by :meth:`to_dict`, checking its hash.

        Raises
        ------
        ConfigError
            The dict is malformed.
        FeatureError
            The recorded hash does not match the definitions (they were edited).
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("features"), list):
            raise ConfigError("a feature set must be a mapping with a 'features' list")
        fs = cls(
            tuple(Feature.from_dict(d) for d in data["features"]),
            str(data.get("name", "custom")),
            str(data.get("version", "1")),
        )
        recorded = data.get("hash")
        if recorded is not None and recorded != fs.hash:
            raise FeatureError(
                f"feature set hash mismatch: recorded {recorded}, definitions give {fs.hash}; "
                "the definitions were edited after the hash was recorded. Rebuild the set "
                "(and retrain the model) instead of editing it by hand"
            )
        return fs


def default_feature_set(label_delay: timedelta = timedelta(days=7)) -> FeatureSet:
    """The default feature set (see docs/features.md for every feature).

    Parameters
    ----------
    label_delay:
        How long after a transaction its label is known; the merchant and terminal fraud
        rates are shifted back by this much.

    Examples
    --------
    >>> fs = default_feature_set()
    >>> "amount_sum_card_24h" in fs and "fraud_rate_terminal_7d_delay7d" in fs
    True
    """
    delay = duration_text(label_delay)
    feats: list[Feature] = [Feature("value", value="amount")]
    for w in ("1h", "24h", "7d", "30d"):
        feats += [
            Feature("count", "card", window=w),
            Feature("sum", "card", "amount", w),
            Feature("mean", "card", "amount", w),
        ]
    feats += [
        Feature("ratio_to_mean", "card", "amount", "30d"),
        Feature("zscore", "card", "amount", "30d"),
        Feature("since_prev", "card", window="365d"),
        Feature("distinct", "card", "merchant", "1h"),
        Feature("distinct", "card", "merchant", "24h"),
        Feature("count_below", "card", "amount", "1h", threshold=5.0),
        Feature("age", "card", window="365d"),
        Feature("novel", "card", "merchant", "365d"),
        Feature("novel", "card", "device", "365d"),
        Feature("novel", "card", "ip_prefix", "365d"),
        Feature("novel", "card", "country", "365d"),
        Feature("km_prev", "card", window="365d"),
        Feature("speed_prev", "card", window="365d"),
        Feature("km_usual", "card", window="30d"),
    ]
    for entity in ("merchant", "terminal"):
        feats += [Feature("count", entity, window=w) for w in ("1d", "7d", "30d")]
        feats += [Feature("fraud_rate", entity, window=w, delay=delay) for w in ("1d", "7d", "30d")]
    feats += [
        Feature("distinct", "device", "card", "24h"),
        Feature("distinct", "ip", "card", "24h"),
        Feature("hour"),
        Feature("weekday"),
        Feature("night"),
        Feature("weekend"),
        Feature("category", value="channel"),
        Feature("category", value="merchant_category"),
    ]
    return FeatureSet(tuple(feats), "default", DEFAULT_SET_VERSION)
