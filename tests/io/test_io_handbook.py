"""The real Fraud Detection Handbook file through the ``handbook`` profile (read streaming)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fraudwatch.io import SummaryBuilder, iter_transaction_batches

REPO = Path(__file__).resolve().parents[2]


def _handbook_path() -> Path:
    override = os.environ.get("FRAUDWATCH_HANDBOOK_PATH")
    if override:
        return Path(override)
    return (REPO / ".." / "shared" / "data" / "handbook-raw.parquet").resolve()


@pytest.mark.slow
def test_handbook_file_matches_its_documented_facts() -> None:
    """Check that the real handbook file reads with 0 rejects and its published counts."""
    path = _handbook_path()
    if not path.exists():
        pytest.skip(
            f"handbook data not found at {path}; set FRAUDWATCH_HANDBOOK_PATH to its location"
        )
    builder = SummaryBuilder()
    rejected = 0
    n_input = 0
    largest = 0
    for batch in iter_transaction_batches(path, profile="handbook", batch_rows=300_000):
        builder.update(batch.data)
        rejected += batch.n_rejected
        n_input += batch.n_input
        largest = max(largest, batch.n_input)
    summary = builder.result()
    assert (n_input, rejected) == (1_754_155, 0)
    assert summary.rows == 1_754_155
    assert summary.frauds == 14_681
    assert summary.cards == 4_990
    assert summary.customers == 4_990
    assert summary.terminals == 10_000
    assert summary.start == datetime(2018, 4, 1, 0, 0, 31, tzinfo=UTC)
    assert summary.end == datetime(2018, 9, 30, 23, 59, 57, tzinfo=UTC)
    assert {s.scenario for s in summary.scenarios} == {
        "legit",
        "amount_over_220",
        "compromised_terminal",
        "compromised_customer",
    }
    assert largest <= 300_000
