"""Turn :class:`~fraudwatch.simulate._rows.Rows` into the canonical transaction frame."""

from __future__ import annotations

import numpy as np
import polars as pl

from fraudwatch.schema import CHANNELS, canonical_dtypes
from fraudwatch.simulate._catalog import CATEGORIES, COUNTRIES
from fraudwatch.simulate._config import SCENARIOS
from fraudwatch.simulate._ids import hex_ids
from fraudwatch.simulate._population import Population
from fraudwatch.simulate._rows import Rows

__all__ = ["IdSalts", "to_frame"]


class IdSalts:
    """Per-entity salts of the identifiers, derived from the seed."""

    def __init__(self, rng: np.random.Generator) -> None:
        values = rng.integers(0, 2**63, size=6)
        self.transaction, self.card, self.customer, self.merchant, self.terminal, self.device = (
            int(v) for v in values
        )


def _ip_strings(ip: np.ndarray[tuple[int], np.dtype[np.int64]]) -> pl.Series:
    """Dotted-quad strings of 32-bit addresses; null where ``ip`` is negative."""
    frame = pl.DataFrame(
        {
            f"o{k}": pl.Series((ip >> shift) & 255, dtype=pl.Int64)
            for k, shift in enumerate((24, 16, 8, 0))
        }
        | {"ip": pl.Series(ip, dtype=pl.Int64)}
    )
    dotted = pl.concat_str([pl.col(f"o{k}").cast(pl.String) for k in range(4)], separator=".")
    return frame.select(pl.when(pl.col("ip") >= 0).then(dotted).alias("ip_address")).to_series()


def to_frame(rows: Rows, pop: Population, salts: IdSalts) -> pl.DataFrame:
    """Sort ``rows`` by time and build the canonical frame with string identifiers."""
    order = np.argsort(rows.ts, kind="stable")
    r = rows.take(order)
    n = len(r)
    n_cust = pop.n_customers
    cust = pop.card_cust[r.card]
    cards = hex_ids("card_", np.arange(pop.n_cards, dtype=np.int64), salts.card)
    customers = hex_ids("cust_", np.arange(n_cust, dtype=np.int64), salts.customer)
    merchants = hex_ids("mer_", np.arange(pop.m_cat.shape[0], dtype=np.int64), salts.merchant)
    terminals = hex_ids("term_", np.arange(pop.t_merch.shape[0], dtype=np.int64), salts.terminal)
    has_dev = r.device >= 0
    dev_codes, dev_inverse = np.unique(r.device[has_dev], return_inverse=True)
    dev_names = hex_ids("dev_", dev_codes.astype(np.int64), salts.device)
    dev_index = np.full(n, -1, dtype=np.int64)
    dev_index[has_dev] = dev_inverse
    dev_idx = pl.Series(dev_index).set(pl.Series(~has_dev), None)

    mcc = pl.Series([c.mcc for c in CATEGORIES])
    country_codes = pl.Series([c.code for c in COUNTRIES])
    currency_codes = pl.Series([c.currency for c in COUNTRIES])
    m_country = pop.m_country[r.merchant]
    channels = pl.Series(list(CHANNELS))
    labels = pl.Series(["legit", *SCENARIOS])
    dtypes = canonical_dtypes()
    frame = pl.DataFrame(
        {
            "transaction_id": hex_ids("tx_", np.arange(n, dtype=np.int64), salts.transaction),
            "timestamp": pl.Series(r.ts, dtype=pl.Int64).cast(dtypes["timestamp"]),
            "card_id": cards.gather(r.card),
            "customer_id": customers.gather(cust),
            "amount": pl.Series(r.amount, dtype=pl.Float64),
            "merchant_id": merchants.gather(r.merchant),
            "terminal_id": terminals.gather(r.terminal),
            "merchant_category": mcc.gather(pop.m_cat[r.merchant]),
            "channel": channels.gather(pop.m_channel[r.merchant]),
            "currency": currency_codes.gather(m_country),
            "country": country_codes.gather(m_country),
            "latitude": pl.Series(np.round(pop.t_lat[r.terminal], 6), nan_to_null=True),
            "longitude": pl.Series(np.round(pop.t_lon[r.terminal], 6), nan_to_null=True),
            "device_id": dev_names.gather(dev_idx) if n else pl.Series([], dtype=pl.String),
            "ip_address": _ip_strings(r.ip),
            "is_fraud": pl.Series(r.fraud, dtype=pl.Int8),
            "fraud_scenario": labels.gather(r.scenario.astype(np.int64)),
        }
    )
    return frame.select(pl.col(name).cast(dtype) for name, dtype in dtypes.items())
