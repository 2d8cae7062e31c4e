"""Tests that simulations are reproducible from their seed."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudwatch.simulate import SimulationConfig, simulate


def test_same_config_same_frame() -> None:
    """Check that the same configuration gives an identical frame, ids included."""
    cfg = SimulationConfig(customers=300, days=14, seed=21, fraud_rate=0.05)
    assert simulate(cfg).equals(simulate(cfg.model_copy()))


def test_equal_configs_built_separately_agree() -> None:
    """Check that two equal configurations built independently give the same frame."""
    a = simulate(SimulationConfig(customers=120, days=5, seed=8, start="2024-06-01"))
    b = simulate(SimulationConfig(customers=120, days=5, seed=8, start="2024-06-01T00:00:00Z"))
    assert a.equals(b)


def test_different_seeds_differ() -> None:
    """Check that two seeds give different transactions and identifiers."""
    a = simulate(SimulationConfig(customers=200, days=7, seed=1))
    b = simulate(SimulationConfig(customers=200, days=7, seed=2))
    assert not a.equals(b)
    assert set(a["card_id"]).isdisjoint(set(b["card_id"]))
    assert set(a["transaction_id"]).isdisjoint(set(b["transaction_id"]))


def test_fraud_settings_leave_legit_traffic_alone() -> None:
    """Check that changing fraud_rate and shares keeps the genuine cards' legit payments."""
    base = {"customers": 250, "days": 21, "seed": 4}
    clean = simulate(SimulationConfig(**base, fraud_rate=0.0))
    noisy = simulate(
        SimulationConfig(**base, fraud_rate=0.1, scenario_shares={"velocity_attack": 1.0})
    )
    cols = [c for c in clean.columns if c != "transaction_id"]
    genuine = noisy.filter(
        (pl.col("is_fraud") == 0) & pl.col("card_id").is_in(clean["card_id"].implode())
    )
    assert genuine.select(cols).equals(clean.select(cols))
    assert noisy["is_fraud"].sum() > 0


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**63 - 1))
def test_any_seed_is_reproducible(seed: int) -> None:
    """Check that any seed reproduces its frame exactly."""
    cfg = SimulationConfig(customers=25, days=3, seed=seed, fraud_rate=0.2)
    assert simulate(cfg).equals(simulate(cfg))
