"""Tests of turning contributions into reasons."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fraudwatch.scoring.reasons import top_reasons, top_reasons_batch


def _phrase(name: str, value: object) -> str:
    return f"{name} is {value}"


def test_only_positive_contributions_are_reasons() -> None:
    """Check that features pushing the score down never appear as reasons."""
    reasons = top_reasons(np.array([-0.5, 0.2, -3.0]), ["a", "b", "c"], [1, 2, 3], _phrase)
    assert [r.feature for r in reasons] == ["b"]


def test_reasons_ordered_by_contribution() -> None:
    """Check that reasons come most suspicious first and carry the phrase of their value."""
    reasons = top_reasons(
        np.array([0.1, 2.0, 0.7, 0.3]), ["a", "b", "c", "d"], [1.0, "x", None, 4.0], _phrase
    )
    assert [r.feature for r in reasons] == ["b", "c", "d"]
    assert reasons[0].phrase == "b is x"
    assert reasons[1].value is None


def test_length_mismatch_is_explained() -> None:
    """Check that passing the bias column by mistake gives a message saying so."""
    with pytest.raises(ValueError, match="bias"):
        top_reasons(np.zeros(4), ["a", "b", "c"], [1, 2, 3], _phrase)


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 20), st.integers(1, 8)),
        elements=st.floats(-5, 5, allow_nan=False),
        unique=True,
    ),
    st.integers(1, 5),
)
def test_batch_equals_one_by_one(contrib: np.ndarray, k: int) -> None:
    """Check that the vectorised batch form gives the same reasons as the per-row form."""
    n, f = contrib.shape
    names = [f"f{j}" for j in range(f)]
    columns = [[float(i * 10 + j) for i in range(n)] for j in range(f)]
    batch = top_reasons_batch(contrib, names, columns, _phrase, k=k)
    for i in range(n):
        single = top_reasons(contrib[i], names, [columns[j][i] for j in range(f)], _phrase, k=k)
        assert batch[i] == single
