"""Vectorised building blocks of the batch executor (numpy).

Rows of one entity are laid out contiguously in time order (ties keep input order), so an
entity's window over *earlier* rows is a range of positions ``[start, i)``. Window sums of
floats come from prefix sums carried in double-double precision (the exact rounding error of
every step of ``cumsum`` is kept beside it, :mod:`fraudwatch.features._dd`), so a window sum
is accurate to about one unit in the last place whatever came before it in the entity's
history. The online stores keep the same running sums per entity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fraudwatch.features import _dd

__all__ = [
    "DDPrefix",
    "EntityIndex",
    "distinct_in_window",
    "int_prefix",
    "m2_from_sums",
    "time_ranks",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


def int_prefix(x: npt.NDArray[np.integer] | B) -> I64:
    """Prefix sums with a leading zero: ``out[k] = x[:k].sum()``."""
    out = np.zeros(len(x) + 1, dtype=np.int64)
    np.cumsum(x, out=out[1:])
    return out


@dataclass(frozen=True)
class DDPrefix:
    """Prefix sums of a float array in double-double precision (leading zero)."""

    hi: F64
    lo: F64

    @classmethod
    def of(cls, x: F64, err: F64 | None = None) -> DDPrefix:
        """Build the prefix of ``x`` (plus an optional exact low part ``err``)."""
        hi = np.zeros(len(x) + 1)
        np.cumsum(x, out=hi[1:])
        _, step_err = _dd.two_sum(hi[:-1], x)
        lo = np.zeros(len(x) + 1)
        if err is not None:
            step_err = step_err + err
        np.cumsum(step_err, out=lo[1:])
        return cls(hi, lo)

    @classmethod
    def of_squares(cls, x: F64) -> DDPrefix:
        """Build the prefix of ``x**2`` (each square kept exactly as a double-double)."""
        p, e = _dd.two_prod(x, x)
        return cls.of(p, e)

    def window(self, start: I64, end: I64) -> tuple[F64, F64]:
        """Sum of rows ``[start, end)`` as a double-double ``(hi, lo)``."""
        return _dd.window(self.hi[end], self.lo[end], self.hi[start], self.lo[start])

    def window_sum(self, start: I64, end: I64) -> F64:
        """Sum of rows ``[start, end)`` rounded to float64."""
        hi, lo = self.window(start, end)
        return hi + lo


def m2_from_sums(s1: tuple[F64, F64], s2: tuple[F64, F64], n: I64) -> F64:
    """Sum of squared deviations ``S2 - S1**2 / n`` computed in double-double.

    Rows with ``n == 0`` get 0.
    """
    nf = np.maximum(n, 1).astype(np.float64)
    out = _dd.m2_from_sums(s1[0], s1[1], s2[0], s2[1], nf)
    return np.where(n > 0, np.maximum(out, 0.0), 0.0)


def time_ranks(ts: I64) -> tuple[I64, I64]:
    """Distinct timestamps and the dense rank of each row (``ts`` non-decreasing)."""
    change = np.empty(len(ts), dtype=bool)
    change[:1] = True
    np.not_equal(ts[1:], ts[:-1], out=change[1:])
    rank = np.cumsum(change, dtype=np.int64) - 1
    return ts[change], rank


class EntityIndex:
    """The rows of one entity kind, grouped by key and ordered by time within each key.

    Parameters
    ----------
    codes:
        Integer key of each row in global time order, ``-1`` where the row has no key.
    ts:
        Timestamp of each row in microseconds (global time order, non-decreasing).

    Attributes
    ----------
    rows:
        Global row of each position (positions are the sorted layout).
    pos:
        Position of each global row, ``-1`` for rows without a key.
    """

    def __init__(
        self, codes: I64, ts: I64, uniq: I64 | None = None, rank: I64 | None = None
    ) -> None:
        if uniq is None or rank is None:
            uniq, rank = time_ranks(ts)
        valid = np.flatnonzero(codes >= 0)
        order = valid[np.argsort(codes[valid], kind="stable")]
        self.rows: I64 = order.astype(np.int64)
        self.codes: I64 = codes[order]
        self.ts: I64 = ts[order]
        self.n = len(order)
        self.pos: I64 = np.full(len(codes), -1, dtype=np.int64)
        self.pos[order] = np.arange(self.n, dtype=np.int64)
        self._uniq: I64 = uniq
        self._scale = np.int64(len(uniq) + 1)
        self._key: I64 = self.codes * self._scale + rank[order]
        self.here: I64 = np.arange(self.n, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, self.codes[1:] != self.codes[:-1]]) if self.n else order
        sizes = np.diff(np.r_[starts, self.n])
        self.group_start: I64 = np.repeat(starts, sizes).astype(np.int64)

    def first_after(self, bound: I64) -> I64:
        """For each position, the first position of its key with ``ts > bound``."""
        q = np.searchsorted(self._uniq, bound, side="right").astype(np.int64)
        return self.first_at_rank(q)

    def first_at_rank(self, q: I64) -> I64:
        """For each position, the first position of its key whose time rank is ``>= q``."""
        return np.searchsorted(self._key, self.codes * self._scale + q, side="left").astype(
            np.int64
        )

    def window_start(self, window_us: int) -> I64:
        """First position of the window ``(t - window, t]`` of each position."""
        return self.first_after(self.ts - np.int64(window_us))

    def prev_same(self, value_codes: I64) -> I64:
        """For each position, the previous position of the same key with the same value.

        ``value_codes`` are given per position (``-1`` = no value); the result is ``-1`` when
        there is none.
        """
        out = np.full(self.n, -1, dtype=np.int64)
        valid = np.flatnonzero(value_codes >= 0)
        if len(valid) == 0:
            return out
        vmax = np.int64(value_codes.max() + 1)
        pair = self.codes[valid] * vmax + value_codes[valid]
        order = valid[np.argsort(pair, kind="stable")]
        pair_sorted = self.codes[order] * vmax + value_codes[order]
        same = np.zeros(len(order), dtype=bool)
        same[1:] = pair_sorted[1:] == pair_sorted[:-1]
        prev = np.full(len(order), -1, dtype=np.int64)
        prev[1:] = order[:-1]
        out[order] = np.where(same, prev, -1)
        return out


def distinct_in_window(start: I64, prev: I64, counted: B) -> I64:
    """Number of distinct values among positions ``[start[i], i)`` for every position ``i``.

    ``prev[r]`` is the previous position with the same key and value (``-1`` if none) and
    ``counted[r]`` says whether row ``r`` has a value at all. A row counts when it is the
    first of its value inside the window, i.e. ``prev[r] < start[i]``. The work is the total
    length of all windows.
    """
    n = len(start)
    here = np.arange(n, dtype=np.int64)
    length = here - start
    out = np.zeros(n, dtype=np.int64)
    if n == 0 or length.max(initial=0) == 0:
        return out
    order = np.argsort(-length, kind="stable")
    lengths_sorted = length[order]
    max_len = int(lengths_sorted[0])
    # number of rows with length >= k, for k = 1..max_len
    active_counts = np.searchsorted(-lengths_sorted, -np.arange(1, max_len + 1), side="right")
    rows = order
    starts = start[order]
    acc = np.zeros(n, dtype=np.int64)
    for k in range(1, max_len + 1):
        m = int(active_counts[k - 1])
        r = rows[:m] - k
        acc[:m] += (counted[r] & (prev[r] < starts[:m])).astype(np.int64)
    out[order] = acc
    return out
