"""Checking and normalising the frames given to the batch executor.

Bad inputs get a clear :class:`~fraudwatch.errors.FeatureError` naming a transaction, never
silent garbage: null or NaN or negative or infinite amounts, null keys, timestamps without a
time zone, coordinates out of range, labels other than 0/1. Key columns of another type are
written as text; unsorted rows are fine (the executor sorts them stably by time).
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from fraudwatch.errors import FeatureError, MissingColumnsError

__all__ = ["KEY_COLUMNS", "ip_prefix", "ip_prefix_expr", "normalise_frame"]

KEY_COLUMNS = (
    "transaction_id",
    "card_id",
    "customer_id",
    "merchant_id",
    "terminal_id",
    "device_id",
    "ip_address",
    "country",
    "channel",
    "merchant_category",
)
_NEVER_NULL = ("transaction_id", "timestamp", "card_id", "amount")


def ip_prefix(ip: str) -> str:
    """The network prefix of an IP address: ``/24`` for IPv4, the first three groups for IPv6.

    >>> ip_prefix("203.0.113.7"), ip_prefix("2001:db8:85a3::8a2e:370:7334")
    ('203.0.113', '2001:db8:85a3')
    """
    if "." in ip:
        return ip.rpartition(".")[0]
    return ":".join(ip.split(":")[:3])


def ip_prefix_expr(col: str = "ip_address") -> pl.Expr:
    """Polars form of :func:`ip_prefix`."""
    c = pl.col(col)
    return (
        pl.when(c.str.contains(".", literal=True))
        .then(c.str.replace(r"\.[^.]*$", ""))
        .otherwise(c.str.split(":").list.head(3).list.join(":"))
    )


def _check(df: pl.DataFrame, checks: list[tuple[pl.Expr, str, str]], source: str) -> None:
    """Evaluate every check in one pass; on the first failing one, name a transaction."""
    if not checks:
        return
    counts = df.select(
        [mask.fill_null(False).sum().alias(str(i)) for i, (mask, _, _) in enumerate(checks)]
    ).row(0)
    for count, (mask, what, fix) in zip(counts, checks, strict=True):
        if count:
            ids = (
                df.with_row_index("__fw_i__")
                .filter(mask.fill_null(False))
                .select(
                    pl.col("transaction_id")
                    .cast(pl.String)
                    .fill_null(pl.format("row {}", pl.col("__fw_i__")))
                )
                .head(1)
            )
            more = f" (and {count - 1} more row(s))" if count > 1 else ""
            raise FeatureError(f"{source}: transaction {ids.item()!r}{more}: {what}; {fix}")


def normalise_frame(
    df: pl.DataFrame | pl.LazyFrame,
    columns: Collection[str],
    *,
    source: str,
    optional: Collection[str] = (),
) -> pl.DataFrame:
    """Check ``df`` and return ``columns`` (plus those of ``optional`` present) normalised.

    Parameters
    ----------
    df:
        Transactions (canonical columns); a LazyFrame is collected for the needed columns.
    columns:
        Columns that must be present.
    source:
        Name of the frame in messages (``"data"`` or ``"history"``).
    optional:
        Columns taken when present (labels).

    Raises
    ------
    MissingColumnsError
        A needed column is absent.
    FeatureError
        A value is unusable (the message names the first offending transaction).
    """
    if not isinstance(df, pl.DataFrame | pl.LazyFrame):
        raise FeatureError(
            f"{source} must be a polars DataFrame or LazyFrame; got {type(df).__name__}"
        )
    present = df.collect_schema().names() if isinstance(df, pl.LazyFrame) else df.columns
    missing = [c for c in columns if c not in present]
    if missing:
        raise MissingColumnsError(
            missing,
            present,
            source=source,
            hint="Drop the features that need them with FeatureSet.available_for(columns)",
        )
    keep = list(dict.fromkeys([*columns, *(c for c in optional if c in present)]))
    # a LazyFrame is read for the needed columns only
    out = df.select(keep).collect() if isinstance(df, pl.LazyFrame) else df.select(keep)
    exprs: list[pl.Expr] = []
    ts_type = out.schema["timestamp"]
    if not isinstance(ts_type, pl.Datetime):
        raise FeatureError(
            f"{source}: column timestamp has type {ts_type}, expected a timezone-aware "
            "datetime; read the file with fraudwatch.io.read_transactions"
        )
    if ts_type.time_zone is None:
        raise FeatureError(
            f"{source}: column timestamp has no time zone; attach one, e.g. "
            "pl.col('timestamp').dt.replace_time_zone('UTC')"
        )
    exprs.append(pl.col("timestamp").dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
    for col in out.columns:
        dtype = out.schema[col]
        if col in KEY_COLUMNS and dtype != pl.String:
            exprs.append(pl.col(col).cast(pl.String))
        elif col == "is_fraud":
            if not dtype.is_numeric() and dtype != pl.Boolean and dtype != pl.Null:
                raise FeatureError(f"{source}: is_fraud has type {dtype}; expected 0/1 integers")
        elif col not in KEY_COLUMNS and col != "timestamp":
            if not (dtype.is_numeric() or dtype == pl.Null):
                raise FeatureError(
                    f"{source}: column {col} has type {dtype}, expected numbers; convert it "
                    "or leave it out of the feature set"
                )
            exprs.append(pl.col(col).cast(pl.Float64))
    out = out.with_columns(exprs)
    if out.height == 0:
        return out
    checks: list[tuple[pl.Expr, str, str]] = [
        (
            pl.col(col).is_null(),
            f"{col} is missing",
            "every transaction needs transaction_id, timestamp, card_id and amount",
        )
        for col in _NEVER_NULL
        if col in out.columns
    ]
    if "amount" in out.columns:
        a = pl.col("amount")
        checks.append((a.is_nan(), "amount is NaN", "fix or drop the row (validation drops it)"))
        checks.append(
            (
                a.is_infinite() | (a < 0),
                "amount is negative or infinite",
                "amounts must be finite and >= 0; send refunds separately",
            )
        )
    for col, limit in (("latitude", 90.0), ("longitude", 180.0)):
        if col in out.columns:
            c = pl.col(col)
            checks.append(
                (
                    c.is_nan() | (c.abs() > limit),
                    f"{col} is out of range [-{limit:g}, {limit:g}]",
                    "fix the coordinates or set them to null",
                )
            )
    if "is_fraud" in out.columns:
        checks.append(
            (
                pl.col("is_fraud").cast(pl.Float64).is_in([0.0, 1.0]).not_()
                & pl.col("is_fraud").is_not_null(),
                "is_fraud is not 0 or 1",
                "labels must be 0 (legitimate), 1 (fraud) or null (unknown)",
            )
        )
    _check(out, checks, source)
    if "is_fraud" in out.columns:
        out = out.with_columns(pl.col("is_fraud").cast(pl.Int8))
    return out
