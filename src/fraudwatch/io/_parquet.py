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
        """Yield raw batches with the file's dtypes (categoricals read as text)."""
        import pyarrow as pa

        assert self._file is not None, "use ParquetReader as a context manager"
        offset = 0
        try:
            for frame in self._frames():
                n = frame.height
                casts = [
                    pl.col(name).cast(pl.String)
                    for name, dtype in frame.schema.items()
                    if isinstance(dtype, pl.Categorical | pl.Enum)
                ]
                yield frame.with_columns(
                    *casts,
                    pl.int_range(offset + 1, offset + n + 1, dtype=pl.Int64).alias(LINE),
                    pl.int_range(offset, offset + n, dtype=pl.Int64).alias(ROW),
                    pl.lit(None, pl.String).alias(ISSUE),
                    pl.lit(False).alias(UNDECODABLE),
                    pl.lit(None, pl.String).alias(RAW),
                )
                offset += n
        except (pl.exceptions.PolarsError, pa.ArrowException, OSError) as exc:
            raise InputFileError(
                f"{self.display} is damaged after row {offset} ({exc}); export it again",
                path=self.display,
            ) from None

    def _frames(self) -> Iterator[pl.DataFrame]:
        """The file's rows in order, about ``batch_rows`` at a time.

        polars' streaming reader (polars 1.34 and later) decodes several times faster than
        pyarrow and gives polars columns directly; pyarrow's batches are the fallback.
        """
        assert self._file is not None
        if _POLARS_BATCHES and hasattr(pl.LazyFrame, "collect_batches"):
            scan = pl.scan_parquet(self.path, glob=False)
            yield from scan.collect_batches(chunk_size=self.batch_rows)
            return
        for record_batch in self._file.iter_batches(batch_size=self.batch_rows):
            yield pl.DataFrame(pl.from_arrow(record_batch))
