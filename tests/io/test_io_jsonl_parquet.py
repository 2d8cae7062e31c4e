"""JSON Lines and Parquet reading: line/row numbers, malformed lines, typed columns."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from io_cases import jsonl_bytes, simple_rows

from fraudwatch.errors import InputFileError
from fraudwatch.io import read_transactions, write_frame
from fraudwatch.schema.validate import NOT_UTF8

GOOD = {"transaction_id": "t1", "timestamp": "2024-01-01T00:00:00Z", "card_id": "c", "amount": 1}


def _jsonl(tmp_path: Path, lines: list[bytes], name: str = "tx.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _obj(**changes: object) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


def test_malformed_json_line_is_rejected_with_its_line(tmp_path: Path) -> None:
    """Check that a line that is not JSON is quarantined with its line and text."""
    path = _jsonl(tmp_path, [_obj(), b'{"transaction_id": "t2",', _obj(transaction_id="t3")])
    result = read_transactions(path)
    assert result.data["transaction_id"].to_list() == ["t1", "t3"]
    assert result.rejected.select("line", "reason", "raw_record").rows() == [
        (2, "row: malformed JSON", '{"transaction_id": "t2",')
    ]


def test_json_value_that_is_not_an_object_is_rejected(tmp_path: Path) -> None:
    """Check that a JSON array or number on a line is quarantined, not read as a row."""
    path = _jsonl(tmp_path, [_obj(), b"[1, 2]", b"42"])
    result = read_transactions(path)
    assert result.rejected["reason"].to_list() == ["row: not a JSON object"] * 2
    assert result.rejected["line"].to_list() == [2, 3]


def test_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    """Check that blank lines are not rows yet still count in line numbers."""
    path = _jsonl(tmp_path, [_obj(), b"", b"   ", _obj(transaction_id="t2", amount=-1)])
    result = read_transactions(path)
    assert result.n_input == 2
    assert result.rejected["line"].to_list() == [4]


def test_json_numbers_booleans_and_strings_are_accepted(tmp_path: Path) -> None:
    """Check that amounts as numbers or text, labels as booleans, ids as numbers all parse."""
    path = _jsonl(
        tmp_path,
        [
            _obj(card_id=123, amount="12.50", is_fraud=True),
            _obj(transaction_id="t2", amount=3, is_fraud=False, timestamp=1704067200),
        ],
    )
    result = read_transactions(path)
    assert result.data["card_id"].to_list() == ["123", "c"]
    assert result.data["amount"].to_list() == [12.5, 3.0]
    assert result.data["is_fraud"].to_list() == [1, 0]
    assert result.data["timestamp"][0] == result.data["timestamp"][1]


def test_nan_token_in_json_is_rejected_as_nan_amount(tmp_path: Path) -> None:
    """Check that the non-standard NaN token is read and rejected as a NaN amount."""
    path = _jsonl(
        tmp_path,
        [_obj(), b'{"transaction_id": "t2", "timestamp": 1, "card_id": "c", "amount": NaN}'],
    )
    result = read_transactions(path)
    assert result.rejected["reason"].to_list() == ["amount: NaN"]


def test_undecodable_json_line_is_rejected(tmp_path: Path) -> None:
    """Check that a JSON line with non-UTF-8 bytes is quarantined with \\xNN escapes."""
    path = _jsonl(tmp_path, [_obj(), _obj(transaction_id="t2").replace(b'"c"', b'"c\xe9"')])
    result = read_transactions(path)
    assert result.rejected["reason"].to_list() == [NOT_UTF8]
    assert result.rejected["card_id"].to_list() == ["c\\xe9"]


def test_gzip_jsonl_is_read(tmp_path: Path) -> None:
    """Check that a .jsonl.gz file gives the same rows as the plain file."""
    rows = simple_rows(4)
    plain = tmp_path / "tx.jsonl"
    plain.write_bytes(jsonl_bytes(rows))
    packed = tmp_path / "tx.jsonl.gz"
    packed.write_bytes(gzip.compress(jsonl_bytes(rows)))
    assert read_transactions(packed).data.equals(read_transactions(plain).data)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'[{"transaction_id": "t1"}]\n', "JSON array, not JSON Lines"),
        (b"transaction_id,amount\nt1,1\n", "first line is not a JSON object"),
        (b"\n\n", "empty"),
    ],
)
def test_not_json_lines_is_an_input_file_error(tmp_path: Path, body: bytes, message: str) -> None:
    """Check that a .jsonl file holding something else stops with a fix hint."""
    path = tmp_path / "tx.jsonl"
    path.write_bytes(body)
    with pytest.raises(InputFileError, match=message):
        read_transactions(path)


def test_writer_output_reads_back_identically(tmp_path: Path) -> None:
    """Check that frames written by write_frame in every format read back unchanged."""
    source = read_transactions(_jsonl(tmp_path, [jsonl_bytes(simple_rows(6)).strip()])).data
    for fmt in ("csv", "jsonl", "parquet"):
        path = write_frame(source, tmp_path / f"out.{fmt}")
        again = read_transactions(path)
        assert again.n_rejected == 0
        assert again.data.equals(source), fmt


def test_parquet_rows_are_numbered_from_one(tmp_path: Path) -> None:
    """Check that rejected Parquet rows carry their one-based row number."""
    frame = pl.DataFrame(
        {
            "transaction_id": ["a", "b", "c"],
            "timestamp": [datetime(2024, 1, 1, tzinfo=UTC)] * 3,
            "card_id": ["x", "y", "z"],
            "amount": [1.0, -1.0, 2.0],
        }
    )
    path = tmp_path / "tx.parquet"
    frame.write_parquet(path)
    result = read_transactions(path, batch_rows=2)
    assert result.rejected.select("line", "reason").rows() == [(2, "amount: negative")]


def test_parquet_typed_columns_are_converted(tmp_path: Path) -> None:
    """Check that typed Parquet columns (int ids, int MCC, naive and zoned times) convert."""
    frame = pl.DataFrame(
        {
            "transaction_id": [1, 2],
            "timestamp": [datetime(2024, 1, 1, 12), datetime(2024, 1, 1, 13)],
            "card_id": [10, 11],
            "amount": [5, 6],
            "merchant_category": [742, 5411],
            "channel": pl.Series(["pos", "atm"], dtype=pl.Categorical),
            "is_fraud": [False, True],
        }
    )
    path = tmp_path / "tx.parquet"
    frame.write_parquet(path)
    data = read_transactions(path).data
    assert data["transaction_id"].to_list() == ["1", "2"]
    assert data["merchant_category"].to_list() == ["0742", "5411"]
    assert data["channel"].to_list() == ["pos", "atm"]
    assert data["is_fraud"].to_list() == [0, 1]
    assert data["timestamp"].to_list()[0] == datetime(2024, 1, 1, 12, tzinfo=UTC)


def test_parquet_zoned_times_are_converted_to_utc(tmp_path: Path) -> None:
    """Check that a Parquet timestamp in another zone is stored as the same instant in UTC."""
    stamp = pl.Series([datetime(2024, 6, 1, 14)]).dt.replace_time_zone("Europe/Paris")
    frame = pl.DataFrame(
        {"transaction_id": ["a"], "timestamp": stamp, "card_id": ["c"], "amount": [1.0]}
    )
    path = tmp_path / "tx.parquet"
    frame.write_parquet(path)
    assert read_transactions(path).data["timestamp"][0] == datetime(2024, 6, 1, 12, tzinfo=UTC)


def test_parquet_rejected_fields_are_text(tmp_path: Path) -> None:
    """Check that quarantined Parquet rows keep every original field as text."""
    frame = pl.DataFrame(
        {"transaction_id": [7], "timestamp": [0], "card_id": [None], "amount": [2.5]},
        schema={
            "transaction_id": pl.Int64,
            "timestamp": pl.Int64,
            "card_id": pl.String,
            "amount": pl.Float64,
        },
    )
    path = tmp_path / "tx.parquet"
    frame.write_parquet(path)
    rejected = read_transactions(path).rejected
    assert rejected.row(0, named=True) == {
        "line": 1,
        "reason": "card_id: missing",
        "transaction_id": "7",
        "timestamp": "0",
        "card_id": None,
        "amount": "2.5",
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"transaction_id,amount\nt1,1\n", "not a Parquet file"),
        (b"PAR1garbage-not-really-parquet", "not a readable Parquet file"),
    ],
)
def test_bad_parquet_is_an_input_file_error(tmp_path: Path, content: bytes, message: str) -> None:
    """Check that a .parquet file that is not Parquet stops with a hint."""
    path = tmp_path / "tx.parquet"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=message):
        read_transactions(path)


def test_empty_parquet_is_an_input_file_error(tmp_path: Path) -> None:
    """Check that a Parquet file with columns but no rows is reported as empty."""
    path = tmp_path / "tx.parquet"
    pl.DataFrame(schema={"transaction_id": pl.String, "amount": pl.Float64}).write_parquet(path)
    with pytest.raises(InputFileError, match="no rows"):
        read_transactions(path)
