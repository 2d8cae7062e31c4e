"""One row through a LightGBM model's trees in compiled code (:mod:`._treewalk`).

:func:`compiled_forest` reads a model in LightGBM's text format and lays its trees out for the
compiled walk; :class:`CompiledForest` then gives the raw score and the leaf of every tree of one
row, as LightGBM's single-row C API does, with the same results bit for bit (the parity tests
compare both). It returns ``None`` when the walk is not built or not current (LightGBM's own
path serves then), when the model has something the walk does not reproduce (linear trees,
several trees per iteration, averaged output) or when the text is malformed (trees that are
not trees); the caller then keeps LightGBM's path.

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

    def add_tree(self, tree: dict[str, str], n_features: int) -> None:
        """Append one tree given as its ``key=value`` lines.

        Raises
        ------
        ValueError
            The tree is not one (a child index out of range, a node reached twice, arrays
            of the wrong length, a feature or categorical split that does not exist).
        """
        try:
            self._add_tree(tree, n_features)
        except (IndexError, KeyError, OverflowError) as exc:
            raise ValueError(f"malformed tree ({type(exc).__name__}: {exc})") from None

    def _add_tree(self, tree: dict[str, str], n_features: int) -> None:
        self.roots.append(len(self.value))
        leaf_value = [float(v) for v in tree["leaf_value"].split()]
        n_leaves = int(tree["num_leaves"])
        if n_leaves < 1 or len(leaf_value) != n_leaves:
            raise ValueError(f"{n_leaves} leaves but {len(leaf_value)} leaf values")
        if n_leaves == 1:
            self._node(leaf_value[0], 0, 0, _LEAF)
            return
        feature = [int(v) for v in tree["split_feature"].split()]
        threshold = [float(v) for v in tree["threshold"].split()]
        decision = [int(v) for v in tree["decision_type"].split()]
        left = [int(v) for v in tree["left_child"].split()]
        right = [int(v) for v in tree["right_child"].split()]
        n_inner = n_leaves - 1
        if any(len(a) != n_inner for a in (feature, threshold, decision, left, right)):
            raise ValueError(f"{n_leaves} leaves need {n_inner} splits in every split array")
        if any(not 0 <= f < n_features for f in feature):
            raise ValueError(f"a split on a feature outside 0..{n_features - 1}")
        cat_base = len(self.cat_start)
        n_cats = 0
        if int(tree.get("num_cat", "0")) > 0:
            bounds = [int(v) for v in tree["cat_boundaries"].split()]
            words = [int(v) for v in tree["cat_threshold"].split()]
            if (
                not bounds
                or bounds[0] != 0
                or bounds[-1] != len(words)
                or any(b < a for a, b in itertools.pairwise(bounds))
                or any(not 0 <= w < 1 << 32 for w in words)
            ):
                raise ValueError("categorical bitsets do not match their boundaries")
            for a, b in itertools.pairwise(bounds):
                self.cat_start.append(len(self.bits) + a)
                self.cat_words.append(b - a)
            self.bits.extend(words)
            n_cats = len(bounds) - 1
        seen_inner = [False] * n_inner
        seen_leaf = [False] * n_leaves
        # pre-order without recursion (a leaf-wise tree can be as deep as it has leaves):
        # (child, index of the parent record whose right child it is, or -1)
        stack: list[tuple[int, int]] = [(0, -1)]
        while stack:
            node, parent = stack.pop()
            if parent >= 0:
                self.right[parent] = len(self.value)
            if node < 0:
                if ~node >= n_leaves or seen_leaf[~node]:
                    raise ValueError(f"leaf {~node} is outside the tree or reached twice")
                seen_leaf[~node] = True
                self._node(leaf_value[~node], ~node, 0, _LEAF)
                continue
            if node >= n_inner or seen_inner[node]:
                raise ValueError(f"node {node} is outside the tree or reached twice")
            seen_inner[node] = True
            dt = decision[node]
            flags = 0
            value = threshold[node]
            if dt & 1:
                if not (value.is_integer() and 0 <= value < n_cats):
                    raise ValueError(f"node {node} refers to categorical split {value}")
                flags |= _CATEGORICAL
                value = float(cat_base + int(value))
            if dt & 2:
                flags |= _DEFAULT_LEFT
            missing = (dt >> 2) & 3
            flags |= _MISSING_ZERO if missing == 1 else _MISSING_NAN if missing == 2 else 0
            at = len(self.value)
            self._node(value, 0, feature[node], flags)
            stack.append((right[node], at))  # popped after the whole left subtree
            stack.append((left[node], -1))  # the next record: the left child

    def arrays(self) -> tuple[npt.NDArray[Any], ...]:
        """The arrays in the order and types :class:`~fraudwatch.models._treewalk.Forest`
        takes them (value, right, feature, flags, roots, bits, cat_start, cat_words)."""
        return (
            np.asarray(self.value, dtype=np.float64),
            np.asarray(self.right, dtype=np.int32),
            np.asarray(self.feature, dtype=np.uint16),
            np.asarray(self.flags, dtype=np.uint8),
            np.asarray(self.roots, dtype=np.int32),
            np.asarray(self.bits, dtype=np.uint32),
            np.asarray(self.cat_start, dtype=np.int32),
            np.asarray(self.cat_words, dtype=np.int32),
        )

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
    if not 1 <= n_features <= 65536:
        raise ValueError(f"{n_features} features: the walk addresses 1 to 65,536")
    layout = ForestLayout()
    for i, tree in enumerate(trees):
        if tree.get("is_linear", "0") != "0":
            raise ValueError("linear trees are not reproduced")
        try:
            layout.add_tree(tree, n_features)
        except ValueError as exc:
            raise ValueError(f"tree {i}: {exc}") from None
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
    except (ImportError, RuntimeWarning) as exc:  # the warning of a stale build, if raised
        log.info("compiled tree walk not built or not current (%s); LightGBM serves", exc)
        return None
    try:
        layout, n_features = parse_lightgbm_trees(text)
        value, right, feature, flags, roots, bits, cat_start, cat_words = layout.arrays()
        forest = Forest(  # ValueError if inconsistent
            value, right, feature, flags, roots, bits, cat_start, cat_words, n_features
        )
    except (ValueError, OverflowError) as exc:
        log.info("compiled tree walk not used: %s", exc)
        return None
    return CompiledForest(forest)
