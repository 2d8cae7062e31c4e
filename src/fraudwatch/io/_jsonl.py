"""Read a JSON Lines file as raw batches: one object per line, every value as text.

Values keep their JSON spelling (``12.5``, ``true``); nested values are kept as JSON text.
A line that is not valid JSON, or not an object, becomes a record with a problem (its text
kept), never an exception. Blank lines are skipped. :attr:`JsonlReader.columns` are the keys
met in the first batch, in order of appearance; later keys are kept in their batch.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any

import polars as pl

from fraudwatch.schema.validate import ISSUE, LINE, RAW, ROW, UNDECODABLE

__all__ = ["JsonlReader"]

_BOM = b"\xef\xbb\xbf"


def _sanitise(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # the polars path writes integral floats without a fraction (1.0 -> "1")
        return str(int(value)) if value.is_integer() else repr(value)
    return json.dumps(value, ensure_ascii=False)


class JsonlReader:
    """Raw batches of a JSON Lines file.

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
        Lines per batch.
    fast:
        Parse with polars, falling back to :mod:`json` for the lines polars refuses
        (``False`` parses every line with :mod:`json`; same values, slower).
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
        self.fast = fast
        self.path = path
        self.display = display
        self.gzipped = gzipped
        self.batch_rows = batch_rows
        self.columns: list[str] = []
        self._fh: io.BufferedIOBase | None = None
        self._line = 0
        self._row = 0
        self._first: pl.DataFrame | None = None

    def __enter__(self) -> JsonlReader:
        fh: io.BufferedIOBase = gzip.open(self.path, "rb") if self.gzipped else self.path.open("rb")
        self._fh = fh
        try:
            self._first = self._read_batch(discover=True)
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

    def batches(self) -> Iterator[pl.DataFrame]:
        """Yield raw batches (values as text, bookkeeping columns of schema.validate)."""
        assert self._fh is not None, "use JsonlReader as a context manager"
        batch, self._first = self._first, None
        while batch is not None:
            if batch.height:
                yield batch
            batch = self._read_batch(discover=False)

    def _read_batch(self, *, discover: bool) -> pl.DataFrame | None:
        assert self._fh is not None
        lines = list(islice(self._fh, self.batch_rows))
        if not lines:
            return None
        if self._line == 0:
            lines[0] = lines[0].removeprefix(_BOM)
        records = [(self._line + 1 + i, ln) for i, ln in enumerate(lines) if ln.strip()]
        self._line += len(lines)
        clean: list[tuple[int, bytes]] = records
        dirty: list[tuple[int, bytes]] = []
        if _undecodable(b"".join(lines)):
            clean = [rec for rec in records if not _undecodable(rec[1])]
            dirty = [rec for rec in records if _undecodable(rec[1])]
        if discover:
            self.columns = self._discover(clean + dirty)
        frames: list[pl.DataFrame] = []
        slow: list[tuple[int, bytes]] = list(dirty)
        if self.fast and self.columns:
            self._parse_fast(clean, frames, slow)
        else:
            slow.extend(clean)
        if slow or not frames:
            frames.append(self._parse_python(sorted(slow)))
        frame = pl.concat(frames, how="diagonal") if len(frames) > 1 else frames[0]
        if len(frames) > 1:
            frame = frame.sort(LINE)
        n = frame.height
        frame = frame.with_columns(
            pl.int_range(self._row, self._row + n, dtype=pl.Int64).alias(ROW)
        )
        self._row += n
        return frame

    def _discover(self, records: list[tuple[int, bytes]]) -> list[str]:
        """Keys of the first batch, in order of appearance."""
        keys: dict[str, None] = {}
        if self.fast:
            try:
                frame = pl.read_ndjson(
                    b"".join(_terminated(line) for _, line in records), infer_schema_length=None
                )
                return list(frame.columns)
            except pl.exceptions.PolarsError:
                pass
        for _, line in records:
            obj = _loads(line)[0]
            if isinstance(obj, dict):
                for key in obj:
                    keys.setdefault(_sanitise(key), None)
        return list(keys)

    def _parse_fast(
        self,
        records: list[tuple[int, bytes]],
        frames: list[pl.DataFrame],
        slow: list[tuple[int, bytes]],
    ) -> None:
        """Parse with polars; halve the range around lines polars refuses."""
        if not records:
            return
        schema = {name: pl.String() for name in self.columns}
        # records are in file order, so only the last one can lack its line break
        data = b"".join([line for _, line in records])
        try:
            frame = pl.read_ndjson(_terminated(data), schema=schema)
        except pl.exceptions.PolarsError:
            frame = None
        if frame is not None and frame.height == len(records):
            frames.append(
                frame.with_columns(
                    pl.Series(LINE, [n for n, _ in records], dtype=pl.Int64),
                    pl.lit(None, pl.String).alias(ISSUE),
                    pl.lit(False).alias(UNDECODABLE),
                    pl.lit(None, pl.String).alias(RAW),
                )
            )
            return
        if len(records) <= _MIN_CHUNK:
            slow.extend(records)
            return
        mid = len(records) // 2
        self._parse_fast(records[:mid], frames, slow)
        self._parse_fast(records[mid:], frames, slow)

    def _parse_python(self, records: list[tuple[int, bytes]]) -> pl.DataFrame:
        rows: list[dict[str, str | None]] = []
        issues: list[str | None] = []
        undecodable: list[bool] = []
        raws: list[str | None] = []
        for _, line in records:
            obj, text, bad = _loads(line)
            issue: str | None = None
            row: dict[str, str | None] = {}
            if obj is _MALFORMED:
                issue = "row: malformed JSON"
            elif isinstance(obj, dict):
                for key, value in obj.items():
                    val = _as_text(value)
                    if bad:
                        key = _sanitise(key)
                        val = None if val is None else _sanitise(val)
                    row[key] = val
            else:
                issue = "row: not a JSON object"
            rows.append(row)
            issues.append(issue)
            undecodable.append(bad)
            raws.append(None if issue is None else (_sanitise(text) if bad else text))
        names: dict[str, None] = dict.fromkeys(self.columns)
        for row in rows:
            for key in row:
                names.setdefault(key, None)
        data: dict[str, pl.Series] = {
            name: pl.Series(name, [r.get(name) for r in rows], dtype=pl.String) for name in names
        }
        data[LINE] = pl.Series(LINE, [n for n, _ in records], dtype=pl.Int64)
        data[ISSUE] = pl.Series(ISSUE, issues, dtype=pl.String)
        data[UNDECODABLE] = pl.Series(UNDECODABLE, undecodable, dtype=pl.Boolean)
        data[RAW] = pl.Series(RAW, raws, dtype=pl.String)
        return pl.DataFrame(data)


_MIN_CHUNK = 64
_MALFORMED = object()


def _terminated(line: bytes) -> bytes:
    return line if line.endswith(b"\n") else line + b"\n"


def _undecodable(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _loads(line: bytes) -> tuple[object, str, bool]:
    """(parsed object or _MALFORMED, the line's text, whether it had non-UTF-8 bytes)."""
    body = line.rstrip(b"\r\n")
    try:
        text = body.decode("utf-8")
        bad = False
    except UnicodeDecodeError:
        text = body.decode("utf-8", "surrogateescape")
        bad = True
    try:
        return json.loads(text), text, bad
    except ValueError:
        return _MALFORMED, text, bad
