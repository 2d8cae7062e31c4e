"""Read a CSV file as raw batches: every field as text, with its physical line number.

The file is read in blocks of lines. numpy finds the record boundaries (a quoted field may
span lines), the physical line where each record starts, and the number of fields of each
record; polars parses the well-formed records of a block in one call. Records with the wrong
number of fields, an unclosed quote or bytes that are not UTF-8 are handled one by one with
Python's :mod:`csv` module, so they can be quarantined with their line instead of failing
the whole read. Memory holds one block at a time.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from types import TracebackType

import numpy as np
import polars as pl

from fraudwatch.errors import InputFileError
from fraudwatch.schema.validate import ISSUE, LINE, RAW, ROW, UNDECODABLE

__all__ = ["MAX_RECORD_BYTES", "CsvReader"]

log = logging.getLogger(__name__)

MAX_RECORD_BYTES = 64 * 1024 * 1024
"""A record (quoted field) longer than this is taken as an unclosed quote."""

_NL, _CR, _QUOTE, _SEP = 0x0A, 0x0D, 0x22, 0x2C
_BOM = b"\xef\xbb\xbf"


def _sanitise(text: str) -> str:
    """Render undecodable bytes (kept as surrogates) as ``\\xNN``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _split_record(text: str) -> list[str] | None:
    """Split one CSV record with Python's csv module; None if it is malformed."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        return None
    if len(rows) != 1:
        return None
    return rows[0]


class CsvReader:
    """Raw batches of a comma-separated file with a header line.

    Use as a context manager; :attr:`columns` is known once entered.

    Parameters
    ----------
    path:
        Local file.
    display:
        Name for messages.
    gzipped:
        The file is gzip-compressed.
    batch_rows:
        Lines per block (a block holds at most this many records).
    fast:
        Parse well-formed records with polars (``False`` parses every record with the
        :mod:`csv` module; the results are the same, only slower).
    """

    def __init__(
        self,
        path: Path,
        *,
        display: str,
        gzipped: bool = False,
        batch_rows: int = 200_000,
        fast: bool = True,
    ) -> None:
        self.path = path
        self.display = display
        self.gzipped = gzipped
        self.batch_rows = batch_rows
        self.fast = fast
        self.columns: list[str] = []
        self._fh: io.BufferedIOBase | None = None
        self._next_line = 1

    # -- context -------------------------------------------------------------------

    def __enter__(self) -> CsvReader:
        fh: io.BufferedIOBase = gzip.open(self.path, "rb") if self.gzipped else self.path.open("rb")
        self._fh = fh
        try:
            self._read_header()
        except BaseException:
            fh.close()
            self._fh = None
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _read_header(self) -> None:
        assert self._fh is not None
        raw = b""
        line_no = 0
        for line in self._fh:
            line_no += 1
            if not raw and not line.strip():
                continue  # blank lines before the header
            raw += line
            if raw.count(b'"') % 2 == 0:
                break
        self._next_line = line_no + 1
        raw = raw.removeprefix(_BOM)
        if not raw.strip():
            raise InputFileError(
                f"{self.display} is empty (no header line); export the transactions again",
                path=self.display,
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputFileError(
                f"the header of {self.display} is not UTF-8 text; convert the file, e.g. "
                f"iconv -f LATIN1 -t UTF-8 {self.display} > fixed.csv",
                path=self.display,
            ) from None
        fields = _split_record(text.rstrip("\r\n"))
        if fields is None:
            raise InputFileError(
                f"the header of {self.display} is not valid CSV (check its quotes)",
                path=self.display,
            )
        names: list[str] = []
        for i, name in enumerate(fields):
            name = name.strip() or f"unnamed_{i}"
            if name in names:
                raise InputFileError(
                    f"column {name!r} appears twice in the header of {self.display}; "
                    "rename one of them",
                    path=self.display,
                )
            names.append(name)
        self.columns = names

    # -- batches -------------------------------------------------------------------

    def batches(self) -> Iterator[pl.DataFrame]:
        """Yield raw batches (fields as text, bookkeeping columns of schema.validate).

        Raises
        ------
        InputFileError
            The file has a header but no records, or a quote is never closed.
        """
        assert self._fh is not None, "use CsvReader as a context manager"
        carry = b""
        first_line = self._next_line
        first_row = 0
        while True:
            lines = list(islice(self._fh, self.batch_rows))
            eof = len(lines) < self.batch_rows
            block = carry + b"".join(lines)
            if not block:
                break
            frame, carry, consumed = self._block(block, first_line, first_row, eof)
            if len(carry) > MAX_RECORD_BYTES:
                raise InputFileError(
                    f"{self.display}: the quoted field starting on line "
                    f"{first_line + consumed} is never closed (or longer than "
                    f"{MAX_RECORD_BYTES // 2**20} MiB); check the quotes",
                    path=self.display,
                )
            first_line += consumed
            if frame is not None and frame.height:
                first_row += frame.height
                yield frame
            if eof and not carry:
                break
        if first_row == 0:
            raise InputFileError(
                f"{self.display} has a header but no rows; export the transactions again",
                path=self.display,
            )

    def _block(
        self, block: bytes, first_line: int, first_row: int, eof: bool
    ) -> tuple[pl.DataFrame | None, bytes, int]:
        """Parse the complete records of ``block``; return (frame, carry-over, lines used)."""
        if not block.endswith(b"\n"):
            block += b"\n"  # only possible at the end of the file
        arr = np.frombuffer(block, dtype=np.uint8)
        nl = np.flatnonzero(arr == _NL)
        starts = np.concatenate(([0], nl[:-1] + 1))
        quotes = np.flatnonzero(arr == _QUOTE)
        inside = np.zeros(starts.size, dtype=bool)
        irregular = np.zeros(0, dtype=np.int64)
        if quotes.size:
            if not _quotes_are_regular(arr, quotes):
                # literal quotes (27" screen) or a field open at the block end
                quotes, irregular = _structural_quotes(arr, quotes)
            inside = (np.searchsorted(quotes, starts) & 1).astype(bool)
        unterminated = bool(quotes.size & 1)
        if unterminated and not eof:
            open_at = int(np.flatnonzero(~inside)[-1])
            if open_at == 0:
                return None, block, 0
            cut = int(starts[open_at])
            frame, _, used = self._block(block[:cut], first_line, first_row, eof=True)
            return frame, block[cut:], used
        lengths = nl - starts
        first_byte = arr[np.minimum(starts, arr.size - 1)]
        blank = ~inside & ((lengths == 0) | ((lengths == 1) & (first_byte == _CR)))
        bounds = np.flatnonzero(~inside)
        rec_lines = np.flatnonzero(~inside & ~blank)
        n_lines = int(starts.size)
        if rec_lines.size == 0:
            return None, b"", n_lines
        nxt = np.searchsorted(bounds, rec_lines, side="right")
        next_line = np.where(nxt < bounds.size, bounds[np.minimum(nxt, bounds.size - 1)], n_lines)
        rec_start = starts[rec_lines]
        rec_end = np.where(
            next_line < n_lines, starts[np.minimum(next_line, n_lines - 1)], arr.size
        )
        # commas outside quotes, per record
        seps = np.flatnonzero(arr == _SEP)
        if quotes.size and seps.size:
            seps = seps[(np.searchsorted(quotes, seps) & 1) == 0]
        owner = np.searchsorted(rec_start, seps, side="right") - 1
        counts = np.bincount(owner[owner >= 0], minlength=rec_lines.size) + 1
        ragged = counts != len(self.columns)
        open_quote = np.zeros(rec_lines.size, dtype=bool)
        if unterminated:
            open_quote[-1] = True
        quirky = np.zeros(rec_lines.size, dtype=bool)
        if irregular.size:
            holder = np.searchsorted(rec_start, irregular, side="right") - 1
            quirky[holder[holder >= 0]] = True
        undecodable = np.zeros(rec_lines.size, dtype=bool)
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            for i, (s, e) in enumerate(zip(rec_start.tolist(), rec_end.tolist(), strict=True)):
                try:
                    block[s:e].decode("utf-8")
                except UnicodeDecodeError:
                    undecodable[i] = True
        frame = self._assemble(
            block,
            rec_start,
            rec_end,
            lines=first_line + rec_lines,
            rows=first_row + np.arange(rec_lines.size),
            ragged=ragged & ~open_quote,
            counts=counts,
            open_quote=open_quote,
            undecodable=undecodable,
            quirky=quirky,
        )
        return frame, b"", n_lines

    def _assemble(
        self,
        block: bytes,
        rec_start: np.ndarray,
        rec_end: np.ndarray,
        *,
        lines: np.ndarray,
        rows: np.ndarray,
        ragged: np.ndarray,
        counts: np.ndarray,
        open_quote: np.ndarray,
        undecodable: np.ndarray,
        quirky: np.ndarray,
    ) -> pl.DataFrame:
        special = ragged | open_quote | undecodable | quirky
        normal_idx = np.flatnonzero(~special)
        parts: list[pl.DataFrame] = []
        python_idx = np.flatnonzero(special)
        if normal_idx.size:
            parsed = self._polars_parse(block, rec_start[normal_idx], rec_end[normal_idx])
            if parsed is None:
                python_idx = np.arange(rec_start.size)
            else:
                parts.append(
                    parsed.with_columns(
                        pl.Series(LINE, lines[normal_idx], dtype=pl.Int64),
                        pl.Series(ROW, rows[normal_idx], dtype=pl.Int64),
                        pl.lit(None, pl.String).alias(ISSUE),
                        pl.lit(False).alias(UNDECODABLE),
                        pl.lit(None, pl.String).alias(RAW),
                    )
                )
        if python_idx.size:
            parts.append(
                self._python_parse(
                    block,
                    python_idx,
                    rec_start,
                    rec_end,
                    lines=lines,
                    rows=rows,
                    open_quote=open_quote,
                    counts=counts,
                )
            )
        frame = pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
        return frame.sort(LINE) if len(parts) > 1 else frame

    def _polars_parse(
        self, block: bytes, rec_start: np.ndarray, rec_end: np.ndarray
    ) -> pl.DataFrame | None:
        """Parse the given records with polars; None if polars disagrees on the count."""
        if rec_start.size == 1 or not bool(np.all(rec_start[1:] == rec_end[:-1])):
            arr = np.frombuffer(block, dtype=np.uint8)
            delta = np.zeros(arr.size + 1, dtype=np.int64)
            np.add.at(delta, rec_start, 1)
            np.add.at(delta, rec_end, -1)
            keep = np.cumsum(delta[:-1]) > 0
            data = arr[keep].tobytes()
        else:
            data = block[int(rec_start[0]) : int(rec_end[-1])]
        placeholder = {f"c{i}": pl.String() for i in range(len(self.columns))}
        try:
            parsed = pl.read_csv(
                data,
                has_header=False,
                schema=placeholder,
                missing_columns="insert",
                extra_columns="ignore",
                truncate_ragged_lines=True,
                quote_char='"',
                raise_if_empty=False,
            )
        except pl.exceptions.PolarsError as exc:  # pragma: no cover - safety net
            log.debug("polars could not parse a CSV block (%s); using the csv module", exc)
            return None
        if parsed.height != rec_start.size:
            log.debug("polars found %d records, expected %d", parsed.height, rec_start.size)
            return None
        return parsed.rename(dict(zip(placeholder, self.columns, strict=True)))

    def _python_parse(
        self,
        block: bytes,
        idx: np.ndarray,
        rec_start: np.ndarray,
        rec_end: np.ndarray,
        *,
        lines: np.ndarray,
        rows: np.ndarray,
        open_quote: np.ndarray,
        counts: np.ndarray,
    ) -> pl.DataFrame:
        n_cols = len(self.columns)
        columns: list[list[str | None]] = [[] for _ in range(n_cols)]
        issues: list[str | None] = []
        undecodable: list[bool] = []
        raws: list[str | None] = []
        for i in idx.tolist():
            chunk = block[int(rec_start[i]) : int(rec_end[i])]
            text = chunk.decode("utf-8", "surrogateescape").removesuffix("\n").removesuffix("\r")
            bad_bytes = not text.isascii() and _has_surrogates(text)
            fields = None if open_quote[i] else _split_record(text)
            issue: str | None = None
            if open_quote[i]:
                issue = "row: unterminated quoted field"
            elif fields is None or len(fields) != n_cols:
                found = len(fields) if fields is not None else int(counts[i])
                issue = f"row: expected {n_cols} fields, found {found}"
            if issue is not None or fields is None:
                for col in columns:
                    col.append(None)
                raws.append(_sanitise(text) if bad_bytes else text)
            else:
                for col, value in zip(columns, fields, strict=True):
                    if value == "":
                        col.append(None)
                    else:
                        col.append(_sanitise(value) if bad_bytes else value)
                raws.append(None)
            issues.append(issue)
            undecodable.append(bad_bytes)
        data: dict[str, pl.Series] = {
            name: pl.Series(name, col, dtype=pl.String)
            for name, col in zip(self.columns, columns, strict=True)
        }
        data[LINE] = pl.Series(LINE, lines[idx], dtype=pl.Int64)
        data[ROW] = pl.Series(ROW, rows[idx], dtype=pl.Int64)
        data[ISSUE] = pl.Series(ISSUE, issues, dtype=pl.String)
        data[UNDECODABLE] = pl.Series(UNDECODABLE, undecodable, dtype=pl.Boolean)
        data[RAW] = pl.Series(RAW, raws, dtype=pl.String)
        return pl.DataFrame(data)


def _quotes_are_regular(arr: np.ndarray, quotes: np.ndarray) -> bool:
    """True when every quote pairs up as in well-formed CSV, so plain parity is exact.

    Taking quotes in pairs, each opening quote must start a field (or follow the closing
    quote of a doubled ``""``) and each closing quote must end a field (or precede an
    opening one).
    """
    if quotes.size & 1:
        return False
    opening, closing = quotes[0::2], quotes[1::2]
    before = np.where(opening > 0, arr[np.maximum(opening - 1, 0)], _NL)
    after = np.where(closing + 1 < arr.size, arr[np.minimum(closing + 1, arr.size - 1)], _NL)
    starts_field = np.isin(before, (_SEP, _NL)) | (before == _QUOTE)
    ends_field = np.isin(after, (_SEP, _NL, _CR)) | (after == _QUOTE)
    return bool(starts_field.all() and ends_field.all())


def _structural_quotes(arr: np.ndarray, quotes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split quotes as the csv module reads them: (quoting quotes, irregular quotes).

    A quote opens a field only at the start of a field; inside a quoted field ``""`` is an
    escaped quote. Irregular quotes are literal ones (``27" screen``) and closing quotes
    followed by more text (``"ab"cd``); records holding them are split by the csv module,
    whose lenient reading polars does not share. Runs over the quotes only, and only for
    blocks where :func:`_quotes_are_regular` is False.
    """
    data = arr.tobytes()
    size = len(data)
    positions = quotes.tolist()
    structural: list[int] = []
    irregular: list[int] = []
    quoted = False
    i = 0
    n = len(positions)
    while i < n:
        p = positions[i]
        if not quoted:
            if p == 0 or data[p - 1] in (_SEP, _NL):
                quoted = True
                structural.append(p)
            else:
                irregular.append(p)
            i += 1
        elif i + 1 < n and positions[i + 1] == p + 1:
            i += 2  # "" inside a quoted field
        else:
            quoted = False
            structural.append(p)
            if p + 1 < size and data[p + 1] not in (_SEP, _NL, _CR):
                irregular.append(p)
            i += 1
    return np.asarray(structural, dtype=np.int64), np.asarray(irregular, dtype=np.int64)


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
