"""Synthetic fraud-like matrices for the model tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest


@dataclass(frozen=True)
class Toy:
    """A small binary problem: 4 numeric features and 1 categorical (codes 0..7)."""

    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.int8]
    x_val: npt.NDArray[np.float64]
    y_val: npt.NDArray[np.int8]
    names: tuple[str, ...] = ("amount", "hour", "velocity", "noise", "channel")
    categorical: tuple[int, ...] = (4,)


def make_toy(seed: int, n: int = 3000, n_val: int = 1500) -> Toy:
    """Frauds are likelier with a large amount, at night, and in categories 3 and 6."""
    rng = np.random.default_rng(seed)
    total = n + n_val
    x = np.empty((total, 5))
    x[:, 0] = rng.lognormal(3.0, 1.0, total)
    x[:, 1] = rng.integers(0, 24, total)
    x[:, 2] = rng.poisson(2.0, total)
    x[:, 3] = rng.normal(size=total)
    x[:, 4] = rng.integers(0, 8, total)
    logit = (
        -5.0
        + 1.2 * (np.log(x[:, 0]) - 3.0)
        + 1.5 * ((x[:, 1] < 5) | (x[:, 1] > 22))
        + 0.4 * x[:, 2]
        + 2.0 * np.isin(x[:, 4], (3, 6))
    )
    y = (rng.random(total) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    x[rng.random(total) < 0.05, 2] = np.nan  # missing values
    x[rng.random(total) < 0.02, 4] = np.nan
    return Toy(x[:n], y[:n], x[n:], y[n:])


@pytest.fixture(scope="session")
def toy() -> Toy:
    """The toy problem, seed 7."""
    return make_toy(7)


@pytest.fixture(scope="module", params=["compiled", "c_api"])
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Which one-row predictor LightGBM models (and detectors) get in a test module.

    ``compiled``: the compiled tree walk (skipped where it is not built); ``c_api``:
    LightGBM's single-row C API, the walk turned off.
    """
    from row_paths import walk_built

    from fraudwatch.models import _lightgbm as lgb_module

    with pytest.MonkeyPatch.context() as mp:
        if request.param == "compiled" and not walk_built():
            pytest.skip("the compiled tree walk is not built (make speedups)")
        if request.param == "c_api":
            mp.setattr(lgb_module, "compiled_forest", lambda text: None)
        yield request.param
