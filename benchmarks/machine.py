"""What every benchmark prints beside its figures: how fast and how busy the machine is.

The benchmarks import it as a sibling module (``python benchmarks/bench_x.py`` puts this
folder first on ``sys.path``).
"""

from __future__ import annotations

import time

__all__ = ["calibration"]


def calibration() -> float:
    """Seconds for a 1M-step Python loop now (~0.03 s on an idle modern core).

    Shared machines move every figure; this says how fast a core was at that moment.
    """
    start = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i
    return time.perf_counter() - start
