"""Simulated card transactions with labelled fraud (see docs/simulator.md).

>>> from fraudwatch.simulate import SimulationConfig, simulate
>>> df = simulate(SimulationConfig(customers=20, days=2, seed=3))
>>> set(df["channel"].unique()) <= {"pos", "ecom", "atm"}
True
"""

from __future__ import annotations

from fraudwatch.simulate._config import (
    DEFAULT_SCENARIO_SHARES,
    MAX_EXPECTED_TRANSACTIONS,
    SCENARIOS,
    SimulationConfig,
)
from fraudwatch.simulate._simulator import simulate
from fraudwatch.simulate._stats import scenario_stats

__all__ = [
    "DEFAULT_SCENARIO_SHARES",
    "MAX_EXPECTED_TRANSACTIONS",
    "SCENARIOS",
    "SimulationConfig",
    "scenario_stats",
    "simulate",
]
