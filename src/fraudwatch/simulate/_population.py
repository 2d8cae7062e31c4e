"""The simulated world: customers and their cards, devices and IP addresses; merchants and
their terminals, clustered in the cities of :data:`~fraudwatch.simulate._catalog.CITIES`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fraudwatch.simulate._catalog import CATEGORIES, CITIES, COUNTRIES
from fraudwatch.simulate._config import SimulationConfig

__all__ = [
    "CH_ATM",
    "CH_ECOM",
    "CH_POS",
    "DEVICES_PER_CUSTOMER",
    "NEVER",
    "Population",
    "build_population",
    "city_arrays",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

CH_POS, CH_ECOM, CH_ATM = 0, 1, 2
"""Channel codes, positions in :data:`fraudwatch.schema.CHANNELS`."""

NEVER = np.iinfo(np.int64).max
"""Timestamp meaning "does not happen"."""

DEVICES_PER_CUSTOMER = 8
"""Device codes of customer ``c`` are ``c * 8 + k``; ``k = 3`` is a device bought later."""

US_PER_DAY = 86_400_000_000
_CITY_SPREAD_DEG = 0.05  # standard deviation of homes and shops around a city centre


def city_arrays() -> tuple[F64, F64, I64, I64, F64]:
    """Per city: latitude, longitude, country index, UTC offset in microseconds, weight."""
    codes = [c.code for c in COUNTRIES]
    lat = np.array([c.lat for c in CITIES])
    lon = np.array([c.lon for c in CITIES])
    country = np.array([codes.index(c.country) for c in CITIES], dtype=np.int64)
    offset = np.array([c.utc_offset_hours * 3_600_000_000 for c in CITIES], dtype=np.int64)
    weight = np.array([c.weight for c in CITIES])
    return lat, lon, country, offset, weight / weight.sum()


@dataclass
class Population:
    """Customers, cards, merchants and terminals as parallel numpy arrays (index = id).

    Synthetic customers (bust-out fraud) are appended with :meth:`add_customers` after the
    legitimate traffic has been generated; ``n_genuine_customers`` and ``n_genuine_cards``
    count the real ones, which come first.
    """

    cust_city: I64
    cust_scale: F64
    cust_pref: F64
    cust_ecom: F64
    cust_n_dev: I64
    cust_home_ip: I64
    cust_mobile_ip: I64
    cust_new_dev_us: I64
    cust_travel: F64
    card_cust: I64
    card_rate: F64
    card_active_us: I64
    m_cat: I64
    m_city: I64
    m_country: I64
    m_channel: I64
    m_first_term: I64
    m_n_term: I64
    local_off: I64
    local_cnt: I64
    online_off: I64
    online_cnt: I64
    t_merch: I64
    t_lat: F64
    t_lon: F64
    n_genuine_customers: int
    n_genuine_cards: int

    @property
    def n_customers(self) -> int:
        """Number of customers, synthetic ones included."""
        return int(self.cust_city.shape[0])

    @property
    def n_cards(self) -> int:
        """Number of cards, synthetic ones included."""
        return int(self.card_cust.shape[0])

    def add_customers(
        self,
        city: I64,
        home_ip: I64,
        mobile_ip: I64,
        active_us: I64,
    ) -> tuple[I64, I64]:
        """Append customers with one card each; return their customer and card indices."""
        n = int(city.shape[0])
        first_cust, first_card = self.n_customers, self.n_cards
        self.cust_city = np.concatenate([self.cust_city, city])
        self.cust_scale = np.concatenate([self.cust_scale, np.ones(n)])
        self.cust_pref = np.vstack([self.cust_pref, np.zeros((n, self.cust_pref.shape[1]))])
        self.cust_ecom = np.concatenate([self.cust_ecom, np.ones(n)])
        self.cust_n_dev = np.concatenate([self.cust_n_dev, np.ones(n, dtype=np.int64)])
        self.cust_home_ip = np.concatenate([self.cust_home_ip, home_ip])
        self.cust_mobile_ip = np.concatenate([self.cust_mobile_ip, mobile_ip])
        self.cust_new_dev_us = np.concatenate([self.cust_new_dev_us, np.full(n, NEVER)])
        self.cust_travel = np.concatenate([self.cust_travel, np.zeros(n)])
        custs = np.arange(first_cust, first_cust + n, dtype=np.int64)
        self.card_cust = np.concatenate([self.card_cust, custs])
        self.card_rate = np.concatenate([self.card_rate, np.zeros(n)])
        self.card_active_us = np.concatenate([self.card_active_us, active_us])
        return custs, np.arange(first_card, first_card + n, dtype=np.int64)


def _home_ips(rng: np.random.Generator, country: I64) -> tuple[I64, I64]:
    """A fixed home broadband address and a mobile carrier /16 per customer."""
    n = country.shape[0]
    first = np.empty(n, dtype=np.int64)
    mobile = np.empty(n, dtype=np.int64)
    for k, c in enumerate(COUNTRIES):
        sel = country == k
        first[sel] = rng.choice(np.array(c.home_octets), size=int(sel.sum()))
        mobile[sel] = c.mobile_octet
    home = (first << 24) | rng.integers(1 << 8, 1 << 24, size=n)
    carrier = rng.integers(0, 4, size=n) * 16 + 8
    return home, (mobile << 24) | (carrier << 16)


def _merchants(
    cfg: SimulationConfig, rng: np.random.Generator, city_share: F64
) -> tuple[dict[str, I64], I64, I64, I64, I64, I64, F64, F64]:
    """Local (card-present) merchants per city and category, online ones per country."""
    city_lat, city_lon, city_country, _, _ = city_arrays()
    n_city, n_cat, n_country = len(CITIES), len(CATEGORIES), len(COUNTRIES)
    weights = np.array([c.weight for c in CATEGORIES])
    ecom = np.array([c.ecom_share for c in CATEGORIES])
    local_w = weights * (1 - ecom)
    online_w = weights * ecom
    total_local = cfg.customers * cfg.merchants_per_1000_customers / 1000.0
    total_online = total_local / 3.0
    country_share = np.bincount(city_country, weights=city_share, minlength=n_country)

    local_cnt = np.zeros((n_city, n_cat), dtype=np.int64)
    online_cnt = np.zeros((n_country, n_cat), dtype=np.int64)
    for k in range(n_cat):
        if local_w[k] > 0:
            expected = total_local * city_share * local_w[k] / local_w.sum()
            local_cnt[:, k] = np.maximum(3, np.round(expected)).astype(np.int64)
        if online_w[k] > 0:
            expected = total_online * country_share * online_w[k] / online_w.sum()
            online_cnt[:, k] = np.maximum(2, np.round(expected)).astype(np.int64)
    local_off = np.concatenate([[0], np.cumsum(local_cnt.ravel())[:-1]]).reshape(n_city, n_cat)
    n_local = int(local_cnt.sum())
    online_off = n_local + np.concatenate([[0], np.cumsum(online_cnt.ravel())[:-1]]).reshape(
        n_country, n_cat
    )

    cat_local = np.repeat(np.tile(np.arange(n_cat), n_city), local_cnt.ravel())
    city_local = np.repeat(np.repeat(np.arange(n_city), n_cat), local_cnt.ravel())
    cat_online = np.repeat(np.tile(np.arange(n_cat), n_country), online_cnt.ravel())
    country_online = np.repeat(np.repeat(np.arange(n_country), n_cat), online_cnt.ravel())
    # An online merchant is registered in one of its country's cities.
    hq = np.empty(country_online.shape[0], dtype=np.int64)
    for k in range(n_country):
        sel = np.flatnonzero(country_online == k)
        cities = np.flatnonzero(city_country == k)
        hq[sel] = cities[rng.integers(0, cities.shape[0], size=sel.shape[0])]

    m_cat = np.concatenate([cat_local, cat_online])
    m_city = np.concatenate([city_local, hq])
    m_country = city_country[m_city]
    is_atm = np.array([c.atm for c in CATEGORIES])
    m_channel = np.concatenate(
        [np.where(is_atm[cat_local], CH_ATM, CH_POS), np.full(cat_online.shape[0], CH_ECOM)]
    ).astype(np.int64)

    big = np.isin(cat_local, [0, 1])  # supermarkets and fuel stations have many lanes
    n_term_local = np.where(
        big, rng.integers(2, 7, size=n_local), rng.integers(1, 4, size=n_local)
    ).astype(np.int64)
    m_n_term = np.concatenate([n_term_local, np.ones(cat_online.shape[0], dtype=np.int64)])
    m_first_term = np.concatenate([[0], np.cumsum(m_n_term)[:-1]]).astype(np.int64)

    shop_lat = city_lat[city_local] + rng.normal(0, _CITY_SPREAD_DEG, size=n_local)
    shop_lon = city_lon[city_local] + rng.normal(0, _CITY_SPREAD_DEG, size=n_local) / np.cos(
        np.radians(city_lat[city_local])
    )
    t_merch = np.repeat(np.arange(m_cat.shape[0]), m_n_term)
    t_lat = np.concatenate(
        [np.repeat(shop_lat, n_term_local), np.full(cat_online.shape[0], np.nan)]
    )
    t_lon = np.concatenate(
        [np.repeat(shop_lon, n_term_local), np.full(cat_online.shape[0], np.nan)]
    )
    arrays = {
        "m_cat": m_cat,
        "m_city": m_city,
        "m_country": m_country,
        "m_channel": m_channel,
        "m_first_term": m_first_term,
        "m_n_term": m_n_term,
    }
    return arrays, local_off, local_cnt, online_off, online_cnt, t_merch, t_lat, t_lon


def build_population(
    cfg: SimulationConfig, rng: np.random.Generator, start_us: int, end_us: int
) -> Population:
    """Draw the customers, cards, merchants and terminals of a simulation."""
    _, _, city_country, _, city_share = city_arrays()
    n, n_cat = cfg.customers, len(CATEGORIES)

    cust_city = rng.choice(len(CITIES), size=n, p=city_share).astype(np.int64)
    cust_scale = rng.lognormal(0.0, 0.5, size=n)
    base = np.array([c.weight for c in CATEGORIES])
    pref = base[None, :] * rng.gamma(1.5, 1 / 1.5, size=(n, n_cat))
    no_car = rng.random(n) < 0.3
    pref[no_car, 1] = 0.0
    pref /= pref.sum(axis=1, keepdims=True)
    cust_ecom = rng.lognormal(0.0, 0.5, size=n)
    cust_n_dev = 1 + rng.binomial(2, 0.4, size=n).astype(np.int64)
    home_ip, mobile_ip = _home_ips(rng, city_country[cust_city])
    new_dev = rng.random(n) < 0.12
    cust_new_dev_us = np.where(new_dev, rng.integers(start_us, end_us, size=n), NEVER)
    cust_travel = rng.gamma(0.7, 1 / 0.7, size=n)

    n_cards_each = np.minimum(1 + rng.poisson(cfg.mean_cards_per_customer - 1, size=n), 5)
    card_cust = np.repeat(np.arange(n, dtype=np.int64), n_cards_each)
    first_of_customer = np.concatenate([[True], card_cust[1:] != card_cust[:-1]])
    share = rng.exponential(1.0, size=card_cust.shape[0]) * np.where(first_of_customer, 2.5, 1.0)
    share /= np.bincount(card_cust, weights=share)[card_cust]
    cust_rate = cfg.mean_daily_transactions * rng.lognormal(-0.18, 0.6, size=n)
    card_rate = cust_rate[card_cust] * share
    late = rng.random(card_cust.shape[0]) < cfg.new_card_share
    card_active_us = np.where(late, rng.integers(start_us, end_us, size=late.shape[0]), start_us)

    merch, local_off, local_cnt, online_off, online_cnt, t_merch, t_lat, t_lon = _merchants(
        cfg, rng, city_share
    )
    return Population(
        cust_city=cust_city,
        cust_scale=cust_scale,
        cust_pref=pref,
        cust_ecom=cust_ecom,
        cust_n_dev=cust_n_dev,
        cust_home_ip=home_ip,
        cust_mobile_ip=mobile_ip,
        cust_new_dev_us=cust_new_dev_us.astype(np.int64),
        cust_travel=cust_travel,
        card_cust=card_cust,
        card_rate=card_rate,
        card_active_us=card_active_us.astype(np.int64),
        local_off=local_off.astype(np.int64),
        local_cnt=local_cnt,
        online_off=online_off.astype(np.int64),
        online_cnt=online_cnt,
        t_merch=t_merch.astype(np.int64),
        t_lat=t_lat,
        t_lon=t_lon,
        n_genuine_customers=n,
        n_genuine_cards=int(card_cust.shape[0]),
        **merch,
    )
