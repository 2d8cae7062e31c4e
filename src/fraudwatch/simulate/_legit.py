"""Legitimate card traffic: daily and weekly rhythms, favourite shops, online devices, trips."""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import NDArray

from fraudwatch.simulate._catalog import (
    CATEGORIES,
    CITIES,
    COUNTRIES,
    DOW_FACTOR,
    FX_PER_EUR,
    category_index,
    city_distance_km,
    hour_cdf_table,
)
from fraudwatch.simulate._config import SimulationConfig
from fraudwatch.simulate._ids import mix64
from fraudwatch.simulate._population import (
    DEVICES_PER_CUSTOMER,
    US_PER_DAY,
    Population,
    city_arrays,
)
from fraudwatch.simulate._rows import NO_CITY, NO_DEVICE, NO_IP, Rows

__all__ = [
    "US_PER_HOUR",
    "amounts_for",
    "legit_rows",
    "pick_online_merchant",
    "pick_terminal",
    "travel_hours",
]

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]

US_PER_HOUR = 3_600_000_000
_CHUNK = 250_000
_FAVOURITE_P = 0.35  # geometric choice among a customer's favourite shops of a category
_WANDER_P = 0.15  # share of payments at a shop that is not a favourite
_SUBSCRIPTION_PRICES = (4.99, 7.99, 9.99, 12.99, 14.99, 19.99)


def travel_hours(distance_km: F64) -> F64:
    """Door-to-door travel time: by road or rail below 600 km, by plane above."""
    return np.where(distance_km < 600, 0.5 + distance_km / 110.0, 2.0 + distance_km / 750.0)


def amounts_for(
    rng: np.random.Generator, cat: I64, scale: F64, currency_fx: F64, atm: NDArray[np.bool_]
) -> F64:
    """Lognormal amounts of a category, scaled per customer, with occasional big purchases."""
    median = np.array([c.median_eur for c in CATEGORIES])[cat]
    sigma = np.array([c.sigma for c in CATEGORIES])[cat]
    n = int(cat.shape[0])
    raw = median * scale * np.exp(sigma * rng.standard_normal(n)) * currency_fx
    big_p = np.array([c.big_ticket for c in CATEGORIES])[cat]
    big = rng.random(n) < big_p
    raw = np.where(big, raw * rng.lognormal(np.log(4.0), 0.5, size=n), raw)
    cash = np.maximum(20.0, np.round(raw / 20.0) * 20.0)
    return np.where(atm, cash, np.maximum(0.5, np.round(raw, 2)))


def _currency_fx() -> F64:
    """Per country: units of its currency per euro."""
    return np.array([FX_PER_EUR[c.currency] for c in COUNTRIES])


def pick_terminal(rng: np.random.Generator, pop: Population, merchant: I64) -> I64:
    """A random terminal of each merchant."""
    within = np.floor(rng.random(size=int(merchant.shape[0])) * pop.m_n_term[merchant])
    return np.asarray(pop.m_first_term[merchant] + within.astype(np.int64), dtype=np.int64)


def pick_online_merchant(rng: np.random.Generator, pop: Population, country: I64, cat: I64) -> I64:
    """A uniformly random online merchant of ``cat`` registered in ``country``."""
    cnt = pop.online_cnt[country, cat]
    within = np.floor(rng.random(size=int(cat.shape[0])) * cnt).astype(np.int64)
    return np.asarray(pop.online_off[country, cat] + within, dtype=np.int64)


def _favourite(rng: np.random.Generator, cust: I64, cat: I64, salt: int) -> NDArray[np.uint64]:
    """A stable pseudo-random number per (customer, category, favourite rank)."""
    n = int(cust.shape[0])
    rank = np.minimum(rng.geometric(_FAVOURITE_P, size=n) - 1, 7)
    h = mix64(cust * 1024 + cat * 16 + rank, salt)
    wander = rng.random(n) < _WANDER_P
    h[wander] = rng.integers(0, 2**62, size=int(wander.sum()), dtype=np.int64).astype(np.uint64)
    return h


def _choose_categories(rng: np.random.Generator, pref: F64, cust: I64, dow: I64) -> I64:
    """Draw each payment's category from its customer's preferences on that weekday."""
    catdow = np.array([c.dow for c in CATEGORIES]).T  # (7, n_cat)
    out = np.empty(cust.shape[0], dtype=np.int64)
    for lo in range(0, cust.shape[0], _CHUNK):
        hi = min(lo + _CHUNK, cust.shape[0])
        w = pref[cust[lo:hi]] * catdow[dow[lo:hi]]
        cum = np.cumsum(w, axis=1)
        u = rng.random(hi - lo) * cum[:, -1]
        out[lo:hi] = np.minimum((cum < u[:, None]).sum(axis=1), len(CATEGORIES) - 1)
    return out


def _choose_hours(rng: np.random.Generator, cat: I64, weekend: NDArray[np.bool_]) -> I64:
    """Draw the local hour of each payment from its category's weekday/weekend profile."""
    cdf, cat_row = hour_cdf_table()
    g = cat_row[cat] + weekend.astype(np.int64)
    out = np.empty(cat.shape[0], dtype=np.int64)
    for lo in range(0, cat.shape[0], _CHUNK):
        hi = min(lo + _CHUNK, cat.shape[0])
        u = rng.random(hi - lo)
        out[lo:hi] = np.minimum((cdf[g[lo:hi]] < u[:, None]).sum(axis=1), 23)
    return out


def _trips(
    cfg: SimulationConfig, rng: np.random.Generator, pop: Population, t0: int, t1: int
) -> pl.DataFrame:
    """Non-overlapping trips: departure, arrival, return departure and arrival, destination."""
    _, _, _, city_off, city_share = city_arrays()
    dist = city_distance_km()
    n = pop.n_genuine_customers
    span_days = (t1 - t0) / US_PER_DAY
    counts = rng.poisson(cfg.trips_per_year / 365.0 * span_days * pop.cust_travel[:n])
    cust = np.repeat(np.arange(n, dtype=np.int64), counts)
    home = pop.cust_city[cust]
    dest = rng.choice(len(CITIES), size=cust.shape[0], p=city_share)
    for _ in range(6):
        same = dest == home
        dest[same] = rng.choice(len(CITIES), size=int(same.sum()), p=city_share)
    dest = np.where(dest == home, (home + 1) % len(CITIES), dest).astype(np.int64)
    hours = travel_hours(dist[home, dest])
    first_day = t0 // US_PER_DAY - 14
    day = rng.integers(first_day, t1 // US_PER_DAY + 1, size=cust.shape[0])
    nights = np.minimum(rng.geometric(0.3, size=cust.shape[0]), 14)
    depart = day * US_PER_DAY + rng.integers(6 * US_PER_HOUR, 12 * US_PER_HOUR, size=day.shape[0])
    depart -= city_off[home]
    arrive = depart + (hours * US_PER_HOUR).astype(np.int64)
    ret_depart = (day + nights) * US_PER_DAY - city_off[dest]
    ret_depart += rng.integers(10 * US_PER_HOUR, 18 * US_PER_HOUR, size=day.shape[0])
    ret_arrive = ret_depart + (hours * US_PER_HOUR).astype(np.int64)
    trips = pl.DataFrame(
        {
            "cust": cust,
            "depart": depart,
            "arrive": arrive,
            "ret_depart": ret_depart,
            "ret_arrive": ret_arrive,
            "dest": dest,
            "dist": dist[home, dest],
        }
    ).sort("cust", "depart")
    while trips.height:
        prev_end = pl.col("ret_arrive").shift(1).over("cust")
        clash = (pl.col("depart") < prev_end + US_PER_DAY).fill_null(False)
        n_clash = int(trips.select(clash.sum()).item())
        if n_clash == 0:
            break
        # Drop the first clashing trip of each customer and check again.
        first_clash = clash & (clash.cum_sum().over("cust") == 1)
        trips = trips.filter(~first_clash)
    return trips


def _apply_trips(
    trips: pl.DataFrame, cust: I64, ts: I64, present: NDArray[np.bool_], home: I64
) -> tuple[I64, NDArray[np.bool_]]:
    """Where each card-present payment happens, and which fall while travelling (dropped)."""
    city = np.where(present, home, NO_CITY).astype(np.int64)
    keep = np.ones(cust.shape[0], dtype=np.bool_)
    if trips.height == 0 or not present.any():
        return city, keep
    rows = np.flatnonzero(present)
    left = pl.DataFrame({"cust": cust[rows], "ts": ts[rows], "row": rows}).sort("ts")
    joined = left.join_asof(
        trips.sort("depart"),
        left_on="ts",
        right_on="depart",
        by="cust",
        strategy="backward",
        check_sortedness=False,
    ).filter(pl.col("depart").is_not_null())
    row = joined["row"].to_numpy()
    t = joined["ts"].to_numpy()
    arrive = joined["arrive"].to_numpy()
    ret_depart = joined["ret_depart"].to_numpy()
    ret_arrive = joined["ret_arrive"].to_numpy()
    away = (t >= arrive) & (t < ret_depart)
    moving = (t < arrive) | ((t >= ret_depart) & (t < ret_arrive))
    city[row[away]] = joined["dest"].to_numpy()[away]
    keep[row[moving]] = False
    return city, keep


def _devices_and_ips(
    rng: np.random.Generator, pop: Population, cust: I64, ts: I64
) -> tuple[I64, I64]:
    """The customer's own devices and usual addresses for online payments."""
    n = cust.shape[0]
    n_dev = pop.cust_n_dev[cust]
    other = 1 + np.floor(rng.random(n) * np.maximum(n_dev - 1, 1)).astype(np.int64)
    k = np.where((rng.random(n) < 0.65) | (n_dev == 1), 0, other)
    k = np.where((ts >= pop.cust_new_dev_us[cust]) & (rng.random(n) < 0.7), 3, k)
    device = cust * DEVICES_PER_CUSTOMER + k
    phone = (k == 0) | (k == 3)
    mobile = phone & (rng.random(n) < 0.55)
    public = ~phone & (rng.random(n) < 0.08)
    ip = pop.cust_home_ip[cust].copy()
    ip[mobile] = pop.cust_mobile_ip[cust[mobile]] | rng.integers(0, 1 << 16, size=int(mobile.sum()))
    ip[public] = rng.integers(1 << 26, 223 << 24, size=int(public.sum()))
    return device, ip


def _subscriptions(
    rng: np.random.Generator, pop: Population, t0: int, t1: int, first_card: I64
) -> Rows:
    """Monthly merchant-initiated charges (streaming, cloud storage) billed at night."""
    _, _, city_country, city_off, _ = city_arrays()
    n = pop.n_genuine_customers
    per = rng.binomial(2, 0.3, size=n)
    cust = np.repeat(np.arange(n, dtype=np.int64), per)
    if cust.shape[0] == 0:
        return Rows.empty()
    cat = np.where(
        rng.random(cust.shape[0]) < 0.8,
        category_index("digital_goods"),
        category_index("books_media"),
    ).astype(np.int64)
    country = np.where(
        rng.random(cust.shape[0]) < 0.7,
        city_country[pop.cust_city[cust]],
        [c.code for c in COUNTRIES].index("US"),
    ).astype(np.int64)
    merchant = pick_online_merchant(rng, pop, country, cat)
    price = rng.choice(np.array(_SUBSCRIPTION_PRICES), size=cust.shape[0]) * _currency_fx()[country]
    anchor = t0 // US_PER_DAY + rng.integers(0, 30, size=cust.shape[0])
    months = int((t1 - t0) // (30 * US_PER_DAY)) + 2
    k = np.arange(-1, months)
    day = (anchor[:, None] + 30 * k[None, :]).ravel()
    idx = np.repeat(np.arange(cust.shape[0]), k.shape[0])
    local = rng.integers(1 * US_PER_HOUR, 6 * US_PER_HOUR, size=idx.shape[0])
    ts = day * US_PER_DAY + local - city_off[pop.cust_city[cust[idx]]]
    card = first_card[cust[idx]]
    ok = (ts >= t0) & (ts < t1) & (ts >= pop.card_active_us[card])
    idx, ts, card = idx[ok], ts[ok], card[ok]
    m = merchant[idx]
    return Rows(
        ts=ts,
        card=card,
        merchant=m,
        terminal=pop.m_first_term[m],
        city=np.full(idx.shape[0], NO_CITY, dtype=np.int64),
        amount=np.round(price[idx], 2),
        device=np.full(idx.shape[0], NO_DEVICE, dtype=np.int64),
        ip=np.full(idx.shape[0], NO_IP, dtype=np.int64),
        fraud=np.zeros(idx.shape[0], dtype=np.int8),
        scenario=np.zeros(idx.shape[0], dtype=np.int8),
    )


def _tickets(
    rng: np.random.Generator, pop: Population, trips: pl.DataFrame, t0: int, first_card: I64
) -> tuple[I64, I64, I64, I64]:
    """Plane tickets bought online a few days to weeks before each flight."""
    flights = trips.filter(pl.col("dist") >= 600)
    cust = flights["cust"].to_numpy().astype(np.int64)
    lead = rng.integers(3 * US_PER_DAY, 40 * US_PER_DAY, size=cust.shape[0])
    ts = flights["depart"].to_numpy().astype(np.int64) - lead
    card = first_card[cust]
    ok = (ts >= t0) & (ts >= pop.card_active_us[card])
    cat = np.full(int(ok.sum()), category_index("airlines"), dtype=np.int64)
    return cust[ok], card[ok], ts[ok], cat


def legit_rows(
    cfg: SimulationConfig,
    rng: np.random.Generator,
    pop: Population,
    t0: int,
    t1: int,
    salt: int,
) -> Rows:
    """Generate the legitimate transactions of every genuine card in ``[t0, t1)``.

    Per card and local day the number of payments is Poisson (with day-to-day gamma noise)
    around the card's rate times the weekday factor; each payment's category follows the
    customer's preferences for that weekday and its local hour the category's profile.
    Card-present payments happen at favourite shops of the city where the customer is
    (home, or a trip's destination; none while travelling); online payments come from the
    customer's devices and usual addresses.
    """
    _, _, city_country, city_off, city_share = city_arrays()
    n_cards = pop.n_genuine_cards
    base_day = t0 // US_PER_DAY - 1
    n_grid = int(-(-t1 // US_PER_DAY) + 1 - base_day)
    dow_grid = (base_day + np.arange(n_grid) + 3) % 7  # 1970-01-01 was a Thursday
    lam = pop.card_rate[:n_cards, None] * np.array(DOW_FACTOR)[dow_grid][None, :]
    lam = lam * rng.gamma(3.0, 1 / 3.0, size=lam.shape)
    flat = np.repeat(np.arange(n_cards * n_grid, dtype=np.int64), rng.poisson(lam).ravel())
    card, day = flat // n_grid, flat % n_grid
    del flat, lam
    cust = pop.card_cust[card]
    dow = dow_grid[day]
    cat = _choose_categories(rng, pop.cust_pref, cust, dow)
    hour = _choose_hours(rng, cat, dow >= 5)
    home = pop.cust_city[cust]
    ts = (base_day + day) * US_PER_DAY + hour * US_PER_HOUR
    ts += rng.integers(0, US_PER_HOUR, size=ts.shape[0]) - city_off[home]
    ok = (ts >= t0) & (ts < t1) & (ts >= pop.card_active_us[card])
    card, cust, cat, ts, home = card[ok], cust[ok], cat[ok], ts[ok], home[ok]

    first_card = np.full(pop.n_genuine_customers, -1, dtype=np.int64)
    first_card[pop.card_cust[:n_cards][::-1]] = np.arange(n_cards, dtype=np.int64)[::-1]
    trips = _trips(cfg, rng, pop, t0, t1)
    t_cust, t_card, t_ts, t_cat = _tickets(rng, pop, trips, t0, first_card)
    card = np.concatenate([card, t_card])
    cust = np.concatenate([cust, t_cust])
    cat = np.concatenate([cat, t_cat])
    ts = np.concatenate([ts, t_ts])
    home = np.concatenate([home, pop.cust_city[t_cust]])
    n = ts.shape[0]

    share = np.array([c.ecom_share for c in CATEGORIES])[cat]
    mixed = (share > 0) & (share < 1)
    p_ecom = np.where(mixed, np.clip(share * pop.cust_ecom[cust], 0.0, 0.95), share)
    online = rng.random(n) < p_ecom
    city, keep = _apply_trips(trips, cust, ts, ~online, home)

    h = _favourite(rng, cust, cat, salt)
    merchant = np.empty(n, dtype=np.int64)
    cp = ~online
    cnt = pop.local_cnt[city[cp], cat[cp]]
    merchant[cp] = pop.local_off[city[cp], cat[cp]] + (h[cp] % cnt.astype(np.uint64)).astype(
        np.int64
    )
    u = rng.random(n)
    country = np.where(
        u < 0.82,
        city_country[home],
        np.where(
            u < 0.9,
            [c.code for c in COUNTRIES].index("US"),
            city_country[rng.choice(len(CITIES), size=n, p=city_share)],
        ),
    ).astype(np.int64)
    cnt = pop.online_cnt[country[online], cat[online]]
    merchant[online] = pop.online_off[country[online], cat[online]] + (
        h[online] % cnt.astype(np.uint64)
    ).astype(np.int64)
    terminal = pick_terminal(rng, pop, merchant)

    device = np.full(n, NO_DEVICE, dtype=np.int64)
    ip = np.full(n, NO_IP, dtype=np.int64)
    device[online], ip[online] = _devices_and_ips(rng, pop, cust[online], ts[online])

    is_atm = np.array([c.atm for c in CATEGORIES])[cat] & cp
    fx = _currency_fx()[pop.m_country[merchant]]
    amount = amounts_for(rng, cat, pop.cust_scale[cust], fx, is_atm)

    rows = Rows(
        ts=ts,
        card=card,
        merchant=merchant,
        terminal=terminal,
        city=city,
        amount=amount,
        device=device,
        ip=ip,
        fraud=np.zeros(n, dtype=np.int8),
        scenario=np.zeros(n, dtype=np.int8),
    ).take(keep)
    return Rows.concat([rows, _subscriptions(rng, pop, t0, t1, first_card)])
