"""The entry point: :func:`simulate` builds the world, its legitimate traffic and the fraud."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from fraudwatch.simulate._config import SCENARIOS, SimulationConfig
from fraudwatch.simulate._frame import IdSalts, to_frame
from fraudwatch.simulate._fraud_account import bust_out, compromised_terminal
from fraudwatch.simulate._fraud_common import FraudContext
from fraudwatch.simulate._fraud_online import account_takeover, card_testing
from fraudwatch.simulate._fraud_present import (
    impossible_travel,
    stolen_card_high_amount,
    velocity_attack,
)
from fraudwatch.simulate._legit import legit_rows
from fraudwatch.simulate._population import US_PER_DAY, Population, build_population
from fraudwatch.simulate._rows import Rows

__all__ = ["simulate"]

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Independent random streams: changing the fraud settings leaves the legitimate traffic as is.
_STREAM_POPULATION, _STREAM_IDS, _STREAM_LEGIT, _STREAM_CONTEXT = 1, 2, 3, 4
_STREAM_SCENARIO = 100
# Below this many rows an archetype may legitimately produce nothing (incidents are bigger).
_WARN_TARGET = 20


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _fraud(cfg: SimulationConfig, pop: Population, legit: Rows, t0: int, t1: int) -> list[Rows]:
    """Every archetype's rows, sized so that labelled rows make up ``fraud_rate``."""
    shares = cfg.normalised_shares()
    if cfg.fraud_rate <= 0:
        return []
    ctx = FraudContext.build(pop, legit, t0, t1, _rng(cfg.seed, _STREAM_CONTEXT))
    rate = cfg.fraud_rate
    n_legit = len(legit)
    blocks: list[Rows] = []

    def rng_of(name: str) -> np.random.Generator:
        return _rng(cfg.seed, _STREAM_SCENARIO + SCENARIOS.index(name))

    total = rate * n_legit / (1 - rate)
    if shares["bust_out"] > 0:
        rows, unlabelled = bust_out(
            ctx, rng_of("bust_out"), round(total * shares["bust_out"]), cfg.label_bust_out_warmup
        )
        blocks.append(rows)
        n_legit += unlabelled
        total = rate * n_legit / (1 - rate)
    generators = {
        "card_testing": card_testing,
        "account_takeover": account_takeover,
        "velocity_attack": velocity_attack,
        "impossible_travel": impossible_travel,
        "stolen_card_high_amount": stolen_card_high_amount,
    }
    for name in SCENARIOS:
        target = round(total * shares[name])
        if name == "bust_out" or shares[name] <= 0:
            continue
        if name == "compromised_terminal":
            rows = compromised_terminal(
                ctx, rng_of(name), target, cfg.compromised_terminal_exploit_rate
            )
        else:
            rows = generators[name](ctx, rng_of(name), target)
        if target >= _WARN_TARGET and len(rows) == 0:
            log.warning(
                "scenario %s produced no transactions (target %d): the simulation is too "
                "small for it; raise customers or days",
                name,
                target,
            )
        blocks.append(rows)
    return blocks


def simulate(config: SimulationConfig) -> pl.DataFrame:
    """Simulate card transactions with labelled fraud.

    Parameters
    ----------
    config:
        The population size, period, seed, fraud rate and archetype shares.

    Returns
    -------
    polars.DataFrame
        Every column of the canonical schema (:data:`fraudwatch.schema.COLUMNS`) with its
        dtype, sorted by ``timestamp``, with unique ``transaction_id`` values. ``is_fraud``
        is 1 for fraudulent rows and ``fraud_scenario`` names their archetype (``legit``
        otherwise). The same configuration always gives the same frame.

    Examples
    --------
    >>> df = simulate(SimulationConfig(customers=50, days=3, seed=7))
    >>> df["timestamp"].is_sorted()
    True
    >>> df["transaction_id"].n_unique() == df.height
    True
    """
    t0 = (config.start - _EPOCH) // timedelta(microseconds=1)
    t1 = t0 + config.days * US_PER_DAY
    pop = build_population(config, _rng(config.seed, _STREAM_POPULATION), t0, t1)
    salts = IdSalts(_rng(config.seed, _STREAM_IDS))
    legit = legit_rows(config, _rng(config.seed, _STREAM_LEGIT), pop, t0, t1, salts.merchant)
    blocks = [legit, *_fraud(config, pop, legit, t0, t1)]
    rows = Rows.concat(blocks)
    rows = rows.take((rows.ts >= t0) & (rows.ts < t1))
    frame = to_frame(rows, pop, salts)
    log.debug(
        "simulated %d transactions (%d fraudulent) for %d customers over %d days",
        frame.height,
        int(rows.fraud.sum()),
        config.customers,
        config.days,
    )
    return frame
