"""One row's anomaly score as a LightGBM model equals the numpy traversals.

Every test runs twice: the forest walked by the compiled tree walk (``compiled``, skipped
where it is not built) and by LightGBM's single-row C API (``c_api``, the walk turned off).
"""

from __future__ import annotations

import pickle
import threading
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from row_paths import check_kind

from fraudwatch.models import AnomalyDetector
from fraudwatch.models import _isolation as iso_module

COLUMNS = [3, 0, 2, 1]
"""An out-of-order subset of the toy columns (column 4 holds category codes)."""


@pytest.fixture(scope="module", autouse=True)
def _every_path(path: str) -> str:
    """Every test of this module runs with each one-row predictor (``path``, conftest)."""
    return path


@pytest.fixture(scope="module")
def detector(toy: Any, path: str) -> AnomalyDetector:
    """100 trees on the toy columns, reloaded from its files like the service, then edited.

    The splits on the noise column (N(0, 1)) are shrunk by 1e-37, some to zeros: they then
    lie within LightGBM's 1e-35 of zero, where a dense row's value reads as 0.0 unless
    scaled (scikit-learn never splits a column that narrow, but a file may).
    """
    fitted = AnomalyDetector(n_estimators=100).fit(toy.x, feature_names=toy.names, columns=COLUMNS)
    det = AnomalyDetector.from_files(fitted.to_files())
    a = det.arrays_
    noise = np.flatnonzero((a["left"] != -1) & (a["feature"] == 0))
    a["threshold"][noise] *= 1e-37
    a["threshold"][noise[:5]] = 0.0
    a["threshold"][noise[5:10]] = -0.0
    return det


def walk(det: AnomalyDetector, row: np.ndarray) -> float:
    """One row's score by the numpy one-row walk."""
    return float(det._walk_row(row)[0])


def chunk(det: AnomalyDetector, row: np.ndarray) -> float:
    """One row's score by the numpy small-batch traversal."""
    return float(det._score_chunk(np.ascontiguousarray(row[None, COLUMNS], dtype=np.float32))[0])


def native(det: AnomalyDetector, row: np.ndarray) -> float:
    """One row's score by LightGBM's single-row API, checking that it was taken.

    ``_score_row`` directly: ``score`` refuses infinities, but a finite value beyond
    float32 reaches the trees as one.
    """
    value = float(det._score_row(row)[0])
    assert det.__dict__["_native"] is not None
    return value


def special_values(det: AnomalyDetector) -> list[float]:
    """Split thresholds, their float32 roundings and neighbours, signed zeros, tiny values."""
    splits = det.arrays_["threshold"][det.arrays_["left"] != -1]
    near = splits.astype(np.float32)
    values = np.concatenate(
        [
            splits,
            near,
            np.nextafter(near, np.float32(np.inf)),
            np.nextafter(near, np.float32(-np.inf)),
            [0.0, -0.0, 1e-45, -1e-45, 1e-38, -1e-38, 1e-36, -1e-36, 1e-35, -1e-35],
        ]
    )
    return [float(v) for v in values.astype(np.float64)]


_finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False).map(float)
_unusual = st.sampled_from([np.nan, np.inf, -np.inf])


@st.composite
def rows(draw: st.DrawFn, specials: list[float]) -> np.ndarray:
    """Toy-width rows whose cells sit on splits, near them, at extremes, or are missing."""
    cell = st.one_of(st.sampled_from(specials), _finite32, _unusual)
    return draw(hnp.arrays(np.float64, (8, 5), elements=cell))


def test_single_row_path_is_taken_and_traverses_real_trees(
    detector: AnomalyDetector, path: str
) -> None:
    """Check that the fixture's forest splits near zero and is scored by the path asked for."""
    splits = detector.arrays_["threshold"][detector.arrays_["left"] != -1]
    assert np.any((np.abs(splits) < 1e-35) & (splits != 0))
    assert np.any(splits == 0)
    native_row = detector._native_row()
    assert native_row is not None
    check_kind(native_row.predictor, path)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_single_row_equals_numpy_walks_bit_for_bit(
    detector: AnomalyDetector, data: st.DataObject
) -> None:
    """Check LightGBM's one-row score against both numpy traversals on ties, NaN, inf, tiny."""
    probe = data.draw(rows(special_values(detector)))
    for row in probe:
        expected = walk(detector, row)
        assert native(detector, row) == expected, f"row {row!r}"
        assert chunk(detector, row) == expected, f"row {row!r}"
        if not np.isinf(row).any():
            assert float(detector.score(row[None, :])[0]) == expected, f"row {row!r}"


def test_single_row_equals_sklearn_on_toy_rows(toy: Any) -> None:
    """Check that validation rows of real-looking data score exactly like scikit-learn."""
    det = AnomalyDetector(n_estimators=100).fit(toy.x, columns=COLUMNS)
    expected = -det.forest_.score_samples(toy.x_val[:, COLUMNS])
    alone = np.array([native(det, row) for row in toy.x_val[:300]])
    np.testing.assert_array_equal(alone, expected[:300])


def test_single_leaf_trees(toy: Any) -> None:
    """Check exact scores for a forest mixing single-leaf trees (a constant sample) and others."""
    rng = np.random.default_rng(3)
    x = np.zeros((400, 2))
    x[:40] = rng.normal(size=(40, 2))  # 10% distinct rows: some 4-row samples are constant
    det = AnomalyDetector(n_estimators=60, max_samples=4).fit(x)
    a = det.arrays_
    root_is_leaf = a["left"][a["roots"]] == -1
    assert root_is_leaf.any()
    assert not root_is_leaf.all()
    probe = np.vstack([x[:60], rng.normal(size=(40, 2)), [[0.0, 0.0], [np.nan, 0.0]]])
    expected = -det.forest_.score_samples(probe)
    alone = np.array([native(det, row) for row in probe])
    np.testing.assert_array_equal(alone, expected)
    assert [walk(det, row) for row in probe] == alone.tolist()


def test_forest_of_single_leaves_only() -> None:
    """Check that constant training data (every tree a single leaf) scores exactly."""
    det = AnomalyDetector(n_estimators=20).fit(np.ones((50, 3)))
    assert np.all(det.arrays_["left"] == -1)
    probe = np.array([[1.0, 1.0, 1.0], [0.0, np.nan, 5.0]])
    for i, row in enumerate(probe):
        assert native(det, row) == -det.forest_.score_samples(probe[i : i + 1])[0]


def test_threads_scoring_at_once_get_exact_scores(
    detector: AnomalyDetector, toy: Any, path: str
) -> None:
    """Check that several threads scoring rows at once each get the exact score of their row."""
    det = AnomalyDetector.from_files(detector.to_files())  # no predictor built yet
    x = toy.x_val
    expected = [walk(det, row) for row in x[:400]]
    n_threads = 6
    barrier = threading.Barrier(n_threads)
    errors: list[str] = []

    def work(offset: int) -> None:
        barrier.wait()
        for k in range(4 * len(expected)):
            i = (offset * 67 + k) % len(expected)
            got = float(det.score(x[i : i + 1])[0])
            if got != expected[i]:
                errors.append(f"row {i}: {got!r} != {expected[i]!r}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    native_row = det._native_row()
    assert native_row is not None
    if path == "c_api":
        assert native_row.predictor.n_configs >= 1


def test_lightgbm_reads_back_every_number_exactly(detector: AnomalyDetector) -> None:
    """Check that LightGBM parses the written thresholds and leaf values to the same doubles."""
    text = detector._lightgbm_model()
    assert text is not None
    again = lgb.Booster(model_str=text).model_to_string()

    def numbers(model: str, key: str) -> list[float]:
        lines = [ln for ln in model.splitlines() if ln.startswith(f"{key}=")]
        return [float(v) for ln in lines for v in ln.split("=", 1)[1].split()]

    for key in ("threshold", "leaf_value", "left_child", "right_child", "split_feature"):
        assert numbers(again, key) == numbers(text, key), key
    assert numbers(again, "decision_type") == numbers(text, "decision_type")


def test_without_row_predictor_one_row_walks_numpy(
    toy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check that without a single-row predictor one row is walked in numpy, same score."""

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        return None  # neither the compiled walk nor LightGBM's single-row API

    det = AnomalyDetector(n_estimators=30).fit(toy.x, columns=COLUMNS)
    expected = -det.forest_.score_samples(toy.x_val[:20, COLUMNS])
    monkeypatch.setattr(iso_module, "row_predictor", unavailable)
    alone = [float(det.score(toy.x_val[i : i + 1])[0]) for i in range(20)]
    assert det.__dict__["_native"] is None
    np.testing.assert_array_equal(alone, expected)


def test_forest_lightgbm_cannot_match_is_walked_in_numpy(toy: Any) -> None:
    """Check that trees deeper than max_depth (the walk stops there) or shared nodes fall back."""
    files = AnomalyDetector(n_estimators=10).fit(toy.x, columns=COLUMNS).to_files()
    shallow = AnomalyDetector.from_files(files)
    shallow.max_depth_ -= 1  # the walk ends some rows on an internal node
    assert shallow._lightgbm_model() is None
    row = toy.x_val[0]
    assert float(shallow.score(row[None, :])[0]) == walk(shallow, row)
    assert shallow.__dict__["_native"] is None

    shared = AnomalyDetector.from_files(files)
    a = shared.arrays_
    root = int(a["roots"][0])
    a["right"][root] = a["left"][root]  # both children of the root are the same node
    assert shared._lightgbm_model() is None
    assert float(shared.score(row[None, :])[0]) == walk(shared, row)


def test_detector_pickles_without_its_predictor(detector: AnomalyDetector, toy: Any) -> None:
    """Check that a detector that scored a row pickles (predictor dropped) and scores alike."""
    row = toy.x_val[:1]
    before = float(detector.score(row)[0])
    assert detector.__dict__.get("_native") is not None
    clone = pickle.loads(pickle.dumps(detector))
    assert "_native" not in clone.__dict__
    assert float(clone.score(row)[0]) == before
