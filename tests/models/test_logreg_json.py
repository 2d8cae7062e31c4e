"""Logistic regression: the JSON model reproduces scikit-learn exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudwatch.models import LogisticModel


def _design(model: LogisticModel, x: np.ndarray) -> np.ndarray:
    """The design matrix built with the fitted scikit-learn scaler."""
    z = model.scaler_.transform(x[:, list(model.numeric_)])
    z[np.isnan(z)] = 0.0
    if model.clip is not None:
        z = np.clip(z, -model.clip, model.clip)
    pairs = zip(model.categorical_, model.levels_, strict=True)
    blocks = [(x[:, [c]] == lv[None, :]).astype(float) for c, lv in pairs]
    return np.hstack([z, *blocks])


def _sklearn_margin(model: LogisticModel, x: np.ndarray) -> np.ndarray:
    """The margin computed by the fitted scikit-learn regression."""
    return model.estimator_.decision_function(_design(model, x)) + model.margin_offset_


def test_loaded_json_equals_sklearn(toy: Any, tmp_path: Path) -> None:
    """Check that predictions re-implemented from the saved JSON equal scikit-learn's to 1e-12."""
    model = LogisticModel().fit(toy.x, toy.y, categorical=toy.categorical)
    model.save(tmp_path)
    loaded = LogisticModel.load(tmp_path)
    assert not hasattr(loaded, "estimator_")
    expected = _sklearn_margin(model, toy.x_val)
    np.testing.assert_allclose(loaded.decision_function(toy.x_val), expected, atol=1e-12, rtol=0)
    sk_proba = model.estimator_.predict_proba(_design(model, toy.x_val))[:, 1]
    # without the weight correction the loaded model must give scikit-learn's probability
    raw = loaded.decision_function(toy.x_val) - loaded.margin_offset_
    np.testing.assert_allclose(1 / (1 + np.exp(-raw)), sk_proba, atol=1e-12, rtol=0)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    c=st.floats(0.01, 100.0),
    clip=st.one_of(st.none(), st.floats(0.5, 10.0)),
)
def test_json_equals_sklearn_for_any_data(seed: int, c: float, clip: float | None) -> None:
    """Check the 1e-12 equality on random data, regularisation and missing values."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, 4)) * rng.uniform(0.1, 100, 4)
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:, 3] = rng.integers(0, 5, 300)
    y = (rng.random(300) < 0.2).astype(int)
    y[:2] = [0, 1]
    model = LogisticModel(C=c, clip=clip).fit(x, y, categorical=[3])
    loaded = LogisticModel.from_files(model.to_files())
    np.testing.assert_allclose(
        loaded.decision_function(x), _sklearn_margin(model, x), atol=1e-12, rtol=0
    )


def test_all_missing_column_is_neutral(toy: Any) -> None:
    """Check that a feature missing in every training row gets no weight and no error."""
    x = toy.x.copy()
    x[:, 3] = np.nan
    model = LogisticModel().fit(x, toy.y, categorical=toy.categorical)
    c = model.contributions(toy.x_val)
    assert np.all(c[:, 3] == c[0, 3])


def test_max_categories_keeps_most_frequent() -> None:
    """Check that only the max_categories most frequent codes get a one-hot level."""
    rng = np.random.default_rng(0)
    codes = np.concatenate([np.full(500, 1.0), np.full(300, 2.0), np.full(10, 3.0)])
    x = np.column_stack([codes, rng.normal(size=codes.size)])
    y = (rng.random(codes.size) < 0.3).astype(int)
    model = LogisticModel(max_categories=2).fit(x, y, categorical=[0])
    assert model.levels_[0].tolist() == [1.0, 2.0]


def test_contribution_of_category_is_its_level_coefficient(toy: Any) -> None:
    """Check that a categorical feature contributes the coefficient of its active level."""
    model = LogisticModel().fit(toy.x, toy.y, categorical=toy.categorical)
    row = toy.x_val[:1].copy()
    row[0, 4] = model.levels_[0][2]
    assert model.contributions(row)[0, 4] == model.coef_levels_[0][2]


def test_clip_bounds_contributions(toy: Any) -> None:
    """Check that no numeric contribution exceeds |coefficient| x clip."""
    model = LogisticModel(clip=2.0).fit(toy.x, toy.y, categorical=toy.categorical)
    extreme = toy.x_val.copy()
    extreme[:, 0] = 1e9
    c = model.contributions(extreme)[:, list(model.numeric_)]
    assert (np.abs(c) <= np.abs(model.coef_numeric_) * 2.0 + 1e-12).all()
