"""Shared machinery of the fraud archetypes: victims, incident layout, fraudsters' devices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fraudwatch.simulate._catalog import CATEGORIES, CITIES, COUNTRIES, FX_PER_EUR, category_index
from fraudwatch.simulate._config import SCENARIOS
from fraudwatch.simulate._legit import US_PER_HOUR, pick_terminal
from fraudwatch.simulate._population import US_PER_DAY, Population, city_arrays
from fraudwatch.simulate._rows import NO_CITY, NO_DEVICE, NO_IP, Rows

__all__ = [
    "FraudContext",
    "Incidents",
    "plan_incidents",
    "scenario_code",
]

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]

_FRAUD_DEVICE_BASE = 1 << 40
_DATACENTRE_OCTETS = (5, 45, 104, 141, 185, 193)


def scenario_code(name: str) -> int:
    """The code of a scenario in :attr:`Rows.scenario` (0 is legitimate)."""
    return 1 + SCENARIOS.index(name)


def plan_incidents(target: int, sizes: I64) -> I64:
    """The prefix of candidate incident sizes whose total is closest to ``target`` rows."""
    if target <= 0 or sizes.shape[0] == 0:
        return sizes[:0]
    cum = np.cumsum(sizes)
    k = int(np.searchsorted(cum, target))  # cum[k] >= target
    if k >= cum.shape[0]:
        return sizes
    below = int(cum[k - 1]) if k > 0 else 0
    take = k + 1 if cum[k] - target <= target - below else k
    return sizes[:take]


@dataclass
class Incidents:
    """Rows of ``n`` incidents laid out one after the other.

    ``inc`` gives each row's incident, ``pos`` its position within it.
    """

    sizes: I64
    inc: I64
    pos: I64

    @classmethod
    def of(cls, sizes: I64) -> Incidents:
        """Lay out incidents of the given sizes."""
        inc = np.repeat(np.arange(sizes.shape[0], dtype=np.int64), sizes)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        pos = np.arange(inc.shape[0], dtype=np.int64) - starts[inc]
        return cls(sizes=sizes, inc=inc, pos=pos)

    @property
    def n(self) -> int:
        """Number of incidents."""
        return int(self.sizes.shape[0])

    @property
    def rows(self) -> int:
        """Number of rows."""
        return int(self.inc.shape[0])

    def offsets(self, gaps: I64) -> I64:
        """Cumulative time of each row from its incident's first row (first gap ignored)."""
        g = gaps.astype(np.int64).copy()
        g[self.pos == 0] = 0
        cum = np.cumsum(g)
        first = np.flatnonzero(self.pos == 0)
        return cum - cum[first][self.inc]

    def span(self, offsets: I64) -> I64:
        """Duration of each incident."""
        out = np.zeros(self.n, dtype=np.int64)
        np.maximum.at(out, self.inc, offsets)
        return out


@dataclass
class FraudContext:
    """What the archetypes need to know about the world and its legitimate traffic."""

    pop: Population
    legit: Rows
    t0: int
    t1: int
    typical_amount: F64
    risky: dict[int, I64]
    city_off: I64
    city_country: I64
    city_share: F64
    fx: F64

    @classmethod
    def build(
        cls, pop: Population, legit: Rows, t0: int, t1: int, rng: np.random.Generator
    ) -> FraudContext:
        """Card statistics and the few merchants fraudsters favour (lax online shops)."""
        _, _, city_country, city_off, city_share = city_arrays()
        n_cards = pop.n_genuine_cards
        count = np.bincount(legit.card, minlength=n_cards).astype(np.float64)
        logs = np.bincount(legit.card, weights=np.log(legit.amount), minlength=n_cards)
        fallback = 30.0 * pop.cust_scale[pop.card_cust[:n_cards]]
        typical = np.where(count > 0, np.exp(logs / np.maximum(count, 1)), fallback)
        risky: dict[int, I64] = {}
        for k, cat in enumerate(CATEGORIES):
            if cat.ecom_share <= 0:
                continue
            pool = np.flatnonzero((pop.m_cat == k) & (pop.m_channel == 1))
            size = max(1, round(0.08 * pool.shape[0]))
            risky[k] = np.sort(rng.choice(pool, size=size, replace=False)).astype(np.int64)
        fx = np.array([FX_PER_EUR[c.currency] for c in COUNTRIES])
        return cls(pop, legit, t0, t1, typical, risky, city_off, city_country, city_share, fx)

    # ----------------------------------------------------------------- victims and timing
    def victims(self, rng: np.random.Generator, n: int) -> I64:
        """``n`` genuine cards, distinct while there are enough of them."""
        pool = self.pop.n_genuine_cards
        return rng.choice(pool, size=n, replace=n > pool).astype(np.int64)

    def starts(self, rng: np.random.Generator, card: I64, span: I64, night_p: float = 0.0) -> I64:
        """Incident start times inside the window, after the card's activation.

        With probability ``night_p`` the incident starts between midnight and 6 am local time
        of the card holder.
        """
        n = card.shape[0]
        lo = np.maximum(self.t0, self.pop.card_active_us[card])
        hi = np.maximum(lo, self.t1 - span - 1)
        start = lo + (rng.random(n) * (hi - lo)).astype(np.int64)
        night = rng.random(n) < night_p
        off = self.city_off[self.pop.cust_city[self.pop.card_cust[card]]]
        day = (start + off) // US_PER_DAY
        at_night = day * US_PER_DAY + rng.integers(0, 6 * US_PER_HOUR, size=n) - off
        at_night = np.where(at_night < lo, at_night + US_PER_DAY, at_night)
        ok = night & (at_night <= hi)
        return np.where(ok, at_night, start).astype(np.int64)

    def shop_hours(
        self, rng: np.random.Generator, ts: I64, city: I64, hours: tuple[int, int] = (9, 20)
    ) -> I64:
        """Move each time to a random moment of ``hours`` (local time of ``city``), same day.

        A time that would move before it was (an incident cannot start before its cause) is
        moved to the next day instead.
        """
        off = self.city_off[city]
        day = (ts + off) // US_PER_DAY
        n = int(ts.shape[0])
        tod = rng.integers(hours[0] * US_PER_HOUR, hours[1] * US_PER_HOUR, size=n)
        moved = day * US_PER_DAY + tod - off
        return np.where(moved < ts, moved + US_PER_DAY, moved).astype(np.int64)

    def card_present_anchors(self, rng: np.random.Generator, n: int) -> I64:
        """Legitimate card-present rows of ``n`` distinct cards (fewer if there are not enough).

        Rows are drawn uniformly, so busy cards are more likely to be picked.
        """
        rows = np.flatnonzero((self.legit.city >= 0) & (self.legit.card < self.pop.n_genuine_cards))
        if rows.shape[0] == 0 or n <= 0:
            return np.empty(0, dtype=np.int64)
        m = min(int(rows.shape[0]), 4 * n + 64)
        pick = rows[rng.choice(rows.shape[0], size=m, replace=False)]
        _, first = np.unique(self.legit.card[pick], return_index=True)
        if first.shape[0] < n and m < rows.shape[0]:
            pick = rows[rng.permutation(rows.shape[0])]
            _, first = np.unique(self.legit.card[pick], return_index=True)
        return pick[np.sort(first)][:n].astype(np.int64)

    # ----------------------------------------------------------------- merchants
    def online_merchants(self, rng: np.random.Generator, cat: I64, risky_p: float) -> I64:
        """Online merchants of each category: a favoured lax shop with ``risky_p``, else any."""
        n = cat.shape[0]
        out = np.empty(n, dtype=np.int64)
        country = rng.integers(0, len(COUNTRIES), size=n)
        pop = self.pop
        cnt = pop.online_cnt[country, cat]
        out[:] = pop.online_off[country, cat] + np.floor(rng.random(n) * cnt).astype(np.int64)
        use_risky = rng.random(n) < risky_p
        for k, pool in self.risky.items():
            sel = np.flatnonzero(use_risky & (cat == k))
            out[sel] = pool[rng.integers(0, pool.shape[0], size=sel.shape[0])]
        return out

    def local_merchants(self, rng: np.random.Generator, city: I64, cat: I64) -> I64:
        """A random card-present merchant of each category in each city."""
        cnt = self.pop.local_cnt[city, cat]
        within = np.floor(rng.random(size=int(cat.shape[0])) * cnt).astype(np.int64)
        return np.asarray(self.pop.local_off[city, cat] + within, dtype=np.int64)

    def categories(self, rng: np.random.Generator, names: dict[str, float], n: int) -> I64:
        """``n`` categories drawn from ``{name: weight}``."""
        idx = np.array([category_index(k) for k in names], dtype=np.int64)
        p = np.array(list(names.values()), dtype=np.float64)
        return idx[rng.choice(idx.shape[0], size=n, p=p / p.sum())]

    def other_city(self, rng: np.random.Generator, city: I64) -> I64:
        """A random city different from each given one (weighted by population)."""
        out = rng.choice(len(CITIES), size=int(city.shape[0]), p=self.city_share)
        for _ in range(6):
            same = out == city
            out[same] = rng.choice(len(CITIES), size=int(same.sum()), p=self.city_share)
        return np.where(out == city, (city + 1) % len(CITIES), out).astype(np.int64)

    # ----------------------------------------------------------------- fraudsters' kit
    def device_pool(
        self, rng: np.random.Generator, scenario: str, n_incidents: int, share: float
    ) -> I64:
        """One fraudster device per incident from a pool shared across incidents."""
        size = max(1, round(n_incidents * share))
        base = _FRAUD_DEVICE_BASE + scenario_code(scenario) * (1 << 32)
        return base + rng.integers(0, size, size=n_incidents).astype(np.int64)

    def ip_pool(self, rng: np.random.Generator, n_incidents: int, share: float) -> I64:
        """One datacentre / proxy address per incident from a pool shared across incidents."""
        size = max(1, round(n_incidents * share))
        first = rng.choice(np.array(_DATACENTRE_OCTETS), size=size)
        pool = (first.astype(np.int64) << 24) | rng.integers(1 << 8, 1 << 24, size=size)
        return pool[rng.integers(0, size, size=n_incidents)]

    @staticmethod
    def lognormal(
        rng: np.random.Generator, median: float, sigma: float, n: int, lo: float, hi: float
    ) -> F64:
        """``n`` lognormal draws around ``median``, clipped to ``[lo, hi]``."""
        return np.clip(rng.lognormal(np.log(median), sigma, size=n), lo, hi)

    def amounts_local(self, merchant: I64, eur: F64) -> F64:
        """Convert euro amounts to the currency of each merchant's country, in cents."""
        return np.round(eur * self.fx[self.pop.m_country[merchant]], 2)

    def rows(
        self,
        rng: np.random.Generator,
        scenario: str,
        ts: I64,
        card: I64,
        merchant: I64,
        amount: F64,
        *,
        device: I64 | None = None,
        ip: I64 | None = None,
        labelled: NDArray[np.bool_] | None = None,
    ) -> Rows:
        """Assemble fraud rows; terminals are drawn, cities follow the merchants."""
        pop = self.pop
        n = ts.shape[0]
        terminal = pick_terminal(rng, pop, merchant)
        online = pop.m_channel[merchant] == 1
        city = np.where(online, NO_CITY, pop.m_city[merchant]).astype(np.int64)
        dev = np.full(n, NO_DEVICE, dtype=np.int64) if device is None else device
        addr = np.full(n, NO_IP, dtype=np.int64) if ip is None else ip
        dev = np.where(online, dev, NO_DEVICE).astype(np.int64)
        addr = np.where(online, addr, NO_IP).astype(np.int64)
        lab = np.ones(n, dtype=np.bool_) if labelled is None else labelled
        return Rows(
            ts=ts.astype(np.int64),
            card=card.astype(np.int64),
            merchant=merchant.astype(np.int64),
            terminal=terminal,
            city=city,
            amount=np.maximum(amount, 0.01),
            device=dev,
            ip=addr,
            fraud=lab.astype(np.int8),
            scenario=np.where(lab, scenario_code(scenario), 0).astype(np.int8),
        )
