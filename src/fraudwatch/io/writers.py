"""Write frames (transactions, features, scores) as CSV, JSON Lines or Parquet.

Timestamps are written as ISO-8601 with a zone (``2024-01-31T23:59:01.000000Z``) in CSV and
JSON Lines, and as timezone-aware timestamps in Parquet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import polars as pl

from fraudwatch.errors import ConfigError

__all__ = ["FileFormat", "format_from_path", "write_frame"]

FileFormat = Literal["csv", "jsonl", "parquet"]

_SUFFIXES: dict[str, FileFormat] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def format_from_path(path: str | Path) -> FileFormat:
    """Infer the file format from a path's suffix (``.gz`` is not supported).

    >>> format_from_path("out/tx.parquet")
    'parquet'
    """
    suffix = Path(str(path)).suffix.lower()
    try:
        return _SUFFIXES[suffix]
    except KeyError:
        raise ConfigError(
            f"cannot tell the format of {path}: use a .csv, .jsonl or .parquet suffix "
            "or pass --format"
        ) from None


def _stringify_times(df: pl.DataFrame) -> pl.DataFrame:
    exprs = [
        pl.col(name).dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        for name, dtype in df.schema.items()
        if isinstance(dtype, pl.Datetime)
    ]
    return df.with_columns(exprs) if exprs else df


def write_frame(df: pl.DataFrame, path: str | Path, fmt: FileFormat | None = None) -> Path:
    """Write ``df`` to ``path`` (parent folders are created) and return the path.

    Parameters
    ----------
    df:
        The frame to write.
    path:
        Destination file.
    fmt:
        ``csv``, ``jsonl`` or ``parquet``; inferred from the suffix when omitted.
    """
    out = Path(path)
    kind = fmt or format_from_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if kind == "parquet":
        df.write_parquet(out)
    elif kind == "csv":
        _stringify_times(df).write_csv(out)
    elif kind == "jsonl":
        _stringify_times(df).write_ndjson(out)
    else:  # pragma: no cover - guarded by the Literal type
        raise ConfigError(f"unknown format {kind!r}; use csv, jsonl or parquet")
    return out
