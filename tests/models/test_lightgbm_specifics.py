"""LightGBM-specific behaviour: validation sampling, kept trees, thread choice."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from fraudwatch.models import LightGBMModel
from fraudwatch.models._base import threads_for

FAST: dict[str, Any] = {"n_estimators": 60, "num_leaves": 15, "num_threads": 1}


@settings(max_examples=30, deadline=None)
@given(n_pos=st.integers(1, 200), n_neg=st.integers(1, 5000), cap=st.integers(1000, 3000))
def test_eval_sample_keeps_frauds_and_reweights(n_pos: int, n_neg: int, cap: int) -> None:
    """Check that the evaluation sample keeps every fraud and weights legit rows to their count."""
    y = np.array([1] * n_pos + [0] * n_neg, dtype=np.int8)
    x = np.arange(y.size, dtype=float)[:, None]
    _, ys, w = LightGBMModel(eval_max_rows=cap)._eval_sample(x, y)
    if y.size <= cap:
        assert w is None
        return
    assert w is not None
    assert int(ys.sum()) == n_pos
    np.testing.assert_allclose(w[ys == 0].sum(), n_neg)
    assert ys.size <= max(cap, n_pos + 1)


def test_sampled_early_stopping_score_tracks_full_ap(toy: Any) -> None:
    """Check that the AP estimated on a validation sample is close to the full validation AP."""
    model = LightGBMModel(eval_max_rows=1000, **FAST).fit(
        toy.x, toy.y, categorical=toy.categorical, eval_set=(toy.x_val, toy.y_val)
    )
    full = average_precision_score(toy.y_val, model.predict_proba(toy.x_val))
    assert model.best_score_ is not None
    assert abs(model.best_score_ - full) < 0.1


def test_saved_model_keeps_only_chosen_trees(toy: Any) -> None:
    """Check that after early stopping the booster holds exactly the chosen rounds."""
    model = LightGBMModel(n_estimators=200, early_stopping_rounds=5, num_threads=1).fit(
        toy.x, toy.y, eval_set=(toy.x_val, toy.y_val)
    )
    assert model.booster_.current_iteration() == model.n_iterations_
    assert model.n_iterations_ < 200


def test_small_batches_use_one_thread() -> None:
    """Check that up to 64 rows are predicted with one thread unless told otherwise."""
    assert threads_for(1, None, None) == 1
    assert threads_for(64, 2, None) == 1
    assert threads_for(65, 2, None) == 2
    assert threads_for(65, None, None) == 0
    assert threads_for(1, 2, 2) == 2
