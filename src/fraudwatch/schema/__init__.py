"""The canonical transaction schema (see docs/schema.md)."""

from __future__ import annotations

from fraudwatch.schema.columns import (
    CHANNELS,
    COLUMNS,
    LABEL_COLUMNS,
    REQUIRED_COLUMNS,
    Column,
    canonical_dtypes,
    column,
)

__all__ = [
    "CHANNELS",
    "COLUMNS",
    "LABEL_COLUMNS",
    "REQUIRED_COLUMNS",
    "Column",
    "canonical_dtypes",
    "column",
]
