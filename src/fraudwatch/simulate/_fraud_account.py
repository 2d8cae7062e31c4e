"""Archetypes spanning weeks: compromised terminal (skimming) and bust-out (synthetic identity)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fraudwatch.simulate._catalog import CATEGORIES, COUNTRIES, category_index
from fraudwatch.simulate._fraud_common import FraudContext, Incidents, plan_incidents
from fraudwatch.simulate._legit import US_PER_HOUR
from fraudwatch.simulate._population import DEVICES_PER_CUSTOMER, US_PER_DAY
from fraudwatch.simulate._rows import Rows

__all__ = ["SKIMMED_CATEGORIES", "bust_out", "compromised_terminal"]

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
_US_PER_MIN = 60_000_000
SKIMMED_CATEGORIES = ("fuel", "atm_cash", "restaurants", "grocery", "fast_food")
"""Categories whose terminals may be fitted with a skimmer."""


def _cash_out(
    ctx: FraudContext,
    rng: np.random.Generator,
    city: I64,
    atm_p: float,
    spend: tuple[float, float],
    cash: tuple[float, float],
) -> tuple[I64, F64]:
    """Cash withdrawals or purchases in the given cities.

    ``spend`` is the (median, sigma) of a lognormal purchase amount in euro, ``cash`` the
    range of a withdrawal in euro (rounded to 20 in the local currency).
    """
    n = int(city.shape[0])
    atm = rng.random(n) < atm_p
    shop = ctx.categories(rng, {"electronics": 0.5, "jewelry": 0.3, "clothing": 0.2}, n)
    cat = np.where(atm, category_index("atm_cash"), shop).astype(np.int64)
    merchant = ctx.local_merchants(rng, city, cat)
    withdrawn = ctx.amounts_local(merchant, rng.uniform(cash[0], cash[1], size=n))
    spent = ctx.amounts_local(
        merchant, ctx.lognormal(rng, spend[0], spend[1], n, spend[0] / 4, 10 * spend[0])
    )
    return merchant, np.where(atm, np.maximum(20.0, np.round(withdrawn / 20) * 20), spent)


def compromised_terminal(
    ctx: FraudContext, rng: np.random.Generator, target: int, exploit_rate: float
) -> Rows:
    """A skimmer on a terminal copies cards; the copies are used elsewhere weeks later.

    A busy fuel-station, ATM, restaurant or supermarket terminal is compromised for 7-21
    days. Each card paying there in that time is exploited with probability
    ``exploit_rate``: 2-30 days after its visit, 1-4 card-present payments (cash
    withdrawals of 100-400 or purchases of median 150), 5 min to 6 h apart, mostly in
    another city. The visits to the terminal stay legitimate; the later payments are
    labelled.
    """
    legit = ctx.legit
    if target <= 0:
        return Rows.empty()
    present = np.flatnonzero((legit.city >= 0) & (legit.card < ctx.pop.n_genuine_cards))
    order = present[np.lexsort((legit.ts[present], legit.terminal[present]))]
    term_sorted = legit.terminal[order]
    ts_sorted = legit.ts[order]
    visits = np.bincount(term_sorted, minlength=ctx.pop.t_merch.shape[0])
    cats = [category_index(n) for n in SKIMMED_CATEGORIES]
    eligible = np.isin(ctx.pop.m_cat[ctx.pop.t_merch], cats) & (visits >= 3)
    cand = np.flatnonzero(eligible)
    if cand.shape[0] == 0:
        return Rows.empty()
    p = visits[cand] / visits[cand].sum()
    sequence = rng.choice(cand, size=cand.shape[0], replace=False, p=p)
    window = ctx.t1 - ctx.t0
    cards: list[I64] = []
    firsts: list[I64] = []
    sizes_all: list[I64] = []
    produced = 0
    for term in sequence:
        if produced >= target:
            break
        length = int(rng.integers(7, 22)) * US_PER_DAY
        latest = max(ctx.t0, ctx.t1 - length - 5 * US_PER_DAY)
        w0 = int(rng.integers(ctx.t0, latest + 1)) if latest > ctx.t0 else ctx.t0
        lo, hi = np.searchsorted(term_sorted, [term, term + 1])
        seg = ts_sorted[lo:hi]
        a, b = np.searchsorted(seg, [w0, w0 + min(length, window)])
        rows = order[lo + a : lo + b]
        card, first = np.unique(legit.card[rows], return_index=True)
        visit = legit.ts[rows][first]
        hit = rng.random(card.shape[0]) < exploit_rate
        card, visit = card[hit], visit[hit]
        start = visit + rng.integers(2 * US_PER_DAY, 30 * US_PER_DAY, size=card.shape[0])
        n = rng.integers(1, 5, size=card.shape[0])
        # Payments after the end of the period do not count; at most n fit.
        n = np.where(start < ctx.t1, n, 0)
        keep = n > 0
        card, start, n = card[keep], start[keep], n[keep]
        n = plan_incidents(target - produced, n)
        cards.append(card[: n.shape[0]])
        firsts.append(start[: n.shape[0]])
        sizes_all.append(n)
        produced += int(n.sum())
    sizes = np.concatenate(sizes_all) if sizes_all else np.empty(0, dtype=np.int64)
    if sizes.shape[0] == 0:
        return Rows.empty()
    inc = Incidents.of(sizes.astype(np.int64))
    card = np.concatenate(cards)
    start = np.concatenate(firsts)
    offsets = inc.offsets(rng.integers(5 * _US_PER_MIN, 6 * US_PER_HOUR, size=inc.rows))
    home = ctx.pop.cust_city[ctx.pop.card_cust[card]]
    city = np.where(rng.random(inc.n) < 0.7, ctx.other_city(rng, home), home)
    merchant, amount = _cash_out(
        ctx, rng, city[inc.inc], atm_p=0.5, spend=(150.0, 0.7), cash=(100.0, 400.0)
    )
    when = ctx.shop_hours(rng, start[inc.inc] + offsets, city[inc.inc], (8, 22))
    return ctx.rows(rng, "compromised_terminal", when, card[inc.inc], merchant, amount)


def bust_out(
    ctx: FraudContext, rng: np.random.Generator, target: int, label_warmup: bool
) -> tuple[Rows, int]:
    """A synthetic identity opens a card, behaves for weeks, then maxes it out and vanishes.

    Each incident is a new customer with a new card: a warm-up of about 0.8 small payments
    a day (median 20) for 3-6 weeks, then within a day or two 3-8 large payments (median
    700, cash withdrawals of 300-800) in the home city. Cash-outs are spread evenly over the
    period, so a warm-up may have started before it (those payments are not in the frame).
    Only the cash-out is labelled unless ``label_warmup``.

    Returns
    -------
    rows:
        Warm-up and cash-out rows inside the period.
    unlabelled:
        Number of warm-up rows labelled legitimate.
    """
    if target <= 0:
        return Rows.empty(), 0
    n = target // 3 + 2
    warm_days = rng.uniform(21.0, 45.0, size=n)
    n_warm = np.maximum(5, rng.poisson(0.8 * warm_days)).astype(np.int64)
    n_cash = rng.integers(3, 9, size=n)
    city = rng.choice(len(ctx.city_share), size=n, p=ctx.city_share).astype(np.int64)
    margin = US_PER_DAY if ctx.t1 - ctx.t0 > 3 * US_PER_DAY else 0
    lo, hi = ctx.t0 + margin, ctx.t1 - 2 * margin
    cash_time = lo + (rng.random(n) * max(hi - lo, 1)).astype(np.int64)
    opened = cash_time - (warm_days * US_PER_DAY).astype(np.int64)

    warm = Incidents.of(n_warm)
    off = ctx.city_off[city][warm.inc]
    when = opened[warm.inc] + (
        rng.random(warm.rows) * (cash_time - opened)[warm.inc] * 0.97
    ).astype(np.int64)
    day = (when + off) // US_PER_DAY
    when = day * US_PER_DAY + rng.integers(8 * US_PER_HOUR, 21 * US_PER_HOUR, size=warm.rows) - off
    when = np.maximum(when, opened[warm.inc])
    visible = when >= ctx.t0
    seen = np.bincount(warm.inc[visible], minlength=n).astype(np.int64)
    k = int(plan_incidents(target, n_cash + (seen if label_warmup else 0)).shape[0])
    if k == 0:
        return Rows.empty(), 0
    city, opened, cash_time, n_cash = city[:k], opened[:k], cash_time[:k], n_cash[:k]
    keep = visible & (warm.inc < k)
    when, winc = when[keep], warm.inc[keep]
    n_rows = int(when.shape[0])

    pop = ctx.pop
    country = ctx.city_country[city]
    first_octet = np.array([c.home_octets[0] for c in COUNTRIES])[country]
    home_ip = (first_octet << 24) | rng.integers(1 << 8, 1 << 24, size=k)
    mobile_ip = np.array([c.mobile_octet for c in COUNTRIES])[country] << 24
    cust, card = pop.add_customers(city, home_ip.astype(np.int64), mobile_ip, opened)

    wcat = ctx.categories(
        rng,
        {
            "grocery": 0.35,
            "fast_food": 0.2,
            "fuel": 0.1,
            "online_retail": 0.2,
            "digital_goods": 0.15,
        },
        n_rows,
    )
    online = np.array([c.ecom_share for c in CATEGORIES])[wcat] >= 1.0
    wmerchant = ctx.local_merchants(rng, city[winc], np.where(online, 0, wcat))
    cnt = pop.online_cnt[country[winc], wcat]
    within = np.floor(rng.random(n_rows) * cnt).astype(np.int64)
    wmerchant = np.where(online, pop.online_off[country[winc], wcat] + within, wmerchant)
    wamount = ctx.amounts_local(wmerchant, ctx.lognormal(rng, 20.0, 0.5, n_rows, 2.0, 80.0))

    cash = Incidents.of(n_cash.astype(np.int64))
    last_warm = np.full(k, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last_warm, winc, when)
    cash_start = np.maximum(cash_time, last_warm + US_PER_HOUR)
    coffsets = cash.offsets(rng.integers(10 * _US_PER_MIN, 6 * US_PER_HOUR, size=cash.rows))
    cmerchant, camount = _cash_out(
        ctx, rng, city[cash.inc], atm_p=0.3, spend=(700.0, 0.5), cash=(300.0, 800.0)
    )

    device = cust * DEVICES_PER_CUSTOMER
    warm_rows = ctx.rows(
        rng,
        "bust_out",
        when,
        card[winc],
        wmerchant,
        wamount,
        device=device[winc],
        ip=home_ip[winc],
        labelled=np.full(n_rows, label_warmup),
    )
    cash_rows = ctx.rows(
        rng,
        "bust_out",
        ctx.shop_hours(rng, cash_start[cash.inc] + coffsets, city[cash.inc], (9, 20)),
        card[cash.inc],
        cmerchant,
        camount,
    )
    unlabelled = 0 if label_warmup else n_rows
    return Rows.concat([warm_rows, cash_rows]), unlabelled
