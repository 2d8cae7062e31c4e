"""Column specifications of the canonical transaction frame.

In memory a set of transactions is a polars DataFrame whose columns are a subset of
:data:`COLUMNS` (with the dtypes given there), plus any declared pass-through numeric
columns (``Float64``). ``timestamp`` is ``Datetime("us", "UTC")``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

__all__ = [
    "CHANNELS",
    "COLUMNS",
    "LABEL_COLUMNS",
    "REQUIRED_COLUMNS",
    "Column",
    "canonical_dtypes",
    "column",
]

CHANNELS: tuple[str, ...] = ("pos", "ecom", "atm")
"""Allowed values of ``channel``."""

TIMESTAMP_DTYPE = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Column:
    """One column of the canonical schema."""

    name: str
    dtype: pl.DataType
    required: bool
    label: bool
    description: str


COLUMNS: tuple[Column, ...] = (
    Column("transaction_id", pl.String(), True, False, "unique id of the transaction"),
    Column("timestamp", TIMESTAMP_DTYPE, True, False, "when it happened, stored as UTC"),
    Column("card_id", pl.String(), True, False, "the card (or account) that pays"),
    Column("amount", pl.Float64(), True, False, "amount in `currency`, >= 0"),
    Column("customer_id", pl.String(), False, False, "card holder"),
    Column("merchant_id", pl.String(), False, False, "payee"),
    Column("terminal_id", pl.String(), False, False, "POS terminal or payment page"),
    Column("merchant_category", pl.String(), False, False, "4-digit MCC, leading zeros kept"),
    Column("channel", pl.String(), False, False, "pos, ecom or atm"),
    Column("currency", pl.String(), False, False, "3-letter ISO 4217 code"),
    Column("country", pl.String(), False, False, "2-letter ISO 3166 code"),
    Column("latitude", pl.Float64(), False, False, "latitude of the transaction, -90..90"),
    Column("longitude", pl.Float64(), False, False, "longitude of the transaction, -180..180"),
    Column("device_id", pl.String(), False, False, "device, for card-not-present payments"),
    Column("ip_address", pl.String(), False, False, "IP address, for card-not-present payments"),
    Column("is_fraud", pl.Int8(), False, True, "ground truth 0/1; absent when scoring"),
    Column("fraud_scenario", pl.String(), False, True, "fraud pattern (simulated data)"),
)

REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
LABEL_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.label)

_BY_NAME = {c.name: c for c in COLUMNS}


def column(name: str) -> Column:
    """Return the spec of a canonical column.

    >>> column("amount").required
    True
    """
    return _BY_NAME[name]


def canonical_dtypes() -> dict[str, pl.DataType]:
    """Return ``{name: dtype}`` of every canonical column, in schema order."""
    return {c.name: c.dtype for c in COLUMNS}
