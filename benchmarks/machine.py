"""What every benchmark prints beside its figures: how fast and how busy the machine is.

The benchmarks import it as a sibling module (``python benchmarks/bench_x.py`` puts this
folder first on ``sys.path``).
"""

from __future__ import annotations

import gc
import random
import time

__all__ = ["calibration", "memory_probe"]


def calibration() -> float:
    """Seconds for a 1M-step Python loop now (~0.03 s on an idle modern core).

    Shared machines move every figure; this says how fast a core was at that moment.
    """
    start = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i
    return time.perf_counter() - start


def memory_probe(n: int = 2_000_000, seed: int = 7) -> float:
    """Nanoseconds per read of one of ``n`` small objects visited in random order.

    :func:`calibration` runs in the core's caches and misses what moves the online feature
    path most: waiting for memory (a service's state is far larger than the caches, and a
    card's objects are cold when its next transaction comes). Seen here: 130-146 ns on the
    machine of 2026-12-07 evening (~20 ns per object visited in allocation order). Takes
    ~2 s and ~200 MB.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        objects = [(i, float(i)) for i in range(n)]
        order = list(range(n))
        random.Random(seed).shuffle(order)
        shuffled = [objects[i] for i in order]
        del order, objects
        start = time.perf_counter_ns()
        total = 0.0
        for item in shuffled:
            total += item[1]
        return (time.perf_counter_ns() - start) / n
    finally:
        if was_enabled:
            gc.enable()
