"""Tests of the Thresholds value object: validation, decisions, serialisation."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fraudwatch.thresholds as th
from fraudwatch.errors import ConfigError
from fraudwatch.thresholds import OBJECTIVES, Thresholds

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
param_values = st.one_of(
    st.none(), st.booleans(), st.integers(-1000, 1000), finite, st.text(max_size=10)
)


@st.composite
def thresholds_objects(draw: st.DrawFn) -> Thresholds:
    a, b = draw(finite), draw(finite)
    return Thresholds(
        review=min(a, b),
        decline=max(a, b),
        objective=draw(st.sampled_from(OBJECTIVES)),
        params=draw(st.dictionaries(st.text(min_size=1, max_size=8), param_values, max_size=4)),
        expected=draw(
            st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(st.none(), finite))
        ),
    )


def test_public_surface_is_pinned() -> None:
    """Check that fraudwatch.thresholds exports exactly the documented names."""
    assert sorted(th.__all__) == sorted(
        [
            "DECISIONS",
            "DEFAULT_DECLINE_RATE",
            "DEFAULT_REVIEW_RATE",
            "OBJECTIVES",
            "THRESHOLDS_FORMAT_VERSION",
            "TUNING_OBJECTIVES",
            "CostModel",
            "Decision",
            "ScoreCurve",
            "Thresholds",
            "build_curve",
            "default_thresholds",
            "expected_outcomes",
            "tune_thresholds",
        ]
    )


def test_doctests_pass() -> None:
    """Check that the examples in the thresholds modules run as documented."""
    from fraudwatch.thresholds import _checks, _curve, _model, _tune

    for module in (_checks, _curve, _model, _tune):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__


def test_review_above_decline_is_rejected() -> None:
    """Check that review > decline is refused with a message saying how to fix it."""
    with pytest.raises(ConfigError, match=r"must not exceed the decline threshold.*swap"):
        Thresholds(review=0.9, decline=0.5)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_non_finite_threshold_is_rejected(bad: float) -> None:
    """Check that an infinite or NaN threshold is refused (it could not be written as JSON)."""
    with pytest.raises(ConfigError, match="finite number"):
        Thresholds(review=0.1, decline=bad)


def test_non_numeric_threshold_is_rejected() -> None:
    """Check that a string threshold is refused naming the threshold."""
    with pytest.raises(ConfigError, match="threshold review must be a number"):
        Thresholds(review="0.5", decline=0.9)  # type: ignore[arg-type]


def test_unknown_objective_is_rejected() -> None:
    """Check that an unknown objective name lists the allowed ones."""
    with pytest.raises(ConfigError, match=r"objective must be one of .*'alert-budget'.*'money'"):
        Thresholds(review=0.1, decline=0.2, objective="money")


def test_non_scalar_param_is_rejected() -> None:
    """Check that a parameter that is not a JSON scalar is refused."""
    with pytest.raises(ConfigError, match="parameter 'x' must be a string, number"):
        Thresholds(review=0.1, decline=0.2, params={"x": [1, 2]})


def test_nan_expected_metric_becomes_none() -> None:
    """Check that an undefined expected metric is stored as None, never as NaN."""
    t = Thresholds(review=0.1, decline=0.2, expected={"precision": math.nan, "recall": 0.5})
    assert t.expected == {"precision": None, "recall": 0.5}


@given(thresholds_objects())
@settings(max_examples=60, deadline=None)
def test_dict_round_trip_through_json(t: Thresholds) -> None:
    """Check that to_dict -> JSON -> from_dict gives back equal thresholds."""
    text = json.dumps(t.to_dict(), allow_nan=False)
    assert Thresholds.from_dict(json.loads(text)) == t


def test_from_dict_unknown_key_is_rejected() -> None:
    """Check that a misspelt key in stored thresholds is named."""
    with pytest.raises(ConfigError, match=r"unknown key.*reveiw"):
        Thresholds.from_dict({"review": 0.1, "decline": 0.2, "reveiw": 0.3})


def test_from_dict_missing_key_is_rejected() -> None:
    """Check that stored thresholds without decline are refused naming it."""
    with pytest.raises(ConfigError, match="lack decline"):
        Thresholds.from_dict({"review": 0.1})


def test_from_dict_future_version_is_rejected() -> None:
    """Check that thresholds written by a newer format are refused with advice."""
    with pytest.raises(ConfigError, match=r"format_version 99 is not supported.*upgrade"):
        Thresholds.from_dict({"format_version": 99, "review": 0.1, "decline": 0.2})


@given(
    st.lists(finite, min_size=1, max_size=50),
    finite,
    finite,
)
@settings(max_examples=80, deadline=None)
def test_decide_matches_decision_and_is_monotone(scores: list[float], a: float, b: float) -> None:
    """Check that decide agrees with decision per score and severity never drops as score rises."""
    t = Thresholds(review=min(a, b), decline=max(a, b))
    out = t.decide(scores).tolist()
    assert out == [t.decision(s) for s in scores]
    severity = {"allow": 0, "review": 1, "decline": 2}
    order = np.argsort(scores, kind="stable")
    ranked = [severity[out[i]] for i in order]
    assert ranked == sorted(ranked)


def test_equal_thresholds_have_no_review_band() -> None:
    """Check that review == decline never sends a transaction to review."""
    t = Thresholds(review=0.5, decline=0.5)
    assert set(t.decide([0.0, 0.49, 0.5, 0.51, 1.0]).tolist()) == {"allow", "decline"}
