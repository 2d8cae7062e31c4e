"""Parameter constraints declared as data, checked with one uniform message.

Each estimator declares ``_parameter_constraints = {"name": [constraint, ...]}``; a value is
valid when it satisfies at least one constraint. The error names the estimator, the
parameter, what is allowed and the value received.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Protocol

from fraudwatch.errors import ConfigError

__all__ = ["Constraint", "Interval", "NoneOk", "OneOf", "validate_params"]


class Constraint(Protocol):
    """Something a parameter value may satisfy."""

    def accepts(self, value: object) -> bool:
        """Whether ``value`` satisfies the constraint."""
        ...

    def describe(self) -> str:
        """A short phrase for the error message."""
        ...


@dataclass(frozen=True)
class Interval:
    """A number of a given kind within bounds (``None`` means unbounded)."""

    kind: type[Integral] | type[Real]
    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right", "neither"

    def accepts(self, value: object) -> bool:
        """Whether ``value`` is a number of the right kind in the interval."""
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        v = float(value)
        if math.isnan(v):
            return False
        if self.low is not None:
            if self.closed in ("both", "left") and v < self.low:
                return False
            if self.closed in ("right", "neither") and v <= self.low:
                return False
        if self.high is not None:
            if self.closed in ("both", "right") and v > self.high:
                return False
            if self.closed in ("left", "neither") and v >= self.high:
                return False
        return True

    def describe(self) -> str:
        """E.g. ``an int in [2, inf)``."""
        name = "an int" if self.kind is Integral else "a number"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        if self.low is not None and self.high is None:
            right = ")"
        return f"{name} in {left}{low}, {high}{right}"


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of values."""

    values: tuple[object, ...]

    def accepts(self, value: object) -> bool:
        """Whether ``value`` is one of the allowed values."""
        return any(value == v and type(value) is type(v) for v in self.values)

    def describe(self) -> str:
        """E.g. ``one of 'balanced', 'sqrt'``."""
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class NoneOk:
    """``None``."""

    def accepts(self, value: object) -> bool:
        """Whether ``value`` is None."""
        return value is None

    def describe(self) -> str:
        """The word None."""
        return "None"


def validate_params(
    owner: str,
    params: Mapping[str, object],
    constraints: Mapping[str, Sequence[Constraint]],
) -> None:
    """Check every parameter against its declared constraints.

    Parameters
    ----------
    owner:
        The estimator's name, for the message.
    params:
        ``{name: value}``.
    constraints:
        ``{name: [constraint, ...]}``; a value must satisfy at least one.

    Raises
    ------
    ConfigError
        A value satisfies none of its constraints; the message names the parameter, the
        allowed values and the value received.

    Examples
    --------
    >>> validate_params("M", {"n": 3}, {"n": [Interval(Integral, 1)]})
    >>> validate_params("M", {"n": 0}, {"n": [Interval(Integral, 1)]})
    Traceback (most recent call last):
    ...
    fraudwatch.errors.ConfigError: parameter 'n' of M must be an int in [1, inf); got 0
    """
    for name, value in params.items():
        allowed = constraints.get(name)
        if allowed is None:
            continue
        if not any(c.accepts(value) for c in allowed):
            options = " or ".join(c.describe() for c in allowed)
            raise ConfigError(f"parameter {name!r} of {owner} must be {options}; got {value!r}")
