"""Read a Parquet file as raw batches, keeping the file's types (one row group at a time)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import polars as pl

from fraudwatch.errors import InputFileError
from fraudwatch.schema.validate import ISSUE, LINE, RAW, ROW, UNDECODABLE

if TYPE_CHECKING:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

__all__ = ["ParquetReader"]

_POLARS_BATCHES = True
"""Decode with polars' streaming reader when the installed polars has it (tests turn it off)."""


class ParquetReader:
    """Raw batches of a Parquet file; the line of a row is its one-based row number.

    Parameters
    ----------
    path:
        Local file.
    display:
        Name for messages.
    batch_rows:
        Rows per batch.
    """

    def __init__(self, path: Path, *, display: str, batch_rows: int = 200_000) -> None:
        self.path = path
        self.display = display
        self.batch_rows = batch_rows
        self.columns: list[str] = []
        self._file: pq.ParquetFile | None = None

    def __enter__(self) -> ParquetReader:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError) as exc:
            raise InputFileError(
                f"{self.display} is not a readable Parquet file ({exc}); check the file or "
                "its suffix",
                path=self.display,
            ) from None
        self.columns = list(self._file.schema_arrow.names)
        if self._file.metadata.num_rows == 0:
            self._file.close()
            raise InputFileError(
                f"{self.display} has columns but no rows; export the transactions again",
                path=self.display,
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def batches(self) -> Iterator[pl.DataFrame]:
        """Yield raw batches with the file's dtypes (categoricals read as text).

        polars' streaming reader decodes row groups ahead and in parallel, so when it meets a
        damaged row group it may stop before handing over the good groups ahead of it. The
        rest of the file is then read again with pyarrow, one row group after another, from
        the first row not yet delivered: the good rows are all delivered and the error names
        the row where the damage starts, whatever the thread timing.
        """
        import pyarrow as pa

        assert self._file is not None, "use ParquetReader as a context manager"
        errors = (pl.exceptions.PolarsError, pa.ArrowException, OSError)
        offset = 0
        if _POLARS_BATCHES and hasattr(pl.LazyFrame, "collect_batches"):
            scan = pl.scan_parquet(self.path, glob=False)
            try:
                for frame in scan.collect_batches(chunk_size=self.batch_rows):
                    yield self._with_lines(frame, offset)
                    offset += frame.height
                return
            except errors:
                pass  # read on from ``offset`` with pyarrow, which finds the damage in order
        try:
            for frame in self._arrow_frames(offset):
                yield self._with_lines(frame, offset)
                offset += frame.height
        except errors as exc:
            raise InputFileError(
                f"{self.display} is damaged after row {offset} ({exc}); export it again",
                path=self.display,
            ) from None

    @staticmethod
    def _with_lines(frame: pl.DataFrame, offset: int) -> pl.DataFrame:
        """Categoricals as text, plus the bookkeeping columns of rows ``offset`` onwards."""
        n = frame.height
        casts = [
            pl.col(name).cast(pl.String)
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.Categorical | pl.Enum)
        ]
        return frame.with_columns(
            *casts,
            pl.int_range(offset + 1, offset + n + 1, dtype=pl.Int64).alias(LINE),
            pl.int_range(offset, offset + n, dtype=pl.Int64).alias(ROW),
            pl.lit(None, pl.String).alias(ISSUE),
            pl.lit(False).alias(UNDECODABLE),
            pl.lit(None, pl.String).alias(RAW),
        )

    def _arrow_frames(self, skip: int) -> Iterator[pl.DataFrame]:
        """The file's rows from row ``skip`` on, about ``batch_rows`` at a time, via pyarrow."""
        assert self._file is not None
        meta = self._file.metadata
        first, start = 0, 0
        while first < meta.num_row_groups and start + meta.row_group(first).num_rows <= skip:
            start += meta.row_group(first).num_rows
            first += 1
        if first == meta.num_row_groups:
            return
        drop = skip - start
        groups = list(range(first, meta.num_row_groups))
        for record_batch in self._file.iter_batches(batch_size=self.batch_rows, row_groups=groups):
            frame = pl.DataFrame(pl.from_arrow(record_batch))
            if drop:
                cut = min(drop, frame.height)
                frame, drop = frame.slice(cut), drop - cut
            if frame.height:
                yield frame
