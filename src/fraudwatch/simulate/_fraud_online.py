"""Card-not-present archetypes: card testing and account takeover."""

from __future__ import annotations

import numpy as np

from fraudwatch.simulate._catalog import category_index
from fraudwatch.simulate._fraud_common import FraudContext, Incidents, plan_incidents
from fraudwatch.simulate._rows import Rows

__all__ = ["account_takeover", "card_testing"]

_US_PER_S = 1_000_000
_US_PER_MIN = 60 * _US_PER_S


def card_testing(ctx: FraudContext, rng: np.random.Generator, target: int) -> Rows:
    """A bot checks a stolen card number with tiny online payments, then spends big.

    Each incident: 3-10 payments of 0.50-3.00 (a third exactly 1.00) at a digital-goods
    shop, 5-90 s apart, often at night; 2-60 min later 1-2 payments (median 200) at an
    online electronics or retail shop. The bot's device and proxy address are shared across
    incidents of the same ring.
    """
    n_tiny_all = rng.integers(3, 11, size=target // 4 + 2)
    n_big_all = rng.integers(1, 3, size=n_tiny_all.shape[0])
    sizes = plan_incidents(target, n_tiny_all + n_big_all)
    if sizes.shape[0] == 0:
        return Rows.empty()
    inc = Incidents.of(sizes)
    n_tiny = n_tiny_all[: inc.n][inc.inc]
    tiny = inc.pos < n_tiny
    first_big = inc.pos == n_tiny
    gaps = np.where(
        tiny,
        rng.integers(5 * _US_PER_S, 90 * _US_PER_S, size=inc.rows),
        np.where(
            first_big,
            rng.integers(2 * _US_PER_MIN, 60 * _US_PER_MIN, size=inc.rows),
            rng.integers(1 * _US_PER_MIN, 10 * _US_PER_MIN, size=inc.rows),
        ),
    )
    offsets = inc.offsets(gaps)
    card = ctx.victims(rng, inc.n)
    start = ctx.starts(rng, card, inc.span(offsets), night_p=0.6)

    tester = ctx.online_merchants(
        rng, np.full(inc.n, category_index("digital_goods"), dtype=np.int64), risky_p=0.75
    )
    same_shop = rng.random(inc.n) < 0.7
    per_row = ctx.online_merchants(
        rng, np.full(inc.rows, category_index("digital_goods"), dtype=np.int64), risky_p=0.75
    )
    big_cat = ctx.categories(rng, {"electronics": 0.6, "online_retail": 0.4}, inc.rows)
    big_shop = ctx.online_merchants(rng, big_cat, risky_p=0.5)
    merchant = np.where(tiny, np.where(same_shop[inc.inc], tester[inc.inc], per_row), big_shop)

    tiny_eur = np.where(rng.random(inc.rows) < 0.35, 1.0, rng.uniform(0.5, 3.0, size=inc.rows))
    big_eur = ctx.lognormal(rng, 200.0, 0.6, inc.rows, 50.0, 2500.0)
    amount = np.where(tiny, np.round(tiny_eur, 2), ctx.amounts_local(merchant, big_eur))
    device = ctx.device_pool(rng, "card_testing", inc.n, share=0.3)[inc.inc]
    ip = ctx.ip_pool(rng, inc.n, share=0.3)[inc.inc]
    return ctx.rows(
        rng,
        "card_testing",
        start[inc.inc] + offsets,
        card[inc.inc],
        merchant,
        amount,
        device=device,
        ip=ip,
    )


def account_takeover(ctx: FraudContext, rng: np.random.Generator, target: int) -> Rows:
    """A fraudster logs into the card holder's online account from a new device and spends.

    Each incident: 1-4 online payments 2-30 min apart from a device the card never used
    and a proxy address, at electronics, retail, airline or gambling sites, for about 8
    times the card's typical amount (3-40 times, at least 60-150).
    """
    sizes = plan_incidents(target, rng.integers(1, 5, size=target + 1))
    if sizes.shape[0] == 0:
        return Rows.empty()
    inc = Incidents.of(sizes)
    offsets = inc.offsets(rng.integers(2 * _US_PER_MIN, 30 * _US_PER_MIN, size=inc.rows))
    card = ctx.victims(rng, inc.n)
    start = ctx.starts(rng, card, inc.span(offsets), night_p=0.25)
    cat = ctx.categories(
        rng,
        {"electronics": 0.4, "online_retail": 0.3, "airlines": 0.15, "gambling": 0.15},
        inc.rows,
    )
    merchant = ctx.online_merchants(rng, cat, risky_p=0.5)
    typical = ctx.typical_amount[card][inc.inc]
    eur = np.maximum(
        typical * ctx.lognormal(rng, 8.0, 0.5, inc.rows, 3.0, 40.0),
        rng.uniform(60.0, 150.0, size=inc.rows),
    )
    amount = np.asarray(np.round(np.minimum(eur, 6_000.0), 2), dtype=np.float64)
    device = ctx.device_pool(rng, "account_takeover", inc.n, share=0.8)[inc.inc]
    ip = ctx.ip_pool(rng, inc.n, share=0.6)[inc.inc]
    return ctx.rows(
        rng,
        "account_takeover",
        start[inc.inc] + offsets,
        card[inc.inc],
        merchant,
        amount,
        device=device,
        ip=ip,
    )
