"""Helpers of the feature tests: canonical frames from rows, random streams, comparisons."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from hypothesis import strategies as st

from fraudwatch.features import FeatureSet, StateStore
from fraudwatch.schema import canonical_dtypes

T0 = datetime(2024, 3, 1, tzinfo=UTC)
StoreFactory = Callable[[], StateStore]
DTYPES = canonical_dtypes()


def frame(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """A canonical frame from rows (missing fields are null; ids default to t<i>)."""
    cols: dict[str, list[Any]] = {}
    names = list(dict.fromkeys(k for r in rows for k in r))
    if "transaction_id" not in names:
        names.insert(0, "transaction_id")
    for name in names:
        if name == "transaction_id":
            cols[name] = [r.get(name, f"t{i}") for i, r in enumerate(rows)]
        else:
            cols[name] = [r.get(name) for r in rows]
    schema = {n: DTYPES.get(n, pl.Float64()) for n in names}
    return pl.DataFrame(cols, schema=schema)


_IDS = itertools.count()


def tx(minutes: float, **fields: Any) -> dict[str, Any]:
    """One row ``minutes`` after T0 with card c1, amount 10 and a fresh id unless given."""
    row: dict[str, Any] = {
        "transaction_id": f"x{next(_IDS)}",
        "timestamp": T0 + timedelta(minutes=minutes),
        "card_id": "c1",
    }
    row["amount"] = 10.0
    row.update(fields)
    return row


def random_stream(
    seed: int,
    n: int,
    *,
    cards: int = 20,
    days: float = 20.0,
    ties: float = 0.1,
    fraud: float = 0.05,
    unsorted: bool = False,
) -> pl.DataFrame:
    """A random canonical stream with repeated timestamps, missing values and extreme amounts."""
    rng = np.random.default_rng(seed)
    secs = np.sort(rng.integers(0, int(days * 86400), n))
    dup = rng.random(n) < ties
    secs[1:] = np.where(dup[1:], secs[:-1], secs[1:])
    amount = rng.gamma(2.0, 40.0, n).round(2)
    amount[rng.random(n) < 0.05] = 0.0
    amount[rng.random(n) < 0.02] = 1e6
    small = rng.random(n) < 0.05
    amount[small] = rng.uniform(0.5, 4.0, int(small.sum())).round(2)
    lat = rng.uniform(-60, 70, n)
    lon = rng.uniform(-179.9, 179.9, n)
    missing_loc = rng.random(n) < 0.2
    df = pl.DataFrame(
        {
            "transaction_id": [f"s{seed}_{i}" for i in range(n)],
            "timestamp": [T0 + timedelta(seconds=int(s)) for s in secs],
            "card_id": [f"c{x}" for x in rng.integers(0, cards, n)],
            "amount": amount,
            "customer_id": [f"u{x}" for x in rng.integers(0, cards, n)],
            "merchant_id": [f"m{x}" for x in rng.integers(0, 8, n)],
            "terminal_id": [f"t{x}" for x in rng.integers(0, 6, n)],
            "merchant_category": rng.choice(["5411", "5812", "6011"], n).tolist(),
            "channel": rng.choice(["pos", "ecom", "atm"], n).tolist(),
            "country": [["FR", "DE", "US", None][x] for x in rng.integers(0, 4, n)],
            "latitude": np.where(missing_loc, np.nan, lat),
            "longitude": np.where(missing_loc, np.nan, lon),
            "device_id": [f"d{x}" if x < 8 else None for x in rng.integers(0, 12, n)],
            "ip_address": [
                f"10.{x % 3}.{x % 5}.{x}" if x % 4 else f"2001:db8:{x % 3}::{x}"
                for x in rng.integers(0, 40, n)
            ],
            "is_fraud": (rng.random(n) < fraud).astype(np.int8),
        },
        schema_overrides={k: v for k, v in DTYPES.items() if k != "timestamp"},
    ).with_columns(
        pl.col("timestamp").dt.cast_time_unit("us"),
        pl.col("latitude").fill_nan(None),
        pl.col("longitude").fill_nan(None),
    )
    if unsorted:
        df = df.sample(fraction=1.0, shuffle=True, seed=seed)
    return df


@st.composite
def streams(draw: st.DrawFn, max_rows: int = 40) -> pl.DataFrame:
    """Small random streams: ties, long gaps, window-edge gaps, zero and huge amounts."""
    n = draw(st.integers(1, max_rows))
    gap = st.sampled_from(
        [0, 0, 1, 59, 3600, 3599, 3601, 86400, 7 * 86400, 30 * 86400, 400 * 86400, 37]
    )
    gaps = draw(st.lists(gap, min_size=n, max_size=n))
    amounts = draw(
        st.lists(
            st.one_of(
                st.sampled_from([0.0, 0.01, 1.0, 4.99, 5.0, 1e6, 123456.789]),
                st.floats(0, 5000, allow_nan=False).map(lambda x: round(x, 2)),
            ),
            min_size=n,
            max_size=n,
        )
    )
    small = st.integers(0, 2)
    cards = draw(st.lists(small, min_size=n, max_size=n))
    merchants = draw(st.lists(small, min_size=n, max_size=n))
    devices = draw(st.lists(st.one_of(st.none(), small), min_size=n, max_size=n))
    ips = draw(st.lists(st.one_of(st.none(), st.integers(0, 4)), min_size=n, max_size=n))
    locs = draw(
        st.lists(
            st.one_of(
                st.none(),
                st.tuples(
                    st.sampled_from([-90.0, 0.0, 48.85, 90.0]),
                    st.sampled_from([-180.0, 2.35, 180.0]),
                ),
                st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
            ),
            min_size=n,
            max_size=n,
        )
    )
    labels = draw(st.lists(st.sampled_from([0, 0, 1, None]), min_size=n, max_size=n))
    t = T0
    rows = []
    for i in range(n):
        t = t + timedelta(seconds=gaps[i])
        loc = locs[i]
        rows.append(
            {
                "transaction_id": f"h{i}",
                "timestamp": t,
                "card_id": f"c{cards[i]}",
                "amount": amounts[i],
                "merchant_id": f"m{merchants[i]}",
                "terminal_id": f"t{merchants[i] % 2}",
                "device_id": None if devices[i] is None else f"d{devices[i]}",
                "ip_address": None if (ip := ips[i]) is None else f"10.0.{ip % 2}.{ip}",
                "country": ["FR", "DE", "US"][cards[i]],
                "channel": "ecom",
                "merchant_category": "5411",
                "latitude": None if loc is None else loc[0],
                "longitude": None if loc is None else loc[1],
                "is_fraud": labels[i],
            }
        )
    return frame(rows)


def mismatches(
    fs: FeatureSet, expected: pl.DataFrame, got: pl.DataFrame, tol: float = 1e-9
) -> list[str]:
    """Differences between two feature tables (floats to ``tol``, relative or absolute)."""
    if expected["transaction_id"].to_list() != got["transaction_id"].to_list():
        return ["transaction ids differ"]
    problems: list[str] = []
    for name in fs.names:
        a, b = expected[name], got[name]
        if a.dtype == pl.String or b.dtype == pl.String:
            bad = a.ne_missing(b)
        else:
            x, y = pl.col("x"), pl.col("y")
            far = (x - y).abs() > tol * pl.max_horizontal(x.abs(), y.abs(), pl.lit(1.0))
            bad = (
                pl.DataFrame({"x": a, "y": b})
                .select(((x.is_null() != y.is_null()) | far).fill_null(False))
                .to_series()
            )
        for i in bad.arg_true().head(5).to_list():
            problems.append(
                f"{name} row {i} ({expected['transaction_id'][i]}): {a[i]!r} != {b[i]!r}"
            )
        extra = int(bad.sum()) - 5
        if extra > 0:
            problems.append(f"{name}: {extra} more")
    return problems
