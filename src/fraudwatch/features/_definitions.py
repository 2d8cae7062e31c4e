"""One feature, declared once: what it aggregates, over which entity and window, and how to say it.

A :class:`Feature` is a small frozen value. Its name, the input columns it needs and the
human phrase used in explanations all derive from the declaration; both executors (batch and
online) read the same declaration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Final, Literal, cast, get_args

from fraudwatch.errors import ConfigError
from fraudwatch.features._durations import (
    US_PER_SECOND,
    duration_text,
    duration_us,
    duration_words,
    parse_duration,
)

__all__ = [
    "DEFAULT_HORIZON",
    "ENTITIES",
    "KINDS",
    "VALUES",
    "Feature",
    "Kind",
]

Kind = Literal[
    "count",
    "sum",
    "mean",
    "ratio_to_mean",
    "zscore",
    "count_below",
    "distinct",
    "since_prev",
    "age",
    "novel",
    "km_prev",
    "speed_prev",
    "km_usual",
    "fraud_rate",
    "hour",
    "weekday",
    "night",
    "weekend",
    "category",
    "value",
]
KINDS: Final[tuple[str, ...]] = get_args(Kind)

ENTITIES: Final[dict[str, str]] = {
    "card": "card_id",
    "customer": "customer_id",
    "merchant": "merchant_id",
    "terminal": "terminal_id",
    "device": "device_id",
    "ip": "ip_address",
}
"""Entities a feature can aggregate over, and the input column holding each one's key."""

VALUES: Final[dict[str, str]] = {
    "card": "card_id",
    "customer": "customer_id",
    "merchant": "merchant_id",
    "terminal": "terminal_id",
    "device": "device_id",
    "ip": "ip_address",
    "ip_prefix": "ip_address",
    "country": "country",
    "merchant_category": "merchant_category",
}
"""Values ``distinct`` and ``novel`` features can count, and the column each one reads."""

DEFAULT_HORIZON: Final = "365d"
"""How long an entity's last-seen state (previous transaction, first use, first seen) lasts."""

_NOUN = {
    "card": "card",
    "customer": "customer",
    "merchant": "merchant",
    "terminal": "terminal",
    "device": "device",
    "ip": "IP address",
    "ip_prefix": "IP range",
    "country": "country",
    "merchant_category": "merchant category",
}
_WINDOWED: Final = frozenset(
    {"count", "sum", "mean", "ratio_to_mean", "zscore", "count_below", "distinct", "km_usual"}
)
_HORIZON_KINDS: Final = frozenset({"since_prev", "age", "novel", "km_prev", "speed_prev"})
_PREP = {
    "card": "on",
    "customer": "by",
    "merchant": "at",
    "terminal": "at",
    "device": "from",
    "ip": "from",
}
_CALENDAR: Final = frozenset({"hour", "weekday", "night", "weekend"})
_AMOUNT_KINDS: Final = frozenset({"sum", "mean", "ratio_to_mean", "zscore", "count_below"})
_GEO_KINDS: Final = frozenset({"km_prev", "speed_prev", "km_usual"})
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

NIGHT_LAST_HOUR: Final = 6
"""Hours 0..6 (00:00-06:59 UTC) count as night, as in the handbook."""
STD_FLOOR: Final = 1.0
"""The standard deviation in a z-score is floored at one currency unit."""
MIN_SPEED_HOURS: Final = 1.0 / 60.0
"""The time between two transactions is floored at one minute when computing a speed."""
EARTH_RADIUS_KM: Final = 6371.0088


def _threshold_text(value: float) -> str:
    return f"{value:g}".replace(".", "p").replace("-", "m")


def _human_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


@dataclass(frozen=True)
class Feature:
    """The declaration of one feature.

    Parameters
    ----------
    kind:
        The aggregation, one of :data:`KINDS` (see docs/features.md for each one's exact
        definition).
    entity:
        Whose history is aggregated (a key of :data:`ENTITIES`), or ``None`` for features of
        the transaction alone (calendar, categorical, value).
    value:
        What is aggregated or counted: ``"amount"`` for amount aggregates, a key of
        :data:`VALUES` for ``distinct`` and ``novel``, the column name for ``category`` and
        ``value``.
    window:
        Duration text of the window (``"1h"``, ``"24h"``, ``"7d"``); for ``since_prev``,
        ``age``, ``novel``, ``km_prev`` and ``speed_prev`` the horizon after which an
        entity's last-seen state is forgotten (default ``"365d"``).
    delay:
        For ``fraud_rate`` and ``count``: the window is shifted back by this duration, so it
        covers ``(t - delay - window, t - delay]``. ``fraud_rate`` uses labels known at ``t``.
    threshold:
        For ``count_below``: amounts strictly under this value are counted.
    phrase:
        Optional template overriding the generated explanation; ``{value}`` is replaced by
        the formatted value.

    Examples
    --------
    >>> Feature("sum", "card", "amount", "24h").name
    'amount_sum_card_24h'
    >>> Feature("fraud_rate", "terminal", window="7d", delay="7d").name
    'fraud_rate_terminal_7d_delay7d'
    """

    kind: Kind
    entity: str | None = None
    value: str | None = None
    window: str | None = None
    delay: str | None = None
    threshold: float | None = None
    phrase: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown feature kind {self.kind!r}; use one of {', '.join(KINDS)}")
        kind = self.kind
        needs_entity = kind not in _CALENDAR | {"category", "value"}
        if needs_entity and self.entity not in ENTITIES:
            raise ConfigError(
                f"feature kind {kind!r} needs an entity, one of {', '.join(ENTITIES)}; "
                f"got {self.entity!r}"
            )
        if not needs_entity and self.entity is not None:
            raise ConfigError(f"feature kind {kind!r} takes no entity; got {self.entity!r}")
        if kind in _AMOUNT_KINDS and self.value != "amount":
            raise ConfigError(
                f"feature kind {kind!r} aggregates value 'amount'; got {self.value!r}"
            )
        if kind in {"distinct", "novel"} and self.value not in VALUES:
            raise ConfigError(
                f"feature kind {kind!r} needs a value, one of {', '.join(VALUES)}; "
                f"got {self.value!r}"
            )
        if kind in {"distinct", "novel"} and self.value == self.entity:
            raise ConfigError(f"feature kind {kind!r} cannot count its own entity {self.entity!r}")
        if kind in {"category", "value"} and not (isinstance(self.value, str) and self.value):
            raise ConfigError(f"feature kind {kind!r} needs the column name as value")
        no_value = {"count", "fraud_rate", "since_prev", "age", "km_prev", "speed_prev"}
        if kind in no_value | _CALENDAR and self.value is not None:
            raise ConfigError(f"feature kind {kind!r} takes no value; got {self.value!r}")
        if kind in _WINDOWED | {"fraud_rate"} | _HORIZON_KINDS:
            if self.window is None:
                raise ConfigError(f"feature kind {kind!r} needs a window such as '1h' or '7d'")
            if parse_duration(self.window).total_seconds() <= 0:
                raise ConfigError(f"the window of a {kind!r} feature must be positive")
        elif self.window is not None:
            raise ConfigError(f"feature kind {kind!r} takes no window; got {self.window!r}")
        if self.delay is not None:
            if kind not in {"count", "fraud_rate"}:
                raise ConfigError(f"only 'count' and 'fraud_rate' take a delay; got kind {kind!r}")
            parse_duration(self.delay)
        if kind == "fraud_rate" and self.delay is None:
            raise ConfigError("a 'fraud_rate' feature needs a label delay such as '7d'")
        if kind == "count_below":
            if self.threshold is None or not math.isfinite(self.threshold):
                raise ConfigError("a 'count_below' feature needs a finite threshold, e.g. 5.0")
        elif self.threshold is not None:
            raise ConfigError(f"feature kind {kind!r} takes no threshold")

    # ------------------------------------------------------------------ derived facts
    @property
    def name(self) -> str:
        """The feature's name, derived from its declaration."""
        k, e, w = self.kind, self.entity, self.window
        horizon = "" if w in (None, DEFAULT_HORIZON) else f"_{w}"
        delay = f"_delay{self.delay}" if self.delay not in (None, "0d") else ""
        if k == "count":
            return f"tx_count_{e}_{w}{delay}"
        if k in {"sum", "mean"}:
            return f"{self.value}_{k}_{e}_{w}"
        if k == "ratio_to_mean":
            return f"{self.value}_ratio_mean_{e}_{w}"
        if k == "zscore":
            return f"{self.value}_zscore_{e}_{w}"
        if k == "count_below":
            under = _threshold_text(cast(float, self.threshold))
            return f"{self.value}_under_{under}_count_{e}_{w}"
        if k == "distinct":
            return f"{self.value}_distinct_{e}_{w}"
        if k == "since_prev":
            return f"seconds_since_prev_{e}{horizon}"
        if k == "age":
            return f"{e}_age_days{horizon}"
        if k == "novel":
            return f"new_{self.value}_{e}{horizon}"
        if k == "km_prev":
            return f"km_from_prev_{e}{horizon}"
        if k == "speed_prev":
            return f"speed_kmh_from_prev_{e}{horizon}"
        if k == "km_usual":
            return f"km_from_usual_{e}_{w}"
        if k == "fraud_rate":
            return f"fraud_rate_{e}_{w}{delay}"
        if k == "hour":
            return "hour_of_day"
        if k == "weekday":
            return "day_of_week"
        if k == "night":
            return "is_night"
        if k == "weekend":
            return "is_weekend"
        return cast(str, self.value)  # category, value

    @property
    def categorical(self) -> bool:
        """True when the feature is a category (output as text)."""
        return self.kind == "category"

    @property
    def window_us(self) -> int:
        """The window (or horizon) in microseconds; 0 when the feature has none."""
        return duration_us(self.window) if self.window else 0

    @property
    def delay_us(self) -> int:
        """The delay in microseconds; 0 when the feature has none."""
        return duration_us(self.delay) if self.delay else 0

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Input columns the feature reads (besides ``transaction_id`` and ``timestamp``)."""
        cols: list[str] = []
        if self.entity is not None:
            cols.append(ENTITIES[self.entity])
        if self.kind in _AMOUNT_KINDS:
            cols.append("amount")
        if self.kind in {"distinct", "novel"}:
            cols.append(VALUES[cast(str, self.value)])
        if self.kind in _GEO_KINDS:
            cols += ["latitude", "longitude"]
        if self.kind == "fraud_rate":
            cols.append("is_fraud")
        if self.kind in {"category", "value"}:
            cols.append(cast(str, self.value))
        return tuple(dict.fromkeys(cols))

    def to_dict(self) -> dict[str, Any]:
        """The declaration as a JSON-ready dict (only the fields that are set)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value
        return out

    def identity(self) -> dict[str, Any]:
        """The fields that determine the feature's values (the phrase is left out)."""
        out = self.to_dict()
        out.pop("phrase", None)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Feature:
        """Rebuild a declaration written by :meth:`to_dict`.

        Raises
        ------
        ConfigError
            A field is unknown or has an invalid value.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"a feature definition must be a JSON object; got {data!r}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(
                f"unknown field(s) {', '.join(sorted(unknown))} in feature definition {data!r}; "
                f"allowed: {', '.join(sorted(known))}"
            )
        if "threshold" in data and data["threshold"] is not None:
            data = {**data, "threshold": float(data["threshold"])}
        return cls(**data)

    # ------------------------------------------------------------------ explanations
    def describe(self) -> str:
        """One sentence defining the feature, for listings and docs."""
        k = self.kind
        who = _NOUN.get(self.entity or "", "")
        span = self._span_words()
        if k == "count":
            return f"number of earlier transactions of the same {who} {span}"
        if k == "sum":
            return f"total amount of earlier transactions of the same {who} {span}"
        if k == "mean":
            return f"mean amount of earlier transactions of the same {who} {span} (null if none)"
        if k == "ratio_to_mean":
            return (
                f"amount divided by the mean amount of the {who}'s earlier transactions {span} "
                "(null if none, or if that mean is 0)"
            )
        if k == "zscore":
            return (
                f"(amount - mean) / max(std, {STD_FLOOR:g}) over the {who}'s earlier "
                f"transactions {span}; sample std; null with fewer than 2 transactions"
            )
        if k == "count_below":
            return f"number of earlier transactions of the {who} under {self.threshold:g} {span}"
        if k == "distinct":
            return (
                f"number of different {_NOUN[cast(str, self.value)]}s among earlier "
                f"transactions of the same {who} {span}"
            )
        horizon = duration_words(self.window) if self.window else ""
        if k == "since_prev":
            return (
                f"seconds since the {who}'s previous transaction (null if none in the last "
                f"{horizon})"
            )
        if k == "age":
            return f"days since the {who} was first seen; a {who} unseen for {horizon} starts over"
        if k == "novel":
            return (
                f"1 if the {who} has not used this {_NOUN[cast(str, self.value)]} in the last "
                f"{horizon}, else 0 (null when the value is missing)"
            )
        if k == "km_prev":
            return (
                f"great-circle km from the {who}'s previous located transaction (within "
                f"{horizon}; null without a location)"
            )
        if k == "speed_prev":
            return (
                f"km from the {who}'s previous located transaction divided by the hours "
                f"between them (at least one minute)"
            )
        if k == "km_usual":
            return f"km from the centroid of the {who}'s located transactions {span} (null if none)"
        if k == "fraud_rate":
            return (
                f"share of the {who}'s transactions {span} that are known fraud at the "
                "transaction's time (null if none)"
            )
        if k == "hour":
            return "hour of day, 0-23, UTC"
        if k == "weekday":
            return "day of week, 0 = Monday .. 6 = Sunday, UTC"
        if k == "night":
            return f"1 between 00:00 and {NIGHT_LAST_HOUR:02d}:59 UTC, else 0"
        if k == "weekend":
            return "1 on Saturday and Sunday (UTC), else 0"
        if k == "category":
            return f"the transaction's {self.value} (categorical)"
        return f"the transaction's {self.value}, as a number"

    def _span_words(self) -> str:
        if not self.window:
            return ""
        if self.delay_us:
            start = duration_text_from_us(self.window_us + self.delay_us)
            return (
                f"between {duration_words(start)} and {duration_words(cast(str, self.delay))} ago"
            )
        window = self.window
        if window in {"1h", "1d", "1m", "1s"}:
            return f"in the last {duration_words(window).split(' ', 1)[1]}"
        return f"in the last {duration_words(window)}"

    def explain(self, value: object) -> str:
        """The human phrase for one value of this feature.

        Examples
        --------
        >>> Feature("count", "card", window="1h").explain(3)
        '3 transactions on this card in the last hour'
        >>> Feature("ratio_to_mean", "card", "amount", "30d").explain(8.2)
        "amount 8.2x this card's 30-day average"
        """
        if self.phrase is not None:
            return self.phrase.format(value=value)
        k = self.kind
        noun = _NOUN.get(self.entity or "", "")
        this = f"this {noun}"
        at = f"{_PREP.get(self.entity or '', 'on')} {this}"
        span = self._span_words()
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self._explain_missing()
        if k == "category":
            return f"{str(self.value).replace('_', ' ')}: {value}"
        x = float(cast(Any, value))
        if k == "count":
            return f"{x:.0f} transaction{'' if x == 1 else 's'} {at} {span}"
        if k == "sum":
            return f"{_number(x)} spent {at} {span}"
        if k == "mean":
            return f"average amount {_number(x)} {at} {span}"
        if k == "ratio_to_mean":
            return f"amount {x:.1f}x {this}'s {self.window_words_adjective()} average"
        if k == "zscore":
            side = "above" if x >= 0 else "below"
            return (
                f"amount {abs(x):.1f} standard deviations {side} {this}'s "
                f"{self.window_words_adjective()} mean"
            )
        if k == "count_below":
            return f"{x:.0f} transactions under {self.threshold:g} {at} {span}"
        if k == "distinct":
            thing = _NOUN[cast(str, self.value)]
            return f"{x:.0f} different {thing}s {at} {span}"
        if k == "since_prev":
            return f"{_human_seconds(x)} since {this}'s previous transaction"
        if k == "age":
            return f"{noun} first seen {x:.1f} days ago"
        if k == "novel":
            thing = _NOUN[cast(str, self.value)]
            if x >= 0.5:
                return f"first time {this} uses this {thing}"
            return f"{this} has used this {thing} before"
        if k == "km_prev":
            return f"{x:,.0f} km from {this}'s previous transaction"
        if k == "speed_prev":
            return f"implied travel speed {x:,.0f} km/h since {this}'s previous transaction"
        if k == "km_usual":
            return f"{x:,.0f} km from {this}'s usual location ({span.removeprefix('in the ')})"
        if k == "fraud_rate":
            return f"{x:.1%} of {this}'s transactions {span} were fraud"
        if k == "hour":
            return f"at {x:02.0f}h UTC"
        if k == "weekday":
            return f"on a {_WEEKDAYS[int(x) % 7]}"
        if k == "night":
            return "at night" if x >= 0.5 else "in the daytime"
        if k == "weekend":
            return "on a weekend" if x >= 0.5 else "on a weekday"
        return f"{self.value}: {x:,.6g}"

    def window_words_adjective(self) -> str:
        """``"30d"`` -> ``"30-day"``, ``"24h"`` -> ``"24-hour"``."""
        words = duration_words(cast(str, self.window)).split(" ")
        return f"{words[0]}-{words[1].removesuffix('s')}"

    def _explain_missing(self) -> str:
        k = self.kind
        noun = _NOUN.get(self.entity or "", "")
        if k == "since_prev":
            return f"no earlier transaction of this {noun}"
        if k in {"km_prev", "speed_prev"}:
            # no earlier transaction, or no location on this one or on the previous one
            return f"no location to compare with this {noun}'s previous transaction"
        if k in {"mean", "ratio_to_mean", "zscore", "km_usual", "fraud_rate"}:
            return f"{self.name.replace('_', ' ')}: not enough history for this {noun}"
        return f"{self.name.replace('_', ' ')}: unknown"


def duration_text_from_us(us: int) -> str:
    """Write a span given in microseconds as duration text (whole seconds)."""
    from datetime import timedelta

    return duration_text(timedelta(seconds=us // US_PER_SECOND))
