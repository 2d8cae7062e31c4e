"""Double-double arithmetic: sums of floats that keep their rounding error beside them.

A double-double is a pair ``(hi, lo)`` of floats whose exact sum is the value; ``lo`` holds
what rounding ``hi`` lost. Running (prefix) sums kept this way let any window sum be taken as
the difference of two prefixes and still be accurate to about one unit in the last place,
however long the history before the window. The batch executor keeps prefix sums of whole
columns this way (:class:`~fraudwatch.features._kernels.DDPrefix`) and the online stores keep
one running sum per entity; both use the steps defined here, which work the same on Python
floats and on numpy arrays (IEEE arithmetic, no fused multiply-add), so the two executors
round identically.

Online, a prefix is a flat tuple ``(hi0, lo0, hi1, lo1, ...)``: one pair per quantity of an
entity's :attr:`~fraudwatch.features._plan.EntitySpec.sums`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "dd_add",
    "event_values",
    "m2_from_sums",
    "two_prod",
    "two_sum",
    "window",
    "window_value",
    "zero_prefix",
]

T = TypeVar("T", float, npt.NDArray[np.float64])

_SPLIT = 134217729.0  # 2**27 + 1 (Dekker)


def two_sum(a: T, b: T) -> tuple[T, T]:
    """``a + b`` rounded, and the exact rounding error (Knuth)."""
    s = a + b
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    return s, err


def two_prod(a: T, b: T) -> tuple[T, T]:
    """``a * b`` rounded, and the exact rounding error (Dekker's split)."""
    p = a * b
    ca = _SPLIT * a
    ahi = ca - (ca - a)
    alo = a - ahi
    cb = _SPLIT * b
    bhi = cb - (cb - b)
    blo = b - bhi
    err = ((ahi * bhi - p) + ahi * blo + alo * bhi) + alo * blo
    return p, err


def window(end_hi: T, end_lo: T, start_hi: T, start_lo: T) -> tuple[T, T]:
    """The double-double difference ``end - start`` of two prefix sums, renormalised."""
    s, e = two_sum(end_hi, -start_hi)
    e = e + (end_lo - start_lo)
    hi = s + e
    return hi, e - (hi - s)


def m2_from_sums(s1_hi: T, s1_lo: T, s2_hi: T, s2_lo: T, n: T) -> T:
    """Sum of squared deviations ``S2 - S1**2 / n`` in double-double (``n`` as float, > 0).

    ``S1`` is the window's sum and ``S2`` the sum of its squares; the result is not clipped
    (callers clip at 0).
    """
    p, e = two_prod(s1_hi, s1_hi)
    e = e + 2.0 * s1_hi * s1_lo
    q1 = p / n
    t, te = two_prod(q1, n)
    rem = ((p - t) - te) + e
    q2 = rem / n
    s, err = two_sum(s2_hi, -q1)
    err = err + (s2_lo - q2)
    return s + err


# ---------------------------------------------------------------------- online prefixes
def zero_prefix(sums: Sequence[str]) -> tuple[float, ...]:
    """The running sums of an entity without events."""
    return (0.0,) * (2 * len(sums))


def event_values(
    sums: Sequence[str], amount: float | None, unit: tuple[float, float, float] | None
) -> tuple[float, ...]:
    """What one event adds to each running sum, as ``(hi, lo)`` pairs (flat).

    A missing amount adds 0 (the executor refuses it earlier where an amount is needed).
    """
    out: list[float] = []
    a = 0.0 if amount is None else amount
    for name in sums:
        if name == "amount":
            out += (a, 0.0)
        elif name == "count":
            out += (1.0, 0.0)
        elif name == "amount2":
            out += two_prod(a, a)
        elif name == "located":
            out += (0.0 if unit is None else 1.0, 0.0)
        elif name in ("x", "y", "z"):
            out += (0.0 if unit is None else unit["xyz".index(name)], 0.0)
        else:  # "under:<threshold>"
            out += (1.0 if a < float(name.split(":", 1)[1]) else 0.0, 0.0)
    return tuple(out)


def dd_add(prefix: Sequence[float], values: Sequence[float]) -> tuple[float, ...]:
    """Each running sum of ``prefix`` plus the matching ``(hi, lo)`` of ``values``.

    The same steps as the batch prefix (:meth:`DDPrefix.of`): the new ``hi`` is the rounded
    sum and the rounding error joins ``lo`` with the value's own low part.
    """
    out: list[float] = []
    for k in range(0, len(prefix), 2):
        hi, vh = prefix[k], values[k]
        s = hi + vh
        bb = s - hi
        out += (s, prefix[k + 1] + (((hi - (s - bb)) + (vh - bb)) + values[k + 1]))
    return tuple(out)


def window_value(end: Sequence[float], start: Sequence[float], k: int) -> float:
    """Quantity ``k``'s sum between two prefixes, rounded to a float."""
    hi, lo = window(end[2 * k], end[2 * k + 1], start[2 * k], start[2 * k + 1])
    return hi + lo
