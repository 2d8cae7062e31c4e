"""Fixtures of the simulator tests: a few simulations shared by the whole module set."""

from __future__ import annotations

import polars as pl
import pytest

from fraudwatch.simulate import SimulationConfig, simulate


@pytest.fixture(scope="session")
def fraud_config() -> SimulationConfig:
    """A small population with a high fraud rate, so every archetype shows up often."""
    return SimulationConfig(customers=1500, days=45, seed=11, fraud_rate=0.05)


@pytest.fixture(scope="session")
def fraud_frame(fraud_config: SimulationConfig) -> pl.DataFrame:
    """The simulation of :func:`fraud_config`."""
    return simulate(fraud_config)


@pytest.fixture(scope="session")
def default_frame() -> pl.DataFrame:
    """A simulation with the default fraud rate and mix."""
    return simulate(SimulationConfig(customers=3000, days=40, seed=5))
