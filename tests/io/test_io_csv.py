"""CSV reading: line numbers, quoting, encodings, malformed records, file-level errors."""

from __future__ import annotations

import csv
import gzip
import io
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from io_cases import csv_bytes, simple_rows, write_rows

from fraudwatch.errors import InputFileError
from fraudwatch.io import read_transactions
from fraudwatch.io._csv import CsvReader
from fraudwatch.schema.validate import ISSUE, LINE, NOT_UTF8

HEADER = b"transaction_id,timestamp,card_id,amount\n"


def _write(tmp_path: Path, body: bytes, name: str = "tx.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def test_line_numbers_count_header_blank_lines_and_multiline_fields(tmp_path: Path) -> None:
    """Check that rejected rows carry the physical line where their record starts."""
    body = HEADER + (
        b"t1,2024-01-01T00:00:00Z,c1,1\n"
        b"\n"
        b't2,2024-01-01T00:00:00Z,"card\nwith newline",-1\n'
        b"t3,2024-01-01T00:00:00Z,c3,-2\n"
    )
    result = read_transactions(_write(tmp_path, body))
    assert result.rejected["line"].to_list() == [4, 6]
    assert result.data["transaction_id"].to_list() == ["t1"]


def test_quoted_separators_and_quotes_are_kept(tmp_path: Path) -> None:
    """Check that quoted commas, doubled quotes and newlines survive in field values."""
    body = HEADER + b't1,2024-01-01T00:00:00Z,"a,""b""\nc",5\n'
    result = read_transactions(_write(tmp_path, body))
    assert result.data["card_id"].to_list() == ['a,"b"\nc']


def test_crlf_line_endings_are_read(tmp_path: Path) -> None:
    """Check that Windows line endings do not leak into the last field."""
    body = HEADER.replace(b"\n", b"\r\n") + b"t1,2024-01-01T00:00:00Z,c1,7.5\r\n"
    result = read_transactions(_write(tmp_path, body))
    assert result.data["amount"].to_list() == [7.5]
    assert result.n_rejected == 0


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    """Check that a UTF-8 BOM before the header does not rename the first column."""
    body = b"\xef\xbb\xbf" + HEADER + b"t1,2024-01-01T00:00:00Z,c1,1\n"
    result = read_transactions(_write(tmp_path, body))
    assert result.data.columns[0] == "transaction_id"


def test_header_names_are_stripped(tmp_path: Path) -> None:
    """Check that spaces around header names are ignored."""
    body = b"transaction_id, timestamp , card_id,amount\nt1,2024-01-01T00:00:00Z,c1,1\n"
    result = read_transactions(_write(tmp_path, body))
    assert result.data.height == 1


def test_last_line_without_newline_is_read(tmp_path: Path) -> None:
    """Check that a final record without a line break is not lost."""
    body = HEADER + b"t1,2024-01-01T00:00:00Z,c1,1\nt2,2024-01-01T00:00:00Z,c1,2"
    result = read_transactions(_write(tmp_path, body))
    assert result.data["transaction_id"].to_list() == ["t1", "t2"]


def test_wrong_field_count_is_rejected_with_raw_record(tmp_path: Path) -> None:
    """Check that a record with too few or too many fields is quarantined with its text."""
    body = HEADER + b"t1,2024-01-01T00:00:00Z,c1\nt2,2024-01-01T00:00:00Z,c1,1,extra\n"
    result = read_transactions(_write(tmp_path, body))
    assert result.rejected["reason"].to_list() == [
        "row: expected 4 fields, found 3",
        "row: expected 4 fields, found 5",
    ]
    assert result.rejected["raw_record"].to_list() == [
        "t1,2024-01-01T00:00:00Z,c1",
        "t2,2024-01-01T00:00:00Z,c1,1,extra",
    ]


def test_unterminated_quote_at_end_is_rejected(tmp_path: Path) -> None:
    """Check that a quote never closed makes one rejected record, not a crash."""
    body = HEADER + b't1,2024-01-01T00:00:00Z,c1,1\nt2,2024-01-01T00:00:00Z,"c2,3\nmore\n'
    result = read_transactions(_write(tmp_path, body))
    assert result.data["transaction_id"].to_list() == ["t1"]
    assert result.rejected.select("line", "reason").rows() == [
        (3, "row: unterminated quoted field")
    ]


def test_quoted_field_across_batches(tmp_path: Path) -> None:
    """Check that a multi-line field split by a batch boundary is read whole."""
    body = HEADER + b't1,2024-01-01T00:00:00Z,"a\nb\nc\nd",1\nt2,2024-01-01T00:00:00Z,c,2\n'
    result = read_transactions(_write(tmp_path, body), batch_rows=2)
    assert result.data["card_id"].to_list() == ["a\nb\nc\nd", "c"]


def test_undecodable_bytes_reject_only_their_row(tmp_path: Path) -> None:
    """Check that a row with non-UTF-8 bytes is quarantined with the bytes shown as \\xNN."""
    body = HEADER + b"t1,2024-01-01T00:00:00Z,caf\xe9,1\nt2,2024-01-01T00:00:00Z,c2,2\n"
    result = read_transactions(_write(tmp_path, body))
    assert result.data["transaction_id"].to_list() == ["t2"]
    assert result.rejected["reason"].to_list() == [NOT_UTF8]
    assert result.rejected["card_id"].to_list() == ["caf\\xe9"]


def test_merchant_category_keeps_leading_zeros(tmp_path: Path) -> None:
    """Check that an MCC such as 0742 is read as text, never as the number 742."""
    rows = simple_rows(2)
    result = read_transactions(write_rows(tmp_path / "tx.csv", rows))
    assert result.data["merchant_category"].to_list() == ["5411", "0742"]


def test_gzip_csv_is_read(tmp_path: Path) -> None:
    """Check that a .csv.gz file gives the same rows as the plain file."""
    rows = simple_rows(5)
    plain = write_rows(tmp_path / "tx.csv", rows)
    packed = tmp_path / "tx.csv.gz"
    packed.write_bytes(gzip.compress(csv_bytes(rows)))
    assert read_transactions(packed).data.equals(read_transactions(plain).data)


def test_unnamed_header_column_is_ignored(tmp_path: Path) -> None:
    """Check that a pandas-style empty index header becomes an ignored column."""
    body = b",transaction_id,timestamp,card_id,amount\n0,t1,2024-01-01T00:00:00Z,c1,1\n"
    result = read_transactions(_write(tmp_path, body))
    assert result.ignored_columns == ("unnamed_0",)
    assert result.data.height == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", r"empty \(0 bytes\)"),
        (b"\n\n  \n", "empty"),
        (HEADER, "header but no rows"),
        (HEADER + b"\n\n", "header but no rows"),
        (b"PAR1\x00\x00", "Parquet file, not CSV"),
        (b"\x1f\x8b\x08\x00", "gzip-compressed"),
        ("transaction_id\nt1\n".encode("utf-16"), "UTF-16"),
        (b'{"transaction_id": "t1"}\n', "looks like JSON"),
        (b"transaction_id,card_id,card_id\nt1,c,c\n", "appears twice"),
        (b"transaction_\xe9d,amount\nt1,1\n", "header .* is not UTF-8"),
        (b"id,name\n" + b"1,caf\xe9\n" * 5, "is not UTF-8 text"),
        (b"a,b\x00c\n1,2\n", "binary data"),
    ],
)
def test_unreadable_csv_is_an_input_file_error(tmp_path: Path, body: bytes, message: str) -> None:
    """Check that a file that is not usable CSV stops with a message saying what is wrong."""
    with pytest.raises(InputFileError, match=message):
        read_transactions(_write(tmp_path, body))


def test_missing_file_is_an_input_file_error(tmp_path: Path) -> None:
    """Check that a missing path is reported with the path."""
    with pytest.raises(InputFileError, match=r"nope\.csv does not exist"):
        read_transactions(tmp_path / "nope.csv")


def test_folder_is_an_input_file_error(tmp_path: Path) -> None:
    """Check that a folder given as input is reported as such."""
    folder = tmp_path / "data.csv"
    folder.mkdir()
    with pytest.raises(InputFileError, match="is a folder"):
        read_transactions(folder)


def test_unknown_suffix_is_an_input_file_error(tmp_path: Path) -> None:
    """Check that a file with an unknown suffix names the accepted suffixes."""
    path = _write(tmp_path, HEADER, name="tx.txt")
    with pytest.raises(InputFileError, match=r"\.csv, \.jsonl"):
        read_transactions(path)


def test_semicolon_file_gets_separator_hint(tmp_path: Path) -> None:
    """Check that a ;-separated file is told that fraudwatch reads commas."""
    path = _write(tmp_path, b"transaction_id;timestamp;card_id;amount\nt1;x;c;1\n")
    with pytest.raises(Exception, match="comma-separated") as info:
        read_transactions(path)
    assert type(info.value).__name__ == "MissingColumnsError"


def test_batches_hold_at_most_batch_rows_records(tmp_path: Path) -> None:
    """Check that streaming keeps each batch within batch_rows records."""
    from fraudwatch.io import iter_transaction_batches

    path = write_rows(tmp_path / "tx.csv", simple_rows(23))
    sizes = [b.n_input for b in iter_transaction_batches(path, batch_rows=5)]
    assert sizes == [5, 5, 5, 5, 3]


def test_literal_quotes_in_unquoted_fields_are_kept(tmp_path: Path) -> None:
    """Check that a stray quote (27" screen) is text, as the csv module reads it."""
    body = HEADER + (
        b't1,2024-01-01T00:00:00Z,27" screen,1\n'
        b't2,2024-01-01T00:00:00Z,"a\nb",-2\n'
        b't3,2024-01-01T00:00:00Z,x"y"z,3\n'
    )
    result = read_transactions(_write(tmp_path, body))
    assert result.data["card_id"].to_list() == ['27" screen', 'x"y"z']
    assert result.rejected.select("line", "reason").rows() == [(3, "amount: negative")]


_MESSY_FIELD = st.text(alphabet='ab ,"\n', max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(_MESSY_FIELD, st.booleans()), min_size=3, max_size=3),
        min_size=1,
        max_size=6,
    ),
    st.integers(min_value=1, max_value=4),
    st.sampled_from(["\n", "\r\n"]),
)
def test_messy_quoting_is_split_like_the_csv_module(
    records: list[list[tuple[str, bool]]], batch_rows: int, newline: str
) -> None:
    """Check that records, fields and lines match the csv module on arbitrary quoting."""
    lines = ["a,b,c"]
    for record in records:
        lines.append(
            ",".join('"' + f.replace('"', '""') + '"' if quoted else f for f, quoted in record)
        )
    text = newline.join(lines) + newline
    if list(csv.reader(io.StringIO(text + "Z", newline="")))[-1] != ["Z"]:
        return  # a quote open at the end: we reject the record, the csv module accepts it
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    expected = []
    prev = reader.line_num
    for row in reader:
        start, prev = prev + 1, reader.line_num
        if row:
            expected.append((start, row if len(row) == 3 else None))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.csv"
        path.write_bytes(text.encode())
        with CsvReader(path, display="x.csv", batch_rows=batch_rows) as csv_reader:
            raw = pl.concat(list(csv_reader.batches()))
    got = [
        (row[LINE], None if row[ISSUE] else [row[c] or "" for c in "abc"])
        for row in raw.iter_rows(named=True)
    ]
    assert got == expected
