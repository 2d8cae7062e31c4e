"""Quarantine files and data summaries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from io_cases import simple_rows, write_rows
from rich.console import Console

from fraudwatch.errors import ConfigError
from fraudwatch.io import (
    SummaryBuilder,
    quarantine_path_for,
    read_transactions,
    summarize,
    write_quarantine,
)


def test_quarantine_path_sits_next_to_the_output() -> None:
    """Check that the quarantine file is <stem>.quarantine.csv beside the output."""
    assert quarantine_path_for(Path("out/run/scores.parquet")) == Path(
        "out/run/scores.quarantine.csv"
    )


def test_quarantine_path_for_s3_output_is_refused() -> None:
    """Check that an S3 output asks for a local quarantine path instead."""
    with pytest.raises(ConfigError, match="local --quarantine path"):
        quarantine_path_for("s3://bucket/scores.csv")


def test_nothing_rejected_writes_nothing(tmp_path: Path) -> None:
    """Check that an empty rejected frame writes no file and returns None."""
    result = read_transactions(write_rows(tmp_path / "tx.csv", simple_rows(3)))
    target = tmp_path / "q.csv"
    assert write_quarantine(result.rejected, target) is None
    assert not target.exists()


def test_quarantine_file_holds_line_reason_and_original_text(tmp_path: Path) -> None:
    """Check that the quarantine CSV keeps line, reason and the fields exactly as written."""
    source = tmp_path / "tx.csv"
    source.write_text(
        "transaction_id,timestamp,card_id,amount,merchant_category\n"
        "t1,2024-01-01T00:00:00Z,c1,1,0742\n"
        "t2,2024-01-01T00:00:00Z,c2,-0.50,0742\n"
    )
    result = read_transactions(source)
    written = write_quarantine(result.rejected, tmp_path / "sub" / "q.csv")
    assert written == tmp_path / "sub" / "q.csv"
    assert written.read_text().splitlines() == [
        "line,reason,transaction_id,timestamp,card_id,amount,merchant_category",
        "3,amount: negative,t2,2024-01-01T00:00:00Z,c2,-0.50,0742",
    ]


def test_fixed_quarantine_file_reads_back(tmp_path: Path) -> None:
    """Check that a corrected quarantine file is accepted by the native profile as is."""
    rows = simple_rows(4)
    rows[1]["amount"] = -2.0
    rows[3]["currency"] = "EURO"
    result = read_transactions(write_rows(tmp_path / "tx.csv", rows))
    quarantine = write_quarantine(result.rejected, tmp_path / "q.csv")
    assert quarantine is not None
    fixed = pl.read_csv(quarantine, infer_schema=False).with_columns(
        pl.lit("2.0").alias("amount"), pl.lit("EUR").alias("currency")
    )
    fixed.write_csv(quarantine)
    again = read_transactions(quarantine)
    assert again.n_rejected == 0
    assert again.data["transaction_id"].to_list() == ["t1", "t3"]
    assert again.ignored_columns == ("line", "reason")


def test_source_column_named_reason_does_not_clash(tmp_path: Path) -> None:
    """Check that an input column called 'reason' is kept apart from the rejection reason."""
    path = tmp_path / "tx.csv"
    path.write_text("transaction_id,timestamp,card_id,amount,reason\nt,x,c,1,gift\n")
    rejected = read_transactions(path).rejected
    assert rejected.select("reason", "reason_field").row(0) == ("timestamp: unparseable", "gift")


def test_quarantine_to_s3_is_refused(tmp_path: Path) -> None:
    """Check that quarantine files are written locally only."""
    with pytest.raises(ConfigError, match="written locally"):
        write_quarantine(pl.DataFrame({"line": [1], "reason": ["x"]}), "s3://b/q.csv")


# -- summaries ----------------------------------------------------------------------------


def test_summary_figures_match_the_data(tmp_path: Path) -> None:
    """Check that rows, span, entities, fraud rate and scenarios are computed from the data."""
    rows = simple_rows(20)
    data = read_transactions(write_rows(tmp_path / "tx.csv", rows)).data
    s = summarize(data)
    frauds = sum(r["is_fraud"] for r in rows)
    assert (s.rows, s.frauds, s.labelled) == (20, frauds, 20)
    assert s.start == min(r["timestamp"] for r in rows)
    assert s.end == max(r["timestamp"] for r in rows)
    assert s.cards == len({r["card_id"] for r in rows})
    assert s.merchants == len({r["merchant_id"] for r in rows})
    assert s.fraud_rate == pytest.approx(frauds / 20)
    by = {x.scenario: (x.rows, x.frauds) for x in s.scenarios}
    assert by == {"legit": (20 - frauds, 0), "card_testing": (frauds, frauds)}


def test_summary_without_labels_or_entities() -> None:
    """Check that absent columns give None figures rather than zeros."""
    s = summarize(pl.DataFrame({"amount": [1.0, 2.0]}))
    assert (s.cards, s.frauds, s.fraud_rate, s.start) == (None, None, None, None)
    assert s.scenarios == ()


def test_summary_fraud_rate_counts_labelled_rows_only() -> None:
    """Check that rows with an unknown label are left out of the fraud rate."""
    s = summarize(pl.DataFrame({"is_fraud": pl.Series([1, None, 0, 0], dtype=pl.Int8)}))
    assert (s.labelled, s.frauds) == (3, 1)
    assert s.fraud_rate == pytest.approx(1 / 3)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=60),
    st.integers(min_value=1, max_value=7),
)
def test_batched_summary_equals_whole_summary(amounts: list[float], size: int) -> None:
    """Check that summarising in batches gives the figures of the whole frame."""
    n = len(amounts)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "timestamp": [start + timedelta(hours=(i * 7) % 50) for i in range(n)],
            "card_id": [f"c{i % 5}" for i in range(n)],
            "amount": amounts,
            "is_fraud": pl.Series([i % 3 == 0 for i in range(n)]).cast(pl.Int8),
            "fraud_scenario": ["x" if i % 3 == 0 else "legit" for i in range(n)],
        }
    )
    builder = SummaryBuilder()
    for offset in range(0, n, size):
        builder.update(frame.slice(offset, size))
    whole = summarize(frame)
    assert builder.result() == whole
    expected = np.quantile(np.array(amounts), [0.01, 0.25, 0.5, 0.75, 0.99])
    got = [whole.amount[k] for k in ("p1", "p25", "p50", "p75", "p99")]
    assert np.allclose(got, expected)
    assert whole.amount["max"] == max(amounts)


def test_summary_to_dict_is_json(tmp_path: Path) -> None:
    """Check that to_dict gives JSON-ready values with ISO times."""
    data = read_transactions(write_rows(tmp_path / "tx.csv", simple_rows(5))).data
    payload = json.loads(json.dumps(summarize(data).to_dict()))
    assert payload["rows"] == 5
    assert payload["start"] == "2024-01-01T00:00:00+00:00"
    assert set(payload["amount"]) == {"p1", "p25", "p50", "p75", "p99", "max"}


def test_summary_tables_render_the_figures(tmp_path: Path) -> None:
    """Check that the rich tables show rows, fraud rate and the scenarios."""
    data = read_transactions(write_rows(tmp_path / "tx.csv", simple_rows(10))).data
    console = Console(record=True, width=120)
    for table in summarize(data).tables():
        console.print(table)
    text = console.export_text()
    assert "fraud rate" in text
    assert "20.000%" in text
    assert "card_testing" in text
    assert "2024-01-01 00:00:00 UTC" in text
