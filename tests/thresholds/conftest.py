"""Fixtures of the threshold tests: synthetic scored validation frames."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import pytest
from thr_synthetic import make_scored


@pytest.fixture
def scored() -> Callable[..., pl.DataFrame]:
    """Factory of synthetic scored frames (seeded)."""
    return make_scored
