"""One row through a LightGBM model's trees in compiled code (:mod:`._treewalk`).

:func:`compiled_forest` reads a model in LightGBM's text format and lays its trees out for the
compiled walk; :class:`CompiledForest` then gives the raw score and the leaf of every tree of one
row, as LightGBM's single-row C API does, with the same results bit for bit (the parity tests
compare both). It returns ``None`` when the walk is not built (no C compiler: LightGBM's own
path serves then) or when the model has something the walk does not reproduce (linear trees,
several trees per iteration, averaged output); the caller then keeps LightGBM's path.

Why: a single-row prediction in a service runs with cold caches, and LightGBM keeps each field
of a node (feature, threshold, children, decision type) in an array of its own, so every node
visited costs several cache misses. Here a node is one 16-byte record, a tree's records lie in
pre-order and a node's left child is the next record (docs/benchmarks.md, Real-time service,
Session 10).
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from fraudwatch.models._base import Matrix

log = logging.getLogger(__name__)

__all__ = ["CompiledForest", "RowPredictor", "compiled_forest", "parse_lightgbm_trees"]

_LEAF, _CATEGORICAL, _DEFAULT_LEFT, _MISSING_ZERO, _MISSING_NAN = 1, 2, 4, 8, 16


class ForestLayout:
    """The arrays of :class:`fraudwatch.models._treewalk.Forest` (pre-order, leaves inline)."""

    __slots__ = ("bits", "cat_start", "cat_words", "feature", "flags", "right", "roots", "value")

    def __init__(self) -> None:
        self.value: list[float] = []
        self.right: list[int] = []
        self.feature: list[int] = []
        self.flags: list[int] = []
        self.roots: list[int] = []
        self.bits: list[int] = []
        self.cat_start: list[int] = []
        self.cat_words: list[int] = []

    def add_tree(self, tree: dict[str, str]) -> None:
        """Append one tree given as its ``key=value`` lines."""
        self.roots.append(len(self.value))
        leaf_value = [float(v) for v in tree["leaf_value"].split()]
        n_leaves = int(tree["num_leaves"])
        if n_leaves == 1:
            self._node(leaf_value[0], 0, 0, _LEAF)
            return
        feature = [int(v) for v in tree["split_feature"].split()]
        threshold = [float(v) for v in tree["threshold"].split()]
        decision = [int(v) for v in tree["decision_type"].split()]
        left = [int(v) for v in tree["left_child"].split()]
        right = [int(v) for v in tree["right_child"].split()]
        cat_base = len(self.cat_start)
        if int(tree.get("num_cat", "0")) > 0:
            bounds = [int(v) for v in tree["cat_boundaries"].split()]
            words = [int(v) for v in tree["cat_threshold"].split()]
            for a, b in itertools.pairwise(bounds):
                self.cat_start.append(len(self.bits) + a)
                self.cat_words.append(b - a)
            self.bits.extend(words)
        # pre-order without recursion (a leaf-wise tree can be as deep as it has leaves):
        # (child, index of the parent record whose right child it is, or -1)
        stack: list[tuple[int, int]] = [(0, -1)]
        while stack:
            node, parent = stack.pop()
            if parent >= 0:
                self.right[parent] = len(self.value)
            if node < 0:
                self._node(leaf_value[~node], ~node, 0, _LEAF)
                continue
            dt = decision[node]
            flags = 0
            value = threshold[node]
            if dt & 1:
                flags |= _CATEGORICAL
                value = float(cat_base + int(threshold[node]))
            if dt & 2:
                flags |= _DEFAULT_LEFT
            missing = (dt >> 2) & 3
            flags |= _MISSING_ZERO if missing == 1 else _MISSING_NAN if missing == 2 else 0
            at = len(self.value)
            self._node(value, 0, feature[node], flags)
            stack.append((right[node], at))  # popped after the whole left subtree
            stack.append((left[node], -1))  # the next record: the left child

    def _node(self, value: float, right: int, feature: int, flags: int) -> None:
        self.value.append(value)
        self.right.append(right)
        self.feature.append(feature)
        self.flags.append(flags)


def parse_lightgbm_trees(text: str) -> tuple[ForestLayout, int]:
    """The layout of a LightGBM text model's trees and its number of features.

    Raises
    ------
    ValueError
        The text is not a model the walk reproduces (the message says why).
    """
    header: dict[str, str] = {}
    trees: list[dict[str, str]] = []
    current = header
    for line in text.splitlines():
        if line.startswith("Tree="):
            current = {}
            trees.append(current)
            continue
        if line.startswith("end of trees"):
            break
        key, sep, value = line.partition("=")
        if sep:
            current[key] = value
        elif line.strip() == "average_output":
            raise ValueError("averaged output (random forest mode) is not reproduced")
    if header.get("num_tree_per_iteration", "1") != "1":
        raise ValueError("several trees per iteration (multiclass) are not reproduced")
    if "max_feature_idx" not in header:
        raise ValueError("not a LightGBM text model (no max_feature_idx)")
    n_features = int(header["max_feature_idx"]) + 1
    if n_features > 65536:
        raise ValueError(f"{n_features} features: the walk addresses at most 65,536")
    layout = ForestLayout()
    for tree in trees:
        if tree.get("is_linear", "0") != "0":
            raise ValueError("linear trees are not reproduced")
        layout.add_tree(tree)
    return layout, n_features


class RowPredictor(Protocol):
    """One row's raw score and leaves: :class:`CompiledForest` or LightGBM's single-row path."""

    def raw_score(self, row: Matrix) -> float: ...

    def leaf_indices(self, row: Matrix) -> npt.NDArray[np.int32]: ...


class CompiledForest:
    """Raw score and leaf indices of one row, the interface of LightGBM's single-row path."""

    __slots__ = ("__weakref__", "_forest", "n_features", "n_trees")

    def __init__(self, forest: Any) -> None:
        self._forest = forest
        self.n_features = int(forest.n_features)
        self.n_trees = int(forest.n_trees)

    def _row(self, row: Matrix) -> npt.NDArray[np.float64]:
        if row.dtype != np.float64 or row.size != self.n_features:
            raise ValueError(
                f"expected one float64 row of {self.n_features} features, got {row.dtype} "
                f"of shape {row.shape}"
            )
        return np.ascontiguousarray(row).reshape(-1)

    def raw_score(self, row: Matrix) -> float:
        """Sum of the trees for ``row``, ``(1, n_features)`` or ``(n_features,)`` float64."""
        return float(self._forest.raw_score(self._row(row)))

    def leaf_indices(self, row: Matrix) -> npt.NDArray[np.int32]:
        """Leaf of ``row`` in every tree, ``(1, n_trees)`` int32."""
        out = np.empty(self.n_trees, dtype=np.int32)
        self._forest.leaf_indices(self._row(row), out)
        return out.reshape(1, -1)


def compiled_forest(text: str) -> CompiledForest | None:
    """The compiled walk of a LightGBM text model, or ``None`` where it does not apply."""
    try:
        from fraudwatch.models._treewalk import Forest
    except ImportError as exc:
        log.info("compiled tree walk not built (%s); LightGBM's single-row path serves", exc)
        return None
    try:
        layout, n_features = parse_lightgbm_trees(text)
    except ValueError as exc:
        log.info("compiled tree walk not used: %s", exc)
        return None
    forest = Forest(
        np.asarray(layout.value, dtype=np.float64),
        np.asarray(layout.right, dtype=np.int32),
        np.asarray(layout.feature, dtype=np.uint16),
        np.asarray(layout.flags, dtype=np.uint8),
        np.asarray(layout.roots, dtype=np.int32),
        np.asarray(layout.bits, dtype=np.uint32),
        np.asarray(layout.cat_start, dtype=np.int32),
        np.asarray(layout.cat_words, dtype=np.int32),
        n_features,
    )
    return CompiledForest(forest)
