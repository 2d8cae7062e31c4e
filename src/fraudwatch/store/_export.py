"""Turn stored transactions and their labels into a canonical polars frame."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fraudwatch.schema.columns import COLUMNS, LABEL_COLUMNS

if TYPE_CHECKING:
    import polars as pl

__all__ = ["labelled_frame"]

log = logging.getLogger(__name__)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _string(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def labelled_frame(
    transactions: Sequence[dict[str, Any]],
    *,
    timestamps: Sequence[datetime],
    labels: Sequence[str],
    sources: Sequence[str] | None = None,
    received: Sequence[datetime] | None = None,
) -> pl.DataFrame:
    """Build the canonical frame of labelled transactions.

    Canonical columns present in at least one transaction get their canonical dtype
    (``transaction_id``, ``timestamp``, ``card_id`` and ``amount`` are always present);
    other fields whose values are all numbers become Float64 pass-through columns; anything
    else is dropped. ``is_fraud`` is 1 for ``fraud`` and 0 for ``legit``.
    """
    import polars as pl

    required = {"transaction_id", "timestamp", "card_id", "amount"}
    present = set(required)
    for tx in transactions:
        present.update(tx.keys())

    columns: dict[str, pl.Series] = {}
    for col in COLUMNS:
        if col.label or col.name not in present:
            continue
        if col.name == "timestamp":
            columns[col.name] = pl.Series(col.name, list(timestamps), dtype=col.dtype)
            continue
        values = [tx.get(col.name) for tx in transactions]
        if col.dtype == pl.String():
            columns[col.name] = pl.Series(col.name, [_string(v) for v in values], dtype=pl.String)
        else:
            columns[col.name] = pl.Series(col.name, [_number(v) for v in values], dtype=col.dtype)

    canonical = {c.name for c in COLUMNS}
    dropped = []
    for name in sorted(present - canonical - set(LABEL_COLUMNS)):
        values = [tx.get(name) for tx in transactions]
        if all(v is None or _is_number(v) for v in values):
            columns[name] = pl.Series(name, [_number(v) for v in values], dtype=pl.Float64)
        else:
            dropped.append(name)
    if dropped:
        log.debug("labelled export drops non-numeric extra fields: %s", ", ".join(dropped))

    columns["is_fraud"] = pl.Series(
        "is_fraud", [1 if lab == "fraud" else 0 for lab in labels], dtype=pl.Int8
    )
    if received is not None:
        columns["label_received_at"] = pl.Series(
            "label_received_at", list(received), dtype=pl.Datetime("us", "UTC")
        )
    if sources is not None:
        columns["label_source"] = pl.Series("label_source", list(sources), dtype=pl.String)
    return pl.DataFrame(columns)
