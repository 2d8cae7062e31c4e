"""Validation shortcuts give the full answer: duplicate ids by hash, reasons for bad rows only.

:class:`~fraudwatch.schema.validate.RowValidator` flags rows with one boolean expression and
writes reasons only for the flagged rows; duplicate transaction ids are found through 64-bit
hashes and confirmed on the text. These tests compare both shortcuts with the plain
computation on inputs with bad rows, repeated ids and hash collisions.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from io_cases import CORRUPTIONS, NAMES, simple_rows, ts_text

from fraudwatch.errors import DataValidationError, InputFileError
from fraudwatch.io import _parquet, get_profile, read_transactions
from fraudwatch.schema.validate import ISSUE, LINE, ROW, UNDECODABLE, RowValidator, _SeenIds

_POOL = ["t0", "t1", "t2", "t3", "tx-long-id-0001", "tx-long-id-0002", "é€", None]


def _colliding_hash(ids: pl.Series) -> pl.Series:
    """A deliberately bad hash: every id of the same byte length collides."""
    return ids.str.len_bytes().fill_null(0).cast(pl.UInt64)


def _reference_duplicates(batches: list[list[str | None]]) -> list[list[bool]]:
    """Duplicate flags computed row by row with a set."""
    seen: set[str] = set()
    flags = []
    for batch in batches:
        out = []
        for tid in batch:
            out.append(tid is not None and tid in seen)
            if tid is not None:
                seen.add(tid)
        flags.append(out)
    return flags


@settings(max_examples=150, deadline=None)
@given(
    batches=st.lists(st.lists(st.sampled_from(_POOL), max_size=12), min_size=1, max_size=6),
    colliding=st.booleans(),
)
def test_duplicate_ids_match_a_set_of_seen_ids(
    batches: list[list[str | None]], colliding: bool
) -> None:
    """Check that hashed duplicate detection flags exactly the ids already seen, collisions too."""
    seen = _SeenIds(_colliding_hash) if colliding else _SeenIds()
    got = [seen.duplicates(pl.Series(b, dtype=pl.String)).to_list() for b in batches]
    assert got == _reference_duplicates(batches)


def test_duplicate_ids_survive_run_merges() -> None:
    """Check that ids stay known after many batches have been merged into larger runs."""
    seen = _SeenIds()
    for k in range(20):
        ids = pl.Series([f"id{k}-{i}" for i in range(50)])
        assert not seen.duplicates(ids).any()
    again = pl.Series(["id0-0", "id19-49", "new", "id7-7"])
    assert seen.duplicates(again).to_list() == [True, True, False, True]


# -- reasons only for the bad rows ------------------------------------------------------

_VALID = {
    name: ts_text(value)
    if isinstance(value, datetime)
    else repr(value)
    if isinstance(value, float)
    else str(value)
    for name, value in simple_rows(1)[0].items()
}
_BAD = {c.column: str(c.value) for c in CORRUPTIONS.values() if c.value is not None}


@st.composite
def _cell(draw: st.DrawFn, column: str) -> str | None:
    """A valid, padded, empty, missing or corrupt text value for ``column``."""
    choices: list[str | None] = [_VALID[column], f"  {_VALID[column]}\t", "", " ", None]
    if column in _BAD:
        choices.append(_BAD[column])
    return draw(st.sampled_from(choices))


@st.composite
def _raw_batches(draw: st.DrawFn) -> list[pl.DataFrame]:
    """Raw text batches (as the CSV reader makes them) of one input, with bad rows."""
    batches = []
    line = 2
    for _ in range(draw(st.integers(1, 3))):
        n = draw(st.integers(0, 8))
        data: dict[str, list[Any]] = {
            c: [draw(_cell(c)) for _ in range(n)] for c in NAMES if c != "transaction_id"
        }
        data["transaction_id"] = [draw(st.sampled_from(_POOL)) for _ in range(n)]
        data[LINE] = list(range(line, line + n))
        data[ROW] = [x - 2 for x in data[LINE]]
        issues = [None, None, None, "", "row: malformed JSON"]
        data[ISSUE] = [draw(st.sampled_from(issues)) for _ in range(n)]
        data[UNDECODABLE] = [draw(st.booleans()) and draw(st.booleans()) for _ in range(n)]
        schema = {c: pl.String for c in NAMES} | {
            LINE: pl.Int64,
            ROW: pl.Int64,
            ISSUE: pl.String,
            UNDECODABLE: pl.Boolean,
        }
        batches.append(pl.DataFrame(data, schema=schema))
        line += n
    return batches


def _full_reasons(validator: RowValidator, raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The plain computation: a reason for every row, bad where it is not empty."""
    staged, exprs = validator._stage(raw)
    reasons = staged.select(exprs.problems).to_series()
    bad = reasons.str.len_bytes() > 0
    accepted = staged.select(validator.plan.output_columns()).filter(~bad)
    return accepted, validator._rejected(raw.filter(bad), reasons.filter(bad))


@settings(max_examples=150, deadline=None)
@given(batches=_raw_batches())
def test_rejections_match_a_reason_for_every_row(batches: list[pl.DataFrame]) -> None:
    """Check that flagging rows first gives the accepted and rejected rows of the plain path."""
    plan, _ = get_profile("native").plan(NAMES, source="x")
    fast, plain = RowValidator(plan), RowValidator(plan)
    for raw in batches:
        accepted, rejected = fast.validate(raw)
        want_accepted, want_rejected = _full_reasons(plain, raw)
        assert accepted.equals(want_accepted)
        assert rejected.schema == want_rejected.schema
        assert rejected.equals(want_rejected)
        assert accepted.height + rejected.height == raw.height


@settings(max_examples=60, deadline=None)
@given(batches=_raw_batches())
def test_strict_stops_at_the_first_row_with_a_reason(batches: list[pl.DataFrame]) -> None:
    """Check that strict mode reports the first row the plain path rejects, with its reason."""
    plan, _ = get_profile("native").plan(NAMES, source="x")
    strict, plain = RowValidator(plan, strict=True), RowValidator(plan)
    for raw in batches:
        _, want = _full_reasons(plain, raw)
        if want.is_empty():
            strict.validate(raw)
            continue
        with pytest.raises(DataValidationError) as info:
            strict.validate(raw)
        assert info.value.row == want["line"][0]
        assert f": {want['reason'][0]}. Fix the row" in str(info.value)
        return


# -- Parquet batches ---------------------------------------------------------------------


@pytest.fixture(params=["polars", "pyarrow"])
def parquet_decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Read Parquet with polars' streaming reader, then with the pyarrow fallback."""
    monkeypatch.setattr(_parquet, "_POLARS_BATCHES", request.param == "polars")
    return str(request.param)


def _parquet_rows(n: int) -> pl.DataFrame:
    rows = simple_rows(n)
    return pl.DataFrame(
        {
            "transaction_id": [r["transaction_id"] for r in rows],
            "timestamp": [r["timestamp"] for r in rows],
            "card_id": [r["card_id"] for r in rows],
            "amount": [r["amount"] for r in rows],
        }
    )


@pytest.mark.parametrize(("row_group", "batch_rows"), [(7, 10), (50, 8), (5, 5), (3, 1)])
def test_parquet_batches_cover_every_row_once(
    tmp_path: Path, parquet_decoder: str, row_group: int, batch_rows: int
) -> None:
    """Check that Parquet read in batches across row groups keeps every row and its number."""
    frame = _parquet_rows(50).with_columns(
        pl.when(pl.int_range(50) == 33).then(-1.0).otherwise(pl.col("amount")).alias("amount")
    )
    path = tmp_path / "tx.parquet"
    frame.write_parquet(path, row_group_size=row_group)
    result = read_transactions(path, batch_rows=batch_rows)
    assert result.rejected.select("line", "reason").rows() == [(34, "amount: negative")]
    assert result.data["transaction_id"].to_list() == [f"t{i}" for i in range(50) if i != 33]


def test_parquet_decoders_read_typed_columns_alike(tmp_path: Path) -> None:
    """Check that polars' reader and the pyarrow fallback give the same rows, typed or not."""
    stamps = [datetime(2024, 1, 1, 12), None, datetime(1800, 1, 1), datetime(2024, 3, 1)]
    frame = pl.DataFrame(
        {
            "transaction_id": [1, 2, 2, None],
            "timestamp": pl.Series(stamps).dt.replace_time_zone("Europe/Paris"),
            "card_id": pl.Series([" c1 ", "c2", "", None], dtype=pl.Categorical),
            "amount": [5.0, float("nan"), -1.0, None],
            "merchant_category": [742, 5411, 12345, None],
            "is_fraud": [True, False, None, True],
            "extra": [[1], [], None, [2, 3]],
        }
    )
    path = tmp_path / "tx.parquet"
    frame.write_parquet(path, row_group_size=3)
    results = []
    for use_polars in (True, False):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_parquet, "_POLARS_BATCHES", use_polars)
            results.append(read_transactions(path, batch_rows=2))
    fast, fallback = results
    assert fast.data.equals(fallback.data)
    assert fast.rejected.equals(fallback.rejected)
    assert (fast.data.height, fast.rejected.height) == (1, 3)


def test_damaged_parquet_row_group_is_an_input_file_error(
    tmp_path: Path, parquet_decoder: str
) -> None:
    """Check that a Parquet file damaged after its first rows stops with the row reached."""
    path = tmp_path / "tx.parquet"
    _parquet_rows(40).write_parquet(path, row_group_size=10, compression="zstd")
    meta = pq.ParquetFile(path).metadata
    start = meta.row_group(2).column(0).file_offset
    end = meta.row_group(3).column(0).file_offset
    content = bytearray(path.read_bytes())
    content[start:end] = b"\x00" * (end - start)
    path.write_bytes(bytes(content))
    with pytest.raises(InputFileError, match="damaged after row 20"):
        read_transactions(path, batch_rows=10)


@settings(max_examples=40, deadline=None)
@given(
    group=st.integers(1, 12),
    batch_rows=st.integers(1, 15),
    delivered=st.integers(0, 4),
    chunk=st.integers(1, 9),
)
def test_polars_failure_resumes_with_pyarrow_exactly_once(
    tmp_path_factory: pytest.TempPathFactory,
    group: int,
    batch_rows: int,
    delivered: int,
    chunk: int,
) -> None:
    """Check that a polars read stopping mid-file is finished by pyarrow, each row once.

    polars is made to hand over ``delivered`` batches of ``chunk`` rows and then fail, so
    the resumption point falls inside a row group as often as on its boundary.
    """
    path = tmp_path_factory.mktemp("resume") / "tx.parquet"
    frame = _parquet_rows(30)
    frame.write_parquet(path, row_group_size=group)

    def failing_batches(self: pl.LazyFrame, chunk_size: int = 0) -> Any:
        full = self.collect()
        for i in range(delivered):
            yield full.slice(i * chunk, chunk)
        raise pl.exceptions.ComputeError("simulated decoder failure")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pl.LazyFrame, "collect_batches", failing_batches, raising=False)
        with _parquet.ParquetReader(path, display="tx", batch_rows=batch_rows) as reader:
            parts = list(reader.batches())
    got = pl.concat(parts)
    assert got["transaction_id"].to_list() == frame["transaction_id"].to_list()
    assert got[LINE].to_list() == list(range(1, 31))
    assert got[ROW].to_list() == list(range(30))
