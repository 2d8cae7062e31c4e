"""Synthetic scored transactions and loop-based reference metrics for the evaluation tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

START = datetime(2024, 3, 1, tzinfo=UTC)
SCENARIOS = ("card_testing", "account_takeover", "stolen_card")


def make_scored(
    seed: int,
    n: int = 6000,
    days: int = 10,
    n_cards: int = 800,
    fraud_rate: float = 0.02,
    separation: float = 2.5,
    start: datetime = START,
) -> pl.DataFrame:
    """A canonical-looking scored frame: frauds score higher and carry a scenario."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < fraud_rate
    logit = rng.normal(-4.0, 1.0, n) + separation * y
    score = 1.0 / (1.0 + np.exp(-logit))
    amount = np.round(rng.lognormal(3.5, 1.0, n) * np.where(y, 3.0, 1.0), 2)
    offsets = np.sort(rng.integers(0, days * 86_400, n)) * 1_000_000
    start_us = int(start.timestamp() * 1_000_000)
    timestamp = (
        pl.Series("timestamp", start_us + offsets, dtype=pl.Int64)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )
    scenario = np.where(y, np.array(SCENARIOS)[rng.integers(0, len(SCENARIOS), n)], "legit")
    return pl.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(n)],
            "timestamp": timestamp,
            "card_id": [f"c{i:04d}" for i in rng.integers(0, n_cards, n)],
            "amount": amount,
            "is_fraud": y.astype(np.int8),
            "fraud_scenario": scenario,
            "score": score,
        }
    )


def reference_card_precision(
    rows: list[tuple[datetime, str, int, float]],
    history: list[tuple[datetime, str, int]],
    k: int,
    delay: timedelta,
    remove_detected: bool = True,
) -> dict[date, float]:
    """CP@k per day written the slow, obvious way (one loop per step of the definition)."""
    labelled = [(t, c, y) for t, c, y, _ in rows] + list(history)
    result: dict[date, float] = {}
    detected: set[str] = set()
    for day in sorted({t.date() for t, _, _, _ in rows}):
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        known = {c for t, c, y in labelled if y == 1 and t < midnight - delay}
        best: dict[str, tuple[float, int]] = {}
        for t, c, y, s in rows:
            if t.date() != day or c in known:
                continue
            old = best.get(c)
            best[c] = (s, y) if old is None else (max(old[0], s), max(old[1], y))
        if not best:  # every card of the day was known: the day is not a test day
            continue
        ranked = sorted((c for c in best if c not in detected), key=lambda c: (-best[c][0], c))
        top = ranked[:k]
        hits = [c for c in top if best[c][1] == 1]
        result[day] = len(hits) / k
        if remove_detected:
            detected.update(hits)
    return result
