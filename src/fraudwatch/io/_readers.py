"""Read transactions from CSV, JSON Lines or Parquet, locally or from S3, through a profile.

Nothing is lost: every record of the input ends either in the accepted rows or in the
rejected rows (with its line and the reasons), unless ``strict=True`` stops at the first
problem. Reading is done in batches; :func:`iter_transaction_batches` hands them over one
at a time so memory does not grow with the file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import polars as pl

from fraudwatch.errors import ConfigError, InputFileError
from fraudwatch.io._profiles import Profile, get_profile
from fraudwatch.io._sources import LocalInput, open_input
from fraudwatch.schema.validate import RowValidator

__all__ = ["ReadResult", "iter_transaction_batches", "read_transactions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadResult:
    """Transactions read from one input (or one batch of it).

    Attributes
    ----------
    data:
        Accepted rows: the canonical columns present in the input, then the pass-through
        columns; canonical dtypes; input order.
    rejected:
        Rejected rows: ``line`` (one-based physical line for CSV and JSON Lines, the header
        being line 1 of a CSV; one-based row for Parquet), ``reason`` (every problem,
        separated by ``"; "``), then every original field as text (and ``raw_record`` when
        a record could not be split into fields).
    n_input:
        Records read (``data.height + n_rejected``).
    source:
        The path or URI read.
    profile:
        Name of the profile used.
    ignored_columns:
        Input columns that are not used (neither mapped nor passed through).
    """

    data: pl.DataFrame
    rejected: pl.DataFrame
    n_input: int
    source: str
    profile: str
    ignored_columns: tuple[str, ...] = ()

    @property
    def n_rejected(self) -> int:
        """Number of rejected records."""
        return self.rejected.height

    @property
    def n_accepted(self) -> int:
        """Number of accepted records."""
        return self.data.height


class _RawReader(Protocol):
    columns: list[str]

    def batches(self) -> Iterator[pl.DataFrame]: ...


def _reader(local: LocalInput, batch_rows: int) -> AbstractContextManager[_RawReader]:
    if local.fmt == "csv":
        from fraudwatch.io._csv import CsvReader

        return CsvReader(
            local.path, display=local.display, gzipped=local.gzipped, batch_rows=batch_rows
        )
    if local.fmt == "jsonl":
        from fraudwatch.io._jsonl import JsonlReader

        return JsonlReader(
            local.path, display=local.display, gzipped=local.gzipped, batch_rows=batch_rows
        )
    from fraudwatch.io._parquet import ParquetReader

    return ParquetReader(local.path, display=local.display, batch_rows=batch_rows)


def iter_transaction_batches(
    source: str | Path,
    *,
    profile: str | Path | Profile = "native",
    batch_rows: int = 200_000,
    passthrough: Sequence[str] = (),
    strict: bool = False,
) -> Iterator[ReadResult]:
    """Read ``source`` batch by batch.

    Duplicate transaction ids are detected across batches (the ids seen so far are kept).

    Parameters
    ----------
    source:
        A local path or an ``s3://bucket/key`` URI; ``.csv``, ``.jsonl`` (``.ndjson``,
        ``.json``), ``.parquet``, and ``.csv.gz`` / ``.jsonl.gz``.
    profile:
        ``native``, ``handbook``, ``ulb``, a ``.yaml`` mapping path, or a :class:`Profile`.
    batch_rows:
        Records (lines) per batch.
    passthrough:
        Extra numeric source columns to keep as ``Float64`` features.
    strict:
        Raise at the first problem instead of rejecting rows.

    Yields
    ------
    ReadResult
        One per batch, in input order.

    Raises
    ------
    InputFileError
        Missing, empty or unreadable input, or not the format its suffix says.
    MissingColumnsError
        A required column is absent (raised before any batch).
    DataValidationError
        ``strict=True`` and a row has a problem.
    ConfigError
        Unknown profile or invalid mapping file, or ``batch_rows < 1``.
    """
    if batch_rows < 1:
        raise ConfigError(f"batch_rows must be at least 1, got {batch_rows}")
    prof = get_profile(profile)
    with open_input(source) as local, _reader(local, batch_rows) as reader:
        plan, ignored = prof.plan(reader.columns, passthrough=passthrough, source=local.display)
        if ignored:
            log.debug("ignoring columns of %s: %s", local.display, ", ".join(ignored))
        validator = RowValidator(plan, strict=strict)
        for raw in reader.batches():
            accepted, rejected = validator.validate(raw)
            yield ReadResult(
                data=accepted,
                rejected=rejected,
                n_input=raw.height,
                source=local.display,
                profile=prof.name,
                ignored_columns=ignored,
            )


def combine(results: Sequence[ReadResult]) -> ReadResult:
    """Join the batch results of one input into one result."""
    if not results:
        raise ValueError("no batches to combine")
    first = results[0]
    data = pl.concat([r.data for r in results], how="vertical", rechunk=True)
    rejected = pl.concat([r.rejected for r in results], how="diagonal", rechunk=True)
    return ReadResult(
        data=data,
        rejected=rejected,
        n_input=sum(r.n_input for r in results),
        source=first.source,
        profile=first.profile,
        ignored_columns=first.ignored_columns,
    )


def read_transactions(
    source: str | Path,
    *,
    profile: str | Path | Profile = "native",
    strict: bool = False,
    passthrough: Sequence[str] = (),
    batch_rows: int = 200_000,
) -> ReadResult:
    """Read a whole transaction file into memory.

    Parameters are those of :func:`iter_transaction_batches`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "tx.csv").write_text(
    ...     "transaction_id,timestamp,card_id,amount\\n"
    ...     "t1,2024-01-31T23:59:01Z,c1,12.5\\n"
    ...     "t2,not a time,c1,-3\\n"
    ... )
    >>> result = read_transactions(d / "tx.csv")
    >>> result.data["transaction_id"].to_list(), result.rejected["line"].to_list()
    (['t1'], [3])
    >>> result.rejected["reason"][0]
    'timestamp: unparseable; amount: negative'
    """
    batches = list(
        iter_transaction_batches(
            source,
            profile=profile,
            batch_rows=batch_rows,
            passthrough=passthrough,
            strict=strict,
        )
    )
    if not batches:  # pragma: no cover - every reader raises on an input without records
        raise InputFileError(f"{source} holds no records", path=str(source))
    return combine(batches)
