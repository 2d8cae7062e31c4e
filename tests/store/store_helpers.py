"""Helpers shared by the store tests (a fake clock, transactions)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

PG_ADMIN_URL = os.environ.get(
    "FRAUDWATCH_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock that starts at ``start`` and moves ``step`` forward at every reading."""

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(milliseconds=1)):
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        current = self.now
        self.now += self.step
        return current


def make_tx(
    tx_id: str,
    *,
    card: str = "card-1",
    at: datetime = T0,
    amount: float = 25.0,
    **extra: Any,
) -> dict[str, Any]:
    """A minimal valid transaction."""
    return {"transaction_id": tx_id, "timestamp": at, "card_id": card, "amount": amount, **extra}
