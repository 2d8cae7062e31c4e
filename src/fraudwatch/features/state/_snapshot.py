"""Snapshots of online state built from history, so a service starts warm.

:func:`build_snapshot` computes, with the batch machinery, exactly the state the online
executor would hold after replaying ``history``: recent events with their fields, fraud labels
(known ``label delay`` after their transaction), last-seen facts and the transaction index for
later labels. :meth:`StateSnapshot.save` writes a folder of Parquet tables plus a JSON manifest
(no pickle); :meth:`StateSnapshot.load` reads it back and checks it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from fraudwatch.errors import FeatureError, InputFileError
from fraudwatch.features._batch import BatchContext, merge_inputs
from fraudwatch.features._dd import two_prod
from fraudwatch.features._featureset import FeatureSet
from fraudwatch.features._kernels import DDPrefix
from fraudwatch.features._plan import EntitySpec, StatePlan
from fraudwatch.features._validate import ip_prefix_expr

__all__ = ["SNAPSHOT_FORMAT", "StateSnapshot", "build_snapshot"]

SNAPSHOT_FORMAT: Final = "fraudwatch-feature-state"
_VERSION: Final = 2
_TABLES: Final = ("events", "meta", "seen", "frauds", "index")


def field_column(name: str) -> str:
    """The events table's column of field ``name``."""
    return f"f_{name}"


def _input_column(name: str) -> str:
    return f"in_{name}"


def _inputs(spec: EntitySpec) -> tuple[str, ...]:
    """The inputs ``spec``'s running sums read."""
    located = any(n in ("located", "x", "y", "z") for n in spec.sums)
    return (("amount",) if spec.needs_amount else ()) + (("x", "y", "z") if located else ())


def _event_value_arrays(
    spec: EntitySpec, df: pl.DataFrame
) -> list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    """Array form of :func:`~fraudwatch.features._dd.event_values` over an events table."""
    n = df.height
    zero = np.zeros(n)
    amount = df[_input_column("amount")].to_numpy() if spec.needs_amount else zero
    out = []
    for name in spec.sums:
        if name == "amount":
            out.append((amount, zero))
        elif name == "count":
            out.append((np.ones(n), zero))
        elif name == "amount2":
            out.append(two_prod(amount, amount))
        elif name == "located":
            out.append((df[_input_column("x")].is_not_null().to_numpy().astype(np.float64), zero))
        elif name in ("x", "y", "z"):
            out.append((df[_input_column(name)].fill_null(0.0).to_numpy(), zero))
        else:  # "under:<threshold>"
            out.append(((amount < float(name.split(":", 1)[1])).astype(np.float64), zero))
    return out


@dataclass(frozen=True)
class StateSnapshot:
    """Online state as of the end of a history.

    Attributes
    ----------
    plan:
        The state plan the snapshot was built for (stores load it under that plan).
    feature_set_hash:
        Hash of the feature set used.
    as_of:
        Timestamp (µs since the epoch) of the last history row.
    tables:
        ``events``, ``meta``, ``seen``, ``frauds`` and ``index`` frames.
    """

    plan: StatePlan
    feature_set_hash: str
    as_of: int
    tables: dict[str, pl.DataFrame]

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write the snapshot to folder ``path`` (created; existing tables replaced)."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        manifest = {
            "format": SNAPSHOT_FORMAT,
            "version": _VERSION,
            "plan": [asdict(s) for s in self.plan.specs],
            "plan_id": self.plan.id,
            "feature_set_hash": self.feature_set_hash,
            "as_of": self.as_of,
        }
        for name in _TABLES:
            self.tables[name].write_parquet(folder / f"{name}.parquet")
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, path: str | Path) -> StateSnapshot:
        """Read a snapshot written by :meth:`save`.

        Raises
        ------
        InputFileError
            The folder is missing, is not a snapshot, or was modified (plan id mismatch).
        """
        folder = Path(path)
        manifest_path = folder / "manifest.json"
        if not manifest_path.is_file():
            raise InputFileError(
                f"{folder} is not a feature state snapshot (no manifest.json); build one with "
                "build_snapshot(fs, history).save(path)",
                path=str(folder),
            )
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputFileError(
                f"{manifest_path} is not valid JSON: {exc}", path=str(folder)
            ) from exc
        if not isinstance(manifest, dict) or manifest.get("format") != SNAPSHOT_FORMAT:
            raise InputFileError(
                f"{manifest_path} is not a feature state manifest", path=str(folder)
            )
        if manifest.get("version") != _VERSION:
            raise InputFileError(
                f"snapshot version {manifest.get('version')!r} is not supported (expected "
                f"{_VERSION}); rebuild it with this fraudwatch",
                path=str(folder),
            )
        plan = StatePlan(tuple(_spec_from_dict(d) for d in manifest["plan"]))
        if plan.id != manifest.get("plan_id"):
            raise InputFileError(
                f"{manifest_path} was modified: its plan does not match its plan id; rebuild "
                "the snapshot",
                path=str(folder),
            )
        tables: dict[str, pl.DataFrame] = {}
        for name in _TABLES:
            file = folder / f"{name}.parquet"
            if not file.is_file():
                raise InputFileError(f"snapshot table {file} is missing", path=str(folder))
            tables[name] = pl.read_parquet(file)
        return cls(plan, str(manifest["feature_set_hash"]), int(manifest["as_of"]), tables)

    # ------------------------------------------------------------------ reading for stores
    def events(self, si: int) -> pl.DataFrame:
        """Spec ``si``'s rows of the events table: grouped by key, in time order within one."""
        return self.tables["events"].filter(pl.col("spec") == si)

    def event_sums(self, si: int, events: pl.DataFrame | None = None) -> npt.NDArray[np.float64]:
        """The running sums of spec ``si``'s events: row ``i`` before event ``i``, plus a last
        row after the last event; flat ``(hi, lo)`` pairs (no columns when the spec keeps none).

        The sums run over the whole table, whose events are grouped by key: differences within
        one key are that key's window sums, which is all a store reads. ``events`` is
        :meth:`events` of ``si`` when the caller already holds it.
        """
        spec = self.plan.specs[si]
        df = self.events(si) if events is None else events
        if not spec.sums:
            return np.zeros((df.height + 1, 0))
        parts = []
        for hi, lo in _event_value_arrays(spec, df):
            pre = DDPrefix.of(hi, lo)
            parts += [pre.hi, pre.lo]
        return np.column_stack(parts)

    def iter_events(
        self, si: int
    ) -> Iterator[tuple[str, int, tuple[Any, ...], tuple[float, ...], tuple[float, ...]]]:
        """``(key, ts, fields, sums before, sums after)`` of spec ``si``'s events, in time order
        (the running sums of :meth:`event_sums`)."""
        spec = self.plan.specs[si]
        df = self.events(si)
        cols = [df["key"].to_list(), df["ts"].to_list()]
        cols += [df[field_column(f)].to_list() for f in spec.fields]
        sums = list(map(tuple, self.event_sums(si, df).tolist()))
        for i, row in enumerate(zip(*cols, strict=True)):
            yield row[0], row[1], tuple(row[2:]), sums[i], sums[i + 1]

    def iter_meta(self, si: int) -> Iterator[tuple[str, int, int, tuple[int, float, float] | None]]:
        """``(key, first_seen, last_ts, (loc_ts, lat, lon) or None)`` of spec ``si``."""
        df = self.tables["meta"].filter(pl.col("spec") == si)
        for key, first, last, lts, lat, lon in df.select(
            "key", "first", "last", "loc_ts", "loc_lat", "loc_lon"
        ).iter_rows():
            yield key, first, last, (lts, lat, lon) if lts is not None else None

    def iter_seen(self, si: int) -> Iterator[tuple[str, int, str, int]]:
        """``(key, seen slot, value, last ts)`` of spec ``si``."""
        df = self.tables["seen"].filter(pl.col("spec") == si)
        yield from df.select("key", "slot", "value", "ts").iter_rows()

    def iter_frauds(self, si: int) -> Iterator[tuple[str, str, int, int]]:
        """``(key, transaction id, ts, known_at)`` of spec ``si``'s fraud labels."""
        df = self.tables["frauds"].filter(pl.col("spec") == si)
        yield from df.select("key", "tx_id", "ts", "known_at").iter_rows()

    def iter_index(self) -> Iterator[tuple[str, int, tuple[str | None, ...]]]:
        """``(transaction id, ts, key per spec)`` of transactions that can still get labels."""
        df = self.tables["index"]
        key_cols = [f"k{i}" for i in range(len(self.plan.specs))]
        for row in df.select("tx_id", "ts", *key_cols).iter_rows():
            yield row[0], row[1], tuple(row[2:])

    def summary(self) -> dict[str, int]:
        """Row counts of the tables."""
        return {name: df.height for name, df in self.tables.items()}


def _spec_from_dict(d: dict[str, Any]) -> EntitySpec:
    try:
        return EntitySpec(
            entity=str(d["entity"]),
            column=str(d["column"]),
            fields=tuple(d["fields"]),
            event_window_us=int(d["event_window_us"]),
            sums=tuple(str(n) for n in d["sums"]),
            sum_windows=tuple(int(w) for w in d["sum_windows"]),
            count_ranges=tuple((int(a), int(b)) for a, b in d["count_ranges"]),
            label_range=None
            if d["label_range"] is None
            else (int(d["label_range"][0]), int(d["label_range"][1])),
            retention_us=int(d["retention_us"]),
            meta=bool(d["meta"]),
            seen=tuple(d["seen"]),
            horizon_us=int(d["horizon_us"]),
            age_reset_us=int(d["age_reset_us"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputFileError(f"snapshot manifest has an invalid plan entry {d!r}: {exc}") from exc


def _value_series(ctx: BatchContext, name: str) -> pl.Series:
    if name == "ip_prefix":
        return ctx.frame.select(ip_prefix_expr("ip_address"))["ip_address"]
    from fraudwatch.features._definitions import VALUES

    return ctx.frame[VALUES.get(name, name)].cast(pl.String)


def build_snapshot(fs: FeatureSet, history: pl.DataFrame | pl.LazyFrame) -> StateSnapshot:
    """The online state of ``fs`` after ``history``, computed in batch.

    An :class:`~fraudwatch.features.OnlineExecutor` whose store loaded this snapshot computes,
    for later transactions, the same features as ``compute_batch(fs, later, history=history)``.

    Raises
    ------
    FeatureError
        ``history`` is empty or has unusable values.
    MissingColumnsError
        A needed column is absent.
    """
    merged, n = merge_inputs(fs, history, None)
    if n == 0:
        raise FeatureError("history is empty; a snapshot needs at least one transaction")
    plan = StatePlan.from_feature_set(fs)
    ctx = BatchContext(merged)
    as_of = int(ctx.ts.max())
    label_delay = fs.label_delay
    delay_us = int(label_delay.total_seconds() * 1_000_000) if label_delay is not None else 0
    fraud = (
        ctx.frame["is_fraud"].fill_null(0).to_numpy() == 1
        if "is_fraud" in ctx.frame.columns
        else np.zeros(ctx.n, dtype=bool)
    )
    tx_ids = ctx.frame["transaction_id"]
    events, metas, seens, frauds = [], [], [], []
    index_keys: dict[str, pl.Series] = {}
    for si, spec in enumerate(plan.specs):
        idx = ctx.entity(spec.entity)
        keys = ctx.frame[spec.column].gather(idx.rows)
        rows = pl.Series(idx.rows)
        if spec.retention_us:
            sel = np.flatnonzero(idx.ts > as_of - spec.retention_us)
            cols: dict[str, pl.Series] = {
                "spec": pl.Series([si] * len(sel), dtype=pl.Int32),
                "key": keys.gather(sel),
                "ts": pl.Series(idx.ts[sel], dtype=pl.Int64),
            }
            loc = ctx.located()[idx.rows[sel]]
            for name in _inputs(spec):
                if name == "amount":
                    cols[_input_column(name)] = pl.Series(ctx.float_col("amount")[idx.rows[sel]])
                else:
                    v = ctx.unit_vectors()["xyz".index(name)][idx.rows[sel]]
                    cols[_input_column(name)] = pl.Series(np.where(loc, v, np.nan)).fill_nan(None)
            for name in spec.fields:
                cols[field_column(name)] = _value_series(ctx, name).gather(rows.gather(sel))
            events.append(pl.DataFrame(cols))
            if spec.labels:
                fsel = sel[fraud[idx.rows[sel]]]
                frauds.append(
                    pl.DataFrame(
                        {
                            "spec": pl.Series([si] * len(fsel), dtype=pl.Int32),
                            "key": keys.gather(fsel),
                            "tx_id": tx_ids.gather(idx.rows[fsel]),
                            "ts": pl.Series(idx.ts[fsel], dtype=pl.Int64),
                            "known_at": pl.Series(idx.ts[fsel] + delay_us, dtype=pl.Int64),
                        }
                    )
                )
        if spec.meta:
            last = np.flatnonzero(np.append(idx.codes[1:] != idx.codes[:-1], True))
            prev = np.where(idx.here > idx.group_start, idx.here - 1, -1)
            gap = idx.ts - idx.ts[np.maximum(prev, 0)]
            new_run = (prev < 0) | (gap >= spec.age_reset_us)
            run_start = np.maximum.accumulate(np.where(new_run, idx.here, 0))
            loc = ctx.located()[idx.rows]
            last_loc = np.maximum.accumulate(np.where(loc, idx.here, -1))
            keep = last[idx.ts[last] > as_of - spec.horizon_us]
            ll = last_loc[keep]
            has_loc = ll >= idx.group_start[keep]
            llc = np.maximum(ll, 0)
            lat = (
                ctx.float_col("latitude")[idx.rows[llc]]
                if "latitude" in ctx.frame.columns
                else np.full(len(keep), np.nan)
            )
            lon = (
                ctx.float_col("longitude")[idx.rows[llc]]
                if "longitude" in ctx.frame.columns
                else np.full(len(keep), np.nan)
            )
            metas.append(
                pl.DataFrame(
                    {
                        "spec": pl.Series([si] * len(keep), dtype=pl.Int32),
                        "key": keys.gather(keep),
                        "first": pl.Series(idx.ts[run_start[keep]], dtype=pl.Int64),
                        "last": pl.Series(idx.ts[keep], dtype=pl.Int64),
                        "loc_ts": pl.Series(np.where(has_loc, idx.ts[llc], 0), dtype=pl.Int64),
                        "loc_lat": pl.Series(np.where(has_loc, lat, np.nan)),
                        "loc_lon": pl.Series(np.where(has_loc, lon, np.nan)),
                        "has_loc": pl.Series(has_loc),
                    }
                )
                .with_columns(
                    pl.when("has_loc").then(pl.col("loc_ts")).alias("loc_ts"),
                    pl.when("has_loc").then(pl.col("loc_lat")).alias("loc_lat"),
                    pl.when("has_loc").then(pl.col("loc_lon")).alias("loc_lon"),
                )
                .drop("has_loc")
            )
        for slot, name in enumerate(spec.seen):
            values = _value_series(ctx, name).gather(rows)
            seen = (
                pl.DataFrame(
                    {"key": keys, "value": values, "ts": pl.Series(idx.ts, dtype=pl.Int64)}
                )
                .drop_nulls("value")
                .group_by("key", "value")
                .agg(pl.col("ts").max())
                .filter(pl.col("ts") > as_of - spec.horizon_us)
                .select(
                    pl.lit(si, dtype=pl.Int32).alias("spec"),
                    "key",
                    pl.lit(slot, dtype=pl.Int32).alias("slot"),
                    "value",
                    "ts",
                )
                .sort("spec", "key", "slot", "value")
            )
            seens.append(seen)
        key_col = pl.Series(f"k{si}", [None] * ctx.n, dtype=pl.String)
        if spec.labels:
            key_col = key_col.scatter(idx.rows, keys)
        index_keys[f"k{si}"] = key_col
    tables = {
        "events": _concat(events, _events_schema(plan)),
        "meta": _concat(metas, _META_SCHEMA),
        "seen": _concat(seens, _SEEN_SCHEMA),
        "frauds": _concat(frauds, _FRAUDS_SCHEMA),
    }
    retention = plan.label_retention_us
    index = pl.DataFrame({"tx_id": tx_ids, "ts": pl.Series(ctx.ts, dtype=pl.Int64), **index_keys})
    index = index.filter(pl.col("ts") > as_of - retention) if retention else index.head(0)
    tables["index"] = index
    return StateSnapshot(plan, fs.hash, as_of, tables)


_META_SCHEMA: Final[dict[str, pl.DataType]] = {
    "spec": pl.Int32(),
    "key": pl.String(),
    "first": pl.Int64(),
    "last": pl.Int64(),
    "loc_ts": pl.Int64(),
    "loc_lat": pl.Float64(),
    "loc_lon": pl.Float64(),
}
_SEEN_SCHEMA: Final[dict[str, pl.DataType]] = {
    "spec": pl.Int32(),
    "key": pl.String(),
    "slot": pl.Int32(),
    "value": pl.String(),
    "ts": pl.Int64(),
}
_FRAUDS_SCHEMA: Final[dict[str, pl.DataType]] = {
    "spec": pl.Int32(),
    "key": pl.String(),
    "tx_id": pl.String(),
    "ts": pl.Int64(),
    "known_at": pl.Int64(),
}


def _events_schema(plan: StatePlan) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {"spec": pl.Int32(), "key": pl.String(), "ts": pl.Int64()}
    for spec in plan.specs:
        for name in _inputs(spec):
            schema[_input_column(name)] = pl.Float64()
        for name in spec.fields:
            schema[field_column(name)] = pl.String()
    return schema


def _concat(frames: list[pl.DataFrame], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    empty = pl.DataFrame(schema=schema)
    if not frames:
        return empty
    return pl.concat([empty, *frames], how="diagonal_relaxed").select(list(schema))
