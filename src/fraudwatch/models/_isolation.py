"""The Isolation Forest anomaly detector, trained beside the fraud model.

Trained with scikit-learn's ``IsolationForest`` on the numeric features, then exported to
plain arrays (``anomaly.npz``, loaded with ``allow_pickle=False``) plus ``anomaly.json``,
and scored in numpy: no pickle, no scikit-learn object at load time.

The anomaly score is ``2 ** (-mean path length / c(max_samples))`` from the Isolation Forest
paper, in ``(0, 1]``: higher is more anomalous, about 0.5 and below is ordinary. It equals
``-IsolationForest.score_samples`` exactly (same traversal, same float32 comparison, same
order of summation).

One row (the real-time service's case) is scored as a LightGBM model: the forest is rewritten
once, at first use, in LightGBM's text format (in memory only; the files do not change), whose
raw score is exactly the sum of the path lengths (see ``AnomalyDetector._native_row``), and
walked by the compiled tree walk (:mod:`fraudwatch.models._forest`) or, where that is not
built, by LightGBM's single-row C API. Without either, or for a forest LightGBM cannot
represent exactly, one row walks the numpy arrays.
"""

from __future__ import annotations

import io
import itertools
import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from numbers import Integral
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from fraudwatch.errors import BundleError, ConfigError, DataValidationError
from fraudwatch.models._base import (
    Matrix,
    Vector,
    check_matrix,
    read_json_file,
    threads_for,
    to_json_bytes,
)
from fraudwatch.models._forest import RowPredictor
from fraudwatch.models._lightgbm import row_predictor
from fraudwatch.models._params import Interval, validate_params

__all__ = ["ANOMALY_FILES", "AnomalyDetector"]

log = logging.getLogger(__name__)

ARRAYS_FILE = "anomaly.npz"
META_FILE = "anomaly.json"
ANOMALY_FILES = (ARRAYS_FILE, META_FILE)
_FORMAT_VERSION = 1
_CHUNK = 1024
_NATIVE_CHUNK = 16_384
_SMALL_BATCH = 64
_ARRAYS = ("roots", "left", "right", "feature", "threshold", "missing_left", "leaf_value")
_SCALE = np.float64(2.0**100)
"""Factor applied to the float32 values and thresholds given to LightGBM (see ``_native_row``)."""
_NAN_MISSING, _DEFAULT_LEFT = 8, 2
"""LightGBM ``decision_type`` bits: missing type NaN (``2 << 2``), missing values go left."""


@dataclass(frozen=True, slots=True)
class _RowWalk:
    """The forest laid out for scoring one row: every tree walked at once, level by level.

    Node ``k`` is addressed as ``2 * k``; ``children[2 * k + go_left]`` is the (doubled)
    next node, and a leaf points to itself, so ``depth`` steps reach every tree's leaf. The
    row is read twice, side by side (``columns``): a missing value reads as ``-inf`` in the
    first copy and ``+inf`` in the second, and each node reads the copy that sends a missing
    value where scikit-learn sends it (``slot``). ``value <= threshold`` is then exactly
    scikit-learn's test, missing values included, with no branch on them.

    scikit-learn compares a float32 value with a float64 threshold; for a float32 ``v``,
    ``v <= t`` holds exactly when ``v <= t32``, ``t`` rounded *down* to float32, so the
    walk compares float32 with float32 (half the memory to visit, and exact).
    """

    columns: npt.NDArray[np.intp]
    missing_fill: npt.NDArray[np.float32]
    slot: npt.NDArray[np.intp]
    threshold: npt.NDArray[np.float32]
    children: npt.NDArray[np.intp]
    roots: npt.NDArray[np.intp]
    leaf_value: npt.NDArray[np.float64]
    depth: int


@dataclass(frozen=True, slots=True)
class _NativeRow:
    """The forest as a LightGBM model for one row: its single-row predictor, columns read."""

    predictor: RowPredictor
    columns: npt.NDArray[np.intp]


def native_row_values(
    row: npt.NDArray[np.float64], columns: npt.NDArray[np.intp]
) -> npt.NDArray[np.float64]:
    """What the forest as a LightGBM model reads for one full row: the detector's columns as
    float32, like scikit-learn's input, then scaled exactly (a power of two) in float64."""
    return np.multiply(row.take(columns).astype(np.float32), _SCALE, dtype=np.float64)


def _threshold_down(threshold: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """Thresholds rounded *down* to float32: for a float32 ``v``, ``v <= t`` iff ``v <= t32``."""
    with np.errstate(over="ignore"):  # beyond float32: inf, rounded down just below
        down = threshold.astype(np.float32)
    above = down > threshold
    down[above] = np.nextafter(down[above], np.float32(-np.inf))
    return down


class AnomalyDetector:
    """Isolation Forest over the numeric features, scored without scikit-learn.

    Parameters
    ----------
    n_estimators:
        Number of isolation trees.
    max_samples:
        Rows drawn for each tree.
    random_state:
        Seed.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(500, 2))
    >>> det = AnomalyDetector(n_estimators=50).fit(x)
    >>> s = det.score(np.array([[0.0, 0.0], [8.0, -8.0]]))
    >>> bool(s[1] > s[0])
    True
    """

    name: ClassVar[str] = "isolation_forest"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_estimators": [Interval(Integral, 1)],
        "max_samples": [Interval(Integral, 2)],
        "random_state": [Interval(Integral, 0, 2**32 - 1)],
    }

    feature_names_in_: tuple[str, ...]
    columns_: tuple[int, ...]
    n_features_in_: int
    denominator_: float
    max_depth_: int
    arrays_: dict[str, npt.NDArray[Any]]

    def __init__(self, n_estimators: int = 100, max_samples: int = 256, random_state: int = 42):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters."""
        return {
            "n_estimators": self.n_estimators,
            "max_samples": self.max_samples,
            "random_state": self.random_state,
        }

    def fit(
        self,
        x: Matrix,
        *,
        feature_names: Sequence[str] | None = None,
        columns: Sequence[int] | None = None,
    ) -> Self:
        """Grow the forest on the chosen columns of ``x`` (labels are not used).

        Parameters
        ----------
        x:
            Feature matrix (``NaN`` allowed).
        feature_names:
            Names of all columns of ``x``.
        columns:
            Indices of the columns to use (default: all), e.g. the numeric features.

        Returns
        -------
        AnomalyDetector
            ``self``, fitted.
        """
        from sklearn.ensemble import IsolationForest

        validate_params(type(self).__name__, self.get_params(), self._parameter_constraints)
        xc = check_matrix(x, n_features=None)
        n, f = xc.shape
        cols = tuple(range(f)) if columns is None else tuple(int(c) for c in columns)
        if not cols or any(c < 0 or c >= f for c in cols) or len(set(cols)) != len(cols):
            raise ConfigError(f"columns must list distinct indices in [0, {f}); got {list(cols)}")
        if n < 2:
            raise DataValidationError(
                f"the anomaly detector needs at least 2 rows to train; got {n}"
            )
        names = (
            tuple(feature_names) if feature_names is not None else tuple(f"f{i}" for i in range(f))
        )
        if len(names) != f:
            raise ConfigError(f"feature_names has {len(names)} name(s) but x has {f} column(s)")
        forest = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, n),
            random_state=self.random_state,
        ).fit(xc[:, list(cols)])
        self._export(forest)
        self.feature_names_in_ = names
        self.columns_ = cols
        self.n_features_in_ = f
        self.forest_ = forest
        return self

    def _export(self, forest: Any) -> None:
        from sklearn.ensemble._iforest import _average_path_length

        roots, left, right, feat, thr, miss, leaf = [], [], [], [], [], [], []
        offset = 0
        max_depth = 0
        for est in forest.estimators_:
            t = est.tree_
            n_nodes = int(t.node_count)
            is_leaf = t.children_left == -1
            depth_term = t.compute_node_depths() + _average_path_length(t.n_node_samples) - 1.0
            roots.append(offset)
            left.append(np.where(is_leaf, -1, t.children_left + offset))
            right.append(np.where(is_leaf, -1, t.children_right + offset))
            feat.append(np.where(is_leaf, 0, t.feature))
            thr.append(np.asarray(t.threshold, dtype=np.float64))
            miss.append(np.asarray(t.missing_go_to_left, dtype=bool))
            leaf.append(np.asarray(depth_term, dtype=np.float64))
            max_depth = max(max_depth, int(t.max_depth))
            offset += n_nodes
        self.arrays_ = {
            "roots": np.asarray(roots, dtype=np.int64),
            "left": np.concatenate(left).astype(np.int64),
            "right": np.concatenate(right).astype(np.int64),
            "feature": np.concatenate(feat).astype(np.int64),
            "threshold": np.concatenate(thr),
            "missing_left": np.concatenate(miss),
            "leaf_value": np.concatenate(leaf),
        }
        self.max_depth_ = max_depth
        self.denominator_ = float(
            len(forest.estimators_) * _average_path_length([forest._max_samples])[0]
        )

    def score(self, x: Matrix, *, num_threads: int | None = None) -> Vector:
        """Anomaly score of each row in ``(0, 1]``; higher is more anomalous.

        Parameters
        ----------
        x:
            Feature matrix with the columns of ``feature_names_in_`` (all of them, not only
            the ones the detector uses).
        num_threads:
            Threads scoring blocks of rows in parallel (the compiled traversal releases the
            GIL); by default one for up to 64 rows, else one per core.
        """
        if not hasattr(self, "arrays_"):
            raise ConfigError("this AnomalyDetector is not fitted yet; call fit(x) first")
        xc = check_matrix(x, n_features=self.n_features_in_)
        n = xc.shape[0]
        if self.denominator_ == 0.0:
            return np.ones(n, dtype=np.float64)
        if n == 1:
            return self._score_row(xc[0])
        cols = list(self.columns_)
        out = np.empty(n, dtype=np.float64)
        trees = self._native_trees() if n > _SMALL_BATCH else None
        if trees is None:
            sub = np.ascontiguousarray(xc[:, cols], dtype=np.float32)
            for start in range(0, n, _CHUNK):
                out[start : start + _CHUNK] = self._score_chunk(sub[start : start + _CHUNK])
            return out
        leaf_value, roots = self.arrays_["leaf_value"], self.arrays_["roots"].tolist()

        def score_block(start: int) -> None:
            # A block small enough to stay in cache while every tree traverses it.
            sub = np.ascontiguousarray(xc[start : start + _NATIVE_CHUNK, cols], dtype=np.float32)
            depths = np.zeros(sub.shape[0], dtype=np.float64)
            for tree, root in zip(trees, roots, strict=True):  # tree by tree, like scikit-learn
                depths += leaf_value[root + tree.apply(sub)]
            out[start : start + sub.shape[0]] = 2.0 ** (-(depths / self.denominator_))

        starts = range(0, n, _NATIVE_CHUNK)
        workers = min(len(starts), threads_for(n, None, num_threads) or os.cpu_count() or 1)
        if workers <= 1:
            for start in starts:
                score_block(start)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(score_block, starts))
        return out

    def _native_trees(self) -> list[Any] | None:
        """The trees rebuilt as scikit-learn ``Tree`` objects from the validated arrays.

        Traversal then runs in scikit-learn's compiled code (about 5x the numpy path). The
        arrays are checked first (children after their parent and inside the tree, features
        in range) so a malformed file cannot send the traversal out of bounds. Returns
        ``None`` (numpy path) if this scikit-learn's ``Tree`` cannot be rebuilt.
        """
        cached: list[Any] | bool | None = getattr(self, "_trees", False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        trees: list[Any] | None
        try:
            trees = self._build_native_trees()
        except (ImportError, AttributeError, KeyError, TypeError, ValueError) as exc:
            log.info("isolation forest scored in numpy (%s)", exc)
            trees = None
        self._trees = trees
        return trees

    def _build_native_trees(self) -> list[Any]:
        from sklearn.tree._tree import NODE_DTYPE, Tree

        a = self.arrays_
        roots = [*a["roots"].tolist(), a["left"].size]
        n_cols = len(self.columns_)
        trees = []
        for start, end in itertools.pairwise(roots):
            m = end - start
            idx = np.arange(m)
            left = np.where(a["left"][start:end] == -1, -1, a["left"][start:end] - start)
            right = np.where(a["right"][start:end] == -1, -1, a["right"][start:end] - start)
            leaf = left == -1
            inner_ok = (left > idx) & (left < m) & (right > idx) & (right < m)
            feature = a["feature"][start:end]
            feat_ok = (feature >= 0) & (feature < n_cols)
            if m < 1 or not np.all(np.where(leaf, right == -1, inner_ok & feat_ok)):
                raise ValueError("malformed isolation tree arrays")
            nodes = np.zeros(m, dtype=NODE_DTYPE)
            nodes["left_child"] = left
            nodes["right_child"] = right
            nodes["feature"] = np.where(leaf, -2, feature)
            nodes["threshold"] = np.where(leaf, -2.0, a["threshold"][start:end])
            nodes["missing_go_to_left"] = a["missing_left"][start:end]
            tree = Tree(n_cols, np.array([1], dtype=np.intp), 1)
            tree.__setstate__(
                {
                    "max_depth": self.max_depth_,
                    "node_count": m,
                    "nodes": nodes,
                    "values": np.zeros((m, 1, 1), dtype=np.float64),
                }
            )
            trees.append(tree)
        return trees

    def _flat(self) -> dict[str, npt.NDArray[Any]]:
        """Arrays for the numpy traversal: leaves loop onto themselves, children paired."""
        cached: dict[str, npt.NDArray[Any]] | None = getattr(self, "_flat_arrays", None)
        if cached is not None:
            return cached
        a = self.arrays_
        n_nodes = a["left"].size
        own = np.arange(n_nodes, dtype=np.intp)
        leaf = a["left"] == -1
        children = np.empty((n_nodes, 2), dtype=np.intp)
        children[:, 0] = np.where(leaf, own, a["right"])  # column 0: comparison False
        children[:, 1] = np.where(leaf, own, a["left"])  # column 1: goes left
        roots = a["roots"]
        if min(children.min(), roots.min()) < 0 or max(children.max(), roots.max()) >= n_nodes:
            raise BundleError(f"{ARRAYS_FILE} holds child indices outside the forest")
        feature = np.where(leaf, 0, a["feature"]).astype(np.intp)
        if feature.min() < 0 or feature.max() >= len(self.columns_):
            raise BundleError(f"{ARRAYS_FILE} holds feature indices outside the detector's")
        flat = {
            "children": children,
            "feature": feature,
            "threshold": np.asarray(a["threshold"], dtype=np.float64),
            "missing_left": np.asarray(a["missing_left"], dtype=bool),
        }
        self._flat_arrays = flat
        return flat

    def _score_chunk(self, x: npt.NDArray[np.float32]) -> Vector:
        """The numpy traversal: every tree for a chunk of rows, one level per step.

        Used for small batches of rows (cheaper than one compiled call per tree) and as the
        fallback; one row goes through :meth:`_score_row`.
        """
        f = self._flat()
        children, feature, threshold = f["children"], f["feature"], f["threshold"]
        n = x.shape[0]
        flat_x = x.reshape(-1)
        row_base = (np.arange(n, dtype=np.intp) * x.shape[1])[:, None]
        node = np.broadcast_to(
            self.arrays_["roots"].astype(np.intp), (n, self.arrays_["roots"].size)
        )
        has_nan = bool(np.isnan(x).any())
        for _ in range(self.max_depth_):
            value = flat_x[row_base + feature[node]]
            go_left = value <= threshold[node]
            if has_nan:
                go_left |= np.isnan(value) & f["missing_left"][node]
            node = children[node, go_left.view(np.int8)]
        values = self.arrays_["leaf_value"][node]
        # Tree by tree, like scikit-learn: a running sum (np.cumsum adds left to right, so
        # the last column is bit-equal to a loop over trees; np.sum would add pairwise).
        depths = np.cumsum(values, axis=1)[:, -1]
        return np.asarray(2.0 ** (-(depths / self.denominator_)), dtype=np.float64)

    def _row_walk(self) -> _RowWalk:
        """The arrays of :meth:`_score_row`, built once from :meth:`_flat`'s checked ones."""
        cached: _RowWalk | None = getattr(self, "_walk", None)
        if cached is not None:
            return cached
        f = self._flat()
        n_cols = len(self.columns_)
        feature = f["feature"]
        children = (2 * f["children"]).reshape(-1)  # [2k]: comparison False, [2k + 1]: left
        down = _threshold_down(f["threshold"])
        walk = _RowWalk(
            columns=np.tile(np.asarray(self.columns_, dtype=np.intp), 2),
            missing_fill=np.repeat(np.array([-np.inf, np.inf], dtype=np.float32), n_cols),
            slot=np.repeat(np.where(f["missing_left"], feature, feature + n_cols), 2),
            threshold=np.repeat(down, 2),
            children=children,
            roots=2 * self.arrays_["roots"].astype(np.intp),
            leaf_value=np.repeat(np.asarray(self.arrays_["leaf_value"], dtype=np.float64), 2),
            depth=self.max_depth_,
        )
        self._walk = walk
        return walk

    def _score_row(self, row: npt.NDArray[np.float64]) -> Vector:
        """Score one row as a LightGBM model (the compiled walk, else LightGBM's C API).

        Less than half the CPU time of the numpy walk (:meth:`_walk_row`, used when neither
        can be): ~17 µs instead of ~37 µs for 100 trees of depth 8 through LightGBM's C API,
        most of it in LightGBM's traversal. The same result bit for bit: the same float32
        values, the same comparisons, the leaf values added tree by tree (see
        :meth:`_lightgbm_model`).
        """
        native = self._native_row()
        if native is None:
            return self._walk_row(row)
        depth = native.predictor.raw_score(native_row_values(row, native.columns))
        # The same float64 operations as the numpy walk on its one-element sum.
        return np.asarray(np.power(2.0, np.array([-(depth / self.denominator_)])), dtype=np.float64)

    def _walk_row(self, row: npt.NDArray[np.float64]) -> Vector:
        """Score one row in numpy: all trees at once, one level per step (about 6 calls each).

        About a third of the cost of :meth:`_score_chunk` on one row, and the same result
        bit for bit: the same float32 values, the same comparisons, the leaf values added
        tree by tree.
        """
        w = self._row_walk()
        values = row.take(w.columns).astype(np.float32)  # float32 like scikit-learn's input
        np.copyto(values, w.missing_fill, where=np.isnan(values))
        slot, threshold, children = w.slot, w.threshold, w.children
        node = w.roots
        for _ in range(w.depth):
            node = children.take(node + (values.take(slot.take(node)) <= threshold.take(node)))
        # Tree by tree like scikit-learn (np.cumsum adds left to right; np.sum is pairwise).
        depths = np.cumsum(w.leaf_value.take(node))[-1:]
        return np.asarray(2.0 ** (-(depths / self.denominator_)), dtype=np.float64)

    def prepare_row_scoring(self) -> bool:
        """Build the single-row predictor now (~35 ms) instead of on the first row scored.

        Returns True when rows go through LightGBM, False when they use the numpy walk.
        """
        return self._native_row() is not None

    def _native_row(self) -> _NativeRow | None:
        """The single-row predictor of the forest as a LightGBM model, built on first use.

        ``None`` (numpy walk) without the compiled walk and LightGBM's C API, or for a forest
        that LightGBM cannot represent exactly (see :meth:`_lightgbm_model`). Two threads
        arriving together may both build one; the spare is freed when dropped. Never pickled
        (rebuilt on first use).
        """
        cached: _NativeRow | bool | None = getattr(self, "_native", False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        native: _NativeRow | None = None
        text = self._lightgbm_model()  # BundleError on indices outside the forest
        if text is not None:
            predictor = row_predictor(text)  # the compiled walk, else LightGBM's C API
            if predictor is None:
                log.info("isolation forest rows scored in numpy (no single-row predictor)")
            else:
                native = _NativeRow(
                    predictor=predictor, columns=np.asarray(self.columns_, dtype=np.intp)
                )
        self._native = native
        return native

    def _lightgbm_model(self) -> str | None:
        """The forest in LightGBM's text format, with a raw score equal to the numpy walk's sum.

        LightGBM sums the trees' leaf values in tree order from 0.0, like the walk; a tree
        sends ``x`` left when ``x <= threshold`` (``decision_type`` 8: a missing type of NaN,
        so NaN takes the node's default side, scikit-learn's ``missing_go_to_left``, bit 2).
        The row is given as its float32 values and each threshold rounded down to float32,
        as in :meth:`_row_walk`, both times ``2 ** 100`` in float64: exact (a power of two,
        far from float64's limits), so every comparison is unchanged, and no nonzero value
        lands within LightGBM's ``kZeroThreshold`` (1e-35) of zero, which its dense-row
        reader turns into 0.0. Numbers are written with ``repr`` (shortest round trip;
        ``inf`` and ``nan`` included), which LightGBM parses back exactly.

        ``None`` when the arrays are not a forest of trees (each tree's nodes from its root
        to the next root, every child after its parent, every node but the root the child of
        exactly one) whose leaves are all within ``max_depth_`` levels (else the walk, which
        stops after ``max_depth_`` levels, could end elsewhere).

        Raises
        ------
        BundleError
            Child, root or feature indices outside the forest (as :meth:`_flat`).
        """
        f = self._flat()
        a = self.arrays_
        n_nodes = a["left"].size
        leaf = a["left"] == -1
        left, right = f["children"][:, 1], f["children"][:, 0]
        bounds = [*a["roots"].tolist(), n_nodes]
        down = _threshold_down(f["threshold"]).astype(np.float64) * _SCALE
        decision = np.where(f["missing_left"], _NAN_MISSING | _DEFAULT_LEFT, _NAN_MISSING)
        trees: list[str] = []
        for i, (start, end) in enumerate(itertools.pairwise(bounds)):
            if end <= start:
                return None
            own = np.arange(start, end)
            inner = own[~leaf[start:end]]
            kids = np.concatenate([left[inner], right[inner]])
            parents = np.concatenate([inner, inner])
            if np.any((kids <= parents) | (kids >= end)) or not np.array_equal(
                np.sort(kids), own[1:]
            ):
                return None
            leaves = own[leaf[start:end]]
            code = np.empty(end - start, dtype=np.int64)  # LightGBM's node numbers
            code[inner - start] = np.arange(inner.size)
            code[leaves - start] = ~np.arange(leaves.size)
            trees.append(
                _lightgbm_tree(
                    i,
                    split_feature=f["feature"][inner],
                    threshold=down[inner],
                    decision_type=decision[inner],
                    left_child=code[left[inner] - start],
                    right_child=code[right[inner] - start],
                    leaf_value=np.asarray(a["leaf_value"][leaves], dtype=np.float64),
                )
            )
        frontier = a["roots"].astype(np.intp)
        for _ in range(self.max_depth_):  # the nodes max_depth_ levels down must be leaves
            frontier = frontier[~leaf[frontier]]
            if frontier.size == 0:
                break
            frontier = np.concatenate([left[frontier], right[frontier]])
        if not np.all(leaf[frontier]):
            return None
        n_cols = len(self.columns_)
        header = [
            "tree",
            "version=v4",
            "num_class=1",
            "num_tree_per_iteration=1",
            "label_index=0",
            f"max_feature_idx={n_cols - 1}",
            "objective=regression",
            "feature_names=" + " ".join(f"c{j}" for j in range(n_cols)),
            "feature_infos=" + " ".join(["none"] * n_cols),
            "tree_sizes=" + " ".join(str(len(t)) for t in trees),
            "",
            "",
        ]
        footer = [
            "end of trees",
            "",
            "feature_importances:",
            "",
            "parameters:",
            "end of parameters",
            "",
            "pandas_categorical:null",
            "",
        ]
        return "\n".join(header) + "".join(trees) + "\n".join(footer)

    def __getstate__(self) -> dict[str, Any]:
        """The instance state without the native single-row predictor (rebuilt on first use)."""
        state = self.__dict__.copy()
        state.pop("_native", None)
        return state

    # -- files ------------------------------------------------------------------------------
    def to_files(self) -> dict[str, bytes]:
        """``{"anomaly.npz": arrays, "anomaly.json": metadata}``."""
        buf = io.BytesIO()
        np.savez(buf, **self.arrays_)  # type: ignore[arg-type]
        meta = {
            "format_version": _FORMAT_VERSION,
            "model_type": self.name,
            "params": self.get_params(),
            "feature_names": list(self.feature_names_in_),
            "columns": list(self.columns_),
            "denominator": self.denominator_,
            "max_depth": self.max_depth_,
            "score": "2 ** (-mean path length / c(max_samples)); higher is more anomalous",
        }
        return {ARRAYS_FILE: buf.getvalue(), META_FILE: to_json_bytes(meta)}

    @classmethod
    def from_files(cls, files: Mapping[str, bytes]) -> Self:
        """Rebuild a detector from :meth:`to_files` output.

        Raises
        ------
        BundleError
            A file is missing or malformed.
        """
        meta = read_json_file(files, META_FILE, cls.__name__)
        if meta.get("format_version") != _FORMAT_VERSION or meta.get("model_type") != cls.name:
            raise BundleError(
                f"{META_FILE} is not an isolation forest of format {_FORMAT_VERSION}; "
                "retrain the model with this release"
            )
        if ARRAYS_FILE not in files:
            raise BundleError(f"{cls.__name__}: file {ARRAYS_FILE} is missing")
        try:
            det = cls(**meta["params"])
            with np.load(io.BytesIO(files[ARRAYS_FILE]), allow_pickle=False) as npz:
                det.arrays_ = {k: np.asarray(npz[k]) for k in _ARRAYS}
            det.feature_names_in_ = tuple(str(nm) for nm in meta["feature_names"])
            det.columns_ = tuple(int(c) for c in meta["columns"])
            det.n_features_in_ = len(det.feature_names_in_)
            det.denominator_ = float(meta["denominator"])
            det.max_depth_ = int(meta["max_depth"])
        except (KeyError, TypeError, ValueError, OSError) as exc:
            raise BundleError(
                f"{cls.__name__}: {ARRAYS_FILE}/{META_FILE} are incomplete or malformed "
                f"({exc!r}); retrain the model"
            ) from None
        n_nodes = det.arrays_["left"].size
        for key in ("right", "feature", "threshold", "missing_left", "leaf_value"):
            if det.arrays_[key].size != n_nodes:
                raise BundleError(f"{cls.__name__}: array {key!r} of {ARRAYS_FILE} has a bad size")
        return det


def _lightgbm_tree(
    index: int,
    *,
    split_feature: npt.NDArray[Any],
    threshold: npt.NDArray[np.float64],
    decision_type: npt.NDArray[Any],
    left_child: npt.NDArray[Any],
    right_child: npt.NDArray[Any],
    leaf_value: npt.NDArray[np.float64],
) -> str:
    """One tree in LightGBM's text format (``Tree=i`` to the blank lines after it).

    Internal nodes are numbered from 0 (the root), children ``< 0`` are ``~leaf``. Only the
    fields prediction reads carry values; gains, weights and counts are zeros.
    """

    def ints(values: npt.NDArray[Any]) -> str:
        return " ".join(str(int(v)) for v in values.tolist())

    def floats(values: npt.NDArray[np.float64]) -> str:
        return " ".join(repr(float(v)) for v in values.tolist())

    n_inner, n_leaves = threshold.size, leaf_value.size
    zeros_inner, zeros_leaves = " ".join(["0"] * n_inner), " ".join(["0"] * n_leaves)
    lines = [
        f"Tree={index}",
        f"num_leaves={n_leaves}",
        "num_cat=0",
        f"split_feature={ints(split_feature)}",
        f"split_gain={zeros_inner}",
        f"threshold={floats(threshold)}",
        f"decision_type={ints(decision_type)}",
        f"left_child={ints(left_child)}",
        f"right_child={ints(right_child)}",
        f"leaf_value={floats(leaf_value)}",
        f"leaf_weight={zeros_leaves}",
        f"leaf_count={zeros_leaves}",
        f"internal_value={zeros_inner}",
        f"internal_weight={zeros_inner}",
        f"internal_count={zeros_inner}",
        "is_linear=0",
        "shrinkage=1",
    ]
    return "\n".join(lines) + "\n\n\n"
