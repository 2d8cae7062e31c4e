# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The trees of a LightGBM model walked in compiled code, one row at a time.

Built by ``scripts/build_speedups.py`` from this typed source; :mod:`fraudwatch.models._forest`
turns a model's text into the arrays :class:`Forest` packs, and falls back to LightGBM's own
single-row path when this module is not built. Every decision below is LightGBM's
(``include/LightGBM/tree.h``, ``NumericalDecision`` and ``CategoricalDecision``, version 4);
the parity tests compare both on the same rows, bit for bit.

Layout: every tree's nodes, leaves included, in pre-order in one array of 16-byte records, so
a node's left child is the next record and the walk down a tree reads few cache lines (LightGBM
keeps each field of a node in its own array, a cache line per field per node visited). Walk:
16 trees at a time, one step of each in turn, the child chosen by arithmetic rather than a
branch; a row's trees then wait for memory together, not one after the other, and the sum
is still taken in tree order. Measured on the serving benchmark's 300 trees, one row: about
half the time of LightGBM's single-row C API, warm or with cold caches (docs/benchmarks.md,
Real-time service, Session 10).
"""

from libc.math cimport isnan
from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t
from libc.stdlib cimport free, malloc

cdef enum:
    LEAF = 1
    CATEGORICAL = 2
    DEFAULT_LEFT = 4
    MISSING_ZERO = 8
    MISSING_NAN = 16

cdef enum:
    # trees walked together, a step of each in turn: their nodes' cache misses overlap
    LANES = 16

# float(1e-35f): LightGBM's kZeroThreshold, a float literal widened to double
cdef double ZERO = 1.0000000180025095e-35

cdef struct Node:
    double value      # split: threshold; leaf: its output
    int32_t right     # split: index of the right child; leaf: the leaf's number in its tree
    uint16_t feature  # split: the feature compared
    uint8_t flags
    uint8_t cat       # unused padding: categorical bounds live in cat_start / cat_words


cdef class Forest:
    """Packed trees; :meth:`raw_score` and :meth:`leaf_indices` of one float64 row."""

    cdef Node* nodes
    cdef int32_t* roots
    cdef uint32_t* bits
    cdef int32_t* cat_start
    cdef int32_t* cat_words
    cdef double* row
    cdef readonly int n_trees
    cdef readonly int n_nodes
    cdef readonly int n_features

    def __cinit__(self):
        self.nodes = NULL
        self.roots = NULL
        self.bits = NULL
        self.cat_start = NULL
        self.cat_words = NULL
        self.row = NULL

    def __init__(
        self,
        const double[::1] value,
        const int32_t[::1] right,
        const uint16_t[::1] feature,
        const uint8_t[::1] flags,
        const int32_t[::1] roots,
        const uint32_t[::1] bits,
        const int32_t[::1] cat_start,
        const int32_t[::1] cat_words,
        int n_features,
    ):
        cdef Py_ssize_t i, n = value.shape[0], n_cats = cat_start.shape[0]
        if self.nodes != NULL:
            raise RuntimeError("a Forest is initialised once")
        if n_features < 1:
            raise ValueError("a forest needs at least one feature")
        if not (right.shape[0] == n and feature.shape[0] == n and flags.shape[0] == n):
            raise ValueError("node arrays differ in length")
        if cat_words.shape[0] != n_cats:
            raise ValueError("categorical arrays differ in length")
        for i in range(n):
            # every record's feature is read, a leaf's too (its value is then unused)
            if feature[i] >= n_features:
                raise ValueError(f"node {i} splits on feature {feature[i]} of {n_features}")
            if flags[i] & LEAF:
                if flags[i] != LEAF:
                    raise ValueError(f"leaf {i} has split flags {flags[i]}")
                continue
            if right[i] <= i + 1 or right[i] >= n:
                raise ValueError(f"node {i} has its right child at {right[i]}")
            if flags[i] & CATEGORICAL and not (0 <= value[i] < n_cats):
                raise ValueError(f"node {i} refers to categorical split {value[i]}")
        for i in range(n_cats):
            # in Py_ssize_t: two int32 values cannot wrap around here
            if (
                cat_start[i] < 0
                or cat_words[i] < 0
                or <Py_ssize_t>cat_start[i] + <Py_ssize_t>cat_words[i] > bits.shape[0]
            ):
                raise ValueError(f"categorical split {i} lies outside the bitsets")
        for i in range(roots.shape[0]):
            if roots[i] < 0 or roots[i] >= n:
                raise ValueError(f"tree {i} starts outside the nodes")
        self.n_nodes = <int>n
        self.n_trees = <int>roots.shape[0]
        self.n_features = n_features
        self.nodes = <Node*>malloc(max(n, 1) * sizeof(Node))
        self.roots = <int32_t*>malloc(max(roots.shape[0], 1) * sizeof(int32_t))
        self.bits = <uint32_t*>malloc(max(bits.shape[0], 1) * sizeof(uint32_t))
        self.cat_start = <int32_t*>malloc(max(cat_start.shape[0], 1) * sizeof(int32_t))
        self.cat_words = <int32_t*>malloc(max(cat_start.shape[0], 1) * sizeof(int32_t))
        self.row = <double*>malloc(max(n_features, 1) * sizeof(double))
        if (
            self.nodes == NULL or self.roots == NULL or self.bits == NULL
            or self.cat_start == NULL or self.cat_words == NULL or self.row == NULL
        ):
            raise MemoryError()
        for i in range(n):
            self.nodes[i].value = value[i]
            self.nodes[i].right = right[i]
            self.nodes[i].feature = feature[i]
            self.nodes[i].flags = flags[i]
            self.nodes[i].cat = 0
        for i in range(roots.shape[0]):
            self.roots[i] = roots[i]
        for i in range(bits.shape[0]):
            self.bits[i] = bits[i]
        for i in range(cat_start.shape[0]):
            self.cat_start[i] = cat_start[i]
            self.cat_words[i] = cat_words[i]

    def __dealloc__(self):
        free(self.nodes)
        free(self.roots)
        free(self.bits)
        free(self.cat_start)
        free(self.cat_words)
        free(self.row)

    cdef int _load(self, const double[::1] x) except -1:
        """Copy ``x`` into the row buffer as LightGBM's dense-row reader does: a value is
        kept only if ``|v| > kZeroThreshold`` or NaN; every other one reads 0.0."""
        if x.shape[0] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got {x.shape[0]}")
        cdef int j
        cdef double v
        for j in range(self.n_features):
            v = x[j]
            if -ZERO <= v <= ZERO:
                v = 0.0
            self.row[j] = v
        return 0

    cdef inline int32_t _rare(self, const Node* nd, double v) noexcept nogil:
        """1 to go right, 0 to go left: categorical splits, missing values, zero as missing."""
        cdef uint8_t fl = nd.flags
        cdef int c, word
        if fl & CATEGORICAL:
            # (int)v on x86 turns NaN and values out of int range into INT_MIN (< 0):
            # right, as in LightGBM; the range test keeps the cast defined here
            if not (v > -1.0 and v < 2147483648.0):
                return 1
            c = <int>v
            word = c >> 5
            c = <int>nd.value
            if word >= self.cat_words[c]:
                return 1
            return 1 - <int32_t>((self.bits[self.cat_start[c] + word] >> ((<int>v) & 31)) & 1)
        if isnan(v):
            if fl & MISSING_NAN:
                return 0 if fl & DEFAULT_LEFT else 1
            v = 0.0
        if (fl & MISSING_ZERO) and -ZERO <= v <= ZERO:
            return 0 if fl & DEFAULT_LEFT else 1
        return 0 if v <= nd.value else 1

    cdef inline void _leaves(self, int first, int count, const Node** out) noexcept nogil:
        """The leaf records of trees ``first .. first + count - 1`` (``count <= LANES``).

        The trees are walked together, one step of each in turn, so that the CPU waits for
        several nodes from memory at once instead of one after the other.
        """
        cdef int32_t n[LANES]
        cdef const Node* nd
        cdef int lane
        cdef int32_t inner, go_right, moving = 1
        cdef double v
        for lane in range(count):
            n[lane] = self.roots[first + lane]
        while moving:
            moving = 0
            for lane in range(count):
                nd = &self.nodes[n[lane]]
                inner = (nd.flags & LEAF) == 0
                v = self.row[nd.feature]  # a leaf's feature is 0: a valid read, unused
                if nd.flags & (CATEGORICAL | MISSING_ZERO) or isnan(v):
                    go_right = self._rare(nd, v)
                else:
                    go_right = not (v <= nd.value)
                # selects, not branches: the lanes' outcomes are as good as random, and
                # the lanes, independent of each other, keep the memory busy meanwhile
                n[lane] += inner * (1 + go_right * (nd.right - n[lane] - 1))
                moving |= inner
        for lane in range(count):
            out[lane] = &self.nodes[n[lane]]

    cdef double _walk(self, int32_t* out) noexcept nogil:
        """Sum of every tree's output for the loaded row, in tree order from 0.0 as LightGBM
        sums them; each tree's leaf is also written into ``out`` unless it is NULL."""
        cdef double total = 0.0
        cdef int t = 0, lane, count
        cdef const Node* leaves[LANES]
        while t < self.n_trees:
            count = min(<int>LANES, self.n_trees - t)
            self._leaves(t, count, leaves)
            for lane in range(count):
                total += leaves[lane].value
                if out != NULL:
                    out[t + lane] = leaves[lane].right
            t += LANES
        return total

    # The GIL stays held in both: the row buffer is the forest's own, one caller at a time.

    def raw_score(self, const double[::1] x):
        """Sum of every tree's output for ``x`` (float64, one value per feature)."""
        self._load(x)
        return self._walk(NULL)

    def leaf_indices(self, const double[::1] x, int32_t[::1] out):
        """Write the leaf ``x`` reaches in every tree into ``out`` (one per tree)."""
        if out.shape[0] != self.n_trees:
            raise ValueError(f"expected room for {self.n_trees} leaves, got {out.shape[0]}")
        self._load(x)
        self._walk(&out[0] if self.n_trees else NULL)
