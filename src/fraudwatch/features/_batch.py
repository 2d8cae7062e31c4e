"""The batch executor: every feature of a set over a whole history, point-in-time correct.

Rows of ``history`` and ``data`` are merged (history first), sorted stably by timestamp (ties
keep that order) and laid out per entity; each feature of a row is computed from the rows
before it in that order (see docs/features.md for the exact convention). The work is
vectorised: polars for reading and normalising, numpy for window positions and sums.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import numpy as np
import numpy.typing as npt
import polars as pl

from fraudwatch.errors import FeatureError, MissingColumnsError
from fraudwatch.features._definitions import (
    MIN_SPEED_HOURS,
    NIGHT_LAST_HOUR,
    STD_FLOOR,
    VALUES,
    Feature,
)
from fraudwatch.features._featureset import FeatureSet
from fraudwatch.features._geo import haversine_km_np, km_to_centroid_np, unit_vector_np
from fraudwatch.features._kernels import (
    DDPrefix,
    EntityIndex,
    distinct_in_window,
    int_prefix,
    m2_from_sums,
    time_ranks,
)
from fraudwatch.features._validate import ip_prefix_expr, normalise_frame

__all__ = ["BatchContext", "compute_batch", "merge_inputs"]

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 86_400_000_000


def _label_columns(fs: FeatureSet) -> bool:
    return any(f.kind == "fraud_rate" for f in fs)


def merge_inputs(
    fs: FeatureSet, data: pl.DataFrame | pl.LazyFrame, history: pl.DataFrame | pl.LazyFrame | None
) -> tuple[pl.DataFrame, int]:
    """Validate ``data`` and ``history`` and stack them, history first.

    Returns the stacked frame (history rows first, then data rows, each in input order) and
    the number of data rows. Labels may sit in either frame; when a set needs labels and
    neither frame has an ``is_fraud`` column a :class:`MissingColumnsError` is raised.
    """
    needed = [c for c in fs.required_columns if c != "is_fraud"]
    optional = ["is_fraud"] if _label_columns(fs) else []
    frames = [normalise_frame(data, needed, source="data", optional=optional)]
    if history is not None:
        hist = normalise_frame(history, needed, source="history", optional=optional)
        frames.insert(0, hist)
        shared = hist.select("transaction_id").join(
            frames[1].select("transaction_id"), on="transaction_id", how="semi"
        )
        if shared.height:
            raise FeatureError(
                f"history and data share {shared.height} transaction id(s), e.g. "
                f"{shared['transaction_id'][0]!r}; history must hold only earlier, different "
                "transactions (remove the overlap)"
            )
    if optional and not any("is_fraud" in f.columns for f in frames):
        raise MissingColumnsError(
            ["is_fraud"],
            frames[-1].columns,
            source="data and history",
            hint=(
                "fraud_rate features need labels: pass a labelled history (is_fraud), or drop "
                "them with FeatureSet.available_for(columns)"
            ),
        )
    merged = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    return merged, frames[-1].height


def _codes(series: pl.Series) -> I64:
    """Integer codes of a text column (-1 for null)."""
    phys = series.cast(pl.Categorical).to_physical().cast(pl.Int64).fill_null(-1)
    return cast(I64, phys.to_numpy())


class BatchContext:
    """Arrays of the merged rows in global time order, with per-entity caches."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.raw = frame
        ts_raw = frame["timestamp"].dt.epoch("us").to_numpy()
        order = np.argsort(ts_raw, kind="stable")
        self.order: I64 = order.astype(np.int64)
        self.n = frame.height
        self.ts: I64 = cast(I64, ts_raw[order].astype(np.int64))
        self._entities: dict[str, EntityIndex] = {}
        self._codes: dict[str, I64] = {}
        self._float: dict[str, F64] = {}
        self._cache: dict[tuple[object, ...], object] = {}
        self._ranks: tuple[I64, I64] | None = None
        self._frame: pl.DataFrame | None = None

    @property
    def frame(self) -> pl.DataFrame:
        """The merged rows in time order (materialised on first use)."""
        if self._frame is None:
            self._frame = self.raw[self.order]
        return self._frame

    @property
    def columns(self) -> list[str]:
        """Columns of the merged rows."""
        return self.raw.columns

    def positions(self, raw_rows: I64) -> I64:
        """Time-order positions of rows given by their index in the merged (input) frame."""
        inverse = cast(
            I64,
            self._memo(
                ("inverse",), lambda: np.argsort(self.order, kind="stable").astype(np.int64)
            ),
        )
        return inverse[raw_rows]

    # ---------------------------------------------------------------- raw columns
    def float_col(self, name: str) -> F64:
        """A numeric column as float64 in time order (NaN for null)."""
        if name not in self._float:
            s = self.raw[name].cast(pl.Float64).fill_null(np.nan)
            self._float[name] = s.to_numpy().astype(np.float64, copy=False)[self.order]
        return self._float[name]

    def value_codes(self, value: str) -> I64:
        """Integer codes of a value (``VALUES`` key or column) in time order, -1 for null."""
        if value not in self._codes:
            if value == "ip_prefix":
                series = self.raw.select(ip_prefix_expr("ip_address"))["ip_address"]
            else:
                series = self.raw[VALUES.get(value, value)]
            self._codes[value] = _codes(series)[self.order]
        return self._codes[value]

    def entity(self, entity: str) -> EntityIndex:
        """The layout of one entity kind."""
        if entity not in self._entities:
            uniq, rank = self.ranks()
            self._entities[entity] = EntityIndex(self.value_codes(entity), self.ts, uniq, rank)
        return self._entities[entity]

    def located(self) -> npt.NDArray[np.bool_]:
        """Rows with both coordinates (none when the frame has no coordinates)."""
        if "latitude" not in self.raw.columns or "longitude" not in self.raw.columns:
            return np.zeros(self.n, dtype=bool)
        return ~(np.isnan(self.float_col("latitude")) | np.isnan(self.float_col("longitude")))

    # ---------------------------------------------------------------- cached pieces
    def _memo(self, key: tuple[object, ...], make: Callable[[], object]) -> object:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def start(self, entity: str, back_us: int) -> I64:
        """Per position of ``entity``: first position with ``ts > t - back_us``."""
        idx = self.entity(entity)

        def make() -> I64:
            # the rank of t - back is shared by every entity; rows are in time order
            q = cast(
                I64,
                self._memo(
                    ("rank_after", back_us),
                    lambda: np.searchsorted(
                        self.ranks()[0], self.ts - np.int64(back_us), side="right"
                    ).astype(np.int64),
                ),
            )
            return idx.first_at_rank(q[idx.rows])

        return cast(I64, self._memo(("start", entity, back_us), make))

    def ranks(self) -> tuple[I64, I64]:
        """Distinct timestamps and each row's dense time rank."""
        if self._ranks is None:
            self._ranks = time_ranks(self.ts)
        return self._ranks

    def at(self, entity: str, values: F64) -> F64:
        """A time-order array gathered into the entity's positions (memoised per array)."""
        key = ("at", entity, id(values))
        got = self._cache.get(key)
        if got is None:
            got = self._cache[key] = (values, values[self.entity(entity).rows])
        return cast(tuple[F64, F64], got)[1]

    def dd_prefix(self, entity: str, what: str) -> DDPrefix:
        """Double-double prefix sums of a per-row float over the entity's positions."""

        def make() -> DDPrefix:
            if what == "amount":
                return DDPrefix.of(self.at(entity, self.float_col("amount")))
            if what == "amount2":
                return DDPrefix.of_squares(self.at(entity, self.float_col("amount")))
            x, y, z = self.unit_vectors()
            vec = {"x": x, "y": y, "z": z}[what]
            return DDPrefix.of(self.at(entity, vec))

        return cast(DDPrefix, self._memo(("dd", entity, what), make))

    def unit_vectors(self) -> tuple[F64, F64, F64]:
        """Unit vectors of located rows (0 where not located)."""

        def make() -> tuple[F64, F64, F64]:
            loc = self.located()
            lat = np.where(loc, self.float_col("latitude"), 0.0)
            lon = np.where(loc, self.float_col("longitude"), 0.0)
            x, y, z = unit_vector_np(lat, lon)
            return np.where(loc, x, 0.0), np.where(loc, y, 0.0), np.where(loc, z, 0.0)

        return cast(tuple[F64, F64, F64], self._memo(("unit",), make))

    def int_prefix(self, entity: str, what: str) -> I64:
        """Prefix counts of a per-row flag over the entity's positions."""

        def make() -> I64:
            idx = self.entity(entity)
            if what == "fraud":
                flags = (
                    self.raw["is_fraud"].fill_null(0).to_numpy()[self.order] == 1
                    if "is_fraud" in self.raw.columns
                    else np.zeros(self.n, dtype=bool)
                )
            elif what == "located":
                flags = self.located()
            else:  # "under:<threshold>"
                flags = self.float_col("amount") < float(what.split(":", 1)[1])
            return int_prefix(np.asarray(flags)[idx.rows])

        return cast(I64, self._memo(("ip", entity, what), make))

    def window_sum(self, entity: str, what: str, f: Feature) -> F64:
        """Sum of a per-row float over each position's (possibly delayed) window."""

        def make() -> F64:
            start, end = _window_count(self, f)
            return self.dd_prefix(entity, what).window_sum(start, end)

        return cast(F64, self._memo(("wsum", entity, what, f.window_us, f.delay_us), make))

    def scatter(self, entity: str, values: F64) -> F64:
        """Per-position values of an entity back to global rows (NaN where no key)."""
        out = np.full(self.n, np.nan)
        out[self.entity(entity).rows] = values
        return out

    def prev_in_group(self, entity: str) -> I64:
        """Per position: the previous position of the same key, or -1."""
        idx = self.entity(entity)
        return np.where(idx.here > idx.group_start, idx.here - 1, -1)


# ------------------------------------------------------------------------ feature kinds
def _window_count(ctx: BatchContext, f: Feature) -> tuple[I64, I64]:
    entity = cast(str, f.entity)
    idx = ctx.entity(entity)
    if f.delay_us:
        start = ctx.start(entity, f.window_us + f.delay_us)
        end = ctx.start(entity, f.delay_us)
    else:
        start = ctx.start(entity, f.window_us)
        end = idx.here
    return start, end


def _mean(ctx: BatchContext, f: Feature) -> tuple[F64, I64]:
    entity = cast(str, f.entity)
    start, end = _window_count(ctx, f)
    n = end - start
    total = ctx.window_sum(entity, "amount", f)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    return mean, n


def _compute(ctx: BatchContext, f: Feature) -> F64:
    k = f.kind
    if k in {"hour", "weekday", "night", "weekend"}:
        hour = (ctx.ts // _US_PER_HOUR) % 24
        weekday = (ctx.ts // _US_PER_DAY + 3) % 7
        if k == "hour":
            return hour.astype(np.float64)
        if k == "weekday":
            return weekday.astype(np.float64)
        if k == "night":
            return (hour <= NIGHT_LAST_HOUR).astype(np.float64)
        return (weekday >= 5).astype(np.float64)
    if k == "value":
        return ctx.float_col(cast(str, f.value))
    entity = cast(str, f.entity)
    idx = ctx.entity(entity)
    if k == "count":
        start, end = _window_count(ctx, f)
        return ctx.scatter(entity, (end - start).astype(np.float64))
    if k == "sum":
        start, end = _window_count(ctx, f)
        return ctx.scatter(entity, ctx.window_sum(entity, "amount", f))
    if k == "mean":
        return ctx.scatter(entity, _mean(ctx, f)[0])
    if k == "ratio_to_mean":
        mean, _ = _mean(ctx, f)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(mean > 0, ctx.at(entity, ctx.float_col("amount")) / mean, np.nan)
        return ctx.scatter(entity, ratio)
    if k == "zscore":
        start, end = _window_count(ctx, f)
        n = end - start
        s1 = ctx.dd_prefix(entity, "amount").window(start, end)
        s2 = ctx.dd_prefix(entity, "amount2").window(start, end)
        m2 = m2_from_sums(s1, s2, n)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (s1[0] + s1[1]) / np.maximum(n, 1)
            std = np.sqrt(m2 / np.maximum(n - 1, 1))
            z = (ctx.at(entity, ctx.float_col("amount")) - mean) / np.maximum(std, STD_FLOOR)
        return ctx.scatter(entity, np.where(n >= 2, z, np.nan))
    if k == "count_below":
        start, end = _window_count(ctx, f)
        pre = ctx.int_prefix(entity, f"under:{f.threshold!r}")
        return ctx.scatter(entity, (pre[end] - pre[start]).astype(np.float64))
    if k == "distinct":
        start, _ = _window_count(ctx, f)
        vcodes = ctx.value_codes(cast(str, f.value))[idx.rows]
        prev = cast(I64, ctx._memo(("prev", entity, f.value), lambda: idx.prev_same(vcodes)))
        return ctx.scatter(entity, distinct_in_window(start, prev, vcodes >= 0).astype(np.float64))
    if k == "novel":
        vcodes = ctx.value_codes(cast(str, f.value))[idx.rows]
        prev = cast(I64, ctx._memo(("prev", entity, f.value), lambda: idx.prev_same(vcodes)))
        fresh = (prev < 0) | (idx.ts - idx.ts[np.maximum(prev, 0)] >= f.window_us)
        return ctx.scatter(entity, np.where(vcodes >= 0, fresh.astype(np.float64), np.nan))
    if k == "since_prev":
        prev = ctx.prev_in_group(entity)
        gap = idx.ts - idx.ts[np.maximum(prev, 0)]
        ok = (prev >= 0) & (gap < f.window_us)
        return ctx.scatter(entity, np.where(ok, gap / 1e6, np.nan))
    if k == "age":
        prev = ctx.prev_in_group(entity)
        gap = idx.ts - idx.ts[np.maximum(prev, 0)]
        new_run = (prev < 0) | (gap >= f.window_us)
        run_start = np.maximum.accumulate(np.where(new_run, idx.here, 0))
        return ctx.scatter(entity, (idx.ts - idx.ts[run_start]) / _US_PER_DAY)
    if k in {"km_prev", "speed_prev"}:
        loc = ctx.located()[idx.rows]
        last = np.maximum.accumulate(np.where(loc, idx.here, -1))
        prev = np.full(idx.n, -1, dtype=np.int64)
        prev[1:] = last[:-1]
        p = np.maximum(prev, 0)
        gap = idx.ts - idx.ts[p]
        ok = loc & (prev >= idx.group_start) & (gap < f.window_us)
        lat = ctx.at(entity, ctx.float_col("latitude"))
        lon = ctx.at(entity, ctx.float_col("longitude"))
        with np.errstate(invalid="ignore"):
            km = haversine_km_np(lat[p], lon[p], lat, lon)
        if k == "speed_prev":
            km = km / np.maximum(gap / _US_PER_HOUR, MIN_SPEED_HOURS)
        return ctx.scatter(entity, np.where(ok, km, np.nan))
    if k == "km_usual":
        start, end = _window_count(ctx, f)
        loc_pre = ctx.int_prefix(entity, "located")
        n = loc_pre[end] - loc_pre[start]
        sx = ctx.window_sum(entity, "x", f)
        sy = ctx.window_sum(entity, "y", f)
        sz = ctx.window_sum(entity, "z", f)
        x, y, z = (ctx.at(entity, v) for v in ctx.unit_vectors())
        km = km_to_centroid_np((x, y, z), sx, sy, sz, n)
        return ctx.scatter(entity, np.where(ctx.located()[idx.rows], km, np.nan))
    if k == "fraud_rate":
        start, end = _window_count(ctx, f)
        pre = ctx.int_prefix(entity, "fraud")
        n = end - start
        frauds = pre[end] - pre[start]
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(n > 0, frauds / np.maximum(n, 1), np.nan)
        return ctx.scatter(entity, rate)
    raise FeatureError(f"feature kind {k!r} has no batch implementation")  # pragma: no cover


def compute_batch(
    fs: FeatureSet,
    data: pl.DataFrame | pl.LazyFrame,
    history: pl.DataFrame | pl.LazyFrame | None = None,
    *,
    threads: int | None = None,
) -> pl.DataFrame:
    """Compute every feature of ``fs`` for every row of ``data``.

    Parameters
    ----------
    fs:
        The feature set.
    data:
        The transactions to compute features for (canonical columns; any row order). A
        LazyFrame (e.g. ``pl.scan_parquet``) is read for the needed columns only.
    history:
        Earlier transactions, labelled or not, that only warm the state (no output rows).
    threads:
        Threads computing the features of different entities side by side (numpy releases
        the GIL in its sorts, searches and gathers); default: one per core, at most 4.
        ``1`` computes them one after the other. The result does not depend on it.

    Returns
    -------
    polars.DataFrame
        ``transaction_id`` then one column per feature in ``fs`` order (``Float64``, or
        ``String`` for categorical features), one row per row of ``data`` in its order.

    Raises
    ------
    MissingColumnsError
        A column a feature needs is absent (see :meth:`FeatureSet.available_for`).
    FeatureError
        A value is unusable: NaN, negative or infinite amount, null key, naive timestamp,
        coordinates out of range, history sharing transaction ids with data.

    Notes
    -----
    A transaction's features use the rows before it in time order -- earlier timestamps,
    and rows with the same timestamp that come first (history before data, then input
    order) -- plus its own fields. A row is never inside its own windows. Labels count once
    known: in this executor a label is known ``delay`` after its transaction's timestamp, so
    ``fraud_rate`` over ``(t - delay - window, t - delay]`` sees every label in its window; a
    null label counts as not fraud.
    """
    merged, n_data = merge_inputs(fs, data, history)
    ctx = BatchContext(merged)
    n_hist = ctx.n - n_data
    # data rows are the last n_data merged rows, in their input order
    data_pos = ctx.positions(np.arange(n_hist, ctx.n, dtype=np.int64))
    values = _compute_all(ctx, fs, threads)
    columns: list[pl.Series] = [merged["transaction_id"].slice(n_hist)]
    for feat in fs:
        if feat.categorical:
            column = merged[cast(str, feat.value)].cast(pl.String).slice(n_hist)
        else:
            column = pl.Series(values[feat.name][data_pos], dtype=pl.Float64)
        columns.append(column.alias(feat.name))
    table = pl.DataFrame(columns)
    numeric = [f.name for f in fs if not f.categorical]
    table = table.with_columns(pl.col(numeric).fill_nan(None)) if numeric else table
    log.debug("computed %d features for %d rows (%d history rows)", len(fs), n_data, n_hist)
    return table


def _compute_all(ctx: BatchContext, fs: FeatureSet, threads: int | None) -> dict[str, F64]:
    """Every numeric feature's values in time order, spread over threads.

    Features go in groups of one entity and one window (a card's 1-hour features, its
    30-day ones...), which share most of their cached pieces. The pieces every group reads
    (time ranks, value codes, float columns, unit vectors, each entity's layout) are built
    first, one after the other. A piece two groups both need (an entity's amount prefix
    sums, the rank of ``t - window``) may then be built by both: the same array either way,
    so whichever copy the cache keeps is right.
    """
    numeric = [f for f in fs if not f.categorical]
    groups: dict[tuple[str | None, int], list[Feature]] = {}
    for f in numeric:
        groups.setdefault((f.entity, f.window_us), []).append(f)
    workers = threads if threads is not None else min(os.cpu_count() or 1, 4)
    if workers <= 1 or len(groups) <= 1:
        return {f.name: _compute(ctx, f) for f in numeric}
    ctx.ranks()
    for name in ("amount", "latitude", "longitude"):
        if name in ctx.columns:
            ctx.float_col(name)
    if "latitude" in ctx.columns and "longitude" in ctx.columns:
        ctx.unit_vectors()
    for f in numeric:
        if f.entity is not None:
            ctx.entity(f.entity)
        if f.kind in {"distinct", "novel"}:
            ctx.value_codes(cast(str, f.value))

    def run(feats: list[Feature]) -> dict[str, F64]:
        return {f.name: _compute(ctx, f) for f in feats}

    # largest groups first, so the pool's threads finish close together
    ordered = sorted(groups.values(), key=len, reverse=True)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fw-features") as pool:
        parts = list(pool.map(run, ordered))
    out: dict[str, F64] = {}
    for part in parts:
        out.update(part)
    return out
