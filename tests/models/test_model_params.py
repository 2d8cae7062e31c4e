"""Parameter checks declared as data, and the model type registry."""

from __future__ import annotations

from numbers import Integral, Real

import pytest

from fraudwatch.errors import ConfigError
from fraudwatch.models import MODEL_TYPES, LightGBMModel, make_model, model_class
from fraudwatch.models._params import Interval, NoneOk, OneOf, validate_params


def test_unknown_model_type_lists_allowed() -> None:
    """Check that an unknown model type names the allowed ones."""
    with pytest.raises(ConfigError, match=r"unknown model type 'catboost'.*lightgbm, logreg"):
        model_class("catboost")


def test_unknown_parameter_named() -> None:
    """Check that an unknown parameter is named with the allowed ones."""
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['leaves'\].*num_leaves"):
        make_model("lightgbm", leaves=3)


def test_registered_names_match_classes() -> None:
    """Check that each registered class answers to its own name."""
    assert all(cls.name == name for name, cls in MODEL_TYPES.items())


@pytest.mark.parametrize(
    ("value", "ok"),
    [(2, True), (1, False), (2.0, False), (True, False), (None, True), (float("nan"), False)],
)
def test_interval_or_none(value: object, ok: bool) -> None:
    """Check that an int interval accepts only ints in range (not bools), or None."""
    constraints = {"n": [Interval(Integral, 2), NoneOk()]}
    if ok:
        validate_params("M", {"n": value}, constraints)
    else:
        with pytest.raises(ConfigError, match=r"'n' of M must be an int in \[2, inf\) or None"):
            validate_params("M", {"n": value}, constraints)


def test_open_interval_excludes_bounds() -> None:
    """Check that an open interval refuses its bounds."""
    with pytest.raises(ConfigError, match=r"a number in \(0, 1\)"):
        validate_params("M", {"r": 1.0}, {"r": [Interval(Real, 0, 1, closed="neither")]})


def test_one_of_is_type_strict() -> None:
    """Check that OneOf does not confuse 1 and True."""
    assert not OneOf((1,)).accepts(True)
    assert OneOf(("a",)).accepts("a")


def test_fit_validates_learning_rate() -> None:
    """Check that fit refuses a non-positive learning rate, naming it."""
    import numpy as np

    with pytest.raises(ConfigError, match=r"'learning_rate' of LightGBMModel.*got 0"):
        LightGBMModel(learning_rate=0).fit(np.zeros((4, 1)), [0, 1, 0, 1])
