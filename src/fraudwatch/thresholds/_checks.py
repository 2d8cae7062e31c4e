"""Parameter checks declared as data, turned into uniform messages.

Every message names the parameter, the allowed values and the value received, so a user
knows what to change. Used by :mod:`fraudwatch.thresholds` and :mod:`fraudwatch.evaluation`.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from fraudwatch.errors import ConfigError

__all__ = ["Interval", "check_choice", "check_interval"]


@dataclass(frozen=True)
class Interval:
    """An allowed numeric range for a parameter.

    Parameters
    ----------
    low, high:
        Bounds; ``None`` means unbounded on that side.
    closed:
        ``"both"``, ``"left"``, ``"right"`` or ``"neither"``: which bounds are allowed.
    integer:
        Require an integer.
    """

    low: float | None
    high: float | None
    closed: str = "both"
    integer: bool = False

    def describe(self) -> str:
        """Render the interval, e.g. ``a number in (0, 1]``."""
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        kind = "an integer" if self.integer else "a number"
        return f"{kind} in {left}{low}, {high}{right}"

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the interval (NaN never does)."""
        if math.isnan(value):
            return False
        if self.low is not None:
            low_ok = value >= self.low if self.closed in ("both", "left") else value > self.low
            if not low_ok:
                return False
        if self.high is not None:
            high_ok = value <= self.high if self.closed in ("both", "right") else value < self.high
            if not high_ok:
                return False
        return True


def check_interval(name: str, value: Any, interval: Interval, *, hint: str = "") -> None:
    """Raise :class:`ConfigError` unless ``value`` is a number inside ``interval``.

    Examples
    --------
    >>> check_interval("k", 10, Interval(1, None, integer=True))
    >>> check_interval("k", 0, Interval(1, None, integer=True))
    Traceback (most recent call last):
    ...
    fraudwatch.errors.ConfigError: k must be an integer in [1, inf]; got 0
    """
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and interval.integer and not isinstance(value, int):
        ok = False
    if ok and not interval.contains(float(value)):
        ok = False
    if not ok:
        msg = f"{name} must be {interval.describe()}; got {value!r}"
        raise ConfigError(msg + (f". {hint}" if hint else ""))


def check_choice(name: str, value: Any, choices: Collection[str]) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``choices``.

    Examples
    --------
    >>> check_choice("objective", "cost", ["cost", "f1"])
    >>> check_choice("objective", "money", ["cost", "f1"])
    Traceback (most recent call last):
    ...
    fraudwatch.errors.ConfigError: objective must be one of 'cost', 'f1'; got 'money'
    """
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{name} must be one of {allowed}; got {value!r}")
