"""Tests of the double-double running sums shared by the batch and online executors."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fraudwatch.features._dd import (
    dd_add,
    event_values,
    m2_from_sums,
    two_prod,
    window,
    window_value,
    zero_prefix,
)
from fraudwatch.features._definitions import STD_FLOOR
from fraudwatch.features._kernels import DDPrefix

_amounts = st.lists(st.floats(min_value=0.0, max_value=1e7, allow_nan=False), max_size=80)
SUMS = ("amount", "amount2")


def _prefixes(values: list[float]) -> list[tuple[float, ...]]:
    """Online running sums of amounts and their squares: the prefix before each value."""
    out = [zero_prefix(SUMS)]
    for a in values:
        out.append(dd_add(out[-1], event_values(SUMS, a, None)))
    return out


@given(_amounts)
def test_online_running_sums_round_as_the_batch_prefix(values: list[float]) -> None:
    """dd_add on Python floats gives the batch prefix (numpy) bit for bit."""
    pre = _prefixes(values)
    x = np.array(values, dtype=np.float64)
    for k, batch in enumerate((DDPrefix.of(x), DDPrefix.of_squares(x))):
        assert [p[2 * k] for p in pre] == batch.hi.tolist()
        assert [p[2 * k + 1] for p in pre] == batch.lo.tolist()


@given(_amounts, st.data())
def test_window_of_two_prefixes_is_the_exact_sum(values: list[float], data: st.DataObject) -> None:
    """Any window's sum, read from two prefixes, is the correctly rounded sum to ~1 ulp."""
    pre = _prefixes(values)
    i = data.draw(st.integers(0, len(values)))
    j = data.draw(st.integers(i, len(values)))
    expected = math.fsum(values[i:j])
    got = window_value(pre[j], pre[i], 0)
    # a few ulps of the result, plus the double-double residue of the whole history
    assert abs(got - expected) <= 2 * math.ulp(expected) + 1e-28 * math.fsum(values)


@given(_amounts, st.floats(min_value=0.0, max_value=1e7, allow_nan=False), st.data())
def test_m2_from_window_sums_is_the_two_pass_definition(
    values: list[float], amount: float, data: st.DataObject
) -> None:
    """The z-score from running sums matches the textbook two-pass z-score."""
    pre = _prefixes(values)
    i = data.draw(st.integers(0, len(values)))
    window_values = values[i:]
    n = len(window_values)
    if n < 2:
        return
    end, start = pre[-1], pre[i]
    s1 = window(end[0], end[1], start[0], start[1])
    s2 = window(end[2], end[3], start[2], start[3])
    m2 = max(m2_from_sums(s1[0], s1[1], s2[0], s2[1], float(n)), 0.0)
    mean = math.fsum(window_values) / n
    exact_m2 = math.fsum([(v - mean) * (v - mean) for v in window_values])
    assert math.isclose(m2, exact_m2, rel_tol=1e-12, abs_tol=1e-9 * (1 + mean * mean))
    z = (amount - (s1[0] + s1[1]) / n) / max(math.sqrt(m2 / (n - 1)), STD_FLOOR)
    z_exact = (amount - mean) / max(math.sqrt(exact_m2 / (n - 1)), STD_FLOOR)
    assert math.isclose(z, z_exact, rel_tol=1e-9, abs_tol=1e-9)


@given(st.one_of(st.just(0.0), st.floats(min_value=1e-100, max_value=1e9)))
def test_square_is_kept_exactly(a: float) -> None:
    """two_prod splits a*a into the rounded product and its exact error."""
    p, e = two_prod(a, a)
    assert p == a * a
    assert Fraction(p) + Fraction(e) == Fraction(a) ** 2


def test_event_values_cover_every_quantity() -> None:
    """Each running sum gets the documented value from one event."""
    unit = (0.5, -0.25, 0.75)
    sums = ("amount", "count", "located", "x", "y", "z", "under:5.0")
    assert event_values(sums, 3.0, unit) == (
        3.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.5, 0.0, -0.25, 0.0, 0.75, 0.0, 1.0, 0.0
    )  # fmt: skip
    assert event_values(sums, 7.0, None) == (
        7.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    )  # fmt: skip
