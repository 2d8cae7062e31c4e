"""The simulator's parameters: :class:`SimulationConfig`."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fraudwatch.errors import ConfigError

__all__ = ["DEFAULT_SCENARIO_SHARES", "MAX_EXPECTED_TRANSACTIONS", "SCENARIOS", "SimulationConfig"]

SCENARIOS: tuple[str, ...] = (
    "card_testing",
    "account_takeover",
    "velocity_attack",
    "impossible_travel",
    "compromised_terminal",
    "bust_out",
    "stolen_card_high_amount",
)
"""Names of the fraud archetypes, as written in the ``fraud_scenario`` column."""

DEFAULT_SCENARIO_SHARES: dict[str, float] = {
    "card_testing": 0.20,
    "account_takeover": 0.15,
    "velocity_attack": 0.15,
    "impossible_travel": 0.10,
    "compromised_terminal": 0.15,
    "bust_out": 0.10,
    "stolen_card_high_amount": 0.15,
}
"""Default share of fraudulent transactions per archetype (weights, normalised to sum 1)."""

MAX_EXPECTED_TRANSACTIONS = 20_000_000
"""Largest simulation accepted (expected transactions): about 650 MB of memory per million."""

_DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)


def _describe(err: ValidationError) -> str:
    problems = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        msg = str(e["msg"]).removeprefix("Value error, ")
        if e["type"] != "value_error":
            msg = f"{msg} (got {e.get('input')!r})"
        problems.append(f"{loc}: {msg}" if loc else msg)
    return "invalid simulation config: " + "; ".join(problems)


class SimulationConfig(BaseModel):
    """Parameters of a simulated stream of card transactions.

    Invalid values raise :class:`fraudwatch.errors.ConfigError` whose message names the
    parameter, the rule it breaks and the value received.

    Parameters
    ----------
    customers:
        Number of card holders (each has one or more cards).
    days:
        Length of the simulated period in days.
    start:
        Start of the period: a date (midnight UTC) or a datetime (naive values are taken
        as UTC; aware values are converted to UTC).
    seed:
        Seed of every random draw; the same configuration always gives the same frame.
    fraud_rate:
        Target share of fraudulent transactions among all transactions.
    scenario_shares:
        Relative weight of each fraud archetype among fraudulent transactions; archetypes
        left out get weight 0. Weights are normalised to sum 1.
    mean_daily_transactions:
        Average number of payments a customer makes per day (all cards together).
    mean_cards_per_customer:
        Average number of cards per customer (at least 1).
    trips_per_year:
        Average number of trips to another city per customer and year.
    new_card_share:
        Share of legitimate cards first used during the period rather than at its start.
    merchants_per_1000_customers:
        Density of card-present merchants; every city also has a minimum per category.
    compromised_terminal_exploit_rate:
        Share of the cards skimmed at a compromised terminal that later see fraud.
    label_bust_out_warmup:
        Label the warm-up payments of a bust-out (synthetic identity) as fraud too. By
        default only the cash-out is labelled.

    Examples
    --------
    >>> cfg = SimulationConfig(customers=100, days=7, start="2024-03-01", seed=1)
    >>> cfg.start.isoformat()
    '2024-03-01T00:00:00+00:00'
    >>> round(sum(cfg.normalised_shares().values()), 6)
    1.0
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    customers: int = Field(1_000, ge=1, le=5_000_000)
    days: int = Field(30, ge=1, le=3_660)
    start: datetime = _DEFAULT_START
    seed: int = Field(42, ge=0, lt=2**63)
    fraud_rate: float = Field(0.004, ge=0.0, le=0.5)
    scenario_shares: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_SCENARIO_SHARES))
    mean_daily_transactions: float = Field(1.6, gt=0.0, le=50.0)
    mean_cards_per_customer: float = Field(1.3, ge=1.0, le=5.0)
    trips_per_year: float = Field(4.0, ge=0.0, le=52.0)
    new_card_share: float = Field(0.05, ge=0.0, le=1.0)
    merchants_per_1000_customers: float = Field(40.0, gt=0.0, le=1_000.0)
    compromised_terminal_exploit_rate: float = Field(0.6, gt=0.0, le=1.0)
    label_bust_out_warmup: bool = False

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None

    @field_validator("start", mode="before")
    @classmethod
    def _start_to_utc(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            try:
                value = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(
                    f"{value!r} is not an ISO date or datetime; use e.g. 2024-01-31 "
                    "or 2024-01-31T08:00:00Z"
                ) from None
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                return value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
        return value

    @field_validator("start")
    @classmethod
    def _start_in_range(cls, value: datetime) -> datetime:
        if not datetime(1971, 1, 1, tzinfo=UTC) <= value <= datetime(2200, 1, 1, tzinfo=UTC):
            raise ValueError(f"must lie between 1971-01-01 and 2200-01-01 (got {value})")
        return value

    @field_validator("fraud_rate")
    @classmethod
    def _finite_rate(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number between 0 and 0.5 (got {value})")
        return value

    @field_validator("scenario_shares")
    @classmethod
    def _known_scenarios(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(SCENARIOS))
        if unknown:
            raise ValueError(
                f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
            )
        bad = {k: v for k, v in value.items() if not math.isfinite(v) or v < 0}
        if bad:
            raise ValueError(
                "weights must be finite and >= 0; got "
                + ", ".join(f"{k}={v}" for k, v in sorted(bad.items()))
            )
        return {name: float(value.get(name, 0.0)) for name in SCENARIOS}

    @model_validator(mode="after")
    def _consistent(self) -> SimulationConfig:
        if self.fraud_rate > 0 and sum(self.scenario_shares.values()) <= 0:
            raise ValueError(
                "scenario_shares: at least one scenario needs a positive weight when "
                f"fraud_rate > 0 (got fraud_rate={self.fraud_rate}); set a weight or "
                "fraud_rate=0"
            )
        expected = self.expected_transactions()
        if expected > MAX_EXPECTED_TRANSACTIONS:
            raise ValueError(
                f"customers x days x mean_daily_transactions gives about {expected:,} "
                f"transactions, more than the limit of {MAX_EXPECTED_TRANSACTIONS:,}; "
                "lower customers or days"
            )
        return self

    def expected_transactions(self) -> int:
        """Rough number of legitimate transactions the configuration produces.

        >>> cfg = SimulationConfig(customers=1000, days=10, mean_daily_transactions=2)
        >>> cfg.expected_transactions()
        20000
        """
        return round(self.customers * self.days * self.mean_daily_transactions)

    def normalised_shares(self) -> dict[str, float]:
        """Scenario weights scaled to sum 1 (all zeros when every weight is 0)."""
        total = sum(self.scenario_shares.values())
        if total <= 0:
            return {name: 0.0 for name in SCENARIOS}
        return {name: self.scenario_shares[name] / total for name in SCENARIOS}

    def end(self) -> datetime:
        """End of the simulated period (exclusive)."""
        return self.start + timedelta(days=self.days)
