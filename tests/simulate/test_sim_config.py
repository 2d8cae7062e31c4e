"""Tests of SimulationConfig: defaults, normalisation and the errors users see."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import fraudwatch.simulate
from fraudwatch.errors import ConfigError, UserError
from fraudwatch.simulate import MAX_EXPECTED_TRANSACTIONS, SCENARIOS, SimulationConfig


def test_public_surface_is_pinned() -> None:
    """Check that fraudwatch.simulate exports exactly the documented names."""
    assert sorted(fraudwatch.simulate.__all__) == [
        "DEFAULT_SCENARIO_SHARES",
        "MAX_EXPECTED_TRANSACTIONS",
        "SCENARIOS",
        "SimulationConfig",
        "scenario_stats",
        "simulate",
    ]


def test_default_fraud_rate_is_realistic() -> None:
    """Check that the default fraud rate lies between 0.3 % and 0.5 %."""
    assert 0.003 <= SimulationConfig().fraud_rate <= 0.005


def test_default_shares_cover_every_scenario() -> None:
    """Check that every archetype has a positive default weight."""
    shares = SimulationConfig().scenario_shares
    assert set(shares) == set(SCENARIOS)
    assert all(shares[name] > 0 for name in SCENARIOS)


def test_left_out_scenarios_get_weight_zero() -> None:
    """Check that scenarios missing from scenario_shares get weight 0 after normalising."""
    cfg = SimulationConfig(scenario_shares={"card_testing": 3.0, "bust_out": 1.0})
    shares = cfg.normalised_shares()
    assert shares["card_testing"] == pytest.approx(0.75)
    assert shares["bust_out"] == pytest.approx(0.25)
    assert sum(v for k, v in shares.items() if k not in ("card_testing", "bust_out")) == 0


def test_date_start_is_midnight_utc() -> None:
    """Check that a date start becomes midnight UTC."""
    cfg = SimulationConfig(start=date(2024, 5, 17))
    assert cfg.start == datetime(2024, 5, 17, tzinfo=UTC)


def test_naive_datetime_start_is_taken_as_utc() -> None:
    """Check that a naive datetime start is interpreted as UTC."""
    cfg = SimulationConfig(start=datetime(2024, 5, 17, 8, 30))
    assert cfg.start == datetime(2024, 5, 17, 8, 30, tzinfo=UTC)


def test_aware_datetime_start_is_converted_to_utc() -> None:
    """Check that a datetime with another offset is converted to UTC."""
    paris = timezone(timedelta(hours=2))
    cfg = SimulationConfig(start=datetime(2024, 5, 17, 8, 0, tzinfo=paris))
    assert cfg.start.utcoffset() == timedelta(0)
    assert cfg.start.hour == 6


def test_iso_string_start_with_z_is_accepted() -> None:
    """Check that an ISO string ending in Z is parsed as UTC."""
    cfg = SimulationConfig(start="2024-02-29T23:00:00Z")
    assert cfg.start == datetime(2024, 2, 29, 23, tzinfo=UTC)


def test_config_is_immutable() -> None:
    """Check that a configuration cannot be changed after validation."""
    cfg = SimulationConfig()
    with pytest.raises(ValidationError, match="frozen"):
        cfg.customers = 5  # type: ignore[misc]


def test_config_error_is_a_user_error() -> None:
    """Check that invalid parameters raise a UserError (CLI exit code 2)."""
    with pytest.raises(UserError):
        SimulationConfig(days=0)


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        ({"customers": 0}, r"customers: .*greater than or equal to 1.*got 0"),
        ({"customers": "many"}, r"customers: .*integer"),
        ({"days": 0}, r"days: .*greater than or equal to 1"),
        ({"days": 10_000}, r"days: .*less than or equal to 3660"),
        ({"seed": -1}, r"seed: .*greater than or equal to 0"),
        ({"fraud_rate": -0.01}, r"fraud_rate: .*greater than or equal to 0"),
        ({"fraud_rate": 0.9}, r"fraud_rate: .*less than or equal to 0.5"),
        ({"fraud_rate": float("nan")}, r"fraud_rate"),
        ({"start": "yesterday"}, r"start: .*not an ISO date"),
        ({"start": "1900-01-01"}, r"start: must lie between"),
        ({"scenario_shares": {"phishing": 1.0}}, r"scenario_shares: unknown scenario.*phishing"),
        ({"scenario_shares": {"bust_out": -1.0}}, r"scenario_shares: .*>= 0.*bust_out=-1"),
        ({"scenario_shares": {"bust_out": 0.0}}, r"scenario_shares: at least one scenario"),
        ({"mean_daily_transactions": 0}, r"mean_daily_transactions: .*greater than 0"),
        ({"mean_cards_per_customer": 0.5}, r"mean_cards_per_customer"),
        ({"trips_per_year": -1}, r"trips_per_year"),
        ({"new_card_share": 1.5}, r"new_card_share"),
        ({"compromised_terminal_exploit_rate": 0}, r"compromised_terminal_exploit_rate"),
        ({"customerz": 10}, r"customerz: Extra inputs are not permitted"),
        ({"customers": 5_000_000, "days": 3000}, r"lower customers or days"),
    ],
)
def test_invalid_parameter_is_named(params: dict[str, object], pattern: str) -> None:
    """Check that an invalid parameter raises ConfigError naming it and the rule broken."""
    with pytest.raises(ConfigError, match=pattern):
        SimulationConfig(**params)


def test_zero_weights_allowed_without_fraud() -> None:
    """Check that all-zero scenario weights are fine when the fraud rate is 0."""
    cfg = SimulationConfig(fraud_rate=0.0, scenario_shares={})
    assert sum(cfg.normalised_shares().values()) == 0


@settings(max_examples=60, deadline=None)
@given(
    weights=st.dictionaries(
        st.sampled_from(SCENARIOS),
        st.floats(min_value=0.0, max_value=1e6, allow_nan=False),
        min_size=1,
    ).filter(lambda d: sum(d.values()) > 0)
)
def test_normalised_shares_sum_to_one(weights: dict[str, float]) -> None:
    """Check that any valid weights normalise to shares summing to 1, in proportion."""
    shares = SimulationConfig(scenario_shares=weights).normalised_shares()
    assert sum(shares.values()) == pytest.approx(1.0)
    total = sum(weights.values())
    for name, w in weights.items():
        assert shares[name] == pytest.approx(w / total)


@settings(max_examples=60, deadline=None)
@given(
    customers=st.integers(min_value=1, max_value=5_000_000),
    days=st.integers(min_value=1, max_value=3660),
    rate=st.floats(min_value=0.0, max_value=0.5),
)
def test_accepts_valid_ranges_within_size_limit(customers: int, days: int, rate: float) -> None:
    """Check that in-range values are accepted exactly when the simulation size is bounded."""
    expected = customers * days * 1.6
    if expected > MAX_EXPECTED_TRANSACTIONS:
        with pytest.raises(ConfigError, match="lower customers or days"):
            SimulationConfig(customers=customers, days=days, fraud_rate=rate)
    else:
        cfg = SimulationConfig(customers=customers, days=days, fraud_rate=rate)
        assert cfg.end() - cfg.start == timedelta(days=days)


@settings(max_examples=40, deadline=None)
@given(customers=st.integers(max_value=0), days=st.integers(max_value=0))
def test_non_positive_sizes_are_rejected(customers: int, days: int) -> None:
    """Check that non-positive customers or days are rejected with both parameters named."""
    with pytest.raises(ConfigError, match=r"customers: .*; days: "):
        SimulationConfig(customers=customers, days=days)
