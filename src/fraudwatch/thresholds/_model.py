"""The two decision thresholds of a model, versioned with it.

A score ``s`` (higher = more suspicious) leads to::

    s >= decline            -> "decline"
    review <= s < decline   -> "review"   (an analyst looks at it)
    s < review              -> "allow"

``review == decline`` means there is no review band.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from fraudwatch.errors import ConfigError
from fraudwatch.thresholds._checks import check_choice

__all__ = ["DECISIONS", "OBJECTIVES", "THRESHOLDS_FORMAT_VERSION", "Decision", "Thresholds"]

Decision = Literal["allow", "review", "decline"]
DECISIONS: tuple[Decision, ...] = ("allow", "review", "decline")

OBJECTIVES: tuple[str, ...] = ("default", "manual", "cost", "f1", "precision", "alert-budget")
"""How a pair of thresholds was chosen: ``default`` by :func:`default_thresholds`, ``manual``
by hand, the others by :func:`tune_thresholds`."""

THRESHOLDS_FORMAT_VERSION = 1
"""Version of the dictionary written by :meth:`Thresholds.to_dict`."""

_JSON_SCALARS = (str, int, float, bool, type(None))


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"threshold {name} must be a number; got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ConfigError(
            f"threshold {name} must be a finite number; got {value!r}. To never {name}, "
            "use a value above the highest possible score (e.g. 1.01 for probabilities)"
        )
    return out


def _clean_expected(expected: Mapping[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key, value in expected.items():
        if not isinstance(key, str):
            raise ConfigError(f"expected metric names must be strings; got {key!r}")
        if value is None:
            out[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise ConfigError(f"expected metric {key!r} must be a number or null; got {value!r}")
        number = float(value)
        # NaN or inf is never written: an undefined metric is stored as None.
        out[key] = number if math.isfinite(number) else None
    return out


def _clean_params(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if not isinstance(key, str):
            raise ConfigError(f"threshold parameter names must be strings; got {key!r}")
        if isinstance(value, np.generic):
            value = value.item()
        if not isinstance(value, _JSON_SCALARS):
            raise ConfigError(
                f"threshold parameter {key!r} must be a string, number, boolean or null; "
                f"got {type(value).__name__}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"threshold parameter {key!r} must be finite; got {value!r}")
        out[key] = value
    return out


@dataclass(frozen=True)
class Thresholds:
    """Review and decline thresholds with how they were chosen and what they are expected to do.

    Parameters
    ----------
    review:
        Scores at or above this (and below ``decline``) go to an analyst.
    decline:
        Scores at or above this are declined. Must be ``>= review``.
    objective:
        How they were chosen: one of :data:`OBJECTIVES`.
    params:
        The objective's parameters (e.g. ``review_cost``), JSON scalars only.
    expected:
        Metrics expected at these thresholds on the data they were chosen on
        (``precision``, ``recall``, ``cost``, ``reviews_per_day``...); ``None`` when undefined.

    Examples
    --------
    >>> t = Thresholds(review=0.3, decline=0.9)
    >>> t.decision(0.5)
    'review'
    >>> Thresholds.from_dict(t.to_dict()) == t
    True
    """

    review: float
    decline: float
    objective: str = "manual"
    params: dict[str, Any] = field(default_factory=dict)
    expected: dict[str, float | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        review = _finite("review", self.review)
        decline = _finite("decline", self.decline)
        if review > decline:
            raise ConfigError(
                f"the review threshold ({review:g}) must not exceed the decline threshold "
                f"({decline:g}); swap them or lower review"
            )
        check_choice("objective", self.objective, OBJECTIVES)
        object.__setattr__(self, "review", review)
        object.__setattr__(self, "decline", decline)
        object.__setattr__(self, "params", _clean_params(self.params))
        object.__setattr__(self, "expected", _clean_expected(self.expected))

    def decision(self, score: float) -> Decision:
        """The decision for one score.

        >>> Thresholds(review=0.2, decline=0.8).decision(0.8)
        'decline'
        """
        if score >= self.decline:
            return "decline"
        if score >= self.review:
            return "review"
        return "allow"

    def decide(self, scores: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """The decision for each score of an array (vectorised :meth:`decision`).

        >>> Thresholds(review=0.2, decline=0.8).decide([0.1, 0.5, 0.9]).tolist()
        ['allow', 'review', 'decline']
        """
        s = np.asarray(scores, dtype=np.float64)
        out = np.where(s >= self.decline, "decline", np.where(s >= self.review, "review", "allow"))
        return np.asarray(out, dtype=np.str_)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (read back by :meth:`from_dict`)."""
        return {
            "format_version": THRESHOLDS_FORMAT_VERSION,
            "review": self.review,
            "decline": self.decline,
            "objective": self.objective,
            "params": dict(self.params),
            "expected": dict(self.expected),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Thresholds:
        """Rebuild thresholds from :meth:`to_dict` output (e.g. a bundle manifest).

        Raises
        ------
        ConfigError
            A key is missing or unknown, or a value is invalid; the message names it.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"thresholds must be a mapping; got {type(data).__name__}")
        version = data.get("format_version", THRESHOLDS_FORMAT_VERSION)
        if version != THRESHOLDS_FORMAT_VERSION:
            raise ConfigError(
                f"thresholds format_version {version!r} is not supported (this fraudwatch reads "
                f"version {THRESHOLDS_FORMAT_VERSION}); upgrade fraudwatch or re-tune the model"
            )
        allowed = {"format_version", "review", "decline", "objective", "params", "expected"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(
                f"unknown key(s) in thresholds: {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        missing = [k for k in ("review", "decline") if k not in data]
        if missing:
            raise ConfigError(f"thresholds lack {', '.join(missing)}; both review and decline")
        params = data.get("params", {})
        expected = data.get("expected", {})
        if not isinstance(params, Mapping) or not isinstance(expected, Mapping):
            raise ConfigError("thresholds 'params' and 'expected' must be mappings")
        return cls(
            review=data["review"],
            decline=data["decline"],
            objective=data.get("objective", "manual"),
            params=dict(params),
            expected=dict(expected),
        )
