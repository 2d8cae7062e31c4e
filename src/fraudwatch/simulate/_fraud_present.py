"""Card-present archetypes: velocity attack, impossible travel, stolen card."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fraudwatch.simulate._catalog import CATEGORIES, CITIES, city_distance_km
from fraudwatch.simulate._fraud_common import FraudContext, Incidents, plan_incidents
from fraudwatch.simulate._legit import US_PER_HOUR
from fraudwatch.simulate._population import US_PER_DAY
from fraudwatch.simulate._rows import Rows

__all__ = [
    "IMPOSSIBLE_MIN_KM",
    "IMPOSSIBLE_MIN_SPEED_KMH",
    "impossible_travel",
    "stolen_card_high_amount",
    "velocity_attack",
]

I64 = NDArray[np.int64]

_US_PER_MIN = 60_000_000
IMPOSSIBLE_MIN_KM = 800.0
"""Smallest distance between the genuine payment and the fraudulent one."""
IMPOSSIBLE_MIN_SPEED_KMH = 2_500.0
"""Implied speed is at least this (a passenger jet flies about 900 km/h)."""
_SPREE_CATEGORIES = (
    "grocery",
    "fuel",
    "restaurants",
    "pharmacy",
    "clothing",
    "electronics",
    "jewelry",
    "fast_food",
)


def _spree_merchants(ctx: FraudContext, rng: np.random.Generator) -> tuple[I64, I64, I64]:
    """Per city, a shuffled list of its shops (concatenated, with offsets and lengths)."""
    names = [c.name for c in CATEGORIES]
    cats = [names.index(n) for n in _SPREE_CATEGORIES]
    lists = []
    for city in range(len(CITIES)):
        parts = [
            np.arange(
                ctx.pop.local_off[city, k], ctx.pop.local_off[city, k] + ctx.pop.local_cnt[city, k]
            )
            for k in cats
        ]
        lists.append(rng.permutation(np.concatenate(parts)).astype(np.int64))
    lengths = np.array([a.shape[0] for a in lists], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return np.concatenate(lists), offsets, lengths


def velocity_attack(ctx: FraudContext, rng: np.random.Generator, target: int) -> Rows:
    """A counterfeit card is run through many shops of one city within an hour.

    Each incident: 6-14 card-present payments (median 110) at distinct shops, all within
    55 minutes, in the card holder's city or (half the time) another one.
    """
    sizes = plan_incidents(target, rng.integers(6, 15, size=target // 6 + 2))
    if sizes.shape[0] == 0:
        return Rows.empty()
    inc = Incidents.of(sizes)
    per_gap = 55 * _US_PER_MIN // sizes
    gaps = _US_PER_MIN + (rng.random(inc.rows) * (per_gap[inc.inc] - _US_PER_MIN)).astype(np.int64)
    offsets = inc.offsets(gaps)
    card = ctx.victims(rng, inc.n)
    span = inc.span(offsets)
    start = ctx.starts(rng, card, span + US_PER_DAY)
    home = ctx.pop.cust_city[ctx.pop.card_cust[card]]
    city = np.where(rng.random(inc.n) < 0.5, home, ctx.other_city(rng, home))
    start = ctx.shop_hours(rng, start, city, (9, 20))
    shops, off, length = _spree_merchants(ctx, rng)
    first = rng.integers(0, 1 << 30, size=inc.n)
    c = city[inc.inc]
    merchant = shops[off[c] + (first[inc.inc] + inc.pos) % length[c]]
    amount = ctx.amounts_local(merchant, ctx.lognormal(rng, 110.0, 0.5, inc.rows, 30.0, 900.0))
    return ctx.rows(
        rng, "velocity_attack", start[inc.inc] + offsets, card[inc.inc], merchant, amount
    )


def impossible_travel(ctx: FraudContext, rng: np.random.Generator, target: int) -> Rows:
    """A cloned card is used far away minutes after the genuine card paid in person.

    Each incident follows a genuine card-present payment: 1-3 card-present payments or
    cash withdrawals in a city at least 800 km away, the first one sooner than a
    2,500 km/h journey would allow (and within 3 hours), the next 5-40 min apart.
    """
    sizes = plan_incidents(target, rng.integers(1, 4, size=target + 1))
    anchors = ctx.card_present_anchors(rng, sizes.shape[0])
    sizes = sizes[: anchors.shape[0]]
    if sizes.shape[0] == 0:
        return Rows.empty()
    inc = Incidents.of(sizes)
    legit = ctx.legit
    src = legit.city[anchors]
    dist = city_distance_km()
    dest = np.empty(inc.n, dtype=np.int64)
    for c in range(len(CITIES)):
        sel = np.flatnonzero(src == c)
        far = np.flatnonzero(dist[c] >= IMPOSSIBLE_MIN_KM)
        p = ctx.city_share[far] / ctx.city_share[far].sum()
        dest[sel] = far[rng.choice(far.shape[0], size=sel.shape[0], p=p)]
    max_gap_h = np.minimum(3.0, dist[src, dest] / IMPOSSIBLE_MIN_SPEED_KMH)
    first_gap = 5 * _US_PER_MIN + (
        rng.random(inc.n) * (max_gap_h * US_PER_HOUR - 5 * _US_PER_MIN)
    ).astype(np.int64)
    offsets = inc.offsets(rng.integers(5 * _US_PER_MIN, 40 * _US_PER_MIN, size=inc.rows))
    ts = legit.ts[anchors][inc.inc] + first_gap[inc.inc] + offsets
    cat = ctx.categories(
        rng,
        {"electronics": 0.3, "clothing": 0.2, "jewelry": 0.15, "atm_cash": 0.25, "grocery": 0.1},
        inc.rows,
    )
    merchant = ctx.local_merchants(rng, dest[inc.inc], cat)
    atm = np.array([c.atm for c in CATEGORIES])[cat]
    eur = np.where(
        atm,
        rng.uniform(100.0, 400.0, size=inc.rows),
        ctx.lognormal(rng, 80.0, 0.8, inc.rows, 5.0, 1500.0),
    )
    amount = ctx.amounts_local(merchant, eur)
    amount = np.where(atm, np.maximum(20.0, np.round(amount / 20.0) * 20.0), amount)
    card = legit.card[anchors]
    return ctx.rows(rng, "impossible_travel", ts, card[inc.inc], merchant, amount)


def stolen_card_high_amount(ctx: FraudContext, rng: np.random.Generator, target: int) -> Rows:
    """A thief spends a stolen card in the holder's city soon after it was last used.

    Each incident starts 10 min to 4 h after a genuine card-present payment: 2-5
    card-present payments 5-45 min apart, for 6-15 times the card's typical amount (at least
    80-250), mostly at electronics, jewellery and clothing shops.
    """
    sizes = plan_incidents(target, rng.integers(2, 6, size=target // 2 + 2))
    anchors = ctx.card_present_anchors(rng, sizes.shape[0])
    sizes = sizes[: anchors.shape[0]]
    if sizes.shape[0] == 0:
        return Rows.empty()
    inc = Incidents.of(sizes)
    legit = ctx.legit
    theft = legit.ts[anchors] + rng.integers(10 * _US_PER_MIN, 4 * US_PER_HOUR, size=inc.n)
    offsets = inc.offsets(rng.integers(5 * _US_PER_MIN, 45 * _US_PER_MIN, size=inc.rows))
    card = legit.card[anchors]
    city = legit.city[anchors]
    cat = ctx.categories(
        rng,
        {"electronics": 0.35, "jewelry": 0.25, "clothing": 0.2, "fuel": 0.1, "grocery": 0.1},
        inc.rows,
    )
    merchant = ctx.local_merchants(rng, city[inc.inc], cat)
    typical = ctx.typical_amount[card][inc.inc]
    eur = np.maximum(
        typical * rng.uniform(6.0, 15.0, size=inc.rows),
        rng.uniform(80.0, 250.0, size=inc.rows),
    )
    amount = np.asarray(np.round(np.minimum(eur, 8_000.0), 2), dtype=np.float64)
    return ctx.rows(
        rng, "stolen_card_high_amount", theft[inc.inc] + offsets, card[inc.inc], merchant, amount
    )
