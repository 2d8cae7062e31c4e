"""Path attribution for tree ensembles: exact per-feature contributions at prediction cost.

The decomposition (Saabas's): every node of a tree carries a value, the mean output of the
training rows that reached it (the count-weighted mean of the leaves below it, so the root's
value is the tree's average output). A row follows one path from the root to a leaf; at each
split the value moves from the parent's to the child's, and that change is credited to the
split's feature. The changes along a path telescope, so

    root value + sum of the changes = leaf value

and, summed over the trees, the bias (the roots' values) plus the per-feature contributions
equal the raw score, whatever the row.

A leaf determines its whole path, so a tree's contributions depend on the leaf only: each
tree becomes a table ``leaf -> contribution vector`` built once from the model's structure
(:class:`LeafTables`). Explaining rows is then the library's own leaf prediction (the same
traversal as a score, so missing values and categorical splits are routed exactly as when
scoring) followed by a sum of one table row per tree: a sparse-by-dense product for a batch,
a gather and a reduction for a single row (the same additions in the same order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fraudwatch.models._base import Matrix

__all__ = ["LeafTables"]

_CHUNK = 8192


@dataclass(frozen=True, eq=False)
class LeafTables:
    """One contribution vector per leaf of every tree, bias in the last column.

    Attributes
    ----------
    offsets:
        ``(n_trees,)``: the row of :attr:`table` holding leaf 0 of each tree.
    table:
        ``(total leaves, n_features + 1)``: the row of a leaf holds, for each feature, the
        sum of the value changes at the splits on that feature along the leaf's path, and in
        the last column the tree's root value. Each row sums to its leaf's value.
    """

    offsets: npt.NDArray[np.int64]
    table: Matrix

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return int(self.offsets.size)

    @classmethod
    def from_lightgbm(cls, dump: Mapping[str, Any], n_features: int) -> LeafTables:
        """Build the tables from ``lightgbm.Booster.dump_model()``.

        Node values are recomputed from the leaves (values weighted by ``leaf_count``), so the
        table is exact in double precision whatever rounding the dump applies to internal
        values; a subtree without counts falls back to the plain mean of its two children.

        Raises
        ------
        ValueError
            The dump describes several outputs per iteration, linear trees, or features
            outside ``[0, n_features)``.
        """
        if int(dump.get("num_tree_per_iteration", 1)) != 1:
            raise ValueError("path attribution supports one tree per iteration (binary models)")
        trees: Sequence[Mapping[str, Any]] = dump["tree_info"]
        blocks: list[Matrix] = []
        offsets = np.zeros(len(trees), dtype=np.int64)
        start = 0
        for t, info in enumerate(trees):
            block = _lightgbm_tree_table(
                info["tree_structure"], int(info["num_leaves"]), n_features
            )
            offsets[t] = start
            start += block.shape[0]
            blocks.append(block)
        table = (
            np.concatenate(blocks, axis=0) if blocks else np.zeros((0, n_features + 1), np.float64)
        )
        return cls(offsets=offsets, table=np.ascontiguousarray(table))

    def contributions(self, leaves: npt.NDArray[np.integer[Any]]) -> Matrix:
        """Contributions of rows given their leaf in each tree, ``(n, n_features + 1)``.

        Parameters
        ----------
        leaves:
            ``(n, n_trees)`` leaf indices, as returned by ``predict(pred_leaf=True)``.

        Each output row is the sum, in tree order starting from zero, of the table rows of its
        leaves: the same additions whatever the batch size, so one row alone equals its row in
        a batch bit for bit. A batch is summed as a sparse-by-dense product, in chunks; a
        single row by :meth:`_one_row`, a fraction of the fixed cost of a sparse matrix.
        """
        from scipy.sparse import csr_matrix

        leaves = np.asarray(leaves)
        if leaves.ndim != 2 or leaves.shape[1] != self.n_trees:
            raise ValueError(
                f"expected leaf indices of shape (n, {self.n_trees}); got {leaves.shape}"
            )
        n, n_trees = leaves.shape
        if n_trees == 0:
            return np.zeros((n, self.table.shape[1]), dtype=np.float64)
        if n == 1:
            return self._one_row(leaves)
        out = np.empty((n, self.table.shape[1]), dtype=np.float64)
        for lo in range(0, n, _CHUNK):
            part = leaves[lo : lo + _CHUNK]
            m = part.shape[0]
            cols = self._table_rows(part)
            select = csr_matrix(
                (np.ones(cols.size), cols, np.arange(0, cols.size + 1, n_trees)),
                shape=(m, self.table.shape[0]),
            )
            out[lo : lo + m] = select @ self.table
        return out

    def _one_row(self, leaves: npt.NDArray[np.integer[Any]]) -> Matrix:
        """Contributions of one row given its ``(1, n_trees)`` leaves, ``(1, n_features + 1)``.

        The table rows of the leaves are gathered into a C-contiguous ``(n_trees, n_features
        + 1)`` block and reduced over its first axis from ``initial=0.0``: numpy then adds the
        rows one after another in tree order (pairwise summation applies only along the
        contiguous axis), as the sparse product does: ``((0 + t0) + t1) + ...``.
        """
        block = self.table[self._table_rows(leaves)]
        return np.add.reduce(block, axis=0, initial=0.0, keepdims=True)

    def _table_rows(self, leaves: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.int64]:
        """The rows of :attr:`table` holding ``leaves`` (``(m, n_trees)``), row after row.

        Raises
        ------
        ValueError
            A leaf index points outside the table.
        """
        rows = (leaves + self.offsets[None, :]).ravel()
        if rows.min() < 0 or rows.max() >= self.table.shape[0]:
            raise ValueError("leaf index outside the model's trees")
        return rows


def _lightgbm_tree_table(root: Mapping[str, Any], num_leaves: int, n_features: int) -> Matrix:
    """The ``(num_leaves, n_features + 1)`` table of one tree of a LightGBM dump."""
    if "leaf_value" in root:  # a tree that is a single leaf
        block = np.zeros((max(num_leaves, 1), n_features + 1), dtype=np.float64)
        block[:, -1] = float(root["leaf_value"])
        return block
    # Post-order (iterative: leaf-wise trees can be deeper than Python's recursion limit):
    # each node's (weight, value), weight = training rows, value = their mean output.
    stats: dict[int, tuple[float, float]] = {}
    stack: list[tuple[Mapping[str, Any], bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if "leaf_value" in node:
            stats[id(node)] = (
                max(float(node.get("leaf_count", 1)), 0.0),
                float(node["leaf_value"]),
            )
            continue
        if not expanded:
            if "linear" in node.get("decision_type", ""):  # pragma: no cover - defensive
                raise ValueError("linear trees are not supported")
            stack.append((node, True))
            stack.append((node["right_child"], False))
            stack.append((node["left_child"], False))
            continue
        wl, vl = stats[id(node["left_child"])]
        wr, vr = stats[id(node["right_child"])]
        w = wl + wr
        stats[id(node)] = (w, (wl * vl + wr * vr) / w if w > 0 else 0.5 * (vl + vr))
    block = np.zeros((num_leaves, n_features + 1), dtype=np.float64)
    seen = np.zeros(num_leaves, dtype=bool)
    # Pre-order: carry the path's contribution vector down to each leaf.
    path = np.zeros(n_features + 1, dtype=np.float64)
    path[-1] = stats[id(root)][1]
    todo: list[tuple[Mapping[str, Any], npt.NDArray[np.float64]]] = [(root, path)]
    while todo:
        node, vec = todo.pop()
        if "leaf_value" in node:
            leaf = int(node.get("leaf_index", 0))
            if not 0 <= leaf < num_leaves or seen[leaf]:
                raise ValueError(f"bad or repeated leaf index {leaf} in a tree dump")
            seen[leaf] = True
            block[leaf] = vec
            continue
        feature = int(node["split_feature"])
        if not 0 <= feature < n_features:
            raise ValueError(f"split on feature {feature} outside [0, {n_features})")
        value = stats[id(node)][1]
        for side in ("left_child", "right_child"):
            child = node[side]
            child_vec = vec.copy()
            child_vec[feature] += stats[id(child)][1] - value
            todo.append((child, child_vec))
    if not seen.all():
        raise ValueError("a tree dump does not list all of its leaves")
    return block
