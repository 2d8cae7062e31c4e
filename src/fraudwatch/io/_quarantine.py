"""The quarantine file: rejected rows, written as CSV so a person can fix and re-read them.

Columns: ``line`` (where the row was in the input), ``reason`` (every problem, separated by
``"; "``), then every original field as text, and ``raw_record`` for records that could not
be split into fields. The native profile ignores ``line``, ``reason`` and ``raw_record``, so
a corrected quarantine file can be read back as it is.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fraudwatch.errors import ConfigError
from fraudwatch.io._sources import is_s3_uri
from fraudwatch.io.writers import write_frame

__all__ = ["quarantine_path_for", "write_quarantine"]


def quarantine_path_for(output_path: str | Path) -> Path:
    """Return ``<output stem>.quarantine.csv`` next to ``output_path``.

    >>> quarantine_path_for("out/scores.parquet").as_posix()
    'out/scores.quarantine.csv'
    """
    if is_s3_uri(output_path):
        raise ConfigError(
            f"cannot put a quarantine file next to {output_path}; give a local --quarantine path"
        )
    path = Path(output_path)
    return path.with_name(f"{path.stem}.quarantine.csv")


def write_quarantine(rejected: pl.DataFrame, path: str | Path) -> Path | None:
    """Write rejected rows as CSV; return the path, or None when there is nothing to write.

    Parameters
    ----------
    rejected:
        :attr:`fraudwatch.io.ReadResult.rejected`.
    path:
        A local path; parent folders are created.

    Raises
    ------
    ConfigError
        ``path`` is an ``s3://`` URI (quarantine files are for people to open and fix).
    """
    if is_s3_uri(path):
        raise ConfigError(f"quarantine files are written locally, not to {path}; give a local path")
    if rejected.is_empty():
        return None
    return write_frame(rejected, Path(path), fmt="csv")
