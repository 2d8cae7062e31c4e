"""The Isolation Forest exported to arrays scores exactly like scikit-learn."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudwatch.errors import BundleError, ConfigError
from fraudwatch.models import AnomalyDetector


def test_scores_equal_sklearn_score_samples(toy: Any) -> None:
    """Check that the numpy scorer equals -IsolationForest.score_samples exactly."""
    det = AnomalyDetector(n_estimators=60).fit(toy.x, columns=[0, 1, 2, 3])
    expected = -det.forest_.score_samples(toy.x_val[:, :4])
    np.testing.assert_array_equal(det.score(toy.x_val), expected)


def test_blocks_in_threads_equal_sklearn(toy: Any) -> None:
    """Check that many blocks of rows scored by two threads equal scikit-learn exactly."""
    det = AnomalyDetector(n_estimators=30).fit(toy.x, columns=[0, 1, 2, 3])
    rng = np.random.default_rng(4)
    x = toy.x_val[rng.integers(0, toy.x_val.shape[0], 40_000)]
    expected = -det.forest_.score_samples(x[:, :4])
    np.testing.assert_array_equal(det.score(x, num_threads=2), expected)
    np.testing.assert_array_equal(det.score(x, num_threads=1), expected)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 400), missing=st.floats(0, 0.5))
def test_loaded_scores_equal_sklearn_with_missing(seed: int, n: int, missing: float) -> None:
    """Check exact equality after a save/load round trip, with NaNs and tiny training sets."""
    rng = np.random.default_rng(seed)
    x = rng.standard_t(3, size=(n, 3))
    x[rng.random(x.shape) < missing] = np.nan
    det = AnomalyDetector(n_estimators=20, random_state=seed).fit(x)
    loaded = AnomalyDetector.from_files(det.to_files())
    probe = rng.standard_t(3, size=(50, 3))
    probe[rng.random(probe.shape) < missing] = np.nan
    np.testing.assert_array_equal(loaded.score(probe), -det.forest_.score_samples(probe))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), missing=st.floats(0, 0.5))
def test_single_rows_equal_sklearn(seed: int, missing: float) -> None:
    """Check that rows scored one at a time equal scikit-learn exactly, NaNs included."""
    rng = np.random.default_rng(seed)
    x = rng.standard_t(3, size=(300, 4))
    x[rng.random(x.shape) < missing] = np.nan
    det = AnomalyDetector(n_estimators=100, random_state=seed).fit(x)
    probe = rng.standard_t(3, size=(20, 4))
    probe[rng.random(probe.shape) < missing] = np.nan
    alone = np.array([det.score(probe[i : i + 1])[0] for i in range(probe.shape[0])])
    np.testing.assert_array_equal(alone, -det.forest_.score_samples(probe))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_train=st.integers(2, 700),
    max_samples=st.integers(2, 600),
    n_estimators=st.integers(1, 120),
    missing=st.floats(0, 0.6),
)
def test_one_row_walk_equals_sklearn_on_ties_and_missing(
    seed: int, n_train: int, max_samples: int, n_estimators: int, missing: float
) -> None:
    """Check that one row scored alone equals scikit-learn exactly, values on splits included.

    The probes sit on the split thresholds and on their float32 neighbours (the side of a
    tie decides the leaf), hold NaNs, and the detector reads an out-of-order column subset;
    the detector is also reloaded from its files, as the service does.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_t(2, size=(n_train, 5))
    x[rng.random(x.shape) < missing] = np.nan
    cols = [4, 1, 3]
    det = AnomalyDetector(
        n_estimators=n_estimators, max_samples=max_samples, random_state=seed
    ).fit(x, columns=cols)
    loaded = AnomalyDetector.from_files(det.to_files())
    splits = det.arrays_["threshold"][det.arrays_["left"] != -1]
    on = rng.choice(splits, size=(20, 5)) if splits.size else rng.normal(size=(20, 5))
    near = on.astype(np.float32)
    probe = np.vstack(
        [
            rng.standard_t(2, size=(20, 5)),
            on,
            near.astype(np.float64),
            np.nextafter(near, np.float32(np.inf)).astype(np.float64),
            np.nextafter(near, np.float32(-np.inf)).astype(np.float64),
        ]
    )
    probe[rng.random(probe.shape) < missing] = np.nan
    expected = -det.forest_.score_samples(probe[:, cols])
    for i in range(probe.shape[0]):
        row = probe[i : i + 1]
        assert loaded.score(row)[0] == expected[i], f"row {i}: {row}"
        assert det.score(row)[0] == expected[i], f"row {i}: {row}"


def test_one_row_walk_refuses_child_outside_forest(toy: Any) -> None:
    """Check that a child index beyond the forest is refused before a row is walked."""
    det = AnomalyDetector.from_files(AnomalyDetector(n_estimators=3).fit(toy.x).to_files())
    det.arrays_["right"][0] = det.arrays_["left"].size  # one past the last node
    with pytest.raises(BundleError, match="child indices outside the forest"):
        det.score(toy.x_val[:1])


def test_root_outside_forest_is_refused_for_one_row_and_small_batches(toy: Any) -> None:
    """Check that a tree root beyond the forest is refused by both numpy traversals."""
    det = AnomalyDetector.from_files(AnomalyDetector(n_estimators=3).fit(toy.x).to_files())
    det.arrays_["roots"][1] = det.arrays_["left"].size
    for rows in (toy.x_val[:1], toy.x_val[:5]):
        with pytest.raises(BundleError, match="child indices outside the forest"):
            det.score(rows)


def test_single_row_equals_sklearn(toy: Any) -> None:
    """Check that a single row of the toy data scores exactly like scikit-learn."""
    det = AnomalyDetector(n_estimators=60).fit(toy.x, columns=[0, 1, 2, 3])
    for i in range(25):
        row = toy.x_val[i : i + 1]
        np.testing.assert_array_equal(det.score(row), -det.forest_.score_samples(row[:, :4]))


def test_outlier_scores_higher_and_in_unit_interval(toy: Any) -> None:
    """Check that an extreme row is more anomalous than a typical one, scores in (0, 1]."""
    det = AnomalyDetector().fit(toy.x, columns=[0, 1, 2, 3])
    typical = np.nanmedian(toy.x, axis=0)[None, :]
    extreme = typical.copy()
    extreme[0, 0] = 1e6
    s = det.score(np.vstack([typical, extreme, toy.x_val]))
    assert s[1] > s[0]
    assert ((s > 0) & (s <= 1)).all()


def test_arrays_load_without_pickle(toy: Any, tmp_path: Path) -> None:
    """Check that the arrays file is a plain npz readable with allow_pickle=False."""
    det = AnomalyDetector(n_estimators=5).fit(toy.x)
    files = det.to_files()
    with np.load(io.BytesIO(files["anomaly.npz"]), allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)


def test_missing_arrays_file_refused(toy: Any) -> None:
    """Check that a detector without its arrays file is refused, naming it."""
    files = AnomalyDetector(n_estimators=5).fit(toy.x).to_files()
    del files["anomaly.npz"]
    with pytest.raises(BundleError, match=r"anomaly\.npz is missing"):
        AnomalyDetector.from_files(files)


def test_bad_columns_refused(toy: Any) -> None:
    """Check that column indices outside the matrix are refused."""
    with pytest.raises(ConfigError, match="columns must list distinct indices"):
        AnomalyDetector().fit(toy.x, columns=[0, 9])


def test_unfitted_detector_refuses_to_score(toy: Any) -> None:
    """Check that scoring before fit says to fit first."""
    with pytest.raises(ConfigError, match="not fitted yet"):
        AnomalyDetector().score(toy.x)


def test_numpy_path_equals_compiled_path(toy: Any) -> None:
    """Check that the numpy fallback scores exactly like the compiled traversal."""
    det = AnomalyDetector(n_estimators=30).fit(toy.x, columns=[0, 1, 2, 3])
    numpy_only = AnomalyDetector.from_files(det.to_files())
    numpy_only._trees = None  # force the numpy traversal
    np.testing.assert_array_equal(numpy_only.score(toy.x_val), det.score(toy.x_val))


def test_malformed_tree_arrays_do_not_reach_compiled_code(toy: Any) -> None:
    """Check that a child index pointing backwards is caught before the compiled traversal."""
    files = AnomalyDetector(n_estimators=3).fit(toy.x).to_files()
    det = AnomalyDetector.from_files(files)
    det.arrays_["left"][0] = 0  # the root becomes its own left child
    assert det._native_trees() is None
    assert np.isfinite(det.score(toy.x_val[:10])).all()
