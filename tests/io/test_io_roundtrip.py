"""Property tests: corrupt random rows of valid data; nothing is lost, every problem is named."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from io_cases import CORRUPTIONS, canonical_row, csv_bytes, expected_frame, simple_rows, write_rows

from fraudwatch.errors import InputFileError
from fraudwatch.io import native_profile, read_transactions
from fraudwatch.io._csv import CsvReader
from fraudwatch.io._jsonl import JsonlReader
from fraudwatch.schema.validate import RowValidator


@st.composite
def corrupted_dataset(
    draw: st.DrawFn,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[int, set[str]]]:
    """(rows as written, the valid originals, row index -> expected reasons)."""
    n = draw(st.integers(min_value=1, max_value=20))
    clean = [draw(canonical_row(i)) for i in range(n)]
    rows = [dict(r) for r in clean]
    expected: dict[int, set[str]] = {}
    kinds = [*CORRUPTIONS, "duplicate"]
    for i in range(n):
        chosen = draw(st.sets(st.sampled_from(kinds), max_size=3))
        one_per_column: dict[str, str] = {}
        for kind in sorted(chosen):
            column = "transaction_id" if kind == "duplicate" else CORRUPTIONS[kind].column
            one_per_column.setdefault(column, kind)
        reasons: set[str] = set()
        for kind in sorted(one_per_column.values()):
            if kind == "duplicate":
                earlier = [j for j in range(i) if rows[j]["transaction_id"] is not None]
                if not earlier:
                    continue
                j = draw(st.sampled_from(earlier))
                rows[i]["transaction_id"] = rows[j]["transaction_id"]
                reasons.add("transaction_id: duplicate")
            else:
                c = CORRUPTIONS[kind]
                rows[i][c.column] = c.value
                reasons.add(c.reason)
        if reasons:
            expected[i] = reasons
    return rows, clean, expected


def _mostly_undecodable(path: Path) -> bool:
    """Whether most non-blank lines of a (small) file are not UTF-8: the file is then
    refused whole as text in another encoding, not read row by row (docs/schema.md)."""
    lines = [line for line in path.read_bytes().split(b"\n") if line.strip()]
    bad = 0
    for line in lines:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad += 1
    return bad * 2 > len(lines)


def _check(
    path: Path,
    rows: list[dict[str, Any]],
    clean: list[dict[str, Any]],
    expected: dict[int, set[str]],
    lines: list[int],
) -> None:
    result = read_transactions(path, batch_rows=12)
    assert result.n_input == len(rows)
    assert result.data.height + result.n_rejected == len(rows)
    line_of_row = dict(zip(lines, range(len(rows)), strict=True))
    got = {
        line_of_row[line]: set(reason.split("; "))
        for line, reason in result.rejected.select("line", "reason").iter_rows()
    }
    assert set(got) == set(expected)
    for i, reasons in expected.items():
        assert reasons <= got[i], (i, reasons, got[i])
    kept = [clean[i] for i in range(len(rows)) if i not in expected]
    assert result.data.equals(expected_frame(kept))


def _csv_lines(rows: list[dict[str, Any]]) -> list[int]:
    """Physical line where each data row starts (header = line 1), by the csv module."""
    text = csv_bytes(rows).decode("utf-8", "surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    starts = []
    prev = reader.line_num
    for _ in reader:
        starts.append(prev + 1)
        prev = reader.line_num
    return starts


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted_dataset())
def test_csv_corruptions_all_quarantined_with_reason(
    data: tuple[list[dict[str, Any]], list[dict[str, Any]], dict[int, set[str]]],
) -> None:
    """Check that in CSV every corrupted row is quarantined with its reasons and clean rows
    come back unchanged."""
    rows, clean, expected = data
    with tempfile.TemporaryDirectory() as tmp:
        path = write_rows(Path(tmp) / "tx.csv", rows)
        if _mostly_undecodable(path):
            with pytest.raises(InputFileError, match="is not UTF-8 text"):
                read_transactions(path, batch_rows=12)
            return
        _check(path, rows, clean, expected, _csv_lines(rows))


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted_dataset())
def test_jsonl_corruptions_all_quarantined_with_reason(
    data: tuple[list[dict[str, Any]], list[dict[str, Any]], dict[int, set[str]]],
) -> None:
    """Check that in JSON Lines every corrupted row is quarantined with its reasons and clean
    rows come back unchanged."""
    rows, clean, expected = data
    with tempfile.TemporaryDirectory() as tmp:
        path = write_rows(Path(tmp) / "tx.jsonl", rows)
        if _mostly_undecodable(path):
            with pytest.raises(InputFileError, match="is not UTF-8 text"):
                read_transactions(path, batch_rows=12)
            return
        _check(path, rows, clean, expected, list(range(1, len(rows) + 1)))


def _raw(reader: CsvReader | JsonlReader) -> pl.DataFrame:
    with reader as r:
        return pl.concat(list(r.batches()), how="diagonal")


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted_dataset(), st.integers(min_value=1, max_value=9))
def test_csv_fast_path_matches_csv_module(
    data: tuple[list[dict[str, Any]], list[dict[str, Any]], dict[int, set[str]]],
    batch_rows: int,
) -> None:
    """Check that the polars CSV path reads the same fields and lines as the csv module."""
    rows = data[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_rows(Path(tmp) / "tx.csv", rows)
        fast = _raw(CsvReader(path, display="tx.csv", batch_rows=batch_rows))
        slow = _raw(CsvReader(path, display="tx.csv", batch_rows=batch_rows, fast=False))
    normalise = [
        pl.when(pl.col(c) != "").then(pl.col(c)).alias(c)
        for c in fast.columns
        if fast.schema[c] == pl.String
    ]
    assert fast.with_columns(normalise).equals(slow.with_columns(normalise))
    assert fast["__fw_line__"].to_list() == _csv_lines(rows)


def _validated(reader: JsonlReader) -> tuple[pl.DataFrame, pl.DataFrame]:
    with reader as r:
        plan, _ = native_profile().plan(r.columns)
        validator = RowValidator(plan)
        parts = [validator.validate(raw) for raw in r.batches()]
    return (
        pl.concat([a for a, _ in parts]),
        pl.concat([b for _, b in parts], how="diagonal").select("line", "reason"),
    )


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted_dataset(), st.integers(min_value=1, max_value=9))
def test_jsonl_fast_path_matches_json_module(
    data: tuple[list[dict[str, Any]], list[dict[str, Any]], dict[int, set[str]]],
    batch_rows: int,
) -> None:
    """Check that the polars JSON Lines path gives the same rows and reasons as the json
    module."""
    rows = data[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_rows(Path(tmp) / "tx.jsonl", rows)
        fast = _validated(JsonlReader(path, display="tx.jsonl", batch_rows=batch_rows))
        slow = _validated(JsonlReader(path, display="tx.jsonl", batch_rows=batch_rows, fast=False))
    assert fast[0].equals(slow[0])
    assert fast[1].equals(slow[1])


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_batch_size_does_not_change_result(tmp_path: Path, suffix: str) -> None:
    """Check that reading in batches of 1, 3 or all rows gives identical results."""
    rows = simple_rows(10)
    rows[6]["transaction_id"] = rows[2]["transaction_id"]
    rows[8]["amount"] = -1.0
    path = write_rows(tmp_path / f"tx{suffix}", rows)
    results = [read_transactions(path, batch_rows=b) for b in (1, 3, 1000)]
    for other in results[1:]:
        assert other.data.equals(results[0].data)
        assert other.rejected.equals(results[0].rejected)
    assert results[0].rejected["line"].to_list() == ([8, 10] if suffix == ".csv" else [7, 9])
