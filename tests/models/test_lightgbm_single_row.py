"""The single-row paths score and explain exactly like ``Booster.predict``.

Every test runs twice: with the compiled tree walk (``compiled``, skipped where it is not
built) and with LightGBM's single-row C API (``c_api``, the walk turned off).
"""

from __future__ import annotations

import copy
import gc
import pickle
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from row_paths import check_kind

from fraudwatch.models import LightGBMModel
from fraudwatch.models import _lightgbm as lgb_module

PARAMS: dict[str, Any] = {
    "n_estimators": 60,
    "num_leaves": 15,
    "num_threads": 1,
    "early_stopping_rounds": None,
}


def c_api_only(path: str) -> None:
    """Skip a test of the C API's own configs when the compiled walk serves."""
    if path != "c_api":
        pytest.skip("about LightGBM's FastConfig handles, which the compiled walk has none of")


@pytest.fixture(scope="module")
def model(toy: Any, path: str) -> LightGBMModel:
    """A LightGBM model with a categorical column, saved and loaded back."""
    fitted = LightGBMModel(**PARAMS).fit(
        toy.x, toy.y, feature_names=toy.names, categorical=toy.categorical
    )
    return LightGBMModel.from_files(fitted.to_files())


def generic(model: LightGBMModel, row: np.ndarray) -> float:
    """The log-odds of one row through ``Booster.predict`` (the multi-row path)."""
    raw = model.booster_.predict(row, raw_score=True, num_threads=1)
    return float(raw[0] + model.margin_offset_)


def fast(model: LightGBMModel, row: np.ndarray) -> float:
    """The log-odds of one row through ``decision_function``."""
    return float(model.decision_function(row)[0])


def generic_contributions(model: LightGBMModel, row: np.ndarray) -> np.ndarray:
    """Path contributions of one row as before the fast path (``Booster.predict`` leaves).

    The leaves are summed by the sparse route of the leaf tables (the one of batches).
    """
    leaves = model.booster_.predict(row, pred_leaf=True, num_threads=1)
    out = model.leaf_tables().contributions(np.vstack([leaves, leaves]))[:1]
    out[:, -1] += model.margin_offset_
    return out


def refuse(*args: Any, **kwargs: Any) -> Any:
    """Stand-in for ``Booster.predict`` where the single-row fast path must be taken."""
    raise AssertionError("Booster.predict called for a single row")


_value = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64),
    st.just(float("nan")),
    st.just(0.0),
)
_code = st.one_of(st.integers(-2, 40).map(float), st.just(float("nan")))


@st.composite
def _rows(draw: st.DrawFn, toy: Any) -> np.ndarray:
    """One row: a validation row of the toy data, or random values (NaNs, any category code)."""
    if draw(st.booleans()):
        index = draw(st.integers(0, len(toy.x_val) - 1))
        return np.asarray(toy.x_val[index : index + 1].copy())
    numeric = draw(hnp.arrays(np.float64, 4, elements=_value))
    return np.append(numeric, draw(_code))[None, :]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_single_row_equals_generic_path(
    model: LightGBMModel, toy: Any, path: str, data: st.DataObject
) -> None:
    """Check that one row, NaNs and (unseen) category codes included, scores exactly alike."""
    row = data.draw(_rows(toy))
    assert fast(model, row) == generic(model, row)
    check_kind(model.__dict__["_single"][1], path)  # the fast path was taken


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_single_row_explanation_equals_generic_path(
    model: LightGBMModel, toy: Any, data: st.DataObject
) -> None:
    """Check that one row's leaves and path contributions (NaNs, unseen codes) are bit-identical."""
    row = data.draw(_rows(toy))
    single_row = model._single_row()
    assert single_row is not None
    leaves = single_row.leaf_indices(row)
    expected_leaves = model.booster_.predict(row, pred_leaf=True, num_threads=1)
    assert leaves.dtype == expected_leaves.dtype
    np.testing.assert_array_equal(leaves, expected_leaves)
    assert model.contributions(row).tobytes() == generic_contributions(model, row).tobytes()


def test_one_row_explained_without_booster_predict(
    model: LightGBMModel, toy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check that explaining one row takes the fast path, even after a batch in tree blocks."""
    fresh = LightGBMModel.from_files(model.to_files())
    rows = toy.x_val[:40].copy()
    rows[:10, 2] = np.nan  # numeric missing: the default direction
    rows[10:20, 4] = np.nan  # categorical missing
    expected = [generic_contributions(fresh, rows[i : i + 1]) for i in range(40)]
    fresh.contributions(rows[:1])  # the fast path's configs exist before the batch
    fresh.decision_function(np.vstack([toy.x_val] * 2))  # the booster keeps the last block
    monkeypatch.setattr(lgb.Booster, "predict", refuse)
    for i in range(40):
        np.testing.assert_array_equal(fresh.contributions(rows[i : i + 1]), expected[i])


def test_single_rows_equal_batch(model: LightGBMModel, toy: Any) -> None:
    """Check that each row scored alone equals the same row in a batch, probability included."""
    batch = model.decision_function(toy.x_val[:300])
    alone = np.array([fast(model, toy.x_val[i : i + 1]) for i in range(300)])
    np.testing.assert_array_equal(alone, batch)
    proba = np.array([model.predict_proba(toy.x_val[i : i + 1])[0] for i in range(300)])
    np.testing.assert_array_equal(proba, model.predict_proba(toy.x_val[:300]))


def test_blocked_batch_does_not_change_single_rows(model: LightGBMModel, toy: Any) -> None:
    """Check that a batch predicted in blocks of trees leaves single-row scores intact.

    LightGBM keeps the tree range of the last ``predict`` call in the booster; a fast-path
    config on the same booster would then sum only the last block.
    """
    rows = toy.x_val[:20]
    expected = [generic(model, rows[i : i + 1]) for i in range(20)]
    assert model.booster_.current_iteration() > lgb_module._TREE_BLOCK
    model.decision_function(np.vstack([toy.x_val] * 2))  # >= _BLOCK_MIN_ROWS: in blocks
    assert [fast(model, rows[i : i + 1]) for i in range(20)] == expected


def run_together(*fns: Callable[[], Any]) -> list[Any]:
    """Run each function in its own thread, all released at once; their results in order.

    An exception in any thread is raised here.
    """
    start = threading.Barrier(len(fns))

    def at_start(fn: Callable[[], Any]) -> Any:
        start.wait()
        return fn()

    with ThreadPoolExecutor(len(fns)) as pool:
        futures = [pool.submit(at_start, fn) for fn in fns]
        return [f.result() for f in futures]


def test_threads_score_exactly(model: LightGBMModel, toy: Any, path: str) -> None:
    """Check that several threads scoring single rows (and blocked batches) agree exactly."""
    rng = np.random.default_rng(5)
    x = toy.x_val[rng.integers(0, toy.x_val.shape[0], 4000)]
    x[rng.random(x.shape) < 0.05] = np.nan
    # One Booster.predict call (decision_function would sum 2000 rows in blocks of trees).
    raw = model.booster_.predict(x[:2000], raw_score=True, num_threads=1)
    expected = raw + model.margin_offset_
    fresh = LightGBMModel.from_files(model.to_files())

    def single(k: int) -> np.ndarray:
        return np.array([fast(fresh, x[i : i + 1]) for i in range(k, 2000, 4)])

    def batches() -> None:
        for _ in range(3):
            fresh.decision_function(x, num_threads=1)

    *results, _ = run_together(*(partial(single, k) for k in range(4)), batches)
    for k in range(4):
        np.testing.assert_array_equal(results[k], expected[k:2000:4])
    single_row = fresh._single_row()
    check_kind(single_row, path)
    if path == "c_api":
        assert 1 <= single_row.n_configs <= 4


def test_threads_explain_exactly(model: LightGBMModel, toy: Any, path: str) -> None:
    """Check that threads explaining and scoring single rows (beside tree blocks) are exact."""
    rng = np.random.default_rng(6)
    x = toy.x_val[rng.integers(0, toy.x_val.shape[0], 4000)]
    x[rng.random(x.shape) < 0.05] = np.nan
    rows = [x[i : i + 1] for i in range(400)]
    expected = [generic_contributions(model, r) for r in rows]
    raw = model.booster_.predict(x[:400], raw_score=True, num_threads=1) + model.margin_offset_
    fresh = LightGBMModel.from_files(model.to_files())

    def explain(k: int) -> list[tuple[int, np.ndarray]]:
        return [(i, fresh.contributions(rows[i])) for _ in range(3) for i in range(k, 400, 3)]

    def score() -> np.ndarray:
        return np.array([fast(fresh, r) for _ in range(3) for r in rows])

    def batches() -> None:
        for _ in range(3):
            fresh.decision_function(x, num_threads=1)

    *explained, scored, _ = run_together(*(partial(explain, k) for k in range(3)), score, batches)
    for pairs in explained:
        for i, got in pairs:
            np.testing.assert_array_equal(got, expected[i])
    np.testing.assert_array_equal(scored, np.tile(raw, 3))
    single_row = fresh._single_row()
    check_kind(single_row, path)
    if path == "c_api":
        assert 2 <= single_row.n_configs <= 4  # one config per simultaneous caller at most


def test_saved_and_loaded_model_uses_fast_path(
    model: LightGBMModel, toy: Any, path: str, tmp_path: Path
) -> None:
    """Check that a model written by save() and read by load() takes the fast path."""
    model.save(tmp_path / "m")
    loaded = LightGBMModel.load(tmp_path / "m")
    assert "_single" not in loaded.__dict__
    row = toy.x_val[7:8]
    assert fast(loaded, row) == generic(model, row)
    single_row = loaded._single_row()
    check_kind(single_row, path)
    if path == "c_api":
        assert single_row.n_configs == 1


def test_configs_freed_when_model_dropped(model: LightGBMModel, toy: Any, path: str) -> None:
    """Check that the native configs (both kinds) are freed once the model is dropped."""
    c_api_only(path)
    dropped = LightGBMModel.from_files(model.to_files())
    fast(dropped, toy.x_val[:1])
    dropped.contributions(toy.x_val[:1])
    single_row = dropped._single_row()
    assert single_row is not None
    handles, finalizer = single_row._handles, single_row._finalizer
    assert len(handles) == 2  # a raw-score config and a leaf-index config
    assert finalizer.alive
    del dropped, single_row
    gc.collect()
    assert not finalizer.alive
    assert handles == []


def test_new_booster_gets_new_fast_path(model: LightGBMModel, toy: Any, path: str) -> None:
    """Check that replacing booster_ rebuilds the fast path and frees the old one."""
    other = LightGBMModel.from_files(model.to_files())
    fast(other, toy.x_val[:1])
    old = other._single_row()
    check_kind(old, path)
    finalizer = weakref.finalize(old, lambda: None)
    del old
    other.booster_ = copy.deepcopy(other.booster_)
    assert fast(other, toy.x_val[:1]) == generic(model, toy.x_val[:1])
    check_kind(other._single_row(), path)
    gc.collect()
    assert not finalizer.alive


def test_copies_and_pickles_rebuild_their_own(model: LightGBMModel, toy: Any) -> None:
    """Check that deep copies and pickles carry no native handle and score alike."""
    fast(model, toy.x_val[:1])
    row = toy.x_val[3:4]
    for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert "_single" not in twin.__dict__
        assert fast(twin, row) == fast(model, row)
        assert twin._single_row() is not model._single_row()


def test_generic_path_when_fast_path_unavailable(
    model: LightGBMModel, toy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check that without the compiled walk and the single-row C API, Booster.predict serves."""

    def unavailable(booster: Any) -> None:
        raise AttributeError("LGBM_BoosterPredictForMatSingleRowFastInit")

    monkeypatch.setattr(lgb_module, "compiled_forest", lambda text: None)
    monkeypatch.setattr(lgb_module, "_SingleRowPredictor", unavailable)
    other = LightGBMModel.from_files(model.to_files())
    row = toy.x_val[11:12]
    assert fast(other, row) == generic(model, row)
    assert other.__dict__["_single"][1] is None


def test_small_batches_exact_while_another_thread_predicts_blocks(
    model: LightGBMModel, toy: Any
) -> None:
    """Check that small batches stay exact while another thread predicts in tree blocks.

    The booster keeps the tree range of its last prediction; without the lock around
    ``Booster.predict`` a small batch could sum only the other thread's block of trees.
    """
    rng = np.random.default_rng(9)
    x = toy.x_val[rng.integers(0, toy.x_val.shape[0], 6000)]
    fresh = LightGBMModel.from_files(model.to_files())
    small = [x[i : i + 50] for i in range(0, 1000, 50)]
    expected = [
        fresh.booster_.predict(s, raw_score=True, num_threads=1) + fresh.margin_offset_
        for s in small
    ]

    def smalls() -> list[np.ndarray]:
        return [fresh.decision_function(s, num_threads=1) for _ in range(10) for s in small]

    def blocks() -> None:
        for _ in range(8):
            fresh.decision_function(x, num_threads=1)

    *got, _ = run_together(smalls, smalls, blocks)
    for outs in got:
        for i, out in enumerate(outs):
            np.testing.assert_array_equal(out, expected[i % len(small)])
